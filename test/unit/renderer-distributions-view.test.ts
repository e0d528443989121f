/** The inspector's Distributions (renderer/src/lib/distributions-view.ts): bins, bars, zero, read-outs and summary, by hand. */
import { describe, expect, it } from 'vitest';
import type { HistogramInfo } from '../../engine/protocol/messages';
import { binAt, binningOf, binRange, binsOutside, histogramBars, histogramSummary, zeroAt, type Binning } from '../../renderer/src/lib/distributions-view';

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

/** The full range's bins of h(...). */
const full = (counts: number[], more: Partial<HistogramInfo> = {}): Binning => binningOf(h(counts, more), false)!;

describe('a histogram drawn', () => {
  it('gives each filled bin a bar from the bottom, the fullest reaching the top', () => {
    expect(histogramBars(full([2, 0, 4, 1]), 40, 20)).toEqual([
      { x: 0, y: 10, width: 10, height: 10 },
      { x: 20, y: 0, width: 10, height: 20 },
      { x: 30, y: 15, width: 10, height: 5 },
    ]);
    expect(histogramBars(full([0, 0]), 40, 20)).toEqual([]);
  });

  it('goes by log(1 + count) on a log scale: a bin of 1 beside one of 255 is an eighth as tall, not 1/255', () => {
    const [one, most] = histogramBars(full([1, 255]), 20, 16, true);
    expect(most.height).toBe(16);
    expect(one.height).toBeCloseTo(16 * (Math.log(2) / Math.log(256)), 12);
    expect(one.height).toBeCloseTo(2, 12);
  });

  it('marks zero inside the range only', () => {
    // [-1, 3]: zero a quarter of the way across
    expect(zeroAt(full([1]), 40)).toBe(10);
    expect(zeroAt(full([1], { min: 0, max: 3 }), 40)).toBeNull();
    expect(binningOf(h([1], { min: null, max: null }), false)).toBeNull();
  });

  it('bins the central range where asked and the histogram has one, saying how many values lie outside it', () => {
    const central = { lo: 0.5, hi: 2, counts: [3, 5, 2], below: 4, above: 1 };
    expect(binningOf(h([10]), true)).toEqual({ lo: -1, hi: 3, counts: [10], below: 0, above: 0 });
    expect(binningOf(h([10], { central }), false)).toEqual({ lo: -1, hi: 3, counts: [10], below: 0, above: 0 });
    expect(binningOf(h([10], { central }), true)).toEqual(central);
    expect(binRange(binningOf(h([10], { central }), true)!)).toBe('0.5 … 2');
    expect(binsOutside(central)).toBe('4 below, 1 above the bins');
    expect(binsOutside({ ...central, below: 0 })).toBe('1 above the bins');
    expect(binRange(full([10]))).toBe('-1 … 3');
    expect(binsOutside(full([10]))).toBe('');
    // zero is left of [0.5, 2]: no mark
    expect(zeroAt(central, 40)).toBeNull();
  });

  it('reads out the bin under the pointer: its range and count', () => {
    // [-1, 3] in 4 bins of 1, 40 px wide: x = 25 is the third bin, [1, 2)
    const b = full([2, 0, 1, 7]);
    expect(binAt(b, 25, 40)).toBe('1 … 2: 1 value');
    expect(binAt(b, 0, 40)).toBe('-1 … 0: 2 values');
    // the right edge and beyond are the last bin
    expect(binAt(b, 40, 40)).toBe('2 … 3: 7 values');
    // every value the same: one value, no range
    expect(binAt(full([0, 5, 0], { min: 4, max: 4 }), 20, 30)).toBe('4: 5 values');
  });

  it('says its mean, spread and zeros', () => {
    expect(histogramSummary(h([3, 1], { zeros: 1 }))).toBe('mean 0.5 · std 1.25 · 25% zero');
    expect(histogramSummary(h([199, 1], { zeros: 1 }))).toBe('mean 0.5 · std 1.25 · 0.5% zero');
    expect(histogramSummary(h([2, 0], { nonFinite: 2 }))).toBe('mean 0.5 · std 1.25 · 50% not finite');
    expect(histogramSummary(h([0, 0], { nonFinite: 3 }))).toBe('3 values, none finite');
  });
});
