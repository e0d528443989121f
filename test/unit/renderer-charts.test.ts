/**
 * The charts dock's pure logic (renderer/src/lib/charts): min/max decimation, TensorBoard smoothing, log-axis
 * safety, nearest-point lookup, ticks, CSV, confusion totals, colours, the decision boundary's pixels, redraw
 * throttling and the dock's stored settings. Cases are computed by hand.
 */
import { describe, expect, it } from 'vitest';
import {
  ALPHA_MAX,
  ALPHA_MIN,
  boundaryRgba,
  cellAt,
  cellCentre,
  gridExtent,
  pointColour,
  scoreRange,
  type BoundaryGrid,
} from '../../renderer/src/lib/charts/boundary';
import { confusionStats } from '../../renderer/src/lib/charts/confusion';
import { buildCsv, csvCell, fileSlug, mergeColumns, rangeColumns } from '../../renderer/src/lib/charts/csv';
import {
  CLASS_COLOURS,
  DIVERGING,
  LAYER_RAMP,
  NEUTRAL_COLOUR,
  classColour,
  divergingColour,
  focusedLine,
  hexRgb,
  hslHex,
  layerColour,
  rampAt,
  withAlpha,
} from '../../renderer/src/lib/charts/palette';
import { AUTO_HEIGHT, DEFAULT_PREFS, MIN_HEIGHT, autoHeight, clampHeight, parsePrefs } from '../../renderer/src/lib/charts/prefs';
import { axisValue, decimateMinMax, emaSmooth, linePlot, logTickLabel, nearestIndex, niceTicks, toPoints } from '../../renderer/src/lib/charts/series';
import { frameThrottle } from '../../renderer/src/lib/charts/throttle';

const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);
const alpha = (strength: number) => Math.round((ALPHA_MIN + (ALPHA_MAX - ALPHA_MIN) * strength) * 255);

describe('decimateMinMax', () => {
  it('returns a series of at most 2 points per pixel as it is (a copy)', () => {
    const x = [1, 2, 3];
    const d = decimateMinMax(x, [0, 1, 2], [2, 3, 4], [1, 2, 3], 2);
    expect(d).toEqual({ x: [1, 2, 3], min: [0, 1, 2], max: [2, 3, 4], last: [1, 2, 3] });
    expect(d.x).not.toBe(x);
  });

  it('keeps the lowest and highest last of each bucket, in x order, with the bucket band', () => {
    // 12 steps, 2 pixels: steps 1-6 fall in bucket 0, 7-12 in bucket 1.
    const x = range(12);
    const last = [5, 1, 4, 9, 3, 2, 6, 6, 0.5, 7, 8, 1];
    const min = last.map((v) => v - 0.5);
    const max = last.map((v) => v + 0.5);
    min[2] = -10; // a downward spike inside bucket 0 (its last is not extreme)
    max[9] = 100; // an upward spike inside bucket 1
    const d = decimateMinMax(x, min, max, last, 2);
    expect(d.x).toEqual([2, 4, 9, 11]);
    expect(d.last).toEqual([1, 9, 0.5, 8]);
    expect(d.min).toEqual([-10, -10, 0, 0]);
    expect(d.max).toEqual([9.5, 9.5, 100, 100]);
  });

  it.each([
    ['a flat bucket keeps its first point', [3, 3, 3, 3, 3, 3], [1]],
    ['the lowest after the highest come in x order', [1, 9, 0, 5, 5, 5], [2, 3]],
  ])('%s', (_name, last, xs) => {
    const x = range(6);
    const d = decimateMinMax(x, last, last, last, 1);
    expect(d.x).toEqual(xs);
  });

  it('keeps a bucket of nulls as its last point (a gap stays a gap)', () => {
    const x = range(6);
    const last = [null, null, null, 1, 2, 3];
    const d = decimateMinMax(x, last, last, last, 2);
    // bucket 0: steps 1-3 (all null); bucket 1: steps 4-6.
    expect(d.x).toEqual([3, 4, 6]);
    expect(d.last).toEqual([null, 1, 3]);
    expect(d.min).toEqual([null, 1, 1]);
    expect(d.max).toEqual([null, 3, 3]);
  });

  it('bounds a long series to 2 points per pixel and keeps its extremes', () => {
    const n = 10_000;
    const x = range(n);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const last = x.map(() => rnd());
    last[4321] = 50;
    last[777] = -50;
    const d = decimateMinMax(x, last, last, last, 100);
    expect(d.x.length).toBeLessThanOrEqual(200);
    expect(d.last).toContain(50);
    expect(d.last).toContain(-50);
    expect(d.x).toContain(4322);
    for (let i = 1; i < d.x.length; i++) expect(d.x[i]).toBeGreaterThan(d.x[i - 1]);
  });
});

describe('emaSmooth (TensorBoard, debiased)', () => {
  it.each([
    ['weight 0 is the identity', [1, 2, 3], 0, [1, 2, 3]],
    ['weight 0.5', [1, 2, 3], 0.5, [1, 5 / 3, 17 / 7]],
    ['nulls stay gaps and do not move the average', [1, null, 3], 0.5, [1, null, 7 / 3]],
    ['a constant stays constant', [4, 4, 4, 4], 0.9, [4, 4, 4, 4]],
    ['non-finite values become gaps', [2, Number.NaN, 2], 0.5, [2, null, 2]],
    ['weight 0 drops non-finite values too', [1, Number.POSITIVE_INFINITY], 0, [1, null]],
  ] as const)('%s', (_name, values, weight, expected) => {
    const out = emaSmooth(values as readonly (number | null)[], weight);
    expect(out.length).toBe(expected.length);
    out.forEach((v, i) => {
      const e = expected[i];
      if (e === null) expect(v).toBeNull();
      else expect(v).toBeCloseTo(e, 12);
    });
  });

  it('starts at the first value rather than near zero', () => {
    expect(emaSmooth([10, 10], 0.99)[0]).toBeCloseTo(10, 10);
  });
});

describe('axis values', () => {
  it.each([
    [1, false, 1],
    [0, false, 0],
    [-2, false, -2],
    [0, true, null],
    [-1, true, null],
    [1e-30, true, 1e-30],
    [null, false, null],
    [Number.NaN, false, null],
    [Number.POSITIVE_INFINITY, true, null],
  ] as const)('axisValue(%s, log %s) = %s', (v, log, expected) => {
    expect(axisValue(v, log)).toBe(expected);
  });

  it('turns dropped values into gaps so the columns stay aligned', () => {
    expect(toPoints([1, 2, 3], [0.5, 0, -1], true)).toEqual([
      { x: 1, y: 0.5 },
      { x: 2, y: null },
      { x: 3, y: null },
    ]);
  });

  it('linePlot smooths, decimates and makes the values axis-safe', () => {
    const p = linePlot({ x: [1, 2, 3], min: [0, 1, 2], max: [2, 3, 4], last: [1, 2, 3] }, { pixels: 10, smoothing: 0.5, log: true });
    expect(p.line.map((q) => q.y)).toEqual([1, 5 / 3, 17 / 7].map((v) => expect.closeTo(v, 12)));
    expect(p.low).toEqual([
      { x: 1, y: null },
      { x: 2, y: 1 },
      { x: 3, y: 2 },
    ]);
    expect(p.high.map((q) => q.y)).toEqual([2, 3, 4]);
  });
});

describe('nearestIndex', () => {
  it.each([
    [[], 3, -1],
    [[1, 3, 5], 0, 0],
    [[1, 3, 5], 2, 0],
    [[1, 3, 5], 2.1, 1],
    [[1, 3, 5], 4.9, 2],
    [[1, 3, 5], 100, 2],
    [[10], -5, 0],
  ])('in %j, nearest %s is index %s', (xs, x, expected) => {
    expect(nearestIndex(xs, x)).toBe(expected);
  });
});

describe('ticks', () => {
  it.each([
    [1, '1'],
    [2e-3, '0.002'],
    [0.05, '0.05'],
    [3, ''],
    [7e5, ''],
    [1e-7, '1e-7'],
    [0, ''],
    [-1, ''],
  ])('logTickLabel(%s) = %j', (v, expected) => {
    expect(logTickLabel(v, String)).toBe(expected);
  });

  it.each([
    [0, 1, 5, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [-1.2, 2.3, 5, [-1, 0, 1, 2]],
    [0.05, 0.35, 3, [0.1, 0.2, 0.3]],
    [10, 0, 2, [0, 5, 10]],
    [5, 5, 4, [5]],
    [-0.3, 0.3, 3, [-0.2, 0, 0.2]],
  ])('niceTicks(%s, %s, %s)', (min, max, count, expected) => {
    expect(niceTicks(min, max, count)).toEqual(expected);
  });
});

describe('CSV', () => {
  it.each([
    [0.1, '0.1'],
    [1 / 3, '0.3333333333333333'],
    [1e-7, '1e-7'],
    [-0, '0'],
    [Number.NaN, 'NaN'],
    [null, ''],
    [undefined, ''],
    ['dense1', 'dense1'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    [' padded', '" padded"'],
  ])('csvCell(%j) = %j', (v, expected) => {
    expect(csvCell(v)).toBe(expected);
  });

  it('writes numbers at full precision', () => {
    for (const v of [Math.PI, 1e-300, 123456789.12345679, 0.1 + 0.2, -2.5e-8]) expect(Number(csvCell(v))).toBe(v);
  });

  it('builds a header and rows, an empty cell for a missing value', () => {
    expect(buildCsv(['step', 'loss'], [[1, 0.5], [2, null]])).toBe('step,loss\n1,0.5\n2,\n');
  });

  it('merges columns over different steps into one table', () => {
    const t = mergeColumns('step', [
      { name: 'loss', x: [1, 2, 3], values: [0.9, 0.8, 0.7] },
      { name: 'val_loss', x: [2, 4], values: [0.85, 0.6] },
    ]);
    expect(t.header).toEqual(['step', 'loss', 'val_loss']);
    expect(t.rows).toEqual([
      [1, 0.9, undefined],
      [2, 0.8, 0.85],
      [3, 0.7, undefined],
      [4, undefined, 0.6],
    ]);
    expect(buildCsv(t.header, t.rows)).toBe('step,loss,val_loss\n1,0.9,\n2,0.8,0.85\n3,0.7,\n4,,0.6\n');
  });

  it('gives a min/max log three columns', () => {
    const cols = rangeColumns('dense1', { x: [5], min: [1], max: [3], last: [2] });
    const t = mergeColumns('step', cols);
    expect(buildCsv(t.header, t.rows)).toBe('step,dense1_min,dense1_max,dense1_last\n5,1,3,2\n');
  });

  it.each([
    ['Gradient norms', 'gradient-norms'],
    ['Update ratio ‖Δw‖/‖w‖', 'update-ratio-w-w'],
    ['', 'chart'],
  ])('fileSlug(%j) = %j', (title, expected) => {
    expect(fileSlug(title)).toBe(expected);
  });
});

describe('confusionStats', () => {
  it('totals, accuracy, recall, precision and row shares', () => {
    const s = confusionStats([
      [5, 1],
      [2, 2],
    ]);
    expect(s.rowTotals).toEqual([6, 4]);
    expect(s.colTotals).toEqual([7, 3]);
    expect(s.total).toBe(10);
    expect(s.correct).toBe(7);
    expect(s.accuracy).toBeCloseTo(0.7, 15);
    expect(s.recall).toEqual([5 / 6, 0.5]);
    expect(s.precision).toEqual([5 / 7, 2 / 3]);
    expect(s.rowShare).toEqual([
      [5 / 6, 1 / 6],
      [0.5, 0.5],
    ]);
  });

  it('a class without examples has no recall; one never predicted no precision', () => {
    const s = confusionStats([
      [0, 0, 0],
      [1, 3, 0],
      [0, 2, 0],
    ]);
    expect(s.recall).toEqual([null, 0.75, 0]);
    expect(s.precision).toEqual([0, 0.6, null]);
    expect(s.rowShare[0]).toEqual([0, 0, 0]);
    expect(s.accuracy).toBeCloseTo(0.5, 15);
  });

  it('an empty matrix has no accuracy', () => {
    expect(confusionStats([[0]]).accuracy).toBeNull();
  });
});

describe('palette', () => {
  it('gives classes the palette, then distinct colours; neutral for no class', () => {
    expect(classColour(0)).toBe('#4e79a7');
    expect(classColour(1)).toBe('#f28e2b');
    expect(CLASS_COLOURS.map((_, i) => classColour(i))).toEqual(CLASS_COLOURS);
    for (const bad of [-1, 1.5, null, undefined, Number.NaN]) expect(classColour(bad)).toBe(NEUTRAL_COLOUR);
    const more = [10, 11, 12, 13].map(classColour);
    for (const c of more) expect(c).toMatch(/^#[0-9a-f]{6}$/);
    expect(new Set([...CLASS_COLOURS, ...more]).size).toBe(14);
  });

  it.each([
    [0, 5, LAYER_RAMP[0]],
    [4, 5, LAYER_RAMP[4]],
    [2, 5, LAYER_RAMP[2]],
    [1, 3, LAYER_RAMP[2]],
    [0, 1, LAYER_RAMP[0]],
    [0, 0, LAYER_RAMP[0]],
  ])('layerColour(%s, %s) = %s', (index, count, expected) => {
    expect(layerColour(index, count)).toBe(expected);
  });

  it('ramps layers from cold to warm: red rises and blue falls with depth', () => {
    const rgb = range(8, 0).map((i) => hexRgb(layerColour(i, 8))!);
    for (let i = 1; i < rgb.length; i++) {
      expect(rgb[i][0]).toBeGreaterThanOrEqual(rgb[i - 1][0]);
      expect(rgb[i][2]).toBeLessThanOrEqual(rgb[i - 1][2]);
    }
    expect(rgb[0][2]).toBeGreaterThan(rgb[0][0]); // the first layer is blue
    expect(rgb[7][0]).toBeGreaterThan(rgb[7][2]); // the last is warm
  });

  it.each([
    [['#000000', '#ffffff'], 0.5, '#808080'],
    [['#000000', '#ffffff'], -1, '#000000'],
    [['#000000', '#ffffff'], 2, '#ffffff'],
    [['#ff0000', '#00ff00', '#0000ff'], 0.75, '#008080'],
    [['#123456'], 0.3, '#123456'],
  ])('rampAt(%j, %s) = %s', (stops, t, expected) => {
    expect(rampAt(stops, t)).toBe(expected);
  });

  it('converts colours', () => {
    expect(hexRgb('#abc')).toEqual([170, 187, 204]);
    expect(hexRgb('#4E79A7')).toEqual([78, 121, 167]);
    expect(hexRgb('red')).toBeNull();
    expect(withAlpha('#ff0000', 0.25)).toBe('rgb(255 0 0 / 0.25)');
    expect(withAlpha('var(--accent)', 0.5)).toBe('var(--accent)');
    // a layer's line: as it is without a focus; the focused one wider, the others faded
    expect(focusedLine('#ff0000', null)).toEqual({ colour: '#ff0000', width: 1.5 });
    expect(focusedLine('#ff0000', true)).toEqual({ colour: '#ff0000', width: 3 });
    expect(focusedLine('#ff0000', false)).toEqual({ colour: 'rgb(255 0 0 / 0.25)', width: 1 });
    expect(hslHex(0, 1, 0.5)).toBe('#ff0000');
    expect(hslHex(120, 1, 0.5)).toBe('#00ff00');
    expect(hslHex(240, 1, 0.25)).toBe('#000080');
    expect(hslHex(-120, 1, 0.5)).toBe('#0000ff');
  });

  it('diverges from cold through neutral to warm', () => {
    expect(divergingColour(0)).toBe(DIVERGING.low);
    expect(divergingColour(0.5)).toBe(DIVERGING.mid);
    expect(divergingColour(1)).toBe(DIVERGING.high);
    expect(divergingColour(Number.NaN)).toBe(DIVERGING.mid);
  });
});

describe('decision boundary', () => {
  const grid = (over: Partial<BoundaryGrid>): BoundaryGrid => ({
    width: 2,
    height: 2,
    x1: { min: 0, max: 1 },
    x2: { min: 0, max: 1 },
    mode: 'class',
    predicted: [],
    value: [],
    ...over,
  });
  /** Pixel (row from the top, column) as [r, g, b, a]. */
  const pixel = (px: Uint8ClampedArray, width: number, row: number, col: number) => [...px.slice((row * width + col) * 4, (row * width + col) * 4 + 4)];
  const rgbOf = (c: string) => [...hexRgb(c)!];

  it('class mode: class colour, opacity from chance (1/K) to certain; the bottom row last', () => {
    const b = grid({ classes: ['a', 'b'], predicted: [0, 1, 1, 0], value: [1, 0.5, 0.75, null] });
    const px = boundaryRgba(b);
    expect(px.length).toBe(16);
    // j = 1 (cells 2, 3) is the top row; j = 0 (cells 0, 1) the bottom.
    expect(pixel(px, 2, 0, 0)).toEqual([...rgbOf(CLASS_COLOURS[1]), alpha(0.5)]);
    expect(pixel(px, 2, 0, 1)).toEqual([0, 0, 0, 0]);
    expect(pixel(px, 2, 1, 0)).toEqual([...rgbOf(CLASS_COLOURS[0]), alpha(1)]);
    expect(pixel(px, 2, 1, 1)).toEqual([...rgbOf(CLASS_COLOURS[1]), alpha(0)]);
    expect([alpha(0), alpha(0.5), alpha(1)]).toEqual([20, 94, 168]);
  });

  it('class mode with three classes: a third is a coin toss', () => {
    const b = grid({ width: 2, height: 1, classes: ['a', 'b', 'c'], predicted: [2, 2], value: [1 / 3, 2 / 3] });
    const px = boundaryRgba(b);
    expect(pixel(px, 2, 0, 0)).toEqual([...rgbOf(CLASS_COLOURS[2]), alpha(0)]);
    expect(pixel(px, 2, 0, 1)).toEqual([...rgbOf(CLASS_COLOURS[2]), alpha(0.5)]);
  });

  it('score mode with a 0.5 threshold on probabilities: distance over 0.5', () => {
    const b = grid({ width: 3, height: 1, mode: 'score', threshold: 0.5, predicted: [0, 0, 1], value: [0, 0.5, 0.75] });
    const px = boundaryRgba(b);
    expect(pixel(px, 3, 0, 0)).toEqual([...rgbOf(CLASS_COLOURS[0]), alpha(1)]);
    expect(pixel(px, 3, 0, 1)).toEqual([...rgbOf(CLASS_COLOURS[0]), alpha(0)]);
    expect(pixel(px, 3, 0, 2)).toEqual([...rgbOf(CLASS_COLOURS[1]), alpha(0.5)]);
  });

  it('score mode with a 0 threshold on raw scores: distance over the largest', () => {
    const b = grid({ width: 2, height: 1, mode: 'score', threshold: 0, predicted: [0, 1], value: [-2, 1] });
    const px = boundaryRgba(b);
    expect(pixel(px, 2, 0, 0)).toEqual([...rgbOf(CLASS_COLOURS[0]), alpha(1)]);
    expect(pixel(px, 2, 0, 1)).toEqual([...rgbOf(CLASS_COLOURS[1]), alpha(0.5)]);
  });

  it('score mode without a threshold: the diverging scale over the grid range', () => {
    const b = grid({ width: 3, height: 1, mode: 'score', predicted: [0, 0, 0], value: [0, 5, 10] });
    expect(scoreRange(b)).toEqual({ min: 0, max: 10 });
    const px = boundaryRgba(b);
    expect(pixel(px, 3, 0, 0)).toEqual([...rgbOf(DIVERGING.low), alpha(1)]);
    expect(pixel(px, 3, 0, 1)).toEqual([...rgbOf(DIVERGING.high), alpha(0)]);
    expect(pixel(px, 3, 0, 2)).toEqual([...rgbOf(DIVERGING.high), alpha(1)]);
    expect(scoreRange(grid({ mode: 'class', predicted: [0], value: [1] }))).toBeNull();
    expect(scoreRange(grid({ mode: 'score', threshold: 0.5, predicted: [0], value: [1] }))).toBeNull();
  });

  it.each([
    [1, 'class', null, CLASS_COLOURS[1]],
    [0, 'class', null, CLASS_COLOURS[0]],
    [-1, 'sign', null, CLASS_COLOURS[0]],
    [1, 'sign', null, CLASS_COLOURS[1]],
    [0, 'sign', null, CLASS_COLOURS[0]],
    [5, 'real', { min: 0, max: 10 }, DIVERGING.mid],
    [10, 'real', { min: 0, max: 10 }, DIVERGING.high],
    [5, 'real', null, NEUTRAL_COLOUR],
    [null, 'class', null, NEUTRAL_COLOUR],
    [2, undefined, null, CLASS_COLOURS[2]],
  ] as const)('pointColour(%s, %s, %j) = %s', (label, kind, r, expected) => {
    expect(pointColour(label, kind, r)).toBe(expected);
  });

  it('locates cells: centres span the ranges, the image half a cell more', () => {
    const b = { width: 3, height: 3, x1: { min: 0, max: 2 }, x2: { min: 0, max: 2 } };
    expect(gridExtent(b)).toEqual({ x1: { min: -0.5, max: 2.5 }, x2: { min: -0.5, max: 2.5 } });
    expect(gridExtent({ ...b, height: 1 }).x2).toEqual({ min: -0.5, max: 2.5 });
    expect(cellAt(b, 0, 0)).toBe(0);
    expect(cellAt(b, 2, 2)).toBe(8);
    expect(cellAt(b, 1.4, 0.6)).toBe(4);
    expect(cellAt(b, 2, 0.2)).toBe(2);
    expect(cellAt(b, 2.5, 2.5)).toBe(8);
    expect(cellAt(b, -0.6, 0)).toBeNull();
    expect(cellCentre(b, 2, 1)).toEqual([2, 1]);
  });
});

describe('frameThrottle', () => {
  function setup(minInterval = 200) {
    let clock = 0;
    let queue: (() => void)[] = [];
    let timers: { at: number; cb: () => void }[] = [];
    let runs = 0;
    let frameRequests = 0;
    const th = frameThrottle(
      () => runs++,
      minInterval,
      (cb) => {
        frameRequests++;
        queue.push(cb);
      },
      (cb, ms) => timers.push({ at: clock + ms, cb }),
      () => clock,
    );
    /** Advances the clock by `ms`, fires the timers then due, and runs the frames asked for. */
    const frame = (ms = 16) => {
      clock += ms;
      const due = timers.filter((t) => t.at <= clock);
      timers = timers.filter((t) => t.at > clock);
      due.forEach((t) => t.cb());
      const q = queue;
      queue = [];
      q.forEach((cb) => cb());
    };
    return { th, frame, runs: () => runs, pending: () => queue.length + timers.length, frameRequests: () => frameRequests };
  }

  it('coalesces requests into one run on the next frame', () => {
    const s = setup();
    s.th.request();
    s.th.request();
    s.th.request();
    expect(s.pending()).toBe(1);
    s.frame();
    expect(s.runs()).toBe(1);
    expect(s.pending()).toBe(0);
  });

  it('runs at most once per interval, waiting in later frames', () => {
    const s = setup(200);
    s.th.request();
    s.frame(16); // t = 16: runs
    s.th.request();
    for (let i = 0; i < 12; i++) s.frame(16); // up to t = 208: 192 ms after the run, too soon
    expect(s.runs()).toBe(1);
    s.frame(16); // t = 224: 208 ms after it
    expect(s.runs()).toBe(2);
    expect(s.pending()).toBe(0);
    // While it waited it asked for no frame but the one it ran in (3 in all: the first run, the too-soon check, the
    // second run), not one per frame.
    expect(s.frameRequests()).toBe(3);
  });

  it('forgets a cancelled request, and takes a later one', () => {
    const s = setup();
    s.th.request();
    s.th.cancel();
    s.frame();
    expect(s.runs()).toBe(0);
    s.th.request();
    s.frame(500);
    expect(s.runs()).toBe(1);
  });
});

describe('dock settings', () => {
  it.each([null, '', '{bad json', '"a string"', '[]'])('defaults for %j', (text) => {
    expect(parsePrefs(text)).toEqual(DEFAULT_PREFS);
  });

  it('checks each field', () => {
    const p = parsePrefs(JSON.stringify({ height: 50, collapsed: true, tab: 'nonsense', smoothing: 2, lossLog: true, gradLog: 'yes', updateLog: false, rmseLog: true }));
    expect(p).toEqual({ ...DEFAULT_PREFS, height: MIN_HEIGHT, collapsed: true, smoothing: 0.99, lossLog: true, updateLog: false, rmseLog: true });
    expect(parsePrefs(JSON.stringify({ tab: 'boundary', height: 333.4, smoothing: -1 }))).toMatchObject({ tab: 'boundary', height: 333, smoothing: 0 });
  });

  it.each([
    [100, 500, MIN_HEIGHT],
    [600, 500, 500],
    [300.6, 500, 301],
    [300, 100, MIN_HEIGHT],
    [Number.NaN, 500, AUTO_HEIGHT],
  ])('clampHeight(%s, max %s) = %s', (h, max, expected) => {
    expect(clampHeight(h, max)).toBe(expected);
  });

  it('keeps no height until the user sizes the dock', () => {
    expect(DEFAULT_PREFS.height).toBeNull();
    expect(parsePrefs(JSON.stringify({ height: 'tall' })).height).toBeNull();
  });

  // A third of a short window, the canvas keeping the most of it; never under MIN_HEIGHT nor over AUTO_HEIGHT
  it.each([
    [1080, AUTO_HEIGHT],
    [900, AUTO_HEIGHT],
    [768, 256],
    [600, 200],
    [400, MIN_HEIGHT],
  ])('autoHeight(window %s) = %s', (windowHeight, expected) => {
    expect(autoHeight(windowHeight)).toBe(expected);
  });
});
