/**
 * Which matmul dispatches run as one (engine/backends/webgpu/pair-matmuls.ts), decided from the dispatches alone: the
 * table below; and how a matmul's WGSL is renamed to be one of a pair. The pairs' kernel is checked against the CPU
 * in webgpu-matmul.test.ts, and whole plans with pairs in webgpu-fuse.test.ts (the MLP step) and
 * webgpu-plan-fuzz.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { planPairs, type PairCandidate } from '../../engine/backends/webgpu/pair-matmuls';
import { asPairPart } from '../../engine/backends/webgpu/kernels/matmul';

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

describe("a matmul's WGSL renamed as the second of a pair", () => {
  test('module-scope names suffixed, params read from p.q1, bindings shifted; members and swizzles left', () => {
    const decls = `struct Params { m: u32, n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
const TILE = 64u;
fn mul_(a: f32, b: f32) -> f32 { return a * b; }
fn store(at: u32, v: vec4<f32>) { c[at] = mul_(v.a, a[p.m]) * f32(TILE); }
fn tiles(all: u32) { store(all * p.n, vec4<f32>()); }`;
    // (the parameter a is renamed throughout its function, as the binding a is)
    expect(asPairPart(decls, 1, 3)).toBe(`struct Params_1 { m: u32, n: u32 }
@group(0) @binding(3) var<storage, read> a_1: array<f32>;
@group(0) @binding(4) var<storage, read_write> c_1: array<f32>;
const TILE_1 = 64u;
fn mul__1(a_1: f32, b: f32) -> f32 { return a_1 * b; }
fn store_1(at: u32, v: vec4<f32>) { c_1[at] = mul__1(v.a, a_1[p.q1.m]) * f32(TILE_1); }
fn tiles_1(all: u32) { store_1(all * p.q1.n, vec4<f32>()); }`);
  });

  test('refused where a struct field has a module-scope name (read as a member, it would not be renamed)', () => {
    const decls = `@group(0) @binding(0) var<storage, read_write> c: array<f32>;\nstruct S { m: u32, c: u32 }`;
    expect(() => asPairPart(decls, 0, 0)).toThrow(/a struct field named as its module-scope c/);
  });
});
