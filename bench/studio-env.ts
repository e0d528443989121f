/**
 * The app as the Chromium benchmarks run it (`editor`, `training_app`): the real web mode server on an app root of
 * its own with a production renderer build, a temporary workspace, and Debian's Chromium (headless) driven by
 * playwright-core. Without Chromium a benchmark is skipped with a note on stderr (benchmarks are not tests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { note } from './report';

export const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const CHROMIUM = process.env.BPSTUDIO_CHROMIUM ?? '/usr/bin/chromium';
/** Headless, a fresh profile, nothing fetched in the background; software rasterising (no GPU). */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * An app root of its own for the server: the shell bundles of dist/ (built when stale) and a production build of
 * the renderer made for this run. dist/renderer itself is neither used nor touched: it may be a development build
 * (a `vite build` run with NODE_ENV=test, as under vitest, compiles Svelte in dev mode, about 12 % larger and slower)
 * and others may be serving it. Build output goes to stderr; stdout stays JSON lines.
 */
function prepareRoot(root: string): void {
  const run = (args: string[], env: NodeJS.ProcessEnv = process.env) => {
    const r = spawnSync(process.execPath, args, { cwd: REPO, stdio: ['ignore', 2, 2], timeout: 300_000, env });
    if (r.status !== 0) throw new Error(`${args.slice(0, 2).join(' ')} failed (exit ${r.status ?? r.signal})`);
  };
  run([join(REPO, 'scripts', 'build.mjs'), '--if-stale', '--no-renderer', '--quiet']);
  const vite = join(REPO, 'node_modules', 'vite', 'bin', 'vite.js');
  run([vite, 'build', '--outDir', join(root, 'dist', 'renderer'), '--emptyOutDir', '--logLevel', 'warn'], { ...process.env, NODE_ENV: 'production' });
  for (const f of ['dist/web/server.mjs', 'dist/host/main.cjs', 'package.json']) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    copyFileSync(join(REPO, f), join(root, f));
  }
  symlinkSync(join(REPO, 'examples'), join(root, 'examples'), 'dir');
}

export interface WebServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the server printed (for failure messages). */
  log(): string;
  close(): Promise<void>;
}

/**
 * Starts web mode's built server (`ROOT/dist/web/server.mjs`) as a child process on a workspace and data folder;
 * resolves with the URL it prints. The end-to-end tests' harness and the benchmarks both start it this way.
 */
export async function startServer(root: string, workspace: string, dataDir: string): Promise<WebServerProcess> {
  const child = spawn(process.execPath, [join(root, 'dist', 'web', 'server.mjs'), '--no-open', '--workspace', workspace, '--data-dir', dataDir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BPSTUDIO_DATA_DIR: dataDir },
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (out += d));
  const url = await new Promise<string>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`web mode printed no URL within 30 s:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = /Backprop Studio \(web mode\): (http:\/\/127\.0\.0\.1:\d+\/\S+?\/)(?:\s|$)/.exec(out);
      if (m) {
        clearTimeout(t);
        ok(m[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      fail(new Error(`web mode exited (${signal ?? code}) before printing its URL:\n${out}`));
    });
  });
  return {
    url,
    child,
    log: () => out,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The children of a process (`pgrep -P`); none where pgrep is missing. */
export function childPids(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean).map(Number);
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

export interface StudioEnv {
  /** The server's base URL; `url + '?open=' + FILE` opens a workspace file. */
  url: string;
  workspace: string;
  /** The web mode server (its engine hosts are its children, one per page connection). */
  server: ChildProcess;
  context: BrowserContext;
  /** Chromium's processes: the browser this process launched and all its descendants (zygotes, renderers, GPU...). */
  chromiumPids(): number[];
}

/**
 * Runs `fn` against the app: `files` written into a fresh workspace, the app root built (production renderer), the
 * server started, Chromium launched (viewport 1440x900, light); everything stopped and removed afterwards. Resolves
 * without calling `fn` (a note on stderr) when Chromium is missing.
 */
export async function withStudio(bench: string, files: Record<string, string>, fn: (env: StudioEnv) => Promise<void>): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    note(`${bench}: skipped: Chromium not found at ${CHROMIUM} (Debian: apt-get install chromium; or set BPSTUDIO_CHROMIUM)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const tmp = mkdtempSync(join(tmpdir(), `bps-bench-${bench}-`));
  const dirs = { root: join(tmp, 'app'), workspace: join(tmp, 'workspace'), dataDir: join(tmp, 'data'), profile: join(tmp, 'chromium-profile') };
  for (const d of [dirs.workspace, dirs.dataDir, dirs.profile]) mkdirSync(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dirs.workspace, name), text);
  let server: WebServerProcess | undefined;
  let context: BrowserContext | undefined;
  try {
    const t0 = performance.now();
    prepareRoot(dirs.root);
    note(`${bench}: built the app (production renderer) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    server = await startServer(dirs.root, dirs.workspace, dirs.dataDir);
    const before = new Set(childPids(process.pid));
    context = await chromium.launchPersistentContext(dirs.profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
      colorScheme: 'light',
      timeout: 60_000,
    });
    // The browser is the child of this process that the launch added (not the server, nor tsx's esbuild service).
    const browsers = childPids(process.pid).filter((p) => !before.has(p) && /chrom/i.test(commandOf(p)));
    const descendants = (pid: number): number[] => [pid, ...childPids(pid).flatMap(descendants)];
    await fn({
      url: server.url,
      workspace: dirs.workspace,
      server: server.child,
      context,
      chromiumPids: () => browsers.flatMap(descendants),
    });
  } finally {
    await context?.close().catch(() => {});
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

type PageLike = { evaluate(expression: string): Promise<unknown>; waitForTimeout(ms: number): Promise<void> };

/**
 * Polls an expression until it is truthy. (Playwright's waitForFunction evaluates a string predicate with eval,
 * which the app's Content-Security-Policy forbids; page.evaluate goes through the DevTools protocol instead.)
 */
export async function waitFor(page: PageLike, expression: string, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await page.evaluate(expression))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await page.waitForTimeout(50);
  }
}
