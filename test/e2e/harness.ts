/**
 * The end-to-end harness: the real web mode server (`dist/web/server.mjs`, its engine host a real child process)
 * on a temporary workspace holding a copy of `examples/`, and Debian's Chromium driven by playwright-core.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../bench/studio-env';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const CHROMIUM = process.env.BPSTUDIO_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENS = join(REPO, 'test-output', 'screens');

/** Fails (never skips) when Chromium is missing: CI installs Debian's `chromium` package (.ci/run). */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The end-to-end tests need Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set BPSTUDIO_CHROMIUM to its path).`,
    );
  }
}

/** Builds dist/ when it is missing or older than its sources (a no-op right after `npm test`'s own build). */
export function ensureBuilt(): void {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'build.mjs'), '--if-stale', '--quiet'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`the build failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  for (const f of ['dist/web/server.mjs', 'dist/host/main.cjs', 'dist/renderer/index.html']) {
    if (!existsSync(join(REPO, f))) throw new Error(`the build did not write ${f}`);
  }
}

export interface Studio {
  url: string;
  workspace: string;
  dataDir: string;
  server: ChildProcess;
  /** Everything the server printed (for failure messages). */
  log(): string;
  close(): Promise<void>;
}

/** Starts web mode on a fresh copy of the examples; resolves with the URL it prints. */
export async function startStudio(): Promise<Studio> {
  const tmp = mkdtempSync(join(tmpdir(), 'bps-e2e-'));
  const workspace = join(tmp, 'workspace');
  const dataDir = join(tmp, 'data');
  cpSync(join(REPO, 'examples'), workspace, { recursive: true });
  mkdirSync(dataDir);
  const web = await startServer(REPO, workspace, dataDir);
  return {
    url: web.url,
    workspace,
    dataDir,
    server: web.child,
    log: web.log,
    async close() {
      await web.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface Browsing {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * WebGPU in headless Chromium without a GPU: its SwiftShader adapter (Vulkan on the CPU, built into Chromium), which
 * pages on localhost (a secure context) get from navigator.gpu.
 */
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader'];

/** Debian's Chromium, headless, with a fresh profile of its own (removed afterwards); `flags` are added to its own. */
export async function launchBrowser(flags: readonly string[] = []): Promise<Browsing> {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'bps-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...flags],
    viewport: { width: 1440, height: 900 },
    colorScheme: 'light',
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENS, { recursive: true });
  const path = join(SCREENS, name);
  await page.screenshot({ path });
  return path;
}

export type { BrowserContext, Locator, Page };
