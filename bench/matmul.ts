import { Builder } from '../engine/ir/builder';
import { compilePlan } from '../engine/plan/plan';
import { makeBackend, ONE_THREAD, onOneThread, randomArray, type Bench, type BenchContext } from './context';
import { emitAgainst, note } from './report';
import { peerName, tfjsOn, type PeerBackend } from './tfjs';
import { measure } from './timing';
import { webgpuMatmul } from './webgpu';

export const MATMUL_SIZES = [256, 512, 1024] as const;

/** Seconds per n x n matmul of our engine: a plan of one matmul step. */
function ours(ctx: BenchContext, n: number, a: Float32Array, b: Float32Array): number {
  const g = new Builder();
  const c = g.matmul(g.input('a', [n, n]), g.input('b', [n, n]));
  const backend = makeBackend(ctx.backend);
  const exe = backend.load(compilePlan({ c }));
  exe.setInput('a', a);
  exe.setInput('b', b);
  const t = measure(() => exe.run({ seed: 0, step: 0 }));
  backend.dispose();
  return t.seconds;
}

/** Seconds per tf.matMul, its result read back (dataSync) inside the timed call. */
async function peer(backend: PeerBackend, n: number, a: Float32Array, b: Float32Array): Promise<number | undefined> {
  const tf = await tfjsOn(backend);
  if (!tf) return undefined;
  const ta = tf.tensor2d(a, [n, n]);
  const tb = tf.tensor2d(b, [n, n]);
  const t = measure(() => {
    const c = tf.matMul(ta, tb);
    c.dataSync();
    c.dispose();
  });
  tf.dispose([ta, tb]);
  return t.seconds;
}

export const matmul: Bench = {
  name: 'matmul',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    if (ctx.backend === 'webgpu') return webgpuMatmul();
    for (const n of MATMUL_SIZES) {
      const a = randomArray(n * n, 1);
      const b = randomArray(n * n, 2);
      const flops = 2 * n ** 3;
      note(`matmul n=${n}: ours`);
      const s = ours(ctx, n, a, b);
      const peers: { name: string; value: number }[] = [];
      const single = onOneThread(`matmul n=${n}`, () => ours(ctx, n, a, b));
      if (single !== undefined) peers.push({ name: ONE_THREAD, value: flops / single / 1e9 });
      for (const pb of ['cpu', 'wasm'] as const) {
        note(`matmul n=${n}: ${peerName(pb)}`);
        const p = await peer(pb, n, a, b);
        if (p !== undefined) peers.push({ name: peerName(pb), value: flops / p / 1e9 });
      }
      emitAgainst({ bench: 'matmul', backend: ctx.backend, n, value: flops / s / 1e9, unit: 'GFLOP/s' }, peers);
    }
  },
};
