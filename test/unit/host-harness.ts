/**
 * The engine host in this process, over an in-memory port that passes every message through JSON (as web mode's
 * child process does) and checks each against the protocol, as the renderer does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEngine, type EngineHost, type EngineOptions } from '../../engine/host/host';
import { engineEvent, engineReply, engineRequest, engineResults, isEngineEvent, type EngineEvent, type EngineEventOf, type EngineReply } from '../../engine/protocol/messages';

export const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url));

export function example(name: string): Record<string, unknown> & { training: Record<string, unknown>; graph: { nodes: Record<string, unknown>[] } } {
  return JSON.parse(readFileSync(join(EXAMPLES, `${name}.bpstudio`), 'utf8'));
}

export interface Timed<E> {
  at: number;
  event: E;
}

export interface Connection {
  host: EngineHost;
  events: Timed<EngineEvent>[];
  /** Sends a request (checked with engineRequest first); resolves with the reply, its result checked too. */
  call(request: Record<string, unknown>): Promise<EngineReply>;
  /** The result of a request that must succeed. */
  ok<T = Record<string, unknown>>(request: Record<string, unknown>): Promise<T>;
  /** The first event (already received or to come) that matches. */
  waitFor<T extends EngineEvent['event']>(type: T, match?: (e: EngineEventOf<T>) => boolean, timeoutMs?: number): Promise<EngineEventOf<T>>;
  of<T extends EngineEvent['event']>(type: T): EngineEventOf<T>[];
}

export function connect(options: EngineOptions = {}): Connection {
  let handler: (m: unknown) => void = () => {};
  const events: Timed<EngineEvent>[] = [];
  const replies = new Map<number, (r: EngineReply) => void>();
  const listeners = new Set<(e: EngineEvent) => void>();
  const types = new Map<number, string>();
  const host = serveEngine(
    {
      post: (m) => {
        // When the host sent it: the JSON round trip and the checks below take longer for some events than others.
        const at = performance.now();
        const wire: unknown = JSON.parse(JSON.stringify(m));
        if (isEngineEvent(wire)) {
          const e = engineEvent(wire);
          events.push({ at, event: e });
          for (const l of [...listeners]) l(e);
        } else {
          const r = engineReply(wire);
          const type = types.get(r.id) as keyof typeof engineResults | undefined;
          if (r.ok && type && type in engineResults) (engineResults[type] as (v: unknown, p?: string) => unknown)(r.result, `${type} result`);
          replies.get(r.id)?.(r);
          replies.delete(r.id);
        }
      },
      onMessage: (h) => (handler = h),
    },
    options,
  );
  let nextId = 1;
  const call = (request: Record<string, unknown>) =>
    new Promise<EngineReply>((resolve) => {
      const id = nextId++;
      const message = { ...request, id };
      engineRequest(message);
      types.set(id, String(request.type));
      replies.set(id, resolve);
      handler(message);
    });
  const of = <T extends EngineEvent['event']>(type: T) => events.filter((e) => e.event.event === type).map((e) => e.event as EngineEventOf<T>);
  return {
    host,
    events,
    call,
    async ok<T>(request: Record<string, unknown>) {
      const r = await call(request);
      if (!r.ok) throw new Error(`${String(request.type)} failed: ${r.error?.message}`);
      return r.result as T;
    },
    of,
    waitFor<T extends EngineEvent['event']>(type: T, match: (e: EngineEventOf<T>) => boolean = () => true, timeoutMs = 60_000) {
      const found = of(type).find(match);
      if (found) return Promise.resolve(found);
      return new Promise<EngineEventOf<T>>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(l);
          reject(new Error(`no ${type} event in ${timeoutMs} ms`));
        }, timeoutMs);
        const l = (e: EngineEvent) => {
          if (e.event === type && match(e as EngineEventOf<T>)) {
            clearTimeout(timer);
            listeners.delete(l);
            resolve(e as EngineEventOf<T>);
          }
        };
        listeners.add(l);
      });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A project whose objective is (ln(w x))^2 with w starting at 1: the first row with x <= 0 makes it NaN at that
 * step, naming node `log` (batch 1, rows in order).
 */
export function lnProject(xs: number[], training: Record<string, unknown> = {}) {
  return {
    format: 'backprop-studio/project' as const,
    version: 1,
    name: 'nan',
    graph: {
      nodes: [
        { id: 'x', op: 'input', attrs: { feature: 'x' } },
        { id: 'w', op: 'parameter', attrs: { shape: [], init: 'ones' } },
        { id: 'wx', op: 'mul', inputs: { a: 'x', b: 'w' } },
        { id: 'log', op: 'ln', inputs: { x: 'wx' } },
        { id: 'obj', op: 'square', inputs: { x: 'log' } },
      ],
    },
    data: { kind: 'inline' as const, columns: { x: xs }, validation: 0, shuffle: false },
    training: { objective: 'obj', batchSize: 1, ...training },
  };
}
