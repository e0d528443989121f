/**
 * Which backend trains a project: `cpu`, `webgpu`, or `auto` (the project's `training.backend`, the CLI's
 * `--backend`, the app's training panel).
 *
 * `auto` picks WebGPU only where a hardware adapter exists and the network is big enough to gain. The threshold is
 * the training step's matmul work: AUTO_MIN_STEP_FLOPS, an estimate until the `auto_threshold` bench has run on a
 * GPU. Why that figure: a step on the GPU costs about 2.5 us per dispatch inside one command buffer, 20-29 us per
 * submit, plus the work at >= 20 TFLOP/s (measured on an H100, ../shared/docs/gpu.md), while the CPU backend runs
 * an MLP step at 25-36 GFLOP/s (bench mlp_step on a 2-core machine). A 3-layer MLP's step (forward, backward, norms
 * and update) is 11 dispatches at batch 128 and 16 at 1024 (bench mlp_step's dispatches/step), so the GPU's fixed
 * ~50-70 us equals the CPU's time for ~1.5-2.5 MFLOP; the threshold is about twice that, for the metrics read back
 * every few steps and the device a small network need not hold. (gpu.md's 2.5 us a dispatch is mostly the host's
 * encoding: the `host_cost` bench measures it apart: 40-50 us a step on Dawn's Null backend.) Software
 * adapters (Mesa's llvmpipe, ~1 GFLOP/s) are never picked by `auto`. The `auto_threshold` bench measures the crossover on a machine
 * with a GPU (MLPs of growing width on both backends), to replace this estimate by a measurement.
 */
import { expandGraph, type GraphNode } from '../graph/expand';
import type { Project } from '../io/project';
import { withTrainingDefaults } from '../io/project';
import { StudioError } from '../util/errors';
import type { Backend } from './backend';
import { CpuBackend } from './cpu/cpu-backend';
import { gpuDevice } from './webgpu/gpu';
import { WebGpuBackend } from './webgpu/webgpu-backend';

export type BackendName = 'cpu' | 'webgpu';
export type BackendWish = BackendName | 'auto';

export const AUTO_MIN_STEP_FLOPS = 4e6;

export interface BackendChoice {
  backend: Backend;
  name: BackendName;
  /** The WebGPU adapter, when there is one. */
  adapter?: string;
  /** Why this backend, in words (shown by the CLI and the app). */
  reason: string;
}

/** Floating-point operations of one training step's matmuls (forward and the two backward products). */
export function stepFlops(nodes: readonly GraphNode[], batch: number): number {
  const e = expandGraph(nodes, { batch, mode: 'train' });
  let flops = 0;
  for (const n of e.builder.nodes) {
    if (n.op !== 'matmul') continue;
    const a = n.inputs[0].shape;
    const out = n.shape.reduce<number>((p, d) => p * (d ?? 1), 1);
    flops += 2 * out * ((a.at(-1) as number | null) ?? 1);
  }
  return 3 * flops;
}

/** What the machine offers: the WebGPU adapter (or why there is none). */
export async function availableBackends(): Promise<{ webgpu: { adapter: string; software: boolean } | null; reason?: string }> {
  try {
    const g = await gpuDevice();
    return g ? { webgpu: { adapter: g.adapter, software: g.software } } : { webgpu: null, reason: 'no WebGPU adapter was found' };
  } catch (e) {
    return { webgpu: null, reason: e instanceof Error ? e.message : String(e) };
  }
}

export async function chooseBackend(wish: BackendWish, project: Project): Promise<BackendChoice> {
  if (wish === 'cpu') return { backend: new CpuBackend(), name: 'cpu', reason: 'set to cpu' };
  if (wish === 'webgpu') {
    const b = await WebGpuBackend.create();
    return { backend: b, name: 'webgpu', adapter: b.adapter, reason: 'set to webgpu' };
  }
  const t = withTrainingDefaults(project.training);
  let flops = 0;
  try {
    flops = stepFlops(project.graph.nodes, t.batchSize);
  } catch {
    // a graph that does not expand fails later with its own message
  }
  const mflop = (flops / 1e6).toPrecision(3);
  const cpu = (why: string, adapter?: string): BackendChoice => ({ backend: new CpuBackend(), name: 'cpu', ...(adapter ? { adapter } : {}), reason: why });
  // Small networks never start the GPU at all.
  if (flops < AUTO_MIN_STEP_FLOPS) return cpu(`auto: a step is ${mflop} MFLOP, under the ${AUTO_MIN_STEP_FLOPS / 1e6} MFLOP where the GPU gains, so the CPU`);
  const { webgpu, reason } = await availableBackends();
  if (!webgpu) return cpu(`auto: ${reason ?? 'no WebGPU adapter'}, so the CPU`);
  if (webgpu.software) return cpu(`auto: the WebGPU adapter is a software one (${webgpu.adapter}), so the CPU`, webgpu.adapter);
  try {
    const b = await WebGpuBackend.create();
    return { backend: b, name: 'webgpu', adapter: b.adapter, reason: `auto: a step is ${mflop} MFLOP on ${b.adapter}` };
  } catch (e) {
    if (e instanceof StudioError) return cpu(`auto: WebGPU failed to start (${e.message}), so the CPU`);
    throw e;
  }
}
