/**
 * The op conformance tables as the WebGPU backend runs them, with the float32 CPU backend as the oracle: every
 * primitive case and every catalogue case, forward value and the gradient of sum(y * R) to each source, from one
 * plan run on both; plus shapes around the matmul and reduction tile sizes. Shared by the vitest suite
 * (test/unit/webgpu-conformance.test.ts, on llvmpipe in CI) and the GPU machine's runner (./webgpu-runner.ts, in the
 * one-file bundle of scripts/gpu-bundle.mjs), so that a real GPU is held to the same cases and tolerances.
 */
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { Builder } from '../../engine/ir/builder';
import { CATALOGUE_CASES } from './catalogue-table';
import { buildCatalogueCase, buildOpCase, runPlanOutputs, valueAndGradientPlan, type Built } from './harness';
import { OP_CASES } from './op-table';
import { closeness, generate, NORMAL, rngFor } from './tensor';

/** WebGPU against CPU: 1e-5 relative, 1e-4 where a value is a reduction over more than 10,000 elements. */
const RTOL = 1e-5;
const RTOL_BIG_REDUCTION = 1e-4;
/** An absolute floor scaled to the tensor: float32 cancellation leaves ~1e-7 of the largest magnitude. */
const ATOL_OF_MAX = 1e-6;

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

/** Each output of the case where WebGPU and the CPU differ by more than the tolerance, in words; [] when none. */
export async function compareOnWebGpu(name: string, built: Built): Promise<string[]> {
  const planned = valueAndGradientPlan(built, name);
  const want = await runPlanOutputs(new CpuBackend('f32'), built, planned);
  // A fresh backend per case: the cases' parameter names repeat.
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

export interface SuiteCase {
  group: 'primitive' | 'catalogue' | 'matmul' | 'reduction';
  /** The case's name (it seeds the gradient's weights). */
  name: string;
  build: () => Built;
}

/** Matmuls at, around and far from the tile sizes (m x k times k x n, batched where there are three numbers). */
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
  // few output tiles over a long k: split along k (kernels/matmul.ts, matmulSplits)
  [[3, 1000], [1000, 5]],
  [[128, 784], [784, 64]],
];

/** Reductions over rows longer and shorter than a workgroup, and over the leading axis; each as sum and as max. */
const SUMS: [number[], number[]][] = [
  [[3, 1000], [1]],
  [[20000], [0]],
  [[257, 5], [0]],
  [[4, 300, 3], [1]],
  [[2, 3, 4], [0, 2]],
];

const numel = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

export function webgpuSuite(): SuiteCase[] {
  const cases: SuiteCase[] = [];
  for (const c of OP_CASES.filter((c) => c.op !== 'dropout_mask')) cases.push({ group: 'primitive', name: c.name, build: () => buildOpCase(c) });
  // Dropout in training draws its mask from a counter-based generator per backend: compared in its own tests.
  for (const c of CATALOGUE_CASES.filter((c) => !(c.mode === 'train' && c.nodes.some((n) => n.op === 'dropout')))) {
    cases.push({ group: 'catalogue', name: c.name, build: () => buildCatalogueCase(c) });
  }
  for (const [sa, sb] of MATMULS) {
    const name = `${sa.join('x')} @ ${sb.join('x')}`;
    cases.push({
      group: 'matmul',
      name,
      build: () => {
        const b = new Builder();
        const rng = rngFor(name);
        const values = new Map([
          ['a', generate(NORMAL, numel(sa), rng)],
          ['b', generate(NORMAL, numel(sb), rng)],
        ]);
        const a = b.input('a', sa);
        const bb = b.input('b', sb);
        return { b, y: b.matmul(a, bb), values, wrt: [a, bb] };
      },
    });
  }
  for (const [shape, axes] of SUMS) {
    const name = `sum ${shape.join('x')} over ${axes.join(',')}`;
    const values = () => new Map([['x', generate(NORMAL, numel(shape), rngFor(name))]]);
    for (const op of ['sum', 'max'] as const) {
      cases.push({
        group: 'reduction',
        name: op === 'sum' ? name : `${name} max`,
        build: () => {
          const b = new Builder();
          const x = b.input('x', shape);
          return { b, y: op === 'sum' ? b.sum(x, axes) : b.max(x, axes), values: values(), wrt: [x] };
        },
      });
    }
  }
  return cases;
}

/** What a run of the whole suite found: each case that differs from the CPU (or threw), and the adapter it ran on. */
export interface SuiteReport {
  adapter: string;
  cases: number;
  failed: { case: string; failures: string[] }[];
  seconds: number;
}

/** Runs every case of the suite in turn (outside vitest: the GPU machine's runner, the browser's page). */
export async function runWebgpuSuite(): Promise<SuiteReport> {
  const started = performance.now();
  const gpu = await WebGpuBackend.create();
  const cases = webgpuSuite();
  const failed: SuiteReport['failed'] = [];
  for (const c of cases) {
    let failures: string[];
    try {
      failures = await compareOnWebGpu(c.name, c.build());
    } catch (e) {
      failures = [`threw: ${e instanceof Error ? e.message : String(e)}`];
    }
    if (failures.length > 0) failed.push({ case: `${c.group} ${c.name}`, failures });
  }
  gpu.dispose();
  return { adapter: gpu.adapter, cases: cases.length, failed, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) };
}
