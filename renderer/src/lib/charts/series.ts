/**
 * Series maths for the charts, pure: min/max decimation to the plot's pixel width, TensorBoard-style smoothing,
 * log-axis safety, nearest-point lookup, tick labels. A series here is columns of equal length: x (steps, ascending)
 * and per point the bucket's min, max and last value (SeriesLog's shape); null where there is no finite value.
 */

export type Value = number | null;

/** A metric's points, as SeriesLog keeps them. */
export interface Series {
  x: readonly number[];
  min: readonly Value[];
  max: readonly Value[];
  last: readonly Value[];
}

/** A chart point (chart.js's internal format); y null is a gap. */
export interface XY {
  x: number;
  y: number | null;
}

/**
 * Min/max decimation: the x range is cut into `pixels` equal buckets and each bucket keeps at most two points, the
 * ones with the lowest and the highest `last` (in x order; one when they are the same point), so a spike in a
 * thousand points still reaches the line. Both points carry the bucket's whole band: the min of its mins and the
 * max of its maxes. A bucket whose `last` values are all null keeps its last point (a gap stays a gap). Series of
 * at most 2 * pixels points come back as they are (copied).
 */
export function decimateMinMax(
  x: readonly number[],
  min: readonly Value[],
  max: readonly Value[],
  last: readonly Value[],
  pixels: number,
): { x: number[]; min: Value[]; max: Value[]; last: Value[] } {
  const n = x.length;
  const px = Math.max(1, Math.floor(pixels));
  if (n <= 2 * px) return { x: x.slice(), min: min.slice(), max: max.slice(), last: last.slice() };
  const out = { x: [] as number[], min: [] as Value[], max: [] as Value[], last: [] as Value[] };
  const x0 = x[0];
  const span = x[n - 1] - x0;
  const bucketOf = (v: number) => (span > 0 ? Math.min(px - 1, Math.floor(((v - x0) / span) * px)) : 0);
  let i = 0;
  while (i < n) {
    const b = bucketOf(x[i]);
    let lo: Value = null;
    let hi: Value = null;
    let iLow = -1;
    let iHigh = -1;
    let j = i;
    for (; j < n && bucketOf(x[j]) === b; j++) {
      lo = lower(lo, min[j]);
      hi = higher(hi, max[j]);
      const v = last[j];
      if (v === null || !Number.isFinite(v)) continue;
      if (iLow < 0 || v < (last[iLow] as number)) iLow = j;
      if (iHigh < 0 || v > (last[iHigh] as number)) iHigh = j;
    }
    const keep = iLow < 0 ? [j - 1] : iLow === iHigh ? [iLow] : [Math.min(iLow, iHigh), Math.max(iLow, iHigh)];
    for (const k of keep) {
      out.x.push(x[k]);
      out.min.push(lo);
      out.max.push(hi);
      out.last.push(last[k]);
    }
    i = j;
  }
  return out;
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `weight` (0 = none, 0.99 = heavy), debiased so
 * the start is not pulled towards zero: s_n = (w a_{n-1} + (1 - w) v_n) / (1 - w^n), counting only finite values.
 * Null and non-finite values stay null (a gap) and do not move the average.
 */
export function emaSmooth(values: readonly Value[], weight: number): Value[] {
  const w = Number.isFinite(weight) ? Math.min(0.999, Math.max(0, weight)) : 0;
  if (w === 0) return values.map((v) => (v !== null && Number.isFinite(v) ? v : null));
  const out: Value[] = [];
  let acc = 0;
  let n = 0;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) {
      out.push(null);
      continue;
    }
    acc = acc * w + (1 - w) * v;
    n++;
    out.push(acc / (1 - Math.pow(w, n)));
  }
  return out;
}

/** A value as an axis can draw it: null when missing or not finite, and on a log axis when not positive. */
export function axisValue(v: Value | undefined, log: boolean): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  if (log && v <= 0) return null;
  return v;
}

/** Columns to chart points, through axisValue (dropped values become gaps, so indices stay aligned). */
export function toPoints(x: readonly number[], y: readonly Value[], log: boolean): XY[] {
  const out: XY[] = new Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = { x: x[i], y: axisValue(y[i], log) };
  return out;
}

/** What a step-metric chart draws: the line (the smoothed `last`) and the band (min..max), decimated, axis-safe. */
export interface LinePlot {
  line: XY[];
  low: XY[];
  high: XY[];
}

/** Smooths `last` over the whole series, then decimates to `pixels` and makes the values safe for the axis. */
export function linePlot(s: Series, opts: { pixels: number; smoothing: number; log: boolean }): LinePlot {
  const smooth = emaSmooth(s.last, opts.smoothing);
  const d = decimateMinMax(s.x, s.min, s.max, smooth, opts.pixels);
  return { line: toPoints(d.x, d.last, opts.log), low: toPoints(d.x, d.min, opts.log), high: toPoints(d.x, d.max, opts.log) };
}

/** The index of the point whose x is nearest `x` in ascending `xs` (the earlier on a tie); -1 when empty. */
export function nearestIndex(xs: ArrayLike<number>, x: number): number {
  return nearestBy(xs.length, (i) => xs[i], x);
}

/** nearestIndex over `n` points whose ascending x values `at(i)` gives. */
export function nearestBy(n: number, at: (i: number) => number, x: number): number {
  if (n === 0 || Number.isNaN(x)) return -1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at(mid) < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(at(lo - 1) - x) <= Math.abs(at(lo) - x)) return lo - 1;
  return lo;
}

/** A log axis's tick label: only mantissas 1, 2 and 5 are labelled (the others are blank), at 4 digits. */
export function logTickLabel(v: number, format: (x: number) => string): string {
  if (!(v > 0) || !Number.isFinite(v)) return '';
  const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
  const r = Math.round(m * 1000) / 1000;
  return r === 1 || r === 2 || r === 5 ? format(v) : '';
}

/**
 * Round tick values covering [min, max]: a step of 1, 2 or 5 times a power of ten giving about `count` intervals,
 * the ticks inside the range (ends included when they fall on a step), without float noise.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * p;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  for (let k = first; k * step <= max + step * 1e-9; k++) {
    const v = Number((k * step).toFixed(decimals));
    out.push(Object.is(v, -0) ? 0 : v);
  }
  return out;
}

function lower(a: Value, b: Value | undefined): Value {
  if (b === null || b === undefined || !Number.isFinite(b)) return a;
  return a === null ? b : Math.min(a, b);
}

function higher(a: Value, b: Value | undefined): Value {
  if (b === null || b === undefined || !Number.isFinite(b)) return a;
  return a === null ? b : Math.max(a, b);
}
