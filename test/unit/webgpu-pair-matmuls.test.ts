/**
 * Which matmul dispatches run as one (engine/backends/webgpu/pair-matmuls.ts), decided from the dispatches alone: the
 * table below; the pairs' kernel is checked against the CPU in webgpu-matmul.test.ts, and whole plans with pairs in
 * webgpu-fuse.test.ts (the MLP step) and webgpu-plan-fuzz.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { planPairs, type PairCandidate } from '../../engine/backends/webgpu/pair-matmuls';

/** A matmul (of 64-tiles) reading `reads` and writing `writes`; `other`: any other dispatch (or a split matmul). */
const mm = (reads: number[], writes: number[], tile = 64): PairCandidate => ({ matmul: `tile ${tile}`, reads, writes });
const other: PairCandidate = { reads: [0], writes: [99] };

describe('matmuls paired into one dispatch', () => {
  test.each([
    { what: "a dense layer's input and weight gradients: both read g (1)", dispatches: [mm([1, 2, 3], [4]), mm([1, 5], [6, 7])], pairs: [[0, 1]] },
    { what: 'the second reads what the first writes', dispatches: [mm([1, 2], [3]), mm([3, 4], [5])], pairs: [] },
    { what: "the second reads the first's sums over k", dispatches: [mm([1, 2], [3, 4]), mm([4, 5], [6])], pairs: [] },
    { what: 'not neighbours', dispatches: [mm([1, 2], [3]), other, mm([1, 4], [5])], pairs: [] },
    { what: 'a split matmul, or another op', dispatches: [other, mm([1, 2], [3]), other], pairs: [] },
    { what: 'three in a row: the first two', dispatches: [mm([1], [2]), mm([1], [3]), mm([1], [4])], pairs: [[0, 1]] },
    { what: 'four in a row: two pairs', dispatches: [mm([1], [2]), mm([1], [3]), mm([1], [4]), mm([1], [5])], pairs: [[0, 1], [2, 3]] },
    { what: 'more bindings than a stage has (8)', dispatches: [mm([1, 2, 3, 4], [5]), mm([1, 6, 7], [8])], pairs: [] },
    { what: 'as many as a stage has', dispatches: [mm([1, 2, 3], [5]), mm([1, 6, 7], [8])], pairs: [[0, 1]] },
    { what: 'tiles of two sizes', dispatches: [mm([1, 2], [3], 128), mm([1, 4], [5])], pairs: [] },
  ])('$what', ({ dispatches, pairs }) => {
    expect(planPairs(dispatches, 8)).toEqual(pairs);
  });
});
