/**
 * Web mode end to end at the protocol level: the server on a temporary workspace, a real WebSocket, a real engine
 * host child process (no mocks): the token, the socket's checks, shell round trips, a compile, and the engine's
 * restart after it is killed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { socketDown, type SocketDown, type SocketUp } from '../../engine/protocol/messages';
import { processAlive } from '../../electron/fs-util';
import { defaultEngineEntry, parseWebArgs, startWebServer, tokenMatches, type WebServer } from '../../electron/web/server';

const REPO = join(__dirname, '..', '..');
const spiral = readFileSync(join(REPO, 'examples', 'spiral.bpstudio'), 'utf8');

let tmp: string;
let server: WebServer;

/** GET with the raw status (no redirects followed). */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => ok({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** A socket client that collects what comes down and waits for a match. */
class Client {
  readonly ws: WebSocket;
  readonly received: SocketDown[] = [];
  private waiters: { match: (m: SocketDown) => boolean; ok: (m: SocketDown) => void }[] = [];
  constructor(url: string, options?: WebSocket.ClientOptions) {
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (d) => {
      const m = socketDown(JSON.parse(String(d)));
      this.received.push(m);
      for (const w of [...this.waiters]) {
        if (w.match(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.ok(m);
        }
      }
    });
  }
  opened(): Promise<void> {
    return new Promise((ok, fail) => {
      this.ws.once('open', () => ok());
      this.ws.once('error', fail);
    });
  }
  send(m: SocketUp | unknown): void {
    this.ws.send(JSON.stringify(m));
  }
  next(match: (m: SocketDown) => boolean, timeoutMs = 30_000): Promise<SocketDown> {
    const seen = this.received.find(match);
    if (seen) {
      this.received.splice(this.received.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error('timed out waiting for a socket message')), timeoutMs);
      this.waiters.push({
        match,
        ok: (m) => {
          clearTimeout(t);
          this.received.splice(this.received.indexOf(m), 1);
          ok(m);
        },
      });
    });
  }
  async shell(id: number, request: unknown) {
    this.send({ channel: 'shell', id, request });
    return (await this.next((m) => m.channel === 'shell' && m.id === id)) as Extract<SocketDown, { channel: 'shell' }>;
  }
  async compile(id: number, project: unknown) {
    this.send({ channel: 'engine', message: { type: 'compile', id, project } });
    const m = await this.next((m) => m.channel === 'engine' && (m.message as { id?: number }).id === id);
    return (m as Extract<SocketDown, { channel: 'engine' }>).message as { id: number; ok: boolean; result?: { planBytes?: number; parameterCount: number }; error?: { message: string } };
  }
}

const wsUrl = () => `ws://127.0.0.1:${server.port}/${server.token}/ws`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'bps-web-'));
  const renderer = join(tmp, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><script type="module" src="./assets/app.js"></script>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  mkdirSync(join(tmp, 'ws'));
  writeFileSync(join(tmp, 'ws', 'spiral.bpstudio'), spiral);
  writeFileSync(join(tmp, 'secret.txt'), 'outside');
  server = await startWebServer({
    workspace: join(tmp, 'ws'),
    dataDir: join(tmp, 'data'),
    rendererDir: renderer,
    examplesDir: join(REPO, 'examples'),
    engine: defaultEngineEntry(REPO, 'file:///server.ts'),
    version: '0.0.0-test',
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('web mode: HTTP', () => {
  it('serves the renderer under the token, with the CSP', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/${server.token}/`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
    const page = await get(`/${server.token}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('./assets/app.js');
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(String(page.headers['content-security-policy'])).toContain(`ws://127.0.0.1:${server.port}`);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect((await get(`/${server.token}/assets/app.js`)).status).toBe(200);
    expect((await get(`/${server.token}/?open=spiral.bpstudio`)).status).toBe(200);
    expect((await get(`/${server.token}`)).headers.location).toBe(`/${server.token}/`);
  });

  it('refuses everything without the right token with 403', async () => {
    for (const path of ['/', '/index.html', '/assets/app.js', `/${server.token.slice(1)}/`, `/${server.token}x/`, `/x/${server.token}/`]) {
      expect((await get(path)).status, path).toBe(403);
    }
  });

  it('refuses a foreign Host (DNS rebinding) and paths out of the renderer folder', async () => {
    expect((await get(`/${server.token}/`, { Host: 'evil.example' })).status).toBe(403);
    expect((await get(`/${server.token}/..%2f..%2fsecret.txt`)).status).toBe(404);
    expect((await get(`/${server.token}/missing.js`)).status).toBe(404);
  });

  it('compares the token in constant time, whatever the lengths', () => {
    expect(tokenMatches(server.token, server.token)).toBe(true);
    expect(tokenMatches('', server.token)).toBe(false);
    expect(tokenMatches(server.token + 'x', server.token)).toBe(false);
  });
});

describe('web mode: WebSocket', () => {
  it('refuses an upgrade without the token, with a wrong one, or from a foreign origin', async () => {
    const refused = (url: string, options?: WebSocket.ClientOptions) =>
      new Promise<number>((ok) => {
        const ws = new WebSocket(url, options);
        ws.on('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
        ws.on('open', () => ok(101));
        ws.on('error', () => ok(-1));
      });
    expect(await refused(`ws://127.0.0.1:${server.port}/ws`)).toBe(403);
    expect(await refused(`ws://127.0.0.1:${server.port}/wrong/ws`)).toBe(403);
    expect(await refused(wsUrl(), { origin: 'https://evil.example' })).toBe(403);
    expect(await refused(wsUrl(), { origin: `http://127.0.0.1:${server.port}` })).toBe(101);
  });

  it('shell round trip: list, open, save, and errors', async () => {
    const c = new Client(wsUrl());
    await c.opened();
    const list = await c.shell(1, { type: 'list' });
    expect(list).toEqual({ channel: 'shell', id: 1, ok: true, result: { dir: '', entries: [{ name: 'spiral.bpstudio', path: 'spiral.bpstudio', kind: 'file' }] } });
    const opened = await c.shell(2, { type: 'open', path: 'spiral.bpstudio' });
    expect(opened.result).toEqual({ path: 'spiral.bpstudio', text: spiral });
    const edited = spiral.replace('Spiral, two hidden layers', 'Saved over the socket');
    expect((await c.shell(3, { type: 'save', path: 'spiral.bpstudio', text: edited })).result).toEqual({ path: 'spiral.bpstudio' });
    expect((await c.shell(4, { type: 'open', path: 'spiral.bpstudio' })).result).toEqual({ path: 'spiral.bpstudio', text: edited });
    expect(readFileSync(join(tmp, 'ws', 'spiral.bpstudio'), 'utf8')).toBe(edited);
    // confined to the workspace
    const outside = await c.shell(5, { type: 'open', path: '../secret.txt' });
    expect(outside.ok).toBe(false);
    expect(outside.error?.message).toMatch(/leaves the workspace/);
    // malformed requests answer with the request's id
    expect((await c.shell(6, { type: 'delete', path: 'x' })).error?.message).toMatch(/bad request/);
    c.ws.send('not json at all');
    expect(await c.next((m) => m.channel === 'shell' && m.id === -1)).toMatchObject({ ok: false, error: { message: 'bad message: not JSON' } });
    c.send('a string');
    expect(await c.next((m) => m.channel === 'shell' && m.id === -1)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/^bad request: /) } });
    c.ws.close();
  });

  it('engine round trip: compile the spiral, and an error for a bad request', async () => {
    const c = new Client(wsUrl());
    await c.opened();
    const reply = await c.compile(1, JSON.parse(spiral));
    expect(reply.ok).toBe(true);
    expect(reply.result!.planBytes).toBeGreaterThan(0);
    expect(reply.result!.parameterCount).toBe(1251);
    c.send({ channel: 'engine', message: { type: 'train', id: 2 } });
    const bad = await c.next((m) => m.channel === 'engine' && (m.message as { id?: number }).id === 2);
    expect((bad as { message: { ok: boolean } }).message.ok).toBe(false);
    c.ws.close();
  });

  it('a killed engine is reported restarting, then ready, and compiling works again', async () => {
    const c = new Client(wsUrl());
    await c.opened();
    expect((await c.compile(1, JSON.parse(spiral))).ok).toBe(true);
    const pids = server.enginePids();
    expect(pids.length).toBeGreaterThan(0);
    // This connection's engine is the newest one.
    const pid = pids.at(-1)!;
    process.kill(pid, 'SIGKILL');
    const restarting = await c.next((m) => m.channel === 'status' && m.engine === 'restarting');
    expect(restarting).toMatchObject({ channel: 'status', engine: 'restarting' });
    expect((restarting as { message?: string }).message).toMatch(/SIGKILL/);
    await c.next((m) => m.channel === 'status' && m.engine === 'ready');
    expect(server.enginePids()).not.toContain(pid);
    const again = await c.compile(2, JSON.parse(spiral));
    expect(again.ok).toBe(true);
    expect(again.result!.planBytes).toBeGreaterThan(0);
    c.ws.close();
  });

  it('a page that goes away takes its engine with it', async () => {
    const c = new Client(wsUrl());
    await c.opened();
    await c.compile(1, JSON.parse(spiral));
    const before = server.enginePids().length;
    c.ws.close();
    const deadline = Date.now() + 10_000;
    while (server.enginePids().length >= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(server.enginePids().length).toBe(before - 1);
  });
});

describe('web mode: command line', () => {
  it('parses its options', () => {
    expect(parseWebArgs([])).toEqual({ open: true });
    expect(parseWebArgs(['--workspace', '/w', '--port', '8080', '--no-open', '--open=a.bpstudio', '--data-dir', '/d'])).toEqual({
      workspace: '/w',
      port: 8080,
      open: false,
      openFile: 'a.bpstudio',
      dataDir: '/d',
    });
    expect(() => parseWebArgs(['--port', 'abc'])).toThrow(/port/);
    expect(() => parseWebArgs(['--port', '70000'])).toThrow(/port/);
    expect(() => parseWebArgs(['--workspace'])).toThrow(/needs a value/);
    expect(() => parseWebArgs(['--bogus'])).toThrow(/unknown option/);
  });

  it('the built server prints its URL on one line and stops on SIGTERM, taking the engine with it', async () => {
    const built = join(REPO, 'dist', 'web', 'server.mjs');
    const { existsSync } = await import('node:fs');
    if (!existsSync(built)) return; // `npm test` builds dist first; a lone vitest run may not have it
    const child = spawn(process.execPath, [built, '--workspace', join(tmp, 'ws'), '--data-dir', join(tmp, 'data2'), '--no-open'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const m = /^Backprop Studio \(web mode\): (http:\/\/127\.0\.0\.1:(\d+)\/([A-Za-z0-9_-]+)\/)\n$/.exec(out);
    expect(m, out).not.toBeNull();
    // its engine answers over the socket
    const c = new Client(`ws://127.0.0.1:${m![2]}/${m![3]}/ws`);
    await c.opened();
    expect((await c.compile(1, JSON.parse(spiral))).result!.planBytes).toBeGreaterThan(0);
    const children = (): number[] =>
      process.platform === 'linux'
        ? spawnSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean).map(Number)
        : [];
    const engines = children();
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    c.ws.terminate();
    for (const pid of engines) {
      const gone = Date.now() + 5000;
      while (processAlive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
      expect(processAlive(pid), `engine ${pid} still runs`).toBe(false);
    }
  });
});
