/**
 * `editor`: the node editor with a 300-node graph, in Chromium against the real web mode server.
 *
 *   editor_load     ms from navigating to `?open=big.bpstudio` until the first frame where all 300 nodes are on the
 *                   canvas (measured by xyflow, so visible) with their inferred shapes shown
 *   editor_edit     ms from typing a new `units` into the inspector until the frame after the downstream node's shape
 *                   text changed (the analysis of the whole graph, the canvas update and a frame)
 *   editor_pan_fps  frames per second (requestAnimationFrame callbacks) while the pane is dragged continuously
 *
 * Each figure is the median of a few runs. Headless Chromium with --disable-gpu rasterises in software, so the
 * frame rate is a lower bound of what a desktop with a GPU gets. Without Chromium the benchmark is skipped with a
 * note on stderr (benchmarks are not tests).
 */
import type { Bench } from './context';
import { makeEditorProject } from './editor-graph';
import { emit, note } from './report';
import { median, waitFor, withStudio } from './studio-env';

const NODES = 300;
const LOAD_RUNS = 5;
const EDIT_RUNS = 7;
const PAN_RUNS = 3;
const PAN_MS = 2000;
/** A mouse reports a move every 8 ms (125 Hz) while it moves. */
const MOVE_MS = 8;
const FILE = 'big.bpstudio';

// ---- in-page scripts (strings: the page gets them as they are, without the TypeScript transform's helpers) --------

/** Before the app's own scripts: records the first frame where every node is visible with its shape. */
const LOAD_PROBE = `
window.__bench = { loadedAt: null, phases: {} };
(() => {
  const want = ${NODES};
  const b = window.__bench;
  const mark = (k) => { if (b.phases[k] === undefined) b.phases[k] = Math.round(performance.now()); };
  const check = () => {
    if (document.querySelector('.svelte-flow')) mark('canvas');
    const count = document.querySelectorAll('[data-testid^="node-"]').length;
    if (count > 0) mark('first node');
    const shapes = document.querySelectorAll('[data-testid^="shape-"]');
    if (count === want && shapes.length === want) {
      mark('all nodes in the DOM');
      let ok = true;
      for (const s of shapes) if (!s.textContent || s.textContent.trim() === '—') { ok = false; break; }
      if (ok) mark('all shapes');
      if (ok) for (const n of document.querySelectorAll('.svelte-flow__node')) if (n.style.visibility === 'hidden') { ok = false; break; }
      if (ok) { b.loadedAt = performance.now(); return; }
    }
    requestAnimationFrame(check);
  };
  document.addEventListener('DOMContentLoaded', () => mark('DOMContentLoaded'));
  requestAnimationFrame(check);
})();
`;

/** The side dense nearest the middle of the canvas whose centre is really clickable (not under a panel). */
const PICK_NODE = (ids: string[]) => `
(() => {
  const ids = ${JSON.stringify(ids)};
  const pane = document.querySelector('.svelte-flow').getBoundingClientRect();
  const cx = pane.left + pane.width / 2, cy = pane.top + pane.height / 2;
  let best = null;
  for (const id of ids) {
    const el = document.querySelector('[data-testid="node-' + id + '"]');
    if (!el) continue;
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    if (!hit || !el.contains(hit)) continue;
    const d = Math.hypot(x - cx, y - cy);
    if (!best || d < best.d) best = { id, x, y, d };
  }
  return best;
})()
`;

/** Types `value` into the units field and resolves with the ms until the frame after `watch`'s shape changed. */
const EDIT = (watch: string, value: number) => `
new Promise((resolve, reject) => {
  const sel = '[data-testid="shape-${watch}"]';
  const input = document.querySelector('#attr-units');
  if (!input) return reject(new Error('no units field in the inspector'));
  const before = document.querySelector(sel).textContent;
  const root = document.querySelector('.svelte-flow') || document.body;
  const timer = setTimeout(() => { obs.disconnect(); reject(new Error('the shape of ${watch} did not change within 10 s (still ' + before + ')')); }, 10000);
  const obs = new MutationObserver(() => {
    const now = document.querySelector(sel);
    if (!now || now.textContent === before) return;
    obs.disconnect();
    clearTimeout(timer);
    const dom = performance.now() - t0;
    requestAnimationFrame(() => resolve({ ms: performance.now() - t0, dom, shape: now.textContent }));
  });
  obs.observe(root, { subtree: true, childList: true, characterData: true });
  const t0 = performance.now();
  input.value = '${value}';
  input.dispatchEvent(new Event('input', { bubbles: true }));
})
`;

/** An empty point of the pane (where a drag pans), away from the edges. */
const FIND_PANE_POINT = `
(() => {
  const r = document.querySelector('.svelte-flow').getBoundingClientRect();
  const points = [];
  for (let fy = 0.15; fy <= 0.85; fy += 0.05) for (let fx = 0.2; fx <= 0.8; fx += 0.05) points.push([r.left + fx * r.width, r.top + fy * r.height]);
  points.sort((a, b) => Math.hypot(a[0] - r.left - r.width / 2, a[1] - r.top - r.height / 2) - Math.hypot(b[0] - r.left - r.width / 2, b[1] - r.top - r.height / 2));
  for (const [x, y] of points) {
    const el = document.elementFromPoint(x, y);
    if (el && el.classList.contains('svelte-flow__pane')) return { x, y };
  }
  return null;
})()
`;

const FRAMES_START = `
(() => {
  const b = (window.__frames = { times: [], transforms: new Set(), on: true });
  const vp = document.querySelector('.svelte-flow__viewport');
  const tick = (t) => {
    if (!b.on) return;
    b.times.push(t);
    if (vp) b.transforms.add(vp.style.transform);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()
`;

const FRAMES_STOP = `
(() => {
  const b = window.__frames;
  b.on = false;
  const t = b.times;
  const gaps = t.slice(1).map((x, i) => x - t[i]).sort((x, y) => x - y);
  return { frames: t.length, ms: t.length > 1 ? t[t.length - 1] - t[0] : 0, transforms: b.transforms.size, worst: gaps.length ? gaps[gaps.length - 1] : 0 };
})()
`;

// ---- the benchmark ----------------------------------------------------------------------------------------------

export const editor: Bench = {
  name: 'editor',
  async run() {
    const doc = makeEditorProject(NODES);
    await withStudio('editor', { [FILE]: doc.text }, async ({ url, context }) => {
      await context.addInitScript({ content: LOAD_PROBE });
      const target = `${url}?open=${encodeURIComponent(FILE)}`;

      // Load: a warm-up (cold caches, JIT), then timed runs, each a fresh page.
      const loads: number[] = [];
      let page = await context.newPage();
      for (let run = 0; run <= LOAD_RUNS; run++) {
        if (run > 0) {
          await page.close();
          page = await context.newPage();
        }
        await page.goto(target, { waitUntil: 'commit' });
        await waitFor(page, 'window.__bench && window.__bench.loadedAt !== null', 120_000, `the ${NODES} nodes with their shapes`);
        const { loadedAt: ms, phases } = (await page.evaluate('window.__bench')) as { loadedAt: number; phases: Record<string, number> };
        const steps = Object.entries(phases).map(([k, v]) => `${k} ${v}`).join(', ');
        note(`editor: load ${run === 0 ? '(warm-up)' : `${run}/${LOAD_RUNS}`}: ${ms.toFixed(0)} ms (${steps})`);
        if (run > 0) loads.push(ms);
      }
      emit({ bench: 'editor_load', nodes: NODES, value: median(loads), unit: 'ms' });

      // Edit: select a side dense on the canvas, then change its units in the inspector.
      await page.waitForTimeout(500);
      const picked = (await page.evaluate(PICK_NODE(doc.sides.map((s) => s.dense)))) as { id: string; x: number; y: number } | null;
      if (!picked) throw new Error('no side dense node of the graph is visible on the canvas to click');
      const watch = doc.sides.find((s) => s.dense === picked.id)!.tanh;
      await page.mouse.click(picked.x, picked.y);
      await waitFor(page, `document.querySelector('#attr-units')?.value === '${doc.units}'`, 10_000, `the inspector of ${picked.id}`);
      const edits: number[] = [];
      for (let run = 0; run <= EDIT_RUNS; run++) {
        const units = doc.units + 1 + run;
        const r = (await page.evaluate(EDIT(watch, units))) as { ms: number; dom: number; shape: string };
        if (r.shape !== `[B, ${units}]`) throw new Error(`after setting ${picked.id}.units to ${units}, ${watch} shows ${r.shape}`);
        note(`editor: edit ${run === 0 ? '(warm-up)' : `${run}/${EDIT_RUNS}`}: ${picked.id}.units = ${units}: ${r.ms.toFixed(1)} ms (DOM updated after ${r.dom.toFixed(1)} ms)`);
        if (run > 0) edits.push(r.ms);
        await page.waitForTimeout(400); // let the engine host's compile of this edit come and go
      }
      emit({ bench: 'editor_edit', nodes: NODES, value: median(edits), unit: 'ms' });

      // Pan: drag the pane back and forth continuously, counting frames in the page. The moves go out like a mouse's
      // (one every MOVE_MS, not waiting for the page to take each), through the DevTools protocol.
      const cdp = await context.newCDPSession(page);
      const fps: number[] = [];
      const moves: number[] = [];
      for (let run = 0; run < PAN_RUNS; run++) {
        const at = (await page.evaluate(FIND_PANE_POINT)) as { x: number; y: number } | null;
        if (!at) throw new Error('no empty point of the pane to drag');
        const mouse = (type: 'mousePressed' | 'mouseMoved' | 'mouseReleased', x: number, y: number) =>
          cdp.send('Input.dispatchMouseEvent', { type, x, y, button: 'left', buttons: type === 'mouseReleased' ? 0 : 1, clickCount: type === 'mouseMoved' ? 0 : 1 });
        await mouse('mouseMoved', at.x, at.y);
        await mouse('mousePressed', at.x, at.y);
        await page.evaluate(FRAMES_START);
        const pending: Promise<unknown>[] = [];
        const t0 = performance.now();
        let last = { x: at.x, y: at.y };
        for (let i = 1; performance.now() - t0 < PAN_MS; i++) {
          last = { x: at.x + 150 * Math.sin(i / 40), y: at.y + 60 * Math.sin(i / 61) };
          pending.push(mouse('mouseMoved', last.x, last.y));
          await new Promise((ok) => setTimeout(ok, MOVE_MS));
        }
        const r = (await page.evaluate(FRAMES_STOP)) as { frames: number; ms: number; transforms: number; worst: number };
        await Promise.all(pending);
        await mouse('mouseReleased', last.x, last.y);
        if (r.transforms < 3) throw new Error(`the pane did not pan (${r.transforms} distinct transforms)`);
        const f = ((r.frames - 1) / r.ms) * 1000;
        const m = (r.transforms / r.ms) * 1000;
        note(
          `editor: pan ${run + 1}/${PAN_RUNS}: ${r.frames} frames in ${r.ms.toFixed(0)} ms = ${f.toFixed(1)} fps; ` +
            `${r.transforms} distinct viewport positions (${m.toFixed(1)}/s) from ${pending.length} mouse moves; worst frame ${r.worst.toFixed(0)} ms`,
        );
        fps.push(f);
        moves.push(m);
      }
      await cdp.detach();
      emit({ bench: 'editor_pan_fps', nodes: NODES, panUpdatesPerS: Number(median(moves).toPrecision(3)), value: median(fps), unit: 'fps' });
    });
  },
};
