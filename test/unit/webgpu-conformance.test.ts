/**
 * The op conformance tables on the WebGPU backend, with the float32 CPU backend as the oracle: every primitive case
 * and every catalogue case, forward value and the gradient of sum(y * R) to each source, from one plan run on both.
 * Plus shapes around the matmul and reduction tile sizes. In CI this runs on Mesa's software Vulkan (llvmpipe,
 * installed by .ci/run); it never skips: a machine without an adapter fails here with the reason.
 */
import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { useGpuBackend } from '../conformance/gpu';
import { Builder } from '../../engine/ir/builder';
import { CATALOGUE_CASES } from '../conformance/catalogue-table';
import { buildCatalogueCase, buildOpCase, runPlanOutputs, valueAndGradientPlan, type Built } from '../conformance/harness';
import { OP_CASES } from '../conformance/op-table';
import { closeness, generate, NORMAL, rngFor } from '../conformance/tensor';

/** WebGPU against CPU: 1e-5 relative, 1e-4 where a value is a reduction over more than 10,000 elements. */
const RTOL = 1e-5;
const RTOL_BIG_REDUCTION = 1e-4;
/** An absolute floor scaled to the tensor: float32 cancellation leaves ~1e-7 of the largest magnitude. */
const ATOL_OF_MAX = 1e-6;

/** The first backend (the adapter check); each case gets a fresh one, as its parameters' names repeat across cases. */
const backend = useGpuBackend();

/** The largest number of elements any reduction of the plan sums into one value. */
function largestReduction(built: Built): number {
  let most = 0;
  for (const n of built.b.nodes) {
    if (n.op !== 'sum' && n.op !== 'max' && n.op !== 'matmul') continue;
    const inSize = n.inputs[0].shape.reduce<number>((a, d) => a * (d ?? 1), 1);
    const outSize = n.shape.reduce<number>((a, d) => a * (d ?? 1), 1);
    most = Math.max(most, n.op === 'matmul' ? (n.inputs[0].shape.at(-1) ?? 1) : inSize / Math.max(1, outSize));
  }
  return most;
}

async function compare(name: string, built: Built): Promise<string[]> {
  const planned = valueAndGradientPlan(built, name);
  const want = await runPlanOutputs(new CpuBackend('f32'), built, planned);
  const fresh = await WebGpuBackend.create();
  const got = await runPlanOutputs(fresh, built, planned);
  fresh.dispose();
  const rtol = largestReduction(built) > 10_000 ? RTOL_BIG_REDUCTION : RTOL;
  const failures: string[] = [];
  for (const [out, w] of want) {
    const g = got.get(out)!;
    const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const { ratio, at } = closeness(g, w, rtol, ATOL_OF_MAX * scale + 1e-30);
    if (ratio > 1) failures.push(`${out}[${at}]: webgpu ${g[at]}, cpu ${w[at]} (${ratio.toFixed(1)}x the tolerance)`);
  }
  return failures;
}

describe('WebGPU matches the CPU backend', () => {
  test('an adapter is found (Mesa llvmpipe in CI)', () => {
    expect(backend().adapter).toMatch(/\w/);
  });

  const primitives = OP_CASES.filter((c) => c.op !== 'dropout_mask');
  test.each(primitives.map((c) => [c.name, c] as const))('primitive %s', async (_name, c) => {
    expect(await compare(c.name, buildOpCase(c))).toEqual([]);
  });

  const catalogue = CATALOGUE_CASES.filter((c) => !(c.mode === 'train' && c.nodes.some((n) => n.op === 'dropout')));
  test.each(catalogue.map((c) => [c.name, c] as const))('catalogue %s', async (_name, c) => {
    expect(await compare(c.name, buildCatalogueCase(c))).toEqual([]);
  });

  // Matmuls at, around and far from the tile sizes (m x k times k x n, batched where there are three numbers).
  const MATMULS: [number[], number[]][] = [
    [[64, 64], [64, 64]],
    [[128, 128], [128, 128]],
    [[65, 33], [33, 17]],
    [[1, 7], [7, 1]],
    [[3, 129], [129, 5]],
    [[130, 70], [70, 131]],
    [[2, 37, 19], [2, 19, 23]],
    [[4, 8, 16], [16, 9]],
    [[300, 3], [3, 257]],
  ];
  test.each(MATMULS.map(([a, b]) => [`${a.join('x')} @ ${b.join('x')}`, a, b] as const))('matmul %s', async (name, sa, sb) => {
    const b = new Builder();
    const rng = rngFor(name);
    const values = new Map([
      ['a', generate(NORMAL, sa.reduce((p, d) => p * d, 1), rng)],
      ['b', generate(NORMAL, sb.reduce((p, d) => p * d, 1), rng)],
    ]);
    const a = b.input('a', sa);
    const bb = b.input('b', sb);
    expect(await compare(name, { b, y: b.matmul(a, bb), values, wrt: [a, bb] })).toEqual([]);
  });

  // Reductions over rows longer and shorter than a workgroup, and over the leading axis.
  const SUMS: [number[], number[]][] = [
    [[3, 1000], [1]],
    [[20000], [0]],
    [[257, 5], [0]],
    [[4, 300, 3], [1]],
    [[2, 3, 4], [0, 2]],
  ];
  test.each(SUMS.map(([shape, axes]) => [`sum ${shape.join('x')} over ${axes.join(',')}`, shape, axes] as const))('%s', async (name, shape, axes) => {
    const b = new Builder();
    const values = new Map([['x', generate(NORMAL, shape.reduce((p, d) => p * d, 1), rngFor(name))]]);
    const x = b.input('x', shape);
    expect(await compare(name, { b, y: b.sum(x, axes), values, wrt: [x] })).toEqual([]);
    const m = new Builder();
    const xm = m.input('x', shape);
    expect(await compare(`${name} max`, { b: m, y: m.max(xm, axes), values, wrt: [xm] })).toEqual([]);
  });
});

describe('WebGPU errors', () => {
  test('a kernel that does not compile fails the next read with the compiler message, not a silent stale output', async () => {
    const b = await WebGpuBackend.create();
    b.pipeline('@compute @workgroup_size(1) fn main() { let target = 1; }');
    b.writeTensor('t', Float32Array.of(1));
    await expect(b.readTensor('t')).rejects.toThrow(/WebGPU failed: .*reserved/);
    // Reported once: the next read is clean.
    expect(await b.readTensor('t')).toEqual(Float32Array.of(1));
    b.dispose();
  });
});

describe('WebGPU memory', () => {
  test('a tensor larger than the adapter allows is an error naming it, not a hang or a crash', async () => {
    const b = await WebGpuBackend.create();
    const tooMany = Math.floor(b.device.limits.maxBufferSize / 4) + 1;
    expect(() => b.persistent('huge', tooMany)).toThrow(/tensor huge needs \d+ bytes, more than this adapter's largest buffer/);
    expect(b.hasTensor('huge')).toBe(false);
    b.dispose();
  });
});
