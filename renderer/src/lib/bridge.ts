/**
 * The renderer's only way out: one Bridge interface, implemented for Electron (the preload's `window.studio` plus
 * the engine MessagePort that main hands over) and for web mode (one WebSocket to the web server, which carries the
 * shell and engine channels). Everything that comes back is validated with the protocol's checkers.
 */
import {
  ENGINE_PORT_MESSAGE,
  engineEvent,
  engineMessage,
  engineResults,
  isEngineEvent,
  shellReply,
  shellResults,
  socketDown,
  type EngineEvent,
  type EngineRequest,
  type EngineResult,
  type ErrorInfo,
  type MenuCommand,
  type ShellRequest,
  type ShellResult,
  type SocketUp,
  type StudioBridge,
  type WeightsReportInfo,
} from '../../../engine/protocol/messages';
import { CanceledError } from '../../../engine/util/cancel';
import { StudioError } from '../../../engine/util/errors';
import { engineTimeoutMs } from './engine-timeouts';

/** A request without its id, for each member of the union (Omit over a union would keep only the shared keys). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** An engine request as the renderer writes it (the bridge adds the id). */
export type EngineCall = WithoutId<EngineRequest>;

export type Platform = 'electron' | 'web';

/**
 * How far a request has got: `done` of `total`, bytes read for one that reads a file (its `data.progress` events),
 * elements checked for a gradcheck, columns for a jacobian (`request.progress`).
 */
export interface Progress {
  done: number;
  total: number;
}

export interface EngineCallOptions {
  /** Called with each progress event of this request (a big CSV read by data.inspect, data.preview..., a gradcheck). */
  onProgress?: (progress: Progress) => void;
  /**
   * Aborting it cancels the request: the engine is sent `cancel` (it stops a data.inspect or data.preview's read, a
   * gradcheck),
   * and the call rejects at once with a CanceledError, which callers ignore.
   */
  signal?: AbortSignal;
}

/** The engine's events but progress events, which go to the request they belong to (EngineCallOptions). */
export type BroadcastEvent = Exclude<EngineEvent, { event: 'data.progress' | 'request.progress' }>;

/** connecting: not yet reachable; ready; restarting: the engine process died and is coming back; offline: no shell. */
export type EngineState = 'connecting' | 'ready' | 'restarting' | 'offline';

export interface EngineStatus {
  state: EngineState;
  message?: string;
}

export interface Bridge {
  readonly platform: Platform;
  /** A shell request (files, dialogs, recovery, window state); rejects with a StudioError naming what failed. */
  request<R extends ShellRequest>(req: R): Promise<ShellResult<R['type']>>;
  /**
   * An engine request (compile, training, data preview...): resolves with its reply's result, checked against the
   * protocol; rejects with a StudioError naming what failed (or that the engine went away), or with a
   * CanceledError once `opts.signal` is aborted.
   */
  engine<R extends EngineCall>(req: R, opts?: EngineCallOptions): Promise<EngineResult<R['type']>>;
  /** Training events from the engine host, checked against the protocol. */
  onEngineEvent(cb: (event: BroadcastEvent) => void): () => void;
  /** Menu commands from the native menu (Electron); web mode's in-app menu calls the app directly. */
  onMenu(cb: (command: MenuCommand, path?: string) => void): () => void;
  onEngineStatus(cb: (status: EngineStatus) => void): () => void;
  readonly engineStatus: EngineStatus;
  /** Whether shell requests can be made at all (false: a page served without the app's shell). */
  readonly shellConnected: boolean;
  dispose(): void;
}

declare global {
  interface Window {
    /** Electron's preload API (absent in web mode). */
    studio?: StudioBridge;
  }
}

/** An engine request's failure; a weights file that does not fit the graph also says how (`weightsReport`). */
export class EngineError extends StudioError {
  constructor(
    message: string,
    where: StudioError['where'],
    readonly weightsReport?: WeightsReportInfo,
  ) {
    super(message, where);
  }
}

export function toStudioError(info: ErrorInfo | undefined, fallback: string): StudioError {
  return new EngineError(info?.message ?? fallback, info?.where ?? {}, info?.weightsReport);
}

/** A reply's result checked against the protocol's checker for its request; a mismatch is a StudioError. */
function checked<T>(check: (v: unknown, p?: string) => unknown, raw: unknown, type: string): T {
  try {
    return check(raw, `${type} result`) as T;
  } catch (e) {
    throw new StudioError(e instanceof Error ? e.message : String(e));
  }
}

function checkResult<R extends ShellRequest>(req: R, raw: unknown): ShellResult<R['type']> {
  return checked(shellResults[req.type] as (v: unknown, p?: string) => unknown, raw, req.type);
}

class Listeners<T extends unknown[]> {
  private set = new Set<(...args: T) => void>();
  add(cb: (...args: T) => void): () => void {
    this.set.add(cb);
    return () => this.set.delete(cb);
  }
  emit(...args: T): void {
    for (const cb of [...this.set]) {
      try {
        cb(...args);
      } catch (e) {
        console.error(e);
      }
    }
  }
}

/** Request/reply (and events) over any transport that posts engine requests and delivers engine messages. */
class EngineClient {
  private nextId = 1;
  private pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout>; onProgress?: (p: Progress) => void }
  >();
  readonly events = new Listeners<[BroadcastEvent]>();

  constructor(private readonly post: (req: EngineRequest) => boolean) {}

  async call<R extends EngineCall>(req: R, opts: EngineCallOptions = {}): Promise<EngineResult<R['type']>> {
    const raw = await this.send(req, opts);
    return checked(engineResults[req.type] as (v: unknown, p?: string) => unknown, raw, req.type);
  }

  private send(req: EngineCall, { onProgress, signal }: EngineCallOptions): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(new CanceledError());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const cancel = () => {
        const p = this.pending.get(id);
        if (!p) return;
        // The engine's own reply to the canceled request (an error, `canceled`) then finds nothing pending.
        this.post({ type: 'cancel', id: this.nextId++, request: id });
        p.reject(new CanceledError());
        this.pending.delete(id);
        clearTimeout(p.timer);
      };
      const settled = <T>(fn: (v: T) => void) => (v: T) => {
        signal?.removeEventListener('abort', cancel);
        fn(v);
      };
      const timer = setTimeout(() => {
        this.pending.delete(id);
        settled(reject)(new StudioError('the engine did not answer in time'));
      }, engineTimeoutMs(req.type));
      this.pending.set(id, { resolve: settled(resolve), reject: settled(reject), timer, ...(onProgress ? { onProgress } : {}) });
      if (!this.post({ ...req, id } as EngineRequest)) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new StudioError('the engine is not connected'));
        return;
      }
      signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  receive(raw: unknown): void {
    if (isEngineEvent(raw)) {
      let event;
      try {
        event = engineEvent(raw);
      } catch (e) {
        console.warn('engine event rejected:', e);
        return;
      }
      if (event.event === 'data.progress') this.pending.get(event.requestId)?.onProgress?.({ done: event.bytes, total: event.total });
      else if (event.event === 'request.progress') this.pending.get(event.requestId)?.onProgress?.({ done: event.done, total: event.total });
      else this.events.emit(event);
      return;
    }
    let msg;
    try {
      msg = engineMessage(raw);
    } catch (e) {
      console.warn('engine message rejected:', e);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(toStudioError(msg.error, 'the engine failed'));
  }

  failAll(message: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new StudioError(message));
      this.pending.delete(id);
    }
  }
}

// ---- Electron --------------------------------------------------------------------------------------------------

export class ElectronBridge implements Bridge {
  readonly platform = 'electron' as const;
  readonly shellConnected = true;
  engineStatus: EngineStatus = { state: 'connecting' };
  private port: MessagePort | null = null;
  private client = new EngineClient((req) => {
    if (!this.port) return false;
    this.port.postMessage(req);
    return true;
  });
  private menu = new Listeners<[MenuCommand, string | undefined]>();
  private status = new Listeners<[EngineStatus]>();
  private cleanups: (() => void)[] = [];

  constructor(private readonly studio: StudioBridge) {
    // The preload hands over the engine's port after each load and again after an engine restart.
    const onWindowMessage = (e: MessageEvent) => {
      if (e.data !== ENGINE_PORT_MESSAGE || !e.ports[0]) return;
      if (e.source !== null && e.source !== window) return;
      this.attachPort(e.ports[0]);
    };
    window.addEventListener('message', onWindowMessage);
    this.cleanups.push(() => window.removeEventListener('message', onWindowMessage));
    // The preload has validated both already (menuCommand, engineStatus).
    this.cleanups.push(studio.onMenu((m) => this.menu.emit(m.command, m.path)));
    this.cleanups.push(studio.onEngineStatus((s) => this.setStatus({ state: s.engine, ...(s.message ? { message: s.message } : {}) })));
  }

  private attachPort(port: MessagePort): void {
    if (this.port) {
      this.port.close();
      this.client.failAll('the engine restarted');
    }
    this.port = port;
    port.onmessage = (e) => this.client.receive(e.data);
    port.start();
    this.setStatus({ state: 'ready' });
  }

  private setStatus(s: EngineStatus): void {
    if (s.state === 'restarting') {
      this.client.failAll('the engine is restarting');
      // A new port arrives with the new engine; until then the old one is dead.
      this.port?.close();
      this.port = null;
    }
    if (s.state === 'ready' && !this.port) s = { state: 'connecting', message: s.message };
    this.engineStatus = s;
    this.status.emit(s);
  }

  async request<R extends ShellRequest>(req: R): Promise<ShellResult<R['type']>> {
    let reply;
    try {
      reply = shellReply(await this.studio.request(req), `${req.type} reply`);
    } catch (e) {
      throw new StudioError(cleanIpcMessage(e));
    }
    if (!reply.ok) throw toStudioError(reply.error, `${req.type} failed`);
    return checkResult(req, reply.result);
  }

  engine<R extends EngineCall>(req: R, opts?: EngineCallOptions): Promise<EngineResult<R['type']>> {
    return this.client.call(req, opts);
  }

  onEngineEvent(cb: (event: BroadcastEvent) => void): () => void {
    return this.client.events.add(cb);
  }

  onMenu(cb: (command: MenuCommand, path?: string) => void): () => void {
    return this.menu.add(cb);
  }

  onEngineStatus(cb: (status: EngineStatus) => void): () => void {
    return this.status.add(cb);
  }

  dispose(): void {
    for (const c of this.cleanups) c();
    this.port?.close();
  }
}

/** Electron prefixes errors thrown in main: "Error invoking remote method 'x': Error: message". */
function cleanIpcMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/^Error invoking remote method '[^']*': (\w*Error: )?/, '');
}

// ---- Web mode --------------------------------------------------------------------------------------------------

const CONNECT_WAIT_MS = 8000;

export class WebBridge implements Bridge {
  readonly platform = 'web' as const;
  engineStatus: EngineStatus = { state: 'connecting' };
  shellConnected = false;
  private ws: WebSocket | null = null;
  private nextShellId = 1;
  private shellPending = new Map<number, { req: ShellRequest; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private client = new EngineClient((req) => this.send({ channel: 'engine', message: req }));
  private menu = new Listeners<[MenuCommand, string | undefined]>();
  private status = new Listeners<[EngineStatus]>();
  private retry = 500;
  private disposed = false;
  private everOpened = false;
  /** Requests waiting for the socket to open; told at once when the first attempt fails (no app server). */
  private waiters = new Set<(ok: boolean) => void>();

  constructor(private readonly url: string) {
    this.connect();
  }

  private connect(): void {
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.setStatus({ state: 'offline', message: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 500;
      this.everOpened = true;
      this.shellConnected = true;
      for (const w of this.waiters) w(true);
      this.waiters.clear();
      this.setStatus({ state: 'ready' });
    };
    ws.onmessage = (e) => this.receive(e.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.shellConnected = false;
      this.client.failAll('the connection to the app server was lost');
      for (const [id, p] of this.shellPending) {
        p.reject(new StudioError('the connection to the app server was lost'));
        this.shellPending.delete(id);
      }
      for (const w of this.waiters) w(false);
      this.waiters.clear();
      this.setStatus({ state: 'offline', message: this.everOpened ? 'connection to the app server lost; reconnecting' : 'no app server' });
      if (!this.disposed) {
        setTimeout(() => this.connect(), this.retry);
        this.retry = Math.min(this.retry * 2, 5000);
      }
    };
  }

  private setStatus(s: EngineStatus): void {
    this.engineStatus = s;
    this.status.emit(s);
  }

  private send(msg: SocketUp): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  private receive(data: unknown): void {
    let msg;
    try {
      msg = socketDown(JSON.parse(String(data)));
    } catch (e) {
      console.warn('socket message rejected:', e);
      return;
    }
    if (msg.channel === 'engine') this.client.receive(msg.message);
    else if (msg.channel === 'status') {
      if (msg.engine === 'restarting') this.client.failAll('the engine is restarting');
      this.setStatus({ state: msg.engine, message: msg.message });
    } else {
      const p = this.shellPending.get(msg.id);
      if (!p) return;
      this.shellPending.delete(msg.id);
      if (!msg.ok) p.reject(toStudioError(msg.error, `${p.req.type} failed`));
      else {
        try {
          p.resolve(checkResult(p.req, msg.result));
        } catch (e) {
          p.reject(e as Error);
        }
      }
    }
  }

  /** Resolves when the socket is open; rejects when it is not and the current attempt fails (or takes too long). */
  private whenOpen(): Promise<void> {
    if (this.ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(done);
        if (ok) resolve();
        else reject(new StudioError('not connected to the Backprop Studio app server'));
      };
      const timer = setTimeout(() => done(false), CONNECT_WAIT_MS);
      this.waiters.add(done);
    });
  }

  async request<R extends ShellRequest>(req: R): Promise<ShellResult<R['type']>> {
    await this.whenOpen();
    const id = this.nextShellId++;
    return new Promise((resolve, reject) => {
      this.shellPending.set(id, { req, resolve: resolve as (v: unknown) => void, reject });
      if (!this.send({ channel: 'shell', id, request: req })) {
        this.shellPending.delete(id);
        reject(new StudioError('not connected to the Backprop Studio app server'));
      }
    });
  }

  engine<R extends EngineCall>(req: R, opts?: EngineCallOptions): Promise<EngineResult<R['type']>> {
    return this.client.call(req, opts);
  }

  onEngineEvent(cb: (event: BroadcastEvent) => void): () => void {
    return this.client.events.add(cb);
  }

  onMenu(cb: (command: MenuCommand, path?: string) => void): () => void {
    return this.menu.add(cb);
  }

  onEngineStatus(cb: (status: EngineStatus) => void): () => void {
    return this.status.add(cb);
  }

  dispose(): void {
    this.disposed = true;
    this.ws?.close();
  }
}

/** The socket's URL: `ws` next to the page (the page lives at /TOKEN/, so the token travels with it). */
export function socketUrl(href: string): string {
  const u = new URL('ws', href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  u.hash = '';
  return u.href;
}

export function createBridge(): Bridge {
  const studio = window.studio;
  if (studio && studio.platform === 'electron') return new ElectronBridge(studio);
  return new WebBridge(socketUrl(location.href));
}
