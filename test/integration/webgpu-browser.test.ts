/**
 * The WebGPU backend in a browser: the conformance suite (../conformance/webgpu-suite.ts), bundled for the browser,
 * runs in Debian's Chromium on its SwiftShader adapter through navigator.gpu, against the CPU backend in the same
 * page. This holds the backend free of Node-only calls outside the adapter request, and holds it to a second,
 * independent WebGPU implementation (Chromium's Dawn on SwiftShader rather than dawn.node on Mesa's llvmpipe), whose
 * builtins are as loose as WGSL allows (sin and cos to 2^-11 absolute).
 */
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { join } from 'node:path';
import { launchBrowser, REPO, WEBGPU_FLAGS, type Browsing } from '../e2e/harness';
import type { SuiteReport } from '../conformance/webgpu-suite';

let browsing: Browsing | undefined;
beforeAll(async () => {
  browsing = await launchBrowser(WEBGPU_FLAGS);
}, 60_000);
afterAll(async () => {
  await browsing?.close();
});

/** The entry bundled as one browser script; `webgpu` (dawn.node) is only imported where there is no navigator.gpu. */
async function bundle(): Promise<string> {
  const out = await build({
    entryPoints: [join(REPO, 'test', 'conformance', 'webgpu-browser-entry.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    external: ['webgpu'],
    logLevel: 'warning',
  });
  return out.outputFiles[0].text;
}

test('the conformance suite passes in Chromium on navigator.gpu (SwiftShader)', async () => {
  const script = await bundle();
  const page = await browsing!.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // localhost is a secure context, which navigator.gpu needs; the two files are served from here.
  await page.route('http://localhost/**', (route) =>
    route.request().url().endsWith('/suite.js')
      ? route.fulfill({ contentType: 'text/javascript', body: script })
      : route.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="module" src="/suite.js"></script>' }),
  );
  await page.goto('http://localhost/');
  await page.waitForFunction(() => 'runWebgpuSuite' in globalThis);
  const report = await page.evaluate(() => (globalThis as unknown as { runWebgpuSuite(): Promise<SuiteReport> }).runWebgpuSuite());
  expect(report.adapter).toMatch(/swiftshader/);
  expect(report.cases).toBeGreaterThan(300);
  expect(report.failed).toEqual([]);
  expect(errors).toEqual([]);
}, 300_000);
