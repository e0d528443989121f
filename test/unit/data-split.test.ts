import { describe, expect, test } from 'vitest';
import { applyStandardize, epochOrder, splitRows, standardizeStats } from '../../engine/data/split';
import type { Where } from '../../engine/util/errors';
import { Rng, RngStream } from '../../engine/util/rng';

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('splitRows', () => {
  // rows, validation, expected validation rows (Math.round(rows * validation))
  test.each([
    [600, undefined, 120],
    [100, 0.2, 20],
    [10, 0.25, 3],
    [5, 0.1, 1],
    [150, 0.3, 45],
    [7, 0, 0],
    [2, 0.5, 1],
  ])('%i rows at %s: %i for validation', (rows, validation, nVal) => {
    const { train, validation: val } = splitRows(rows, { validation }, 1);
    expect(val.length).toBe(nVal);
    expect(train.length).toBe(rows - nVal);
    expect([...train, ...val].sort((a, b) => a - b)).toEqual(range(rows));
  });

  test('validation is the last fraction of the seeded shuffle', () => {
    const perm = Array.from(new Rng(5, RngStream.shuffle).permutation(50));
    const { train, validation } = splitRows(50, { validation: 0.2, shuffle: true }, 5);
    expect(Array.from(train)).toEqual(perm.slice(0, 40));
    expect(Array.from(validation)).toEqual(perm.slice(40));
  });

  test('without shuffle, validation is the last rows in file order', () => {
    const { train, validation } = splitRows(10, { validation: 0.3, shuffle: false }, 5);
    expect(Array.from(train)).toEqual(range(7));
    expect(Array.from(validation)).toEqual([7, 8, 9]);
  });

  test('same seed, same split; another seed, another split', () => {
    expect(splitRows(100, {}, 3)).toEqual(splitRows(100, {}, 3));
    expect(splitRows(100, {}, 3).validation).not.toEqual(splitRows(100, {}, 4).validation);
  });

  test.each([
    [10, 1, /fraction/],
    [10, -0.1, /fraction/],
    [10, Number.NaN, /fraction/],
    [1, 0.5, /leaves none of the 1 rows/],
  ])('%i rows at validation %s is refused', (rows, validation, message) => {
    expect(() => splitRows(rows, { validation }, 1)).toThrow(studioError({ path: 'data.validation' }, message));
  });
});

describe('epochOrder', () => {
  const train = Int32Array.of(9, 4, 7, 1, 3, 8, 0, 2);

  test('without shuffle: the training rows as they are', () => {
    expect(epochOrder(train, 3, 1, false)).toEqual(train);
  });

  test('with shuffle: a permutation of the training rows, fixed by (seed, epoch)', () => {
    const order = epochOrder(train, 2, 1, true);
    expect(Array.from(order).sort()).toEqual(Array.from(train).sort());
    expect(epochOrder(train, 2, 1, true)).toEqual(order);
    expect(epochOrder(train, 3, 1, true)).not.toEqual(order);
    expect(epochOrder(train, 2, 2, true)).not.toEqual(order);
  });

  test('epochs are not all the same permutation, nor the split permutation', () => {
    const rows = Int32Array.from(range(100));
    const orders = range(5).map((e) => Array.from(epochOrder(rows, e, 1, true)).join());
    expect(new Set(orders).size).toBe(5);
    expect(orders).not.toContain(Array.from(new Rng(1, RngStream.shuffle).permutation(100)).join());
  });
});

describe('standardization', () => {
  // 4 rows x 3 features; the third feature is constant.
  const features = Float32Array.of(1, 10, 5, 2, 20, 5, 3, 30, 5, 100, -7, 5);

  test('population mean and std over the given rows only', () => {
    const { mean, std } = standardizeStats(features, 3, [0, 1, 2]);
    expect(Array.from(mean)).toEqual([2, 20, 5]);
    // Population std of (1, 2, 3) is sqrt(2/3); of (10, 20, 30), 10 sqrt(2/3); a constant column gets 1.
    expect(std[0]).toBeCloseTo(Math.sqrt(2 / 3), 6);
    expect(std[1]).toBeCloseTo(10 * Math.sqrt(2 / 3), 5);
    expect(std[2]).toBe(1);
  });

  test('a constant column of a value float32 cannot hold exactly gets std 1', () => {
    const { std } = standardizeStats(new Float32Array(7).fill(0.1), 1, range(7));
    expect(std[0]).toBe(1);
  });

  test('no rows: the identity transform', () => {
    expect(standardizeStats(features, 3, [])).toEqual({ mean: new Float32Array(3), std: Float32Array.of(1, 1, 1) });
  });

  test('applyStandardize: (x - mean) / std per column, input untouched', () => {
    const stats = { mean: Float32Array.of(2, 20, 5), std: Float32Array.of(1, 10, 1) };
    const out = applyStandardize(features, 3, stats);
    expect(Array.from(out)).toEqual([-1, -1, 0, 0, 0, 0, 1, 1, 0, 98, -2.7, 0].map(Math.fround));
    expect(features[0]).toBe(1);
  });
});
