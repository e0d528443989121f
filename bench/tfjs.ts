import { createRequire } from 'node:module';
import path from 'node:path';
import { note } from './report';

/** TensorFlow.js, loaded only when a peer runs (it takes a while to import). */
export type Tf = typeof import('@tensorflow/tfjs');

export type PeerBackend = 'cpu' | 'wasm';

/** The peers' names in the figures. */
export const peerName = (b: PeerBackend): string => `tfjs-${b}`;

let loaded: Promise<Tf> | undefined;

async function load(): Promise<Tf> {
  const tf = await import('@tensorflow/tfjs');
  // Production mode: no debug checks, and no "install tfjs-node" banner on the console.
  tf.enableProdMode();
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // The .wasm binaries come from node_modules, read from disk: never fetched.
  const require = createRequire(import.meta.url);
  const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
  wasm.setWasmPaths(dist);
  return tf;
}

const described = new Set<PeerBackend>();

/**
 * TensorFlow.js switched to `backend`, or undefined (with a note on stderr) when that backend cannot start, so that
 * the benchmark still reports our figure.
 */
export async function tfjsOn(backend: PeerBackend): Promise<Tf | undefined> {
  try {
    loaded ??= load();
    const tf = await loaded;
    if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') returned false`);
    await tf.ready();
    if (!described.has(backend)) {
      described.add(backend);
      if (backend === 'wasm') {
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
        note(`tfjs ${tf.version.tfjs} wasm backend: simd ${simd}, threads ${threads}`);
      } else note(`tfjs ${tf.version.tfjs} ${backend} backend`);
    }
    return tf;
  } catch (e) {
    note(`peer ${peerName(backend)} skipped: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}
