/**
 * Training on the WebGPU backend against the CPU backend (in CI on Mesa's llvmpipe): the spiral, digits and
 * digit-images (a conv net) examples' weights after 10 steps agree within 1e-4 (and wine's, batch norm and dropout,
 * sine's, a regression, and digit-images' with 64 filters in its first convolution, whose second's input gradient is
 * one implicit GEMM then), and `bpstudio train --backend webgpu` reaches the same accuracy bars as the CPU (spiral:
 * training accuracy >= 0.95; the others: validation accuracy). The checks themselves are in
 * ../conformance/webgpu-training-checks.ts, which the GPU machine runs too. And a regression's step metrics (loss,
 * squared error) come back through the pipeline as the CPU reports them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../engine/backends/backend';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { parseProject } from '../../engine/io/project';
import { Session, type StepResult } from '../../engine/train/session';
import { nodeDistributions, type Histogram } from '../../engine/train/node-distributions';
import { BAR, TEN_STEP_TOLERANCE, TEN_STEP_VARIANTS, TRAINING_BARS, tenStepAgreement, trainOnWebGpu } from '../conformance/webgpu-training-checks';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

describe('WebGPU training matches the CPU', () => {
  it.each(TRAINING_BARS.map(([name]) => name))('%s: every tensor after 10 steps within 1e-4 of the CPU', async (name) => {
    const agreement = await tenStepAgreement(EXAMPLES, name);
    expect(agreement.length).toBeGreaterThan(0);
    for (const { tensor, worst } of agreement) expect(worst, `${name} ${tensor}`).toBeLessThan(TEN_STEP_TOLERANCE);
  });

  it.each(TEN_STEP_VARIANTS.map((v) => [v.name, v] as const))('%s: every tensor after 10 steps within 1e-4 of the CPU', async (_, { example, change }) => {
    const agreement = await tenStepAgreement(EXAMPLES, example, change);
    expect(agreement.length).toBeGreaterThan(0);
    for (const { tensor, worst } of agreement) expect(worst, tensor).toBeLessThan(TEN_STEP_TOLERANCE);
  });

  it("reports a regression's step metrics as the CPU does, through its pipeline: nucleus-area's loss and squared error", async () => {
    const steps = async (backend: Backend) => {
      const project = parseProject(readFileSync(join(EXAMPLES, 'nucleus-area.bpstudio'), 'utf8'));
      const s = new Session(project, { baseDir: EXAMPLES, backend });
      const out: StepResult[] = [];
      await s.train({ steps: 20, onStep: (r) => out.push(r) });
      return out;
    };
    const [cpu, gpu] = [await steps(new CpuBackend()), await steps(await WebGpuBackend.create())];
    expect(gpu.map((r) => r.step)).toEqual(cpu.map((r) => r.step));
    gpu.forEach((r, i) => {
      expect(Math.abs(r.loss - cpu[i].loss) / cpu[i].loss, `step ${r.step} loss`).toBeLessThan(1e-4);
      expect(Math.abs(r.sqerr! - cpu[i].sqerr!) / cpu[i].sqerr!, `step ${r.step} squared error`).toBeLessThan(1e-4);
    });
  });

  it("counts each layer's dead units as the CPU does: digit-images after 30 steps (the graph's dead badges)", async () => {
    const units = async (backend: Backend) => {
      const s = new Session(parseProject(readFileSync(join(EXAMPLES, 'digit-images.bpstudio'), 'utf8')), { baseDir: EXAMPLES, backend });
      await s.train({ steps: 30 });
      return (await s.flow(s.epochBatches()[0])).units;
    };
    const [cpu, gpu] = [await units(new CpuBackend()), await units(await WebGpuBackend.create())];
    // the ReLU layers' (not the pooling and flatten after them, which pass their zeros on)
    expect(cpu.map((u) => u.node)).toEqual(['conv1', 'conv2']);
    expect(gpu).toEqual(cpu);
    // some units are off on the whole batch (a channel of conv2)
    expect(cpu.some((u) => u.dead > 0)).toBe(true);
  });

  it("spreads a node's values and gradients as the CPU does: wine's batch norm after 10 steps (the inspector's Distributions)", async () => {
    const spread = async (backend: Backend) => {
      const project = parseProject(readFileSync(join(EXAMPLES, 'wine.bpstudio'), 'utf8'));
      const s = new Session(project, { baseDir: EXAMPLES, backend });
      await s.train({ steps: 10 });
      const norm = s.nodes.find((n) => n.op === 'batchnorm')!.id;
      return nodeDistributions(s, norm, Int32Array.from({ length: 64 }, (_, i) => i));
    };
    const [cpu, gpu] = [await spread(new CpuBackend()), await spread(await WebGpuBackend.create())];
    expect(gpu.tensors.map((t) => t.name)).toEqual(cpu.tensors.map((t) => t.name));
    const pairs: [string, Histogram, Histogram][] = [
      ['output', gpu.output, cpu.output],
      ['output gradient', gpu.outputGradient, cpu.outputGradient],
      ...gpu.tensors.flatMap((t, k): [string, Histogram, Histogram][] => [
        [t.name, t.value, cpu.tensors[k].value],
        [`d ${t.name}`, t.gradient, cpu.tensors[k].gradient],
      ]),
    ];
    for (const [what, a, b] of pairs) {
      expect(a.n, what).toBe(b.n);
      const scale = Math.max(Math.abs(b.min!), Math.abs(b.max!), 1e-30);
      for (const k of ['min', 'max', 'mean'] as const) expect(Math.abs(a[k]! - b[k]!) / scale, `${what} ${k}`).toBeLessThan(1e-4);
    }
  });

  it.each(TRAINING_BARS)('bpstudio train %s --backend webgpu reaches the CPU bar (%s >= 0.95)', { timeout: 60_000 }, async (name, key) => {
    const r = await trainOnWebGpu(EXAMPLES, name, key);
    expect(r.code, r.output).toBe(0);
    expect(r.backend).toBe('webgpu');
    expect(r.value).toBeGreaterThanOrEqual(BAR);
  });
});
