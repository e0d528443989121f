/**
 * The editor as a user sees it, for the end-to-end tests: locators by role, label and test id, and the gestures
 * (dragging from the palette, wiring ports with the mouse). Assertions that wait use vitest's `expect.poll`.
 */
import { expect } from 'vitest';
import type { Locator, Page } from 'playwright-core';

/** Ctrl on Linux and Windows, where these tests run (the app uses Cmd on macOS). */
export const MOD = process.platform === 'darwin' ? 'Meta' : 'Control';

/** How long a waiting assertion waits before it fails. */
export const WAIT = 15_000;

/** The number before the first % of a text ("Validation accuracy 93.1%" → 93.1), NaN without one. */
export const percent = (text: string) => Number(/([\d.]+)%/.exec(text)?.[1] ?? NaN);

/** `expect.poll` with the tests' default wait. */
export function until<T>(read: () => T | Promise<T>, timeout = WAIT) {
  return expect.poll(read, { timeout, interval: 50 });
}

export interface EdgeRef {
  source: string;
  target: string;
  port: string;
}

export class StudioPage {
  /** Uncaught exceptions and console errors of the page: every test ends by checking there were none. */
  readonly problems: string[] = [];

  constructor(
    readonly page: Page,
    readonly url: string,
  ) {
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (e) => this.problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') this.problems.push(`console error: ${m.text()}`);
    });
  }

  /** Loads the app (optionally with `?open=FILE`). */
  async goto(open?: string): Promise<void> {
    await this.page.goto(open ? `${this.url}?open=${encodeURIComponent(open)}` : this.url);
  }

  // ---- regions --------------------------------------------------------------------------------------------------

  get palette(): Locator {
    return this.page.getByRole('complementary', { name: 'Palette' });
  }
  get inspector(): Locator {
    return this.page.getByRole('complementary', { name: 'Inspector' });
  }
  get startPage(): Locator {
    return this.page.getByRole('main', { name: 'Start page' });
  }
  /** The canvas's pane (where drops land and clicks clear the selection). */
  get pane(): Locator {
    return this.page.locator('.svelte-flow__pane');
  }
  get flow(): Locator {
    return this.page.locator('.svelte-flow');
  }
  /** The messages over the canvas; error ones have the alert role. */
  get errorToasts(): Locator {
    return this.page.locator('.toasts').getByRole('alert');
  }
  get toasts(): Locator {
    return this.page.locator('.toasts');
  }
  button(name: string): Locator {
    return this.page.getByRole('button', { name, exact: true });
  }
  get errorsButton(): Locator {
    return this.page.getByRole('button', { name: /^Errors \(\d+\)$/ });
  }
  get errorsList(): Locator {
    return this.page.getByRole('region', { name: 'Errors list' });
  }
  dialog(name: string): Locator {
    return this.page.getByRole('dialog', { name }).or(this.page.getByRole('alertdialog', { name }));
  }
  node(id: string): Locator {
    return this.page.getByTestId(`node-${id}`);
  }
  port(id: string, port: string): Locator {
    return this.page.getByTestId(`port-${id}-${port}`);
  }
  out(id: string): Locator {
    return this.page.getByTestId(`out-${id}`);
  }
  /** An inspector field by its label (exact: `shape` must not match `features`, `Id` not `sigmoid`). */
  field(label: string): Locator {
    return this.inspector.getByLabel(label, { exact: true });
  }

  // ---- reading --------------------------------------------------------------------------------------------------

  async text(testId: string): Promise<string> {
    return ((await this.page.getByTestId(testId).textContent()) ?? '').trim();
  }
  shape(id: string): Promise<string> {
    return this.text(`shape-${id}`);
  }
  /** The training run's state as the progress bar says it (idle, running, paused, done, error...). */
  async runState(): Promise<string> {
    return (await this.page.getByTestId('run-progress').getAttribute('data-state')) ?? '';
  }
  async errorCount(): Promise<number> {
    const t = (await this.errorsButton.textContent()) ?? '';
    const m = /Errors \((\d+)\)/.exec(t);
    if (!m) throw new Error(`no error count in "${t}"`);
    return Number(m[1]);
  }
  async engineState(): Promise<string | null> {
    return this.page.getByTestId('engine-status').getAttribute('data-state');
  }
  async dirty(): Promise<boolean> {
    return (await this.text('dirty-marker')) === '*';
  }
  /** The ids of the nodes on the canvas, sorted. */
  async nodeIds(): Promise<string[]> {
    const ids = await this.page.locator('.svelte-flow__node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? ''));
    return ids.sort();
  }
  /** The wires on the canvas (`source->target.port`), sorted. */
  async edges(): Promise<string[]> {
    const ids = await this.page.locator('.svelte-flow__edge').evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? ''));
    return ids.sort();
  }
  /** Each node's position in flow coordinates (from its transform), by id. */
  async positions(): Promise<Record<string, { x: number; y: number }>> {
    return this.page.locator('.svelte-flow__node').evaluateAll((els) =>
      Object.fromEntries(
        els.map((e) => {
          const m = /translate\(\s*(-?[\d.]+)px,\s*(-?[\d.]+)px\)/.exec(e.getAttribute('style') ?? '');
          return [e.getAttribute('data-id') ?? '', m ? { x: Number(m[1]), y: Number(m[2]) } : { x: NaN, y: NaN }];
        }),
      ),
    );
  }
  /** The pairs of nodes (`a/b`) whose boxes on the canvas overlap. */
  async overlaps(): Promise<string[]> {
    const boxes = await this.page.locator('.svelte-flow__node').evaluateAll((els) =>
      els.map((e) => ({ id: e.getAttribute('data-id') ?? '', r: e.getBoundingClientRect() })).map(({ id, r }) => ({ id, x: r.x, y: r.y, w: r.width, h: r.height })),
    );
    const pairs: string[] = [];
    boxes.forEach((a, i) => {
      for (const b of boxes.slice(i + 1)) if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) pairs.push(`${a.id}/${b.id}`);
    });
    return pairs;
  }
  async selectedIds(): Promise<string[]> {
    const ids = await this.page.locator('.svelte-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? ''));
    return ids.sort();
  }

  // ---- waiting --------------------------------------------------------------------------------------------------

  async engineReady(): Promise<void> {
    await until(() => this.engineState()).toBe('ready');
  }

  /** Waits for the engine to have compiled the current document: its plan memory shows, not marked stale. */
  async compiled(): Promise<string> {
    await this.engineReady();
    const plan = this.page.getByTestId('plan-memory');
    await until(async () => {
      const [text, cls, status] = await Promise.all([plan.textContent(), plan.getAttribute('class'), this.text('engine-status')]);
      return /^\d+(\.\d+)? (B|KB|MB|GB)$/.test((text ?? '').trim()) && !/\bstale\b/.test(cls ?? '') && status === 'Engine ready';
    }).toBe(true);
    return this.text('plan-memory');
  }

  /** Waits for the editor (not the start page) with every node of the document measured and drawn. */
  async editorShown(nodeCount: number): Promise<void> {
    await this.startPage.waitFor({ state: 'detached' });
    await until(() => this.page.locator('.svelte-flow__node').count()).toBe(nodeCount);
  }

  // ---- gestures -------------------------------------------------------------------------------------------------

  /** Drags an op from the palette onto the canvas (HTML5 drag and drop), at a point of the pane. */
  async dropOp(op: string, at: { x: number; y: number }, expectId: string): Promise<void> {
    await this.palette.getByRole('button', { name: op, exact: true }).dragTo(this.pane, { targetPosition: at });
    await this.node(expectId).waitFor();
    // The new node is selected: the inspector shows it.
    await until(() => this.field('Id').inputValue()).toBe(expectId);
  }

  /** Wires `source`'s output into `target`'s `port` by dragging between the handles with the mouse. */
  async connect(source: string, target: string, port: string): Promise<void> {
    const from = await this.centre(this.out(source));
    const to = await this.centre(this.port(target, port));
    await this.page.mouse.move(from.x, from.y);
    await this.page.mouse.down();
    await this.page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 5 });
    await this.page.mouse.move(to.x, to.y, { steps: 5 });
    await this.page.mouse.up();
  }

  /** Selects a node by clicking its header. */
  async select(id: string): Promise<void> {
    await this.node(id).click({ position: { x: 24, y: 12 } });
    await until(() => this.field('Id').inputValue()).toBe(id);
  }

  /** Clicks an empty spot of the canvas (clears the selection, takes the focus out of the inspector). */
  async clickPane(): Promise<void> {
    const box = await this.pane.boundingBox();
    if (!box) throw new Error('the canvas is not visible');
    // A spot of the top edge, right of the middle: free of nodes in these tests' graphs, and of the controls.
    await this.pane.click({ position: { x: box.width * 0.5, y: 6 } });
  }

  /** Sets an attribute of the selected node in the inspector, as typing it would. */
  async setAttr(name: string, value: string): Promise<void> {
    const f = this.field(name);
    const tag = await f.evaluate((e) => e.tagName);
    if (tag === 'SELECT') await f.selectOption(value);
    else await f.fill(value);
  }

  async centre(l: Locator): Promise<{ x: number; y: number }> {
    const b = await l.boundingBox();
    if (!b) throw new Error(`not visible: ${l.toString()}`);
    return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
  }

  async press(keys: string): Promise<void> {
    await this.page.keyboard.press(keys.replace(/Mod/g, MOD));
  }
}
