/**
 * Training on the WebGPU backend against the CPU, as the checks put it: an example's every tensor after 10
 * steps (agreement relative to the tensor's largest value), and `bpstudio train --backend webgpu` to the example's
 * accuracy bar. Shared by test/integration/webgpu-training.test.ts (llvmpipe in CI) and the GPU machine's runner
 * (./webgpu-runner.ts), which carries the examples it needs next to its bundle.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../../engine/backends/backend';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { main } from '../../engine/cli/main';
import { parseProject, type Project } from '../../engine/io/project';
import { Session } from '../../engine/train/session';

/** The examples these checks train (an MLP, a wider one on a CSV, a conv net on images), and the figure each must reach. */
export const TRAINING_BARS = [
  ['spiral', 'accuracy'],
  ['digits', 'valAccuracy'],
  ['digit-images', 'valAccuracy'],
] as const;
export const BAR = 0.95;
/**
 * Examples checked by their weights after 10 steps only: wine (batch norm, with its running statistics, and dropout,
 * whose masks the two backends draw alike), sine (a regression: tanh layers and mse), examples with learning-rate
 * schedules (the factor reaches the update kernels through the run context) and gradient clipping, and examples
 * changed to take a path of the backend that they do not:
 * digit-images with 64 filters in its first convolution, so that the second's input gradient is one implicit GEMM
 * (kernels/matmul.ts INPUT_GRADIENT_MIN_CHANNELS).
 */
export const TEN_STEP_VARIANTS: readonly { name: string; example: string; change?: (p: Project) => void }[] = [
  { name: 'wine (batchnorm, dropout)', example: 'wine' },
  { name: 'sine (tanh, mse on a real label)', example: 'sine' },
  {
    name: 'spiral, a cosine learning-rate schedule over one epoch after 3 steps of warm-up (adam)',
    example: 'spiral',
    change: (p) => {
      p.training = { ...p.training, epochs: 1, schedule: { type: 'cosine', min: 0.1, warmup: 3 } };
    },
  },
  {
    name: 'sine, SGD with momentum and the learning rate halved every epoch of 5 steps',
    example: 'sine',
    change: (p) => {
      p.training = { ...p.training, batchSize: 64, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { type: 'step', every: 1, gamma: 0.5 } };
    },
  },
  {
    name: 'digits, gradients clipped to a global norm of 0.05 (every step clips)',
    example: 'digits',
    change: (p) => {
      p.training = { ...p.training, clipNorm: 0.05 };
    },
  },
  {
    name: 'digit-images, 64 filters in conv1',
    example: 'digit-images',
    change: (p) => {
      const conv1 = p.graph.nodes.find((n) => n.id === 'conv1');
      if (!conv1) throw new Error('digit-images has no conv1');
      conv1.attrs = { ...conv1.attrs, filters: 64 };
    },
  },
];
/** Weights after 10 steps: WebGPU within this of the CPU, relative to each tensor's largest magnitude. */
export const TEN_STEP_TOLERANCE = 1e-4;

async function tenSteps(examples: string, name: string, backend: Backend, change?: (p: Project) => void): Promise<Map<string, Float32Array>> {
  const project = parseProject(readFileSync(join(examples, `${name}.bpstudio`), 'utf8'));
  change?.(project);
  const s = new Session(project, { baseDir: examples, backend });
  await s.train({ steps: 10 });
  if (s.step !== 10) throw new Error(`${name}: ${s.step} steps, not 10`);
  const w = await s.weights();
  return new Map(Object.entries(w).map(([k, t]) => [k, Float32Array.from(t.data)]));
}

/**
 * Per tensor, the largest |WebGPU - CPU| over the tensor's largest magnitude after 10 steps of the example (as
 * `change` edits it, where given).
 */
export async function tenStepAgreement(examples: string, name: string, change?: (p: Project) => void): Promise<{ tensor: string; worst: number }[]> {
  const cpu = await tenSteps(examples, name, new CpuBackend(), change);
  const gpu = await tenSteps(examples, name, await WebGpuBackend.create(), change);
  const names = [...cpu.keys()].sort();
  if (names.join() !== [...gpu.keys()].sort().join()) throw new Error(`${name}: the backends' tensors differ: ${names} / ${[...gpu.keys()].sort()}`);
  return names.map((tensor) => {
    const want = cpu.get(tensor)!;
    const got = gpu.get(tensor)!;
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
    return { tensor, worst };
  });
}

/** `bpstudio train EXAMPLE --backend webgpu --json`: its exit code, the backend it says it used, its last epoch's `key`. */
export async function trainOnWebGpu(examples: string, name: string, key: string): Promise<{ code: number; backend: unknown; value: unknown; output: string }> {
  const out = mkdtempSync(join(tmpdir(), 'bps-webgpu-train-'));
  try {
    const lines: string[] = [];
    const io = { stdout: (s: string) => void lines.push(s), stderr: () => {}, tty: false };
    const code = await main(['train', join(examples, `${name}.bpstudio`), '--backend', 'webgpu', '--json', '--out', join(out, `${name}.safetensors`)], io);
    const output = lines.join('');
    if (code !== 0) return { code, backend: undefined, value: undefined, output };
    const rows = output.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = rows.pop()!;
    return { code, backend: done.backend, value: rows[rows.length - 1][key], output };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
