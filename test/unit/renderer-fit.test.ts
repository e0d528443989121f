/** The fitted curve's geometry (renderer/src/lib/charts/fit.ts), against hand-computed values. */
import { describe, expect, it } from 'vitest';
import { classYRange, fitRuns, fitSampleAt, fitX, fitYRange, LANE, laneY } from '../../renderer/src/lib/charts/fit';

// five samples over [-1, 1]: at -1, -0.5, 0, 0.5, 1
const curve = { x: { min: -1, max: 1 }, value: [2, null, 0, Number.NaN, -4] };

describe('fitted curve', () => {
  it.each([
    [0, -1],
    [1, -0.5],
    [2, 0],
    [4, 1],
  ])('sample %i lies at x = %f', (i, x) => {
    expect(fitX(curve, i)).toBe(x);
  });

  it.each([
    [-1, 0],
    [-0.76, 0],
    [-0.74, 1],
    [0.2, 2],
    [1, 4],
    [-1.01, null],
    [1.01, null],
    [Number.NaN, null],
  ])('the sample nearest x = %f is %s', (x, i) => {
    expect(fitSampleAt(curve, x)).toBe(i);
  });

  it('a single sample sits in the middle, and is the nearest anywhere in range', () => {
    const one = { x: { min: 0, max: 4 }, value: [1] };
    expect([fitX(one, 0), fitSampleAt(one, 3.9), fitSampleAt(one, 5)]).toEqual([2, 0, null]);
    expect(fitSampleAt({ x: { min: 0, max: 1 }, value: [] }, 0.5)).toBeNull();
  });

  it('spans the finite values and labels, 5% more each side; a single value 1 each side; nothing finite: null', () => {
    // values 2, 0, -4 and labels 6, -Infinity: -4 .. 6, span 10
    expect(fitYRange(curve.value, [6, -Infinity])).toEqual({ min: -4.5, max: 6.5 });
    expect(fitYRange([3, null], [3])).toEqual({ min: 2, max: 4 });
    expect(fitYRange([null, Number.NaN], [])).toBeNull();
  });

  it('breaks the line where a sample has no prediction', () => {
    expect(fitRuns(curve)).toEqual([[[-1, 2]], [[0, 0]], [[1, -4]]]);
    expect(fitRuns({ x: { min: 0, max: 2 }, value: [1, 2, 3] })).toEqual([
      [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
    ]);
    expect(fitRuns({ x: { min: 0, max: 1 }, value: [null, null] })).toEqual([]);
  });

  it("puts a classifier's data in one lane per class under the probabilities, each point inside its lane", () => {
    expect(classYRange(3).min).toBeCloseTo(-0.32, 12);
    expect(classYRange(3).max).toBe(1.04);
    for (const k of [0, 1, 2]) {
      const ys = Array.from({ length: 200 }, (_, i) => laneY(k, i));
      // the lane runs from -LANE k to -LANE (k + 1), less 0.01; its points stay in its middle 60%
      expect(Math.max(...ys)).toBeLessThanOrEqual(-LANE * (k + 0.2) - 0.01 + 1e-12);
      expect(Math.min(...ys)).toBeGreaterThanOrEqual(-LANE * (k + 0.8) - 0.01 - 1e-12);
      expect(new Set(ys).size).toBeGreaterThan(150);
      expect(laneY(k, 7)).toBe(ys[7]);
    }
  });
});
