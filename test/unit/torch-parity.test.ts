/**
 * PyTorch parity: each fixture (test/fixtures/torch, made by make_fixtures.py from Debian's python3-torch) holds a
 * network as project-file nodes, a batch, starting weights, and PyTorch's objective, gradients, input gradients
 * and the weights after 3 optimizer steps. The engine must reproduce them to 1e-5, relative to each tensor's scale.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import type { GraphNode } from '../../engine/graph/expand';
import { gradProgram, resolveTargets, trainProgram, type OptimizerSpec } from '../../engine/train/program';

interface Packed {
  shape: number[];
  values: number[];
}

interface Fixture {
  name: string;
  graph: { nodes: GraphNode[] };
  training: { objective: string };
  batch: { inputs: Record<string, Packed>; labels: Record<string, Packed> };
  weights: Record<string, Packed>;
  objective: number;
  gradients: Record<string, Packed>;
  inputGradients: Record<string, Packed>;
  /** Each run's optimizer, and where it clips the gradients before each step (clip_grad_norm_), its clipNorm. */
  runs: { optimizer: OptimizerSpec & { clipNorm?: number }; objectives: number[]; weights: Record<string, Packed> }[];
}

const dir = join(__dirname, '../fixtures/torch');
const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture);

/** Within 1e-5 of the expected values, relative to the tensor's largest magnitude (at least 1). */
function expectClose(actual: ArrayLike<number>, expected: Packed, what: string): void {
  expect(actual.length, `${what}: size`).toBe(expected.values.length);
  const scale = Math.max(1, ...expected.values.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected.values[i]) / scale);
  expect(worst, `${what}: largest error relative to scale ${scale}`).toBeLessThan(1e-5);
}

/** Label nodes take their per-example shape from the fixture's batch (a real label may be [B, 2]). */
function nodesOf(f: Fixture): GraphNode[] {
  return f.graph.nodes.map((n) => {
    const lab = f.batch.labels[n.id];
    return n.op === 'label' && lab ? { ...n, attrs: { ...n.attrs, shape: lab.shape.slice(1) } } : n;
  });
}

function batchSize(f: Fixture): number {
  return Object.values(f.batch.inputs)[0].shape[0];
}

function feed(f: Fixture, exe: { setInput(name: string, data: Float32Array): void }): void {
  for (const [id, t] of Object.entries({ ...f.batch.inputs, ...f.batch.labels })) exe.setInput(id, Float32Array.from(t.values));
}

function loadWeights(f: Fixture, backend: CpuBackend): void {
  for (const [name, t] of Object.entries(f.weights)) backend.writeTensor(name, Float32Array.from(t.values));
}

describe('PyTorch parity', () => {
  it('has fixtures for every activation, a conv net, both seed examples and each loss', () => {
    const names = fixtures.map((f) => f.name);
    for (const n of ['mlp_relu', 'mlp_sigmoid', 'mlp_tanh', 'mlp_leaky_relu', 'mlp_softplus', 'convnet', 'seed_function', 'seed_logistic']) {
      expect(names).toContain(n);
    }
    const ops = new Set(fixtures.flatMap((f) => f.graph.nodes.map((n) => n.op)));
    for (const loss of ['mse', 'softmax_cross_entropy', 'sigmoid_cross_entropy', 'hinge', 'l2']) expect(ops).toContain(loss);
  });

  describe.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    const nodes = nodesOf(f);
    const targets = resolveTargets(nodes, f.training);

    it('objective, parameter gradients and input gradients', async () => {
      const backend = new CpuBackend();
      loadWeights(f, backend);
      const { plan } = gradProgram(nodes, targets, batchSize(f), { nodes: true });
      const exe = backend.load(plan);
      feed(f, exe);
      exe.run({ seed: 1, step: 1 });
      expectClose(exe.readSync('objective'), { shape: [], values: [f.objective] }, 'objective');
      for (const [name, g] of Object.entries(f.gradients)) expectClose(exe.readSync(`grad:${name}`), g, `d objective / d ${name}`);
      for (const [id, g] of Object.entries(f.inputGradients)) expectClose(exe.readSync(`adjoint:${id}`), g, `d objective / d input ${id}`);
    });

    it.each(f.runs.map((r) => [JSON.stringify(r.optimizer), r] as const))('3 steps of %s', async (_opt, run) => {
      const backend = new CpuBackend();
      loadWeights(f, backend);
      const exe = backend.load(trainProgram(nodes, targets, run.optimizer, batchSize(f), { clipNorm: run.optimizer.clipNorm }).plan);
      feed(f, exe);
      for (let step = 1; step <= 3; step++) {
        exe.run({ seed: 1, step }, 'compute');
        expectClose(exe.readSync('objective'), { shape: [], values: [run.objectives[step - 1]] }, `objective before step ${step}`);
        exe.run({ seed: 1, step }, 'update');
      }
      for (const [name, w] of Object.entries(run.weights)) expectClose(backend.readTensorSync(name), w, `${name} after 3 steps`);
    });
  });
});
