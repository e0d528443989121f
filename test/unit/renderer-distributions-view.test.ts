/** The inspector's Distributions (renderer/src/lib/distributions-view.ts): bars, zero and summary, by hand. */
import { describe, expect, it } from 'vitest';
import type { HistogramInfo } from '../../engine/protocol/messages';
import { histogramBars, histogramSummary, zeroAt } from '../../renderer/src/lib/distributions-view';

const h = (counts: number[], more: Partial<HistogramInfo> = {}): HistogramInfo => ({
  n: counts.reduce((a, b) => a + b, 0),
  nonFinite: 0,
  zeros: 0,
  min: -1,
  max: 3,
  mean: 0.5,
  std: 1.25,
  counts,
  ...more,
});

describe('a histogram drawn', () => {
  it('gives each filled bin a bar from the bottom, the fullest reaching the top', () => {
    expect(histogramBars(h([2, 0, 4, 1]), 40, 20)).toEqual([
      { x: 0, y: 10, width: 10, height: 10 },
      { x: 20, y: 0, width: 10, height: 20 },
      { x: 30, y: 15, width: 10, height: 5 },
    ]);
    expect(histogramBars(h([0, 0]), 40, 20)).toEqual([]);
  });

  it('goes by log(1 + count) on a log scale: a bin of 1 beside one of 255 is an eighth as tall, not 1/255', () => {
    const [one, most] = histogramBars(h([1, 255]), 20, 16, true);
    expect(most.height).toBe(16);
    expect(one.height).toBeCloseTo(16 * (Math.log(2) / Math.log(256)), 12);
    expect(one.height).toBeCloseTo(2, 12);
  });

  it('marks zero inside the range only', () => {
    // [-1, 3]: zero a quarter of the way across
    expect(zeroAt(h([1]), 40)).toBe(10);
    expect(zeroAt(h([1], { min: 0, max: 3 }), 40)).toBeNull();
    expect(zeroAt(h([1], { min: null, max: null }), 40)).toBeNull();
  });

  it('says its mean, spread and zeros', () => {
    expect(histogramSummary(h([3, 1], { zeros: 1 }))).toBe('mean 0.5 · std 1.25 · 25% zero');
    expect(histogramSummary(h([199, 1], { zeros: 1 }))).toBe('mean 0.5 · std 1.25 · 0.5% zero');
    expect(histogramSummary(h([2, 0], { nonFinite: 2 }))).toBe('mean 0.5 · std 1.25 · 50% not finite');
    expect(histogramSummary(h([0, 0], { nonFinite: 3 }))).toBe('3 values, none finite');
  });
});
