import { CpuBackend } from '../engine/backends/cpu/cpu-backend';
import type { Backend } from '../engine/backends/backend';
import { useMatmulWorkers } from '../engine/backends/cpu/kernels';
import { Rng } from '../engine/util/rng';
import { note } from './report';

/** Our engine's backends that the benchmarks can run on. */
export const BACKENDS = ['cpu', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BenchContext {
  backend: BackendName;
}

/** One benchmark: `--only NAME` runs it alone. It prints its own figures (report.ts). */
export interface Bench {
  name: string;
  /** The backends it measures (default: cpu only); `--backend` runs only the benchmarks that list it. */
  backends?: readonly BackendName[];
  run(ctx: BenchContext): Promise<void>;
}

/** A fresh CPU backend (its own persistent tensors); the WebGPU one starts asynchronously, in webgpu.ts. */
export function makeBackend(name: BackendName): Backend {
  if (name !== 'cpu') throw new Error(`bench: the ${name} backend is made in bench/webgpu.ts`);
  return new CpuBackend();
}

/** Seeded data, the same for us and the peers. */
export function randomArray(n: number, seed: number, low = -1, high = 1): Float32Array {
  const rng = new Rng(seed, 7);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.range(low, high);
  return out;
}

/** The peer name of our own engine with its matmul on the calling thread alone (no worker threads). */
export const ONE_THREAD = 'ours-1-thread';

/**
 * Where our CPU backend's matmul runs on worker threads by default, `time` run again with the matmul on the calling
 * thread alone: its result is the ONE_THREAD peer's (what the threads gain); undefined where there are no workers.
 */
export function onOneThread<T>(what: string, time: () => T): T | undefined {
  const threads = useMatmulWorkers(undefined);
  if (threads === 1) return undefined;
  note(`${what}: ours on one thread (by default ${threads})`);
  useMatmulWorkers(0);
  try {
    return time();
  } finally {
    useMatmulWorkers(undefined);
  }
}
