/**
 * The decision boundary as pixels (train.boundary: a width x height grid over the data's plane, cell (i, j) at
 * index j * width + i, j = 0 the bottom row) and the colours of the data points drawn over it. Pure: the view puts
 * the pixels on a canvas and scales them to the plot.
 *
 * - mode `class`: each cell in its predicted class's colour, more opaque the surer the prediction (softmax
 *   probability from 1/K, a coin toss, to 1).
 * - mode `score` with a threshold (class and sign labels): the side of the threshold picks class 0 or 1's colour,
 *   the distance from it the opacity (scaled to 0.5 for probabilities, else to the largest distance on the grid).
 * - mode `score` without one (a real label): the diverging scale over the grid's range of values.
 */
import { DIVERGING, NEUTRAL_COLOUR, classColour, divergingColour, hexRgb } from './palette';

export interface Range {
  min: number;
  max: number;
}

/** What the boundary drawing needs of a train.boundary event. */
export interface BoundaryGrid {
  width: number;
  height: number;
  x1: Range;
  x2: Range;
  mode: 'class' | 'score';
  classes?: readonly string[];
  threshold?: number;
  predicted: readonly number[];
  value: readonly (number | null)[];
}

/** The faintest and the most opaque cell. */
export const ALPHA_MIN = 0.08;
export const ALPHA_MAX = 0.66;

/** The range of values the diverging scale spans (mode score without a threshold); null otherwise or without any. */
export function scoreRange(b: BoundaryGrid): Range | null {
  if (b.mode !== 'score' || b.threshold !== undefined) return null;
  let min = Infinity;
  let max = -Infinity;
  for (const v of b.value) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { min, max } : null;
}

/** RGBA pixels of the grid, width x height, the top row (j = height - 1) first, as ImageData wants them. */
export function boundaryRgba(b: BoundaryGrid): Uint8ClampedArray<ArrayBuffer> {
  const { width, height } = b;
  const out = new Uint8ClampedArray(width * height * 4);
  const colour = cellColourer(b);
  for (let j = 0; j < height; j++) {
    const row = height - 1 - j;
    for (let i = 0; i < width; i++) {
      const c = colour(j * width + i);
      if (!c) continue;
      const at = (row * width + i) * 4;
      out[at] = c[0];
      out[at + 1] = c[1];
      out[at + 2] = c[2];
      out[at + 3] = Math.round(c[3] * 255);
    }
  }
  return out;
}

type Rgba = readonly [number, number, number, number];

/** The function giving cell k's colour and opacity (0..1), or null for a cell without a prediction. */
function cellColourer(b: BoundaryGrid): (k: number) => Rgba | null {
  const rgbOf = (hex: string) => hexRgb(hex) ?? [141, 150, 165];
  const classes = new Map<number, readonly number[]>();
  const classRgb = (c: number) => {
    let rgb = classes.get(c);
    if (!rgb) classes.set(c, (rgb = rgbOf(classColour(c))));
    return rgb;
  };
  const alpha = (strength: number) => ALPHA_MIN + (ALPHA_MAX - ALPHA_MIN) * Math.min(1, Math.max(0, strength));
  if (b.mode === 'class') {
    let k = b.classes?.length ?? 0;
    if (!k) for (const p of b.predicted) k = Math.max(k, p + 1);
    const chance = 1 / Math.max(2, k);
    return (i) => {
      const v = b.value[i];
      const p = b.predicted[i];
      if (v === null || v === undefined || !Number.isFinite(v) || p === undefined || p < 0) return null;
      const rgb = classRgb(p);
      return [rgb[0], rgb[1], rgb[2], alpha((v - chance) / (1 - chance))];
    };
  }
  if (b.threshold !== undefined) {
    const t = b.threshold;
    let spread = 0;
    let unit = true;
    for (const v of b.value) {
      if (v === null || !Number.isFinite(v)) continue;
      spread = Math.max(spread, Math.abs(v - t));
      if (v < 0 || v > 1) unit = false;
    }
    if (unit && t === 0.5) spread = 0.5;
    return (i) => {
      const v = b.value[i];
      if (v === null || v === undefined || !Number.isFinite(v)) return null;
      const rgb = classRgb(b.predicted[i] ?? (v > t ? 1 : 0));
      return [rgb[0], rgb[1], rgb[2], alpha(spread > 0 ? Math.abs(v - t) / spread : 0)];
    };
  }
  const range = scoreRange(b);
  const low = rgbOf(DIVERGING.low);
  const high = rgbOf(DIVERGING.high);
  return (i) => {
    const v = b.value[i];
    if (!range || v === null || v === undefined || !Number.isFinite(v)) return null;
    const u = range.max > range.min ? (v - range.min) / (range.max - range.min) : 0.5;
    const rgb = u < 0.5 ? low : high;
    return [rgb[0], rgb[1], rgb[2], alpha(Math.abs(2 * u - 1))];
  };
}

/**
 * A data point's colour from its label: a class index in its class colour; a sign label (or a 0/1 label) in class
 * 0's colour at or below zero and class 1's above; a real value on the diverging scale over `range` (the grid's
 * values); neutral without a label.
 */
export function pointColour(label: number | null | undefined, kind: 'class' | 'sign' | 'real' | undefined, range: Range | null): string {
  if (label === null || label === undefined || !Number.isFinite(label)) return NEUTRAL_COLOUR;
  if (kind === 'sign') return classColour(label > 0 ? 1 : 0);
  if (kind === 'real') {
    if (!range) return NEUTRAL_COLOUR;
    return divergingColour(range.max > range.min ? (label - range.min) / (range.max - range.min) : 0.5);
  }
  return classColour(label);
}

/** The grid's extent in data units: its cells' centres span x1 and x2, so the image reaches half a cell further. */
export function gridExtent(b: Pick<BoundaryGrid, 'width' | 'height' | 'x1' | 'x2'>): { x1: Range; x2: Range } {
  const half = (r: Range, n: number) => (n > 1 ? (r.max - r.min) / (n - 1) / 2 : 0.5);
  const h1 = half(b.x1, b.width);
  const h2 = half(b.x2, b.height);
  return { x1: { min: b.x1.min - h1, max: b.x1.max + h1 }, x2: { min: b.x2.min - h2, max: b.x2.max + h2 } };
}

/** The index of the cell whose centre is nearest (x1, x2); null outside the grid's extent. */
export function cellAt(b: Pick<BoundaryGrid, 'width' | 'height' | 'x1' | 'x2'>, x1: number, x2: number): number | null {
  const e = gridExtent(b);
  if (!(x1 >= e.x1.min && x1 <= e.x1.max && x2 >= e.x2.min && x2 <= e.x2.max)) return null;
  const idx = (v: number, r: Range, n: number) => (n > 1 && r.max > r.min ? Math.min(n - 1, Math.max(0, Math.round(((v - r.min) / (r.max - r.min)) * (n - 1)))) : 0);
  return idx(x2, b.x2, b.height) * b.width + idx(x1, b.x1, b.width);
}

/** The centre of cell (i, j) in data units. */
export function cellCentre(b: Pick<BoundaryGrid, 'width' | 'height' | 'x1' | 'x2'>, i: number, j: number): [number, number] {
  const at = (r: Range, n: number, k: number) => (n > 1 ? r.min + (k * (r.max - r.min)) / (n - 1) : (r.min + r.max) / 2);
  return [at(b.x1, b.width, i), at(b.x2, b.height, j)];
}
