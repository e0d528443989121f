/**
 * Web mode: the built renderer served on 127.0.0.1 under a random token (`http://127.0.0.1:PORT/TOKEN/`), and one
 * WebSocket per page at `/TOKEN/ws` that carries both channels of the protocol: `shell` requests go to the shell
 * service (files confined to the workspace), `engine` requests to an engine host forked as a Node child process
 * for that page, restarted when it dies.
 *
 *   npm run web -- [--workspace DIR] [--port N] [--no-open] [--open FILE] [--data-dir DIR]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { socketDown, socketUp, type SocketDown } from '../../engine/protocol/messages';
import { createShellService, dispatchShell, toErrorInfo, type ShellService } from '../shell-service';
import { contentSecurityPolicy, rendererFile, rendererHeaders } from '../security';
import { Supervisor, type SupervisedProcess } from '../supervisor';
import { ensureWorkspace, resolveInWorkspace, webDataDir, webPolicy } from '../workspace';
import { confineEngineRequest } from './engine-paths';

/** The largest WebSocket message (a project text is bounded at 256 MiB by the protocol, base64 adds a third). */
export const MAX_SOCKET_MESSAGE = 400 * 1024 * 1024;

export interface EngineEntry {
  /** The host's entry: the bundle `dist/host/main.cjs`, or `engine/host/main.ts` run through tsx. */
  path: string;
  execArgv: string[];
  cwd: string;
}

export interface WebServerOptions {
  workspace: string;
  /** recent.json and recovery/ live here. */
  dataDir: string;
  rendererDir: string;
  examplesDir: string;
  engine: EngineEntry;
  version: string;
  port?: number;
  /** Fixed for tests; random otherwise. */
  token?: string;
  log?(line: string): void;
}

export interface WebServer {
  /** `http://127.0.0.1:PORT/TOKEN/` */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly service: ShellService;
  /** The engine processes of the connected pages (tests kill one to see it restart). */
  enginePids(): number[];
  close(): Promise<void>;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compares a candidate with the token in constant time (hashes first, so lengths do not leak either). */
export function tokenMatches(candidate: string, token: string): boolean {
  return timingSafeEqual(sha256(candidate), sha256(token));
}

/** The repository (or app) root, from this module's place: `electron/web/` and `dist/web/` both sit two below. */
export function defaultRoot(moduleUrl: string = import.meta.url): string {
  return resolve(dirname(fileURLToPath(moduleUrl)), '..', '..');
}

/** The engine host to fork: the bundle when running bundled, else the TypeScript source through tsx. */
export function defaultEngineEntry(root: string, moduleUrl: string = import.meta.url): EngineEntry {
  const bundle = join(root, 'dist', 'host', 'main.cjs');
  if (!moduleUrl.endsWith('.ts') && existsSync(bundle)) return { path: bundle, execArgv: [], cwd: root };
  return { path: join(root, 'engine', 'host', 'main.ts'), execArgv: ['--import', 'tsx'], cwd: root };
}

class EngineChild implements SupervisedProcess {
  readonly child: ChildProcess;
  constructor(entry: EngineEntry) {
    this.child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      cwd: entry.cwd,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
  }
  onExit(handler: (why: string) => void): void {
    let done = false;
    const once = (why: string): void => {
      if (!done) {
        done = true;
        handler(why);
      }
    };
    this.child.once('exit', (code, signal) => once(signal ? `killed by ${signal}` : `exit code ${code}`));
    this.child.once('error', (e) => once(e.message));
  }
  onSpawn(handler: () => void): void {
    this.child.once('spawn', handler);
  }
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const log = options.log ?? ((line: string) => console.error(line));
  const token = options.token ?? randomBytes(24).toString('base64url');
  const service = createShellService({
    policy: webPolicy(options.workspace),
    dataDir: options.dataDir,
    examplesDir: options.examplesDir,
    version: options.version,
  });
  const workspaceRoot = realpathSync(options.workspace);
  const connections = new Set<{ ws: WebSocket; supervisor: Supervisor<EngineChild> }>();
  let port = 0;
  const allowedHosts = (): string[] => [`127.0.0.1:${port}`, `localhost:${port}`];
  const allowedOrigins = (): string[] => allowedHosts().map((h) => `http://${h}`);
  const csp = (): string => contentSecurityPolicy(allowedHosts().map((h) => `ws://${h}`));

  /** `/TOKEN/rest` -> `/rest` when the token is right, else null. */
  const underToken = (url: string | undefined): string | null => {
    const path = (url ?? '/').split('?')[0].split('#')[0];
    const m = /^\/([^/]*)(\/.*)?$/.exec(path);
    if (!m || !tokenMatches(m[1], token)) return null;
    return m[2] ?? '';
  };

  const http: Server = createServer((req, res) => {
    void serve(req, res).catch((e) => {
      log(`web mode: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('Internal error');
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const plain = (status: number, text: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', ...headers });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (!allowedHosts().includes(req.headers.host ?? '')) return plain(403, 'Forbidden');
    const rest = underToken(req.url);
    if (rest === null) return plain(403, 'Forbidden');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(405, 'Method not allowed', { Allow: 'GET, HEAD' });
    if (rest === '') return plain(308, 'Moved', { Location: `/${token}/` + (req.url?.includes('?') ? req.url.slice(req.url.indexOf('?')) : '') });
    let file = rendererFile(options.rendererDir, rest);
    if (file === null) return plain(404, 'Not found');
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
    } catch {
      // not found: below
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      if (!existsSync(join(options.rendererDir, 'index.html'))) {
        return plain(503, 'The renderer is not built yet: run `npm run build` (it writes dist/renderer).');
      }
      return plain(404, 'Not found');
    }
    res.writeHead(200, { ...rendererHeaders(file, csp()), 'Content-Length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_SOCKET_MESSAGE });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string): void => {
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    const origin = req.headers.origin;
    if (!allowedHosts().includes(req.headers.host ?? '')) return refuse('403 Forbidden');
    if (underToken(req.url) !== '/ws') return refuse('403 Forbidden');
    // Browsers always send Origin; a page of another site must not drive the app. (Tools without one are local.)
    if (origin !== undefined && !allowedOrigins().includes(origin)) return refuse('403 Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => connect(ws));
  });

  function connect(ws: WebSocket): void {
    const send = (m: SocketDown): void => {
      try {
        socketDown(m);
      } catch (e) {
        log(`web mode: refusing to send a malformed message: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
    };
    const inFlight = new Set<number>();
    const supervisor = new Supervisor<EngineChild>({
      spawn: () => new EngineChild(options.engine),
      onReady: (p) => {
        p.child.on('message', (message: unknown) => {
          const id = (message as { id?: unknown } | null)?.id;
          if (typeof id === 'number') inFlight.delete(id);
          send({ channel: 'engine', message });
        });
      },
      onCrash: (why) => {
        for (const id of inFlight) {
          send({ channel: 'engine', message: { id, ok: false, error: { message: `the engine stopped while working on this (${why})` } } });
        }
        inFlight.clear();
      },
      onStatus: (status) => send({ channel: 'status', ...status }),
    });
    supervisor.start();
    const conn = { ws, supervisor };
    connections.add(conn);

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return send({ channel: 'shell', id: -1, ok: false, error: { message: 'bad message: expected JSON text' } });
      void receive(data.toString());
    });
    ws.on('close', () => {
      supervisor.stop();
      connections.delete(conn);
    });
    ws.on('error', () => ws.terminate());

    async function receive(text: string): Promise<void> {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        return send({ channel: 'shell', id: -1, ok: false, error: { message: 'bad message: not JSON' } });
      }
      let up;
      try {
        up = socketUp(raw);
      } catch (e) {
        const r = raw as { channel?: unknown; id?: unknown; message?: { id?: unknown } } | null;
        const error = toErrorInfo(e);
        if (r?.channel === 'engine' && Number.isInteger(r.message?.id)) {
          return send({ channel: 'engine', message: { id: r.message!.id as number, ok: false, error } });
        }
        return send({ channel: 'shell', id: Number.isInteger(r?.id) ? (r!.id as number) : -1, ok: false, error });
      }
      if (up.channel === 'shell') {
        const reply = await dispatchShell(service, up.request);
        return send({ channel: 'shell', id: up.id, ...reply });
      }
      let request;
      try {
        request = confineEngineRequest(workspaceRoot, up.message);
      } catch (e) {
        return send({ channel: 'engine', message: { id: up.message.id, ok: false, error: toErrorInfo(e) } });
      }
      const child = supervisor.current?.child;
      if (!child?.connected) {
        return send({ channel: 'engine', message: { id: request.id, ok: false, error: { message: 'the engine is restarting; try again' } } });
      }
      inFlight.add(request.id);
      child.send(request);
    }
  }

  await new Promise<void>((ok, fail) => {
    http.once('error', fail);
    http.listen(options.port ?? 0, '127.0.0.1', () => {
      http.off('error', fail);
      ok();
    });
  });
  port = (http.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/${token}/`,
    port,
    token,
    service,
    enginePids: () => [...connections].map((c) => c.supervisor.current?.child.pid).filter((p): p is number => p !== undefined),
    async close() {
      for (const c of connections) {
        c.supervisor.stop();
        c.ws.close(1001, 'server closing');
      }
      connections.clear();
      wss.close();
      await new Promise<void>((ok) => {
        http.close(() => ok());
        http.closeAllConnections();
      });
    },
  };
}

// ---- the command line ----------------------------------------------------------------------------------------------

export interface WebArgs {
  workspace?: string;
  dataDir?: string;
  port?: number;
  open: boolean;
  /** The project to open in the page, relative to the workspace (default: spiral.bpstudio when there is one). */
  openFile?: string;
}

export function parseWebArgs(argv: readonly string[]): WebArgs {
  const out: WebArgs = { open: true };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = (): string => (inline !== undefined ? inline : value(i++, flag));
    switch (flag) {
      case '--workspace':
        out.workspace = take();
        break;
      case '--data-dir':
        out.dataDir = take();
        break;
      case '--port': {
        const v = take();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535) throw new Error(`--port must be a port number (0-65535), not "${v}"`);
        out.port = n;
        break;
      }
      case '--open':
        out.openFile = take();
        break;
      case '--no-open':
        out.open = false;
        break;
      default:
        throw new Error(`unknown option "${a}" (known: --workspace DIR, --port N, --no-open, --open FILE, --data-dir DIR)`);
    }
  }
  return out;
}

/** Opens `url` in the desktop's browser when there is one; failing is silent. */
export function openBrowser(url: string, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): boolean {
  let cmd: string;
  let args: string[];
  if (platform === 'darwin') [cmd, args] = ['open', [url]];
  else if (platform === 'win32') [cmd, args] = ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]];
  else {
    if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return false;
    [cmd, args] = ['xdg-open', [url]];
  }
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}

/** `npm run web`: starts the server, prints the URL, opens the browser, and shuts down on SIGINT/SIGTERM. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<WebServer> {
  let args: WebArgs;
  try {
    args = parseWebArgs(argv);
  } catch (e) {
    console.error(`bpstudio web: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
  const root = defaultRoot();
  const examplesDir = join(root, 'examples');
  const dataDir = args.dataDir ? resolve(args.dataDir) : webDataDir();
  const workspace = args.workspace ? resolve(args.workspace) : ensureWorkspace(join(dataDir, 'workspace'), examplesDir).dir;
  if (!existsSync(workspace) || !statSync(workspace).isDirectory()) {
    console.error(`bpstudio web: the workspace "${workspace}" is not a folder`);
    process.exit(2);
  }
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const server = await startWebServer({
    workspace,
    dataDir,
    rendererDir: join(root, 'dist', 'renderer'),
    examplesDir,
    engine: defaultEngineEntry(root),
    version,
    port: args.port,
  });
  console.log(`Backprop Studio (web mode): ${server.url}`);
  // `--open FILE`: the page opens it at start (`?open=FILE`), when the workspace has it.
  let openFile = args.openFile;
  if (openFile !== undefined) {
    try {
      if (!existsSync(resolveInWorkspace(realpathSync(workspace), openFile))) openFile = undefined;
    } catch {
      openFile = undefined;
    }
  }
  if (args.open) openBrowser(openFile ? `${server.url}?open=${encodeURIComponent(openFile)}` : server.url);
  let closing = false;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    void server.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  return server;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) void main();
