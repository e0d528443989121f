/** How a node's values and gradients are spread (engine/train/node-distributions.ts), against counts made by hand. */
import { describe, expect, it } from 'vitest';
import { deadUnits, histogram } from '../../engine/train/node-distributions';

describe('histogram', () => {
  it('counts values into equal bins over their range, with their moments and zeros', () => {
    // [0, 4] in 4 bins of 1: 0 | 1 1 | 2 | 3 4 (the maximum falls in the last bin)
    const h = histogram([0, 1, 1, 2, 3, 4], 4);
    expect({ ...h, std: undefined }).toEqual({ n: 6, nonFinite: 0, zeros: 1, min: 0, max: 4, mean: 11 / 6, std: undefined, counts: [1, 2, 1, 2] });
    // squared deviations from 11/6 sum to 65/6, over 6 values
    expect(h.std).toBeCloseTo(Math.sqrt(65 / 36), 12);
  });

  it('sets aside values that are not finite', () => {
    expect(histogram([NaN, -1, Infinity, 1], 2)).toMatchObject({ n: 2, nonFinite: 2, min: -1, max: 1, mean: 0, std: 1, counts: [1, 1] });
  });

  it('bins the central range, between the 1st and 99th percentiles, apart: a far outlier squeezes only the full range', () => {
    // 0 .. 99 and 1e6: the full range's first bin holds all but the outlier; the central range is [1, 99] (nearest
    // ranks 1 and 99 of 101), in bins of 24.5: 1..25 | 26..49 | 50..74 | 75..99, with 0 below and 1e6 above
    const h = histogram([...Array.from({ length: 100 }, (_, i) => i), 1e6], 4);
    expect(h.counts).toEqual([100, 0, 0, 1]);
    expect(h.central).toEqual({ lo: 1, hi: 99, counts: [25, 24, 25, 25], below: 1, above: 1 });
    // none where the central range is the full one, or one value
    expect(histogram([0, 1, 1, 2, 3, 4], 4).central).toBeUndefined();
    expect(histogram([...new Array<number>(200).fill(7), -1, 9], 4).central).toBeUndefined();
  });

  it('puts equal values in the middle bin, and has no range without values', () => {
    expect(histogram([5, 5, 5], 3).counts).toEqual([0, 3, 0]);
    expect(histogram([], 3)).toEqual({ n: 0, nonFinite: 0, zeros: 0, min: null, max: null, mean: null, std: null, counts: [0, 0, 0] });
  });
});

describe('dead units', () => {
  it.each([
    // [B = 2, 3 units]: unit 1 is zero for both rows
    ['dense [2, 3]', [1, 0, 2, 0.5, 0, 0], [2, 3], { dead: 1, units: 3 }],
    ['all alive', [1, 2, 3, 4], [2, 2], { dead: 0, units: 2 }],
    // [B = 1, 2 channels, 2 positions]: channel 0 is zero at both positions, channel 1 is on at one
    ['conv [1, 2, 2]', [0, 0, 0, 3], [1, 2, 2], { dead: 1, units: 2 }],
    ['a value per example', [0, 0], [2], undefined],
  ] as const)('%s', (_, values, shape, want) => {
    expect(deadUnits(values, shape)).toEqual(want);
  });
});
