import type { Backend } from '../engine/backends/backend';
import type { GraphNode } from '../engine/graph/expand';
import { initTensor } from '../engine/graph/init';
import { resolveTargets, trainProgram, type OptimizerSpec } from '../engine/train/program';
import { Rng } from '../engine/util/rng';

/** The benchmark MLP: 784-256-256-10, relu, softmax cross-entropy, SGD lr 0.01, batch 128. */
export const MLP = { input: 784, hidden: [256, 256], classes: 10, batch: 128, lr: 0.01, seed: 1 } as const;

export const MLP_OPTIMIZER: OptimizerSpec = { type: 'sgd', lr: MLP.lr };

/** Multiply-add FLOPs of one training step: forward, and two matmuls each for the backward pass. */
export const MLP_STEP_FLOPS = (() => {
  const dims = [MLP.input, ...MLP.hidden, MLP.classes];
  let macs = 0;
  for (let i = 0; i + 1 < dims.length; i++) macs += dims[i] * dims[i + 1];
  return 3 * 2 * MLP.batch * macs;
})();

/** The MLP as a project graph (project-format.md); another input, hidden and class count for other benchmarks. */
export function mlpGraph(dims: { input: number; hidden: readonly [number, number]; classes: number } = MLP): GraphNode[] {
  return [
    { id: 'x', op: 'input', attrs: { shape: [dims.input] } },
    { id: 'y', op: 'label', attrs: { kind: 'class' } },
    { id: 'h1', op: 'dense', attrs: { units: dims.hidden[0], activation: 'relu' }, inputs: { x: 'x' } },
    { id: 'h2', op: 'dense', attrs: { units: dims.hidden[1], activation: 'relu' }, inputs: { x: 'h1' } },
    { id: 'out', op: 'dense', attrs: { units: dims.classes }, inputs: { x: 'h2' } },
    { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
  ];
}

/** One random batch: pixels in [0, 1) and class labels, the same for every implementation. */
export function mlpBatch(): { x: Float32Array; labels: Int32Array } {
  const rng = new Rng(MLP.seed, 11);
  const x = new Float32Array(MLP.batch * MLP.input);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
  const labels = new Int32Array(MLP.batch);
  for (let i = 0; i < labels.length; i++) labels[i] = Math.floor(rng.uniform() * MLP.classes);
  return { x, labels };
}

/**
 * The training step of `nodes` at `batch` (SGD as MLP_OPTIMIZER unless `optimizer` says otherwise, weights
 * initialised from MLP.seed) loaded on `backend`, its inputs set from `feeds`: ready to run step after step.
 */
export function loadTrainStep<B extends Backend>(backend: B, nodes: GraphNode[], batch: number, feeds: Record<string, Float32Array>, optimizer = MLP_OPTIMIZER): ReturnType<B['load']> {
  const { plan, expansion } = trainProgram(nodes, resolveTargets(nodes), optimizer, batch);
  for (const p of expansion.params) backend.writeTensor(p.name, initTensor(p.name, p.shape, p.init, MLP.seed));
  const exe = backend.load(plan) as ReturnType<B['load']>;
  for (const [name, v] of Object.entries(feeds)) exe.setInput(name, v);
  return exe;
}
