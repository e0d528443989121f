/**
 * The matmul kernel's k step and stages, measured on this device (kernels/matmul.ts MatmulTuning): once per device
 * in a process, when a backend is made on a GPU. For each tile size, every configuration that fits the device's
 * workgroup memory times a square product of the size at which matmulLayout picks that tile (TUNING_SIZES), the best
 * of RUNS runs of DISPATCHES dispatches in a command buffer; another configuration replaces the default only where it
 * is faster by MARGIN, so that noise leaves the default. Every configuration computes the same bits, so this changes
 * the speed only. Six products of 2 to 17 GFLOP, each run 13 times: a fraction of a second on a big GPU. A slow one
 * stops early, keeping the defaults where the default's product takes over SLOW_SECONDS, and the configurations timed
 * within BUDGET_MS. Software adapters (whose speed says nothing of a GPU's, and which would take minutes) and Dawn's
 * Null backend (which runs nothing) keep the defaults, as does a device where measuring fails.
 */
import { NULL_ADAPTER } from './gpu';
import { DEFAULT_TUNING, MATMUL_CONFIGS, matmulKernel, matmulWorkgroupBytes, type MatmulConfig, type MatmulTuning } from './kernels/matmul';
import type { WebGpuBackend } from './webgpu-backend';

/** The square product that each tile size is timed on: n = 1024 takes the 64-tile, 2048 the 128-tile. */
export const TUNING_SIZES: Readonly<Record<MatmulConfig['tile'], number>> = { 64: 1024, 128: 2048 };
const RUNS = 3;
const DISPATCHES = 4;
/** Another configuration replaces the default where it takes at most this share of the default's time. */
const MARGIN = 0.95;
/** A tile size is not tuned where the default's product takes longer than this (under 0.9 TFLOP/s at n = 2048). */
const SLOW_SECONDS = 0.02;
/** No configuration is started after this long. */
const BUDGET_MS = 1500;

const isDefault = (c: MatmulConfig) => c.bk === DEFAULT_TUNING[c.tile].bk && c.stages === DEFAULT_TUNING[c.tile].stages;

/** Per tile size, the fastest of these timed configurations, where it beats the default's time by MARGIN. */
export function chooseTuning(seconds: ReadonlyMap<MatmulConfig, number>): MatmulTuning {
  const tuning = { ...DEFAULT_TUNING };
  for (const tile of [64, 128] as const) {
    const timed = [...seconds].filter(([c]) => c.tile === tile);
    if (!timed.length) continue;
    const [best, time] = timed.reduce((x, y) => (y[1] < x[1] ? y : x));
    const base = timed.find(([c]) => isDefault(c))?.[1];
    if (base === undefined || time <= MARGIN * base) tuning[tile] = { bk: best.bk, stages: best.stages };
  }
  return tuning;
}

/**
 * Seconds of a product of each configuration that fits the device, at `sizes` (TUNING_SIZES), each tile's default
 * first; none started after `budgetMs`, and none after a default slower than SLOW_SECONDS for its tile.
 */
export async function timeConfigurations(backend: WebGpuBackend, sizes = TUNING_SIZES, budgetMs = BUDGET_MS): Promise<Map<MatmulConfig, number>> {
  const { device } = backend;
  const seconds = new Map<MatmulConfig, number>();
  const deadline = performance.now() + budgetMs;
  for (const tile of [64, 128] as const) {
    const n = sizes[tile];
    const operands = [0, 1, 2].map(() => ({ buffer: backend.createStorage(n * n, 'a matmul timed to tune the kernel'), bytes: n * n * 4 }));
    // The default first (B's tile padded where B is read transposed: a configuration chosen must fit that too).
    const configs = MATMUL_CONFIGS.filter((c) => c.tile === tile && matmulWorkgroupBytes(c, true) <= device.limits.maxComputeWorkgroupStorageSize);
    try {
      for (const config of [...configs.filter(isDefault), ...configs.filter((c) => !isDefault(c))]) {
        if (performance.now() >= deadline) break;
        const bound = backend.bindKernel(matmulKernel({ aShape: [n, n], bShape: [n, n], outShape: [n, n], transA: false, transB: false }, config), operands);
        // once first: the pipeline compiled, the caches warm
        backend.dispatch(bound);
        await device.queue.onSubmittedWorkDone();
        let best = Infinity;
        for (let r = 0; r < RUNS; r++) {
          const t0 = performance.now();
          backend.dispatch(bound, DISPATCHES);
          await device.queue.onSubmittedWorkDone();
          best = Math.min(best, (performance.now() - t0) / 1000 / DISPATCHES);
        }
        bound.params?.destroy();
        seconds.set(config, best);
        if (isDefault(config) && best > SLOW_SECONDS) break;
      }
    } finally {
      for (const x of operands) x.buffer.destroy();
    }
  }
  return seconds;
}

const tunings = new WeakMap<GPUDevice, Promise<MatmulTuning>>();

/** The device's tuning: measured the first time on a GPU, the defaults elsewhere (see above). */
export function deviceTuning(backend: WebGpuBackend): Promise<MatmulTuning> {
  if (backend.software || backend.adapter === NULL_ADAPTER) return Promise.resolve(DEFAULT_TUNING);
  let tuning = tunings.get(backend.device);
  if (!tuning) {
    tuning = timeConfigurations(backend).then(chooseTuning, () => DEFAULT_TUNING);
    tunings.set(backend.device, tuning);
  }
  return tuning;
}
