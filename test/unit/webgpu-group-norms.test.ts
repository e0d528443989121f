/**
 * Gradient norms side by side on the WebGPU backend (engine/backends/webgpu/group-norms.ts and kernels/reduce.ts's
 * sumSquaresKernels): which sums of squares are grouped, and the grouped kernel against float64 sums.
 */
import { describe, expect, test } from 'vitest';
import { planFusion } from '../../engine/backends/webgpu/fuse';
import { planNormGroups } from '../../engine/backends/webgpu/group-norms';
import { sumSquaresKernels } from '../../engine/backends/webgpu/kernels/reduce';
import { ownBuffers } from '../../engine/backends/webgpu/share-buffers';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan } from '../../engine/plan/plan';
import { Rng } from '../../engine/util/rng';
import { useGpuBackend } from '../conformance/gpu';

/** The groups of `outputs`' plan, as the outputs each group's reductions write. */
function groups(outputs: Record<string, IRNode>, maxStorageBuffers = 8): string[][] {
  const plan = ownBuffers(compilePlan(outputs));
  const name = new Map([...plan.outputs].map(([k, o]) => [o.buffer, k]));
  return planNormGroups(plan, planFusion(plan).prologues, { maxStorageBuffers }).map((g) => g.map((p) => name.get(plan.steps[p.reduce].output)!));
}

const all = (x: IRNode) => x.shape.map((_, k) => k);
const sumsq = (b: Builder, x: IRNode) => b.sum(b.mul(x, x), all(x));

describe('which sums of squares run together', () => {
  test('consecutive ones, as many as a stage binds (the tensors and a scratch buffer)', () => {
    const b = new Builder();
    const xs = [[4, 3], [7], [2, 2, 2]].map((s, k) => b.input(`x${k}`, s));
    const outputs = Object.fromEntries(xs.map((x, k) => [`n${k}`, sumsq(b, x)]));
    expect(groups(outputs)).toEqual([['n0', 'n1', 'n2']]);
    expect(groups(outputs, 3)).toEqual([['n0', 'n1']]);
  });

  // Each after a sum of squares that it would otherwise join.
  test.each<[string, (b: Builder, y: IRNode) => Record<string, IRNode>]>([
    ['another step between', (b, y) => ({ between: b.exp(y), c: sumsq(b, y) })],
    ['a max', (b, y) => ({ c: b.max(b.mul(y, y), [0, 1]) })],
    ['a sum over some axes', (b, y) => ({ c: b.sum(b.mul(y, y), [1]) })],
    ['a sum of y + y', (b, y) => ({ c: b.sum(b.add(y, y), [0, 1]) })],
    ['a sum of x * y', (b, y) => ({ c: b.sum(b.mul(b.input('x2', [4, 3]), y), [0, 1]) })],
    ['a square through a broadcast (two steps)', (b) => ({ c: sumsq(b, b.broadcastTo(b.input('row', [3]), [4, 3])) })],
    ['a sum of -(y * y) (two steps)', (b, y) => ({ c: b.sum(b.neg(b.mul(y, y)), [0, 1]) })],
  ])('not with %s', (_what, make) => {
    const b = new Builder();
    const [x, y] = [b.input('x', [4, 3]), b.input('y', [4, 3])];
    expect(groups({ a: sumsq(b, x), ...make(b, y) })).toEqual([]);
  });
});

const gpu = useGpuBackend();

describe('the grouped kernel', () => {
  test('sums of squares of tensors of 1 to 70,000 elements, NaN and infinity kept to their own', async () => {
    const sizes = [1, 5, 4096, 4097, 20000, 70000, 300];
    const rng = new Rng(5, 1);
    const data = sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal() * 3));
    data[3][4000] = NaN;
    data[6][17] = -Infinity;
    const g = gpu();
    const ins = data.map((d) => {
      const buffer = g.createStorage(d.length, 'a tensor');
      g.write(buffer, d);
      return { buffer, bytes: d.length * 4 };
    });
    const outs = sizes.map(() => ({ buffer: g.createStorage(1, 'a result'), bytes: 4 }));
    const kernels = sumSquaresKernels(sizes);
    if (!('parts' in kernels)) throw new Error('two dispatches expected');
    const scratch = { buffer: g.createStorage(kernels.scratch, 'the scratch'), bytes: kernels.scratch * 4 };
    g.dispatch([g.bindKernel(kernels.parts, [...ins, scratch]), g.bindKernel(kernels.join, [scratch, ...outs])]);
    for (const [k, d] of data.entries()) {
      const want = Math.fround(d.reduce((s, v) => s + v * v, 0));
      const [got] = await g.readBuffer(outs[k].buffer, 1);
      if (!Number.isFinite(want)) expect(got, `tensor ${k}`).toBe(want);
      else expect(Math.abs(got - want), `tensor ${k}: ${got} for ${want}`).toBeLessThanOrEqual(1e-6 * Math.abs(want));
    }
  });
});
