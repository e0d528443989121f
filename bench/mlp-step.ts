import type { Scalar, Tensor2D } from '@tensorflow/tfjs';
import { makeBackend, ONE_THREAD, onOneThread, type Bench, type BenchContext } from './context';
import { loadTrainStep, MLP, MLP_STEP_FLOPS, mlpBatch, mlpGraph } from './mlp';
import { emitAgainst, note } from './report';
import { peerName, tfjsOn, type PeerBackend } from './tfjs';
import { measure } from './timing';
import { webgpuMlpStep } from './webgpu';

/** Seconds per training step of our engine: the train plan compiled once, run on the same batch. */
function ours(ctx: BenchContext): number {
  const backend = makeBackend(ctx.backend);
  const { x, labels } = mlpBatch();
  const exe = loadTrainStep(backend, mlpGraph(), MLP.batch, { x, y: Float32Array.from(labels) });
  let step = 0;
  const t = measure(() => exe.run({ seed: MLP.seed, step: ++step }));
  backend.dispose();
  return t.seconds;
}

/** Seconds per training step of TensorFlow.js: optimizer.minimize with tf.train.sgd, returning the loss. */
async function peer(backend: PeerBackend): Promise<number | undefined> {
  const tf = await tfjsOn(backend);
  if (!tf) return undefined;
  const { x: xData, labels } = mlpBatch();
  const dims = [MLP.input, ...MLP.hidden, MLP.classes];
  // He-normal weights [in, out] (tfjs's layout), zero biases; the initial tensors are disposed once copied.
  const initial = dims.slice(1).flatMap((out, i) => [tf.randomNormal([dims[i], out], 0, Math.sqrt(2 / dims[i]), 'float32', MLP.seed + i), tf.zeros([out])]);
  const vars = initial.map((t) => tf.variable(t));
  tf.dispose(initial);
  const x = tf.tensor2d(xData, [MLP.batch, MLP.input]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), MLP.classes));
  const optimizer = tf.train.sgd(MLP.lr);
  const loss = () => {
    let h: Tensor2D = x;
    for (let l = 0; l < dims.length - 1; l++) {
      h = tf.add(tf.matMul(h, vars[2 * l]), vars[2 * l + 1]);
      if (l < dims.length - 2) h = tf.relu(h);
    }
    return tf.losses.softmaxCrossEntropy(y, h) as Scalar;
  };
  const t = measure(() => {
    const cost = optimizer.minimize(loss, true, vars)!;
    cost.dataSync();
    cost.dispose();
  });
  tf.dispose([...vars, x, y]);
  optimizer.dispose();
  return t.seconds;
}

export const mlpStep: Bench = {
  name: 'mlp_step',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    if (ctx.backend === 'webgpu') return webgpuMlpStep();
    note('mlp_step: ours');
    const s = ours(ctx);
    const peers: { name: string; seconds: number }[] = [];
    const single = onOneThread('mlp_step', () => ours(ctx));
    if (single !== undefined) peers.push({ name: ONE_THREAD, seconds: single });
    for (const b of ['cpu', 'wasm'] as const) {
      note(`mlp_step: ${peerName(b)}`);
      const p = await peer(b);
      if (p !== undefined) peers.push({ name: peerName(b), seconds: p });
    }
    emitAgainst({ bench: 'mlp_step', backend: ctx.backend, value: 1 / s, unit: 'steps/s' }, peers.map((p) => ({ name: p.name, value: 1 / p.seconds })));
    emitAgainst(
      { bench: 'mlp_step', backend: ctx.backend, value: MLP_STEP_FLOPS / s / 1e9, unit: 'GFLOP/s' },
      peers.map((p) => ({ name: p.name, value: MLP_STEP_FLOPS / p.seconds / 1e9 })),
    );
  },
};
