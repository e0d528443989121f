/**
 * The end-to-end tests' hooks: one Chromium for the file, and per test a fresh web mode server (its own workspace,
 * a copy of the examples, and data folder: no recent files, no recovered work from an earlier test) with a new
 * page. A failed test leaves a screenshot; a passing one must have logged no page errors.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { ensureBuilt, launchBrowser, requireChromium, screenshot, startStudio, type Browsing, type Studio } from './harness';
import { StudioPage } from './studio';

/** Registers the hooks; `use` receives each test's server and page before the test runs. */
export function useStudio(use: (studio: Studio, app: StudioPage) => void): void {
  let browsing: Browsing | undefined;
  /** What this test started (what afterEach closes: a beforeEach that failed half way leaves part of it). */
  let started: { studio?: Studio; app?: StudioPage } = {};

  beforeAll(async () => {
    requireChromium();
    ensureBuilt();
    browsing = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browsing?.close();
  });

  beforeEach(async () => {
    started = {};
    const studio = (started.studio = await startStudio());
    const app = (started.app = new StudioPage(await browsing!.context.newPage(), studio.url));
    use(studio, app);
  });

  afterEach(async (ctx) => {
    const { studio: s, app: a } = started;
    started = {};
    const failed = ctx.task.result?.state === 'fail';
    // A failed test leaves a picture of the page for the report.
    if (failed && a) {
      const name = ctx.task.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60);
      await screenshot(a.page, `failed-${name}.png`).catch(() => {});
    }
    await a?.page.close().catch(() => {});
    await s?.close();
    if (!failed && a) expect(a.problems, 'the page logged errors').toEqual([]);
  });
}
