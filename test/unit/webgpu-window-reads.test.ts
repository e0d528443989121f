/**
 * Image columns read in place on the WebGPU backend (engine/backends/webgpu/window-reads.ts): which reductions read
 * an im2col's columns from its image, decided from the plan alone; and pools forward and backward run so on the
 * device against the CPU, with the dispatches and memory that the columns no longer take.
 */
import { describe, expect, test } from 'vitest';
import { reverseMode } from '../../engine/autodiff/reverse';
import type { Window } from '../../engine/ir/builder';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan, type Plan } from '../../engine/plan/plan';
import { elideCopies } from '../../engine/backends/webgpu/elide';
import { ownBuffers } from '../../engine/backends/webgpu/share-buffers';
import { planWindowReads } from '../../engine/backends/webgpu/window-reads';
import { WebGpuExecutable } from '../../engine/backends/webgpu/webgpu-backend';
import { Rng } from '../../engine/util/rng';
import { useGpuBackend } from '../conformance/gpu';
import { disagreement, runOnBoth } from './gpu-against-cpu';

const POOL: Window = { kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0 };

/** A pool as the catalogue's maxpool2d / avgpool2d: the image's windows as columns, reduced over each window. */
function pool(b: Builder, x: IRNode, w: Window, reduce: 'max' | 'sum'): IRNode {
  const [n, c, h, wd] = x.shape as number[];
  const [oh, ow] = [Math.floor((h + 2 * w.ph - w.kh) / w.sh) + 1, Math.floor((wd + 2 * w.pw - w.kw) / w.sw) + 1];
  const cols = b.reshape(b.im2col(x, w), [n, c, w.kh * w.kw, oh * ow]);
  return b.reshape(reduce === 'max' ? b.max(cols, [2]) : b.sum(cols, [2]), [n, c, oh, ow]);
}

/** The plan of `outputs` as the backend plans it, and its reads: step ops, reading → read. */
function reads(outputs: Record<string, IRNode>, taken: number[] = []): string[] {
  const plan = elideCopies(ownBuffers(compilePlan(outputs)));
  return [...planWindowReads(plan, new Set(taken))].map(([r, i]) => `${plan.steps[r].call.op} ${r} <- ${plan.steps[i].call.op} ${i}`);
}

/** A max pool of a relu, and its backward pass: the forward max and the backward max_mask read the columns. */
function maxPoolTraining(image: number[], w: Window) {
  const b = new Builder();
  const x = b.input('x', image);
  const y = pool(b, b.relu(x), w, 'max');
  const loss = b.sum(b.mul(y, b.input('g', y.shape)), y.shape.map((_, k) => k));
  return { y, dx: reverseMode(b, loss, [x]).get(x)! };
}

describe('which reductions read the columns from the image', () => {
  test("a max pool's forward max and backward max_mask", () => {
    expect(reads(maxPoolTraining([2, 3, 4, 4], POOL))).toEqual(['max 2 <- im2col 1', 'max_mask 4 <- im2col 1']);
  });

  test('an average pool: the sum', () => {
    const b = new Builder();
    expect(reads({ y: pool(b, b.input('x', [1, 2, 4, 4]), POOL, 'sum') })).toEqual(['sum 1 <- im2col 0']);
  });

  test('none: columns a matmul reads (a convolution), also read by an elementwise step, a plan output, or a reduction taken', () => {
    let b = new Builder();
    const conv = b.matmul(b.input('w', [4, 12]), b.im2col(b.input('x', [2, 3, 4, 4]), { ...POOL, sh: 1, sw: 1 }));
    expect(reads({ y: conv })).toEqual([]);
    b = new Builder();
    const cols = b.im2col(b.input('x', [1, 2, 4, 4]), POOL);
    expect(reads({ y: b.sum(cols, [1]), z: b.relu(cols) })).toEqual([]);
    b = new Builder();
    const out = b.im2col(b.input('x', [1, 2, 4, 4]), POOL);
    expect(reads({ y: b.sum(out, [1]), cols: out })).toEqual([]);
    b = new Builder();
    expect(reads({ y: pool(b, b.input('x', [1, 2, 4, 4]), POOL, 'sum') }, [1])).toEqual([]);
  });
});

const gpu = useGpuBackend();

async function expectAsCpu(plan: Plan, feeds: Record<string, Float32Array>) {
  const { outputs, exe } = await runOnBoth(gpu(), plan, feeds);
  for (const { name, want, got } of outputs) expect(disagreement(got, want), name).toBe(-1);
  return exe;
}

const normals = (n: number, seed: number) => {
  const rng = new Rng(seed, 5);
  // Integers in part, so that windows have ties (the first gets the gradient).
  return Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? Math.round(rng.normal()) : rng.normal()));
};

describe('pools on the device, the columns read from the image', () => {
  test.each([
    { what: '2 x 2 windows, stride 2', image: [2, 3, 8, 8], w: POOL },
    { what: 'overlapping 3 x 3 windows, stride 2, padded (zeros in windows)', image: [2, 2, 7, 9], w: { kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 } },
    { what: '8 x 8 windows, 32 of them (a workgroup per 8 adjacent windows)', image: [2, 4, 16, 16], w: { kh: 8, kw: 8, sh: 8, sw: 8, ph: 0, pw: 0 } },
    { what: '8 x 8 windows, 4 of them (a workgroup a window)', image: [1, 1, 16, 16], w: { kh: 8, kw: 8, sh: 8, sw: 8, ph: 0, pw: 0 } },
    { what: 'one window over a 130 x 130 image (a split reduction)', image: [1, 1, 130, 130], w: { kh: 130, kw: 130, sh: 1, sw: 1, ph: 0, pw: 0 } },
  ])("a max pool's forward and backward: $what", async ({ image, w }) => {
    const { y, dx } = maxPoolTraining(image, w);
    const plan = compilePlan({ y, dx });
    const n = image.reduce((p, d) => p * d, 1);
    const exe = await expectAsCpu(plan, { x: normals(n, 1), g: normals((y.shape as number[]).reduce((p, d) => p * d, 1), 2) });
    // Unfused, the forward and backward are each an im2col and a reduction; read in place, the im2col is gone.
    expect(exe.dispatches()).toBeLessThan(new WebGpuExecutable(gpu(), plan, { fuse: false }).dispatches() - 1);
    expect(exe.plan.steps.filter((s) => s.call.op === 'im2col')).toHaveLength(1);
  });

  test('an average pool, and memory: the columns take none', async () => {
    const b = new Builder();
    const x = b.input('x', [2, 4, 16, 16]);
    const plan = compilePlan({ y: b.mul(pool(b, x, { kh: 4, kw: 4, sh: 1, sw: 1, ph: 0, pw: 0 }, 'sum'), b.scalar(1 / 16)) });
    const exe = await expectAsCpu(plan, { x: normals(2048, 3) });
    expect(exe.dispatches()).toBe(1);
    // The columns, 16 values per output position, would take 16 x 13 x 13 x 8 floats; only the result is written.
    expect(exe.pooledBytes).toBe(2 * 4 * 13 * 13 * 4);
  });
});
