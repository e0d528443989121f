/**
 * The fitted curves of a model on one feature (train.fit: a regression's prediction, or a classifier's probability of
 * each class, at evenly spaced values of the feature) drawn over the data (the data panel's points, the feature
 * against the label). Pure: the view draws what these give.
 */
import type { Range } from './boundary';

/** What the fit drawing needs of a train.fit event. */
export interface FitCurve {
  x: Range;
  value: readonly (number | null)[];
}

/** The feature's value at sample i of the curve. */
export function fitX(f: FitCurve, i: number): number {
  const n = f.value.length;
  return n > 1 ? f.x.min + (i * (f.x.max - f.x.min)) / (n - 1) : (f.x.min + f.x.max) / 2;
}

/** The sample of the curve nearest x; null outside the curve's range or without samples. */
export function fitSampleAt(f: FitCurve, x: number): number | null {
  const n = f.value.length;
  if (n === 0 || !(x >= f.x.min && x <= f.x.max)) return null;
  if (n === 1 || f.x.max === f.x.min) return 0;
  return Math.round(((x - f.x.min) / (f.x.max - f.x.min)) * (n - 1));
}

/**
 * The vertical range of the plot: what the curve's finite values and the data's finite labels span, and 5% more on
 * each side (a single value: 1 on each side); null when there is nothing finite to draw.
 */
export function fitYRange(values: readonly (number | null)[], labels: readonly number[]): Range | null {
  let min = Infinity;
  let max = -Infinity;
  for (const list of [values, labels]) {
    for (const v of list) {
      if (v === null || !Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (!(min <= max)) return null;
  const span = max - min;
  return span > 0 ? { min: min - 0.05 * span, max: max + 0.05 * span } : { min: min - 1, max: max + 1 };
}

/**
 * The curve as runs of consecutive finite samples, each a list of [x, y]: a sample without a prediction breaks the
 * line rather than joining its neighbours across it.
 */
export function fitRuns(f: FitCurve): [number, number][][] {
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  f.value.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push([fitX(f, i), v]);
  });
  if (run.length) runs.push(run);
  return runs;
}

/**
 * A classifier's plot: the probabilities span 0 to 1, and under them each class has a lane of height LANE where its
 * data points are drawn (class 0 at the top), so that the plot's vertical range reaches below 0.
 */
export const LANE = 0.1;

/** The vertical range of a classifier's plot of `classes` classes: its lanes under 0, and a little above 1. */
export function classYRange(classes: number): Range {
  return { min: -LANE * classes - 0.02, max: 1.04 };
}

/**
 * Where data point `i` of class `k` is drawn in its lane: the lane's middle, spread over its middle 60% by a fixed
 * function of `i` (the same picture every time), so that points at the same value do not all fall on one spot.
 */
export function laneY(k: number, i: number): number {
  const spread = ((Math.imul(i + 1, 2654435761) >>> 0) / 2 ** 32 - 0.5) * 0.6;
  return -LANE * (k + 0.5 + spread) - 0.01;
}
