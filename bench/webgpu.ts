/**
 * The figures of `--backend webgpu`, on whatever adapter Dawn finds (named in each line's `adapter`): matmul GFLOP/s
 * (the `matmul` bench), MLP training steps/s (`mlp_step`), the cost of one dispatch (`dispatch`), and the matmul
 * kernel's every configuration side by side (`matmul_variants`, to choose the defaults by on a real GPU), a
 * convolution's products as implicit GEMMs beside im2col + matmul (`conv_variants`), the matmul with Tint's bounds
 * checks pared (`matmul_robustness`), and the host's share of a step and a dispatch, on Dawn's Null backend
 * (`host_cost`). PyTorch, the GPU peer, runs on the GPU machine (../shared/docs/gpu.md).
 *
 * GPU work is asynchronous: `run()` only encodes and submits. A timed round therefore ends by waiting for the GPU
 * (`onSubmittedWorkDone`, or the read-back that training does anyway), and its time covers all the work submitted in
 * it. Rounds submit many calls back to back, as a training loop does, so the figures are throughput, not latency.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Builder } from '../engine/ir/builder';
import { compilePlan } from '../engine/plan/plan';
import type { OptimizerSpec } from '../engine/train/program';
import type { GraphNode } from '../engine/graph/expand';
import { CpuBackend } from '../engine/backends/cpu/cpu-backend';
import { AUTO_MIN_STEP_FLOPS, stepFlops } from '../engine/backends/select';
import { StudioError } from '../engine/util/errors';
import { hostOnlyDevice, timingDevice, toggledDevice, type GpuInfo } from '../engine/backends/webgpu/gpu';
import { WebGpuBackend, WebGpuExecutable, type BoundKernel } from '../engine/backends/webgpu/webgpu-backend';
import { gpuKernels } from '../engine/backends/webgpu/kernels';
import { MATMUL_CONFIGS, matmulKernel, matmulLayout, matmulSplits, matmulWorkgroupBytes, splitSumKernel, type MatmulOperands } from '../engine/backends/webgpu/kernels/matmul';
import { randomArray, type Bench } from './context';
import { loadTrainStep, MLP, MLP_STEP_FLOPS, mlpBatch, mlpGraph } from './mlp';
import { emit, emitAgainst, note } from './report';
import { measure, median } from './timing';

const MATMUL_SIZES = [512, 1024, 2048, 4096] as const;
const RUN = { seed: 0, step: 0 };
/** Training reads the objective back once every this many steps (the rest stay queued on the GPU). */
const READ_EVERY = 10;
const DISPATCH_OPS = 1000;

/**
 * Seconds per call: warm-up calls for 0.2 s (at least one), then rounds of calls of about 0.2 s each, each round
 * ended by `finish` (waiting for the GPU), until there are 3 rounds and 1 s, or 5 rounds; the median over rounds.
 */
async function measureGpu(call: () => unknown, finish: () => Promise<unknown>): Promise<number> {
  const now = () => performance.now() / 1000;
  const start = now();
  let warm = 0;
  do {
    await call();
    await finish();
    warm++;
  } while (now() - start < 0.2);
  const perRound = Math.max(1, Math.ceil((0.2 * warm) / (now() - start)));
  const perCall: number[] = [];
  let total = 0;
  while (perCall.length < 5 && (perCall.length < 3 || total < 1)) {
    const t0 = now();
    for (let i = 0; i < perRound; i++) await call();
    await finish();
    const dt = now() - t0;
    total += dt;
    perCall.push(dt / perRound);
  }
  return median(perCall);
}

/** Seconds for one run of the bound kernels in turn, measured over `repeat` runs to a command buffer. */
async function boundSeconds(gpu: WebGpuBackend, bound: BoundKernel | BoundKernel[], repeat = 1): Promise<number> {
  const s = await measureGpu(
    () => gpu.dispatch(bound, repeat),
    () => gpu.device.queue.onSubmittedWorkDone(),
  );
  return s / repeat;
}

/** The backend, or undefined (with a note) when this machine has no adapter. */
async function gpuBackend(what: string): Promise<WebGpuBackend | undefined> {
  try {
    const gpu = await WebGpuBackend.create();
    note(`${what}: WebGPU on ${gpu.adapter}${gpu.software ? ' (a software adapter)' : ''}`);
    return gpu;
  } catch (e) {
    note(`${what} skipped: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/** Runs one figure; a missing kernel (a StudioError at load) is a note, not the end of the run. */
async function figure(what: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (!(e instanceof StudioError)) throw e;
    note(`${what} skipped: ${e.message}`);
  }
}

/** GPU storage buffers holding these values, as bindKernel binds them. */
function stored(gpu: WebGpuBackend, values: readonly Float32Array[]): { buffer: GPUBuffer; bytes: number }[] {
  return values.map((x) => {
    const buffer = gpu.createStorage(x.length, 'a bench operand');
    gpu.write(buffer, x);
    return { buffer, bytes: x.byteLength };
  });
}

/** The largest |a - b| / |b| over a few entries of C = A B, recomputed here in float64. */
function spotCheck(n: number, a: Float32Array, b: Float32Array, c: Float32Array): number {
  let worst = 0;
  for (let s = 0; s < 8; s++) {
    const i = (s * 7919) % n;
    const j = (s * 104729) % n;
    let want = 0;
    for (let p = 0; p < n; p++) want += a[i * n + p] * b[p * n + j];
    worst = Math.max(worst, Math.abs(c[i * n + j] - want) / Math.max(Math.abs(want), 1e-6));
  }
  return worst;
}

export async function webgpuMatmul(): Promise<void> {
  const gpu = await gpuBackend('matmul');
  if (!gpu) return;
  const sizes = gpu.software ? MATMUL_SIZES.slice(0, 1) : MATMUL_SIZES;
  if (gpu.software) note(`matmul: a software adapter runs ~1 GFLOP/s, so only n = ${sizes.join(', ')} (not ${MATMUL_SIZES.join(', ')})`);
  for (const n of sizes) {
    await figure(`matmul n=${n}`, async () => {
      note(`matmul n=${n}: ours on webgpu`);
      const g = new Builder();
      const exe = gpu.load(compilePlan({ c: g.matmul(g.input('a', [n, n]), g.input('b', [n, n])) }));
      const a = randomArray(n * n, 1);
      const b = randomArray(n * n, 2);
      exe.setInput('a', a);
      exe.setInput('b', b);
      const s = await measureGpu(
        () => exe.run(RUN),
        () => gpu.device.queue.onSubmittedWorkDone(),
      );
      note(`matmul n=${n}: largest relative error of 8 entries against float64: ${spotCheck(n, a, b, await exe.read('c')).toExponential(1)}`);
      const { tile, bk, stages } = matmulLayout({ aShape: [n, n], bShape: [n, n], outShape: [n, n], transA: false, transB: false }, gpu.matmulTuning);
      emit({ bench: 'matmul', backend: 'webgpu', adapter: gpu.adapter, n, tile, bk, stages, value: (2 * n ** 3) / s / 1e9, unit: 'GFLOP/s' });
    });
  }
  gpu.dispose();
}

/** The MLP step's matmuls at batch 128, as the folds run them: x W^T (forward), g W (input gradient), g^T x (weights). */
const MLP_MATMULS = [
  { m: 128, k: 784, n: 256, transA: false, transB: true },
  { m: 128, k: 256, n: 256, transA: false, transB: false },
  { m: 256, k: 128, n: 784, transA: true, transB: false },
] as const;
/** Dispatches a timed call encodes in one command buffer for the MLP's small matmuls, so that submits do not dominate. */
const SMALL_REPEAT = 50;
/** The split-K variants timed on the MLP's matmuls. */
const SPLITS = [2, 4, 8] as const;

/**
 * GFLOP/s of each matmul kernel configuration (tile, k step, stages) that fits the adapter's workgroup memory: at the
 * matmul bench's square sizes, one product per dispatch, and at the MLP step's three matmul shapes, 50 dispatches to
 * a command buffer; `default` marks the configuration the backend picks for the shape (by its tuning on this device,
 * engine/backends/webgpu/tune.ts).
 */
export const matmulVariants: Bench = {
  name: 'matmul_variants',
  backends: ['webgpu'],
  async run() {
    const gpu = await gpuBackend('matmul_variants');
    if (!gpu) return;
    const sizes = gpu.software ? MATMUL_SIZES.slice(0, 1) : MATMUL_SIZES;
    const shapes = [...sizes.map((n) => ({ m: n, k: n, n, transA: false, transB: false, repeat: 1 })), ...MLP_MATMULS.map((s) => ({ ...s, repeat: SMALL_REPEAT }))];
    for (const { m, k, n, transA, transB, repeat } of shapes) {
      const operands = { aShape: transA ? [k, m] : [m, k], bShape: transB ? [n, k] : [k, n], outShape: [m, n], transA, transB };
      const chosen = matmulLayout(operands, gpu.matmulTuning);
      const storage = stored(gpu, [randomArray(m * k, 1), randomArray(k * n, 2), new Float32Array(m * n)]);
      const shape = `${m}x${k}x${n}${transA ? ' A^T' : ''}${transB ? ' B^T' : ''}`;
      /** GFLOP/s of the bound kernels run in turn, `repeat` times over in a command buffer. */
      const gflops = async (bound: BoundKernel | BoundKernel[]) => (2 * m * k * n) / (await boundSeconds(gpu, bound, repeat)) / 1e9;
      const line = { bench: 'matmul_variants', backend: 'webgpu', adapter: gpu.adapter, m, k, n, transA, transB };
      for (const config of MATMUL_CONFIGS) {
        const what = `matmul_variants ${shape} tile ${config.tile} k step ${config.bk} stages ${config.stages}`;
        const bytes = matmulWorkgroupBytes(config, transB);
        if (bytes > gpu.device.limits.maxComputeWorkgroupStorageSize) {
          note(`${what} skipped: needs ${bytes} bytes of workgroup memory, the adapter has ${gpu.device.limits.maxComputeWorkgroupStorageSize}`);
          continue;
        }
        note(what);
        const value = await gflops(gpu.bindKernel(matmulKernel(operands, config), storage));
        const isDefault = matmulSplits(chosen) === 1 && chosen.tile === config.tile && chosen.bk === config.bk && chosen.stages === config.stages;
        emit({ ...line, ...config, splits: 1, default: isDefault, value, unit: 'GFLOP/s' });
      }
      // Split-K, for the MLP's small products (few output tiles, long k): the default tile, k in `splits` ranges,
      // then the split sum, both dispatches timed; the backend's own choice among them.
      const chosenSplits = matmulSplits(chosen);
      for (const splits of repeat > 1 ? [...new Set([...SPLITS, chosenSplits])].filter((x) => x > 1).sort((a, b) => a - b) : []) {
        note(`matmul_variants ${shape} split-K in ${splits}`);
        const parts = gpu.createStorage(splits * m * n, 'split-K parts');
        const value = await gflops([
          gpu.bindKernel(matmulKernel(operands, gpu.matmulTuning, splits), [storage[0], storage[1], { buffer: parts, bytes: splits * m * n * 4 }]),
          gpu.bindKernel(splitSumKernel(m * n, splits), [{ buffer: parts, bytes: splits * m * n * 4 }, storage[2]]),
        ]);
        emit({ ...line, tile: chosen.tile, bk: chosen.bk, stages: chosen.stages, splits, default: splits === chosenSplits, value, unit: 'GFLOP/s' });
        parts.destroy();
      }
      for (const x of storage) x.buffer.destroy();
    }
    gpu.dispose();
  },
};

/**
 * Convolutions: [images, channels, h, w] images, `filters` filters of kh x kw, stride 1, padded to the same size.
 * The digit-images example's two layers at its batch of 16, and two larger layers (the second with channels enough for
 * the backend to run its input gradient as an implicit GEMM: INPUT_GRADIENT_MIN_CHANNELS).
 */
const CONVS = [
  { image: [16, 1, 16, 16], filters: 8, k: 3 },
  { image: [16, 8, 8, 8], filters: 16, k: 3 },
  { image: [32, 32, 32, 32], filters: 64, k: 3 },
  { image: [32, 64, 16, 16], filters: 64, k: 3 },
] as const;

/**
 * GFLOP/s of a convolution's three products, forward (W cols), weight gradient (g cols^T, summed over the images) and
 * input gradient (col2im of W^T g), as the backend runs them, each one implicit GEMM (the first two reading the
 * columns from the image as they load them, the third the gradient's columns with the filter flipped), against its
 * peer: the im2col dispatch that writes the columns, then the same product on them (the vec4 kernel where the shapes
 * allow), and for the input gradient the product W^T g into the columns' gradient, then the col2im. Each pair of
 * lines has the ratio; 50 calls to a command buffer where the product is small.
 */
export const convVariants: Bench = {
  name: 'conv_variants',
  backends: ['webgpu'],
  async run() {
    const gpu = await gpuBackend('conv_variants');
    if (!gpu) return;
    for (const { image, filters, k } of gpu.software ? CONVS.slice(0, 2) : CONVS) {
      const [n, c, h, w] = image;
      const window = { kh: k, kw: k, sh: 1, sw: 1, ph: (k - 1) / 2, pw: (k - 1) / 2 };
      const [rows, positions] = [c * k * k, h * w];
      const cols = [n, rows, positions];
      // (`out` takes the forward's value and the weight gradient)
      const sizes = [n * c * h * w, filters * rows, n * filters * positions, n * rows * positions, Math.max(n * filters * positions, filters * rows), n * c * h * w];
      const [x, weight, grad, columns, out, dx] = stored(gpu, sizes.map((size, i) => randomArray(size, i + 1)));
      const im2col = gpu.bindKernel(gpuKernels.im2col({ op: 'im2col', attrs: { ...window }, inShapes: [image], outShape: cols }), [x, columns]);
      const matmul = (operands: Omit<MatmulOperands, 'transA' | 'transB'> & { transA?: boolean; transB?: boolean }, bound: (typeof x)[]) =>
        gpu.bindKernel(matmulKernel({ transA: false, transB: false, ...operands }, gpu.matmulTuning), bound);
      const forward = { aShape: [filters, rows], bShape: cols, outShape: [n, filters, positions] };
      const weightGradient = { aShape: [n, filters, positions], bShape: cols, outShape: [filters, rows], transB: true, batchSummed: true };
      const products = [
        {
          of: 'forward',
          peerName: 'im2col + matmul',
          result: out,
          elements: n * filters * positions,
          peer: [im2col, matmul(forward, [weight, columns, out])],
          ours: [matmul({ ...forward, bColumns: { image, window } }, [weight, x, out])],
        },
        {
          of: 'weight gradient',
          peerName: 'im2col + matmul',
          result: out,
          elements: filters * rows,
          peer: [im2col, matmul(weightGradient, [grad, columns, out])],
          ours: [matmul({ ...weightGradient, bColumns: { image, window } }, [grad, x, out])],
        },
        {
          of: 'input gradient',
          peerName: 'matmul + col2im',
          result: dx,
          elements: n * c * h * w,
          peer: [
            matmul({ aShape: [filters, rows], bShape: [n, filters, positions], outShape: cols, transA: true }, [weight, grad, columns]),
            gpu.bindKernel(gpuKernels.col2im({ op: 'col2im', attrs: { ...window, imageShape: image }, inShapes: [cols], outShape: image }), [columns, dx]),
          ],
          ours: [
            matmul(
              { aShape: [c, filters * k * k], bShape: [n, filters * k * k, positions], outShape: [n, c, positions], aFilter: k * k, bColumns: { image: [n, filters, h, w], window: { ...window, ph: k - 1 - window.ph, pw: k - 1 - window.pw } } },
              [weight, grad, dx],
            ),
          ],
        },
      ];
      for (const { of, peerName, result, elements, peer: peerKernels, ours } of products) {
        const flops = 2 * n * filters * rows * positions;
        const repeat = flops < 1e9 ? SMALL_REPEAT : 1;
        const gflops = async (bound: BoundKernel[]) => flops / (await boundSeconds(gpu, bound, repeat)) / 1e9;
        const what = `conv_variants ${image.join('x')} ${filters} filters ${k}x${k}, ${of}`;
        note(`${what}: the columns (or their gradient) written, then the product (or the col2im)`);
        const peer = await gflops(peerKernels);
        const want = await gpu.readBuffer(result.buffer, elements);
        note(`${what}: one implicit GEMM`);
        const value = await gflops(ours);
        const got = await gpu.readBuffer(result.buffer, elements);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        note(`${what}: largest difference of the two, relative to the largest entry: ${(got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0) / scale).toExponential(1)}`);
        emitAgainst({ bench: 'conv_variants', backend: 'webgpu', adapter: gpu.adapter, image: image.join('x'), filters, kernel: k, product: of, value, unit: 'GFLOP/s' }, [{ name: peerName, value: peer }]);
      }
      for (const b of [x, weight, grad, columns, out, dx]) b.buffer.destroy();
    }
    gpu.dispose();
  },
};

/**
 * Dawn toggles that change the bounds checks Tint puts on array accesses: integer range analysis skips those it can
 * prove needless (safe, so the engine could turn it on), and `disable_robustness` drops them all (unsafe: a figure
 * of what they cost, not an option for the app).
 */
const ROBUSTNESS = [
  { name: 'range analysis', toggles: ['enable_integer_range_analysis_in_robustness'] },
  { name: 'no robustness', toggles: ['allow_unsafe_apis', 'disable_robustness'] },
] as const;

/**
 * The square matmuls' GFLOP/s (the kernel the default device's tuning picks, the same on every device: each device's
 * own tuning could pick another, which would be a second difference) on devices with the ROBUSTNESS toggles, each
 * against the default device's, with the ratio: whether Tint's bounds checks cost the matmul anything on this GPU.
 */
export const matmulRobustness: Bench = {
  name: 'matmul_robustness',
  backends: ['webgpu'],
  async run() {
    const gpu = await gpuBackend('matmul_robustness');
    if (!gpu) return;
    const sizes = gpu.software ? MATMUL_SIZES.slice(0, 1) : MATMUL_SIZES;
    const tuning = gpu.matmulTuning;
    /** GFLOP/s of the n x n matmul on this backend. */
    const gflops = async (on: WebGpuBackend, n: number) => {
      const storage = stored(on, [randomArray(n * n, 1), randomArray(n * n, 2), new Float32Array(n * n)]);
      const operands = { aShape: [n, n], bShape: [n, n], outShape: [n, n], transA: false, transB: false };
      const bound = on.bindKernel(matmulKernel(operands, tuning), storage);
      const s = await boundSeconds(on, bound);
      for (const x of storage) x.buffer.destroy();
      return (2 * n ** 3) / s / 1e9;
    };
    const base = new Map<number, number>();
    for (const n of sizes) {
      note(`matmul_robustness n=${n}: the default device`);
      base.set(n, await gflops(gpu, n));
    }
    gpu.dispose();
    for (const { name, toggles } of ROBUSTNESS) {
      await onDeviceOfItsOwn(() => toggledDevice(toggles), `matmul_robustness ${name} skipped: no such device here`, async (other, extras) => {
        for (const n of sizes) {
          note(`matmul_robustness n=${n}: ${name} (${toggles.join(', ')})`);
          emitAgainst({ bench: 'matmul_robustness', ...extras, n, toggles: name, value: await gflops(other, n), unit: 'GFLOP/s' }, [{ name: 'default', value: base.get(n)! }]);
        }
      });
    }
  },
};

/** The benchmark batch of 128 rows, repeated to `batch` rows. */
function batchOf(batch: number): { x: Float32Array; y: Float32Array } {
  const { x, labels } = mlpBatch();
  const reps = batch / MLP.batch;
  const out = { x: new Float32Array(batch * MLP.input), y: new Float32Array(batch) };
  for (let r = 0; r < reps; r++) {
    out.x.set(x, r * x.length);
    out.y.set(labels, r * labels.length);
  }
  return out;
}

/**
 * Seconds per training step of `nodes` at `batch` on the GPU, SGD as the MLP bench's, the objective read back every
 * READ_EVERY steps; and the step's dispatches.
 */
async function gpuStep(gpu: WebGpuBackend, nodes: GraphNode[], batch: number, feeds: Record<string, Float32Array>): Promise<{ seconds: number; dispatches: number; pooledBytes: number }> {
  const exe = loadTrainStep(gpu, nodes, batch, feeds);
  let step = 0;
  const seconds = await measureGpu(
    async () => {
      exe.run({ seed: MLP.seed, step: ++step });
      if (step % READ_EVERY === 0) await exe.read('objective');
    },
    () => exe.read('objective'),
  );
  return { seconds, dispatches: exe.dispatches(), pooledBytes: exe.pooledBytes };
}

export async function webgpuMlpStep(): Promise<void> {
  const gpu = await gpuBackend('mlp_step');
  if (!gpu) return;
  const nodes = mlpGraph();
  for (const batch of [MLP.batch, 8 * MLP.batch]) {
    await figure(`mlp_step batch ${batch}`, async () => {
      note(`mlp_step batch ${batch}: ours on webgpu, the objective read every ${READ_EVERY} steps`);
      const { seconds: s, dispatches, pooledBytes } = await gpuStep(gpu, nodes, batch, batchOf(batch));
      const extras = { backend: 'webgpu', adapter: gpu.adapter, batch, readEvery: READ_EVERY };
      emit({ bench: 'mlp_step', ...extras, value: 1 / s, unit: 'steps/s' });
      emit({ bench: 'mlp_step', ...extras, value: (MLP_STEP_FLOPS * (batch / MLP.batch)) / s / 1e9, unit: 'GFLOP/s' });
      // What bounds a small batch's steps/s on a fast GPU: each dispatch is a launch and a barrier.
      emit({ bench: 'mlp_step', ...extras, value: dispatches, unit: 'dispatches/step' });
      // The GPU memory of the step's intermediates (its pooled buffers, shared by liveness in dispatch order).
      emit({ bench: 'mlp_step', ...extras, of: 'pooled buffers', value: pooledBytes, unit: 'bytes' });
    });
  }
  gpu.dispose();
}

/** The auto_threshold family: 64 inputs, two hidden relu layers of `width`, 10 classes, batch 64. */
const FAMILY = { input: 64, classes: 10, batch: 64, widths: [16, 32, 64, 128, 256, 512, 1024] } as const;

/**
 * Where WebGPU starts to beat the CPU backend on this machine, in the measure `auto` decides by (stepFlops, see
 * engine/backends/select.ts): a family of MLPs of growing width, a training step timed on both (the CPU's plan run
 * as mlp_step runs it, the GPU's as above). One line per width with both times and the GPU's speed-up, then the
 * crossover: the smallest step FLOPs from which the GPU is faster at every larger width, beside AUTO_MIN_STEP_FLOPS.
 */
export const autoThreshold: Bench = {
  name: 'auto_threshold',
  backends: ['webgpu'],
  async run() {
    const gpu = await gpuBackend('auto_threshold');
    if (!gpu) return;
    // A software adapter is never chosen by auto: the small widths show the plumbing, not a threshold.
    const widths = gpu.software ? FAMILY.widths.slice(0, 4) : FAMILY.widths;
    const feeds = { x: randomArray(FAMILY.batch * FAMILY.input, 3, 0, 1), y: Float32Array.from({ length: FAMILY.batch }, (_, i) => i % FAMILY.classes) };
    const rows: { flops: number; speedup: number }[] = [];
    for (const width of widths) {
      const nodes = mlpGraph({ input: FAMILY.input, hidden: [width, width], classes: FAMILY.classes });
      const flops = stepFlops(nodes, FAMILY.batch);
      note(`auto_threshold width ${width}: ${(flops / 1e6).toFixed(2)} MFLOP a step, cpu then webgpu`);
      const exe = loadTrainStep(new CpuBackend(), nodes, FAMILY.batch, feeds);
      let step = 0;
      const cpuSeconds = measure(() => exe.run({ seed: MLP.seed, step: ++step })).seconds;
      const { seconds: gpuSeconds } = await gpuStep(gpu, nodes, FAMILY.batch, feeds);
      rows.push({ flops, speedup: cpuSeconds / gpuSeconds });
      emit({ bench: 'auto_threshold', adapter: gpu.adapter, width, stepFlops: flops, cpuMicroseconds: Math.round(cpuSeconds * 1e7) / 10, webgpuMicroseconds: Math.round(gpuSeconds * 1e7) / 10, value: cpuSeconds / gpuSeconds, unit: 'x (webgpu speed-up)' });
    }
    const from = rows.findIndex((_, i) => rows.slice(i).every((r) => r.speedup >= 1));
    if (from < 0) note(`auto_threshold: webgpu was not faster up to ${(rows[rows.length - 1].flops / 1e6).toFixed(1)} MFLOP a step (auto's threshold: ${AUTO_MIN_STEP_FLOPS / 1e6} MFLOP)`);
    else emit({ bench: 'auto_threshold', adapter: gpu.adapter, software: gpu.software, current: AUTO_MIN_STEP_FLOPS, value: rows[from].flops, unit: 'FLOP/step (webgpu faster from here)' });
    gpu.dispose();
  },
};

/** Seconds per op of a plan of DISPATCH_OPS adds of 4 floats, run unfused: the fixed cost of a dispatch (encoding included). */
async function dispatchSeconds(gpu: WebGpuBackend): Promise<number> {
  const g = new Builder();
  const x = g.input('x', [4]);
  let y = x;
  for (let i = 0; i < DISPATCH_OPS; i++) y = g.add(y, x);
  // Unfused: a chain of adds would otherwise become a few fused kernels, and this measures one dispatch.
  const exe = new WebGpuExecutable(gpu, compilePlan({ y }), { fuse: false });
  exe.setInput('x', Float32Array.of(1, 2, 3, 4));
  const s = await measureGpu(
    () => exe.run(RUN),
    () => gpu.device.queue.onSubmittedWorkDone(),
  );
  return s / DISPATCH_OPS;
}

/** Microseconds per op of a plan of 1000 adds of 4 floats: the fixed cost of a dispatch (encoding included). */
export const dispatch: Bench = {
  name: 'dispatch',
  backends: ['webgpu'],
  async run() {
    const gpu = await gpuBackend('dispatch');
    if (!gpu) return;
    await figure('dispatch', async () => {
      emit({ bench: 'dispatch', backend: 'webgpu', adapter: gpu.adapter, ops: DISPATCH_OPS, value: (await dispatchSeconds(gpu)) * 1e6, unit: 'us/op' });
    });
    gpu.dispose();
  },
};

/**
 * The host's share of the GPU figures: mlp_step and dispatch on Dawn's Null backend, which validates and records
 * every call and runs nothing. A step cannot go faster than this on any GPU driven from this CPU; where a GPU's
 * mlp_step is near it, the step is bound by encoding, not by the GPU.
 */
export const hostCost: Bench = {
  name: 'host_cost',
  backends: ['webgpu'],
  run: () =>
    onDeviceOfItsOwn(hostOnlyDevice, 'host_cost skipped: this dawn.node has no Null backend', async (gpu, extras) => {
      for (const batch of [MLP.batch, 8 * MLP.batch]) {
        note(`host_cost: mlp_step batch ${batch} on the Null backend`);
        const { seconds, dispatches } = await gpuStep(gpu, mlpGraph(), batch, batchOf(batch));
        emit({ bench: 'host_cost', of: 'mlp_step', ...extras, batch, dispatches, value: seconds * 1e6, unit: 'us/step' });
      }
      note('host_cost: dispatch on the Null backend');
      emit({ bench: 'host_cost', of: 'dispatch', ...extras, ops: DISPATCH_OPS, value: (await dispatchSeconds(gpu)) * 1e6, unit: 'us/op' });
    }),
};

/**
 * Runs `body` on a backend over a device that `open` makes for the purpose (Dawn's Null backend, one that times
 * passes), disposed after; where it makes none, notes `skipped` instead.
 */
async function onDeviceOfItsOwn(
  open: () => Promise<GpuInfo | undefined>,
  skipped: string,
  body: (gpu: WebGpuBackend, extras: { backend: string; adapter: string }) => Promise<void>,
): Promise<void> {
  const info = await open();
  if (!info) return note(skipped);
  const gpu = await WebGpuBackend.create(info);
  try {
    await body(gpu, { backend: 'webgpu', adapter: gpu.adapter });
  } finally {
    gpu.dispose();
  }
}

/** Profiled runs of a step, after WARM_RUNS unprofiled ones: each dispatch's time is its median over them. */
const PROFILE_RUNS = 5;
const WARM_RUNS = 3;

/**
 * Emits each dispatch of a training step (`line`'s fields, then what it computes and its median microseconds over
 * PROFILE_RUNS timed runs), then their sum.
 */
async function emitProfile(exe: WebGpuExecutable, line: Record<string, string | number>): Promise<void> {
  for (let step = 1; step <= WARM_RUNS; step++) exe.run({ seed: MLP.seed, step });
  const runs: { what: string; ns: number }[][] = [];
  for (let step = 1; step <= PROFILE_RUNS; step++) runs.push(await exe.profile({ seed: MLP.seed, step: WARM_RUNS + step }));
  const us = runs[0].map((_, i) => median(runs.map((r) => r[i].ns)) / 1e3);
  runs[0].forEach(({ what }, i) => emit({ bench: 'gpu_profile', ...line, dispatch: i, what, value: us[i], unit: 'us' }));
  emit({ bench: 'gpu_profile', ...line, of: 'sum', dispatches: us.length, value: us.reduce((a, b) => a + b, 0), unit: 'us/step' });
}

/**
 * Where the MLP step's GPU time goes: each dispatch's time as the GPU measures it (timestamp queries; each dispatch
 * in a compute pass of its own), the median of PROFILE_RUNS runs, at batch 128 and 1024 (128 alone on a software
 * adapter), and their sum. Beside mlp_step's time for a step, the sum says how much of it is the GPU's work and how
 * much the gaps between dispatches and the host's. Skipped where the adapter has no timestamp-query.
 */
export const gpuProfile: Bench = {
  name: 'gpu_profile',
  backends: ['webgpu'],
  run: () =>
    onDeviceOfItsOwn(timingDevice, 'gpu_profile skipped: no adapter here times compute passes (timestamp-query)', async (gpu, extras) => {
      for (const batch of gpu.software ? [MLP.batch] : [MLP.batch, 8 * MLP.batch]) {
        await figure(`gpu_profile batch ${batch}`, async () => {
          note(`gpu_profile: mlp_step batch ${batch}, ${PROFILE_RUNS} runs timed dispatch by dispatch`);
          await emitProfile(loadTrainStep(gpu, mlpGraph(), batch, batchOf(batch)), { ...extras, batch });
        });
      }
      await figure('gpu_profile digit-images', async () => {
        // The conv net example (implicit GEMMs, pools read in place) with its optimizer, on random images of its shape.
        const project = JSON.parse(readFileSync(join(examplesDir(), 'digit-images.bpstudio'), 'utf8')) as { graph: { nodes: GraphNode[] }; training: { batchSize: number; optimizer: OptimizerSpec } };
        const batch = project.training.batchSize;
        note(`gpu_profile: the digit-images example's training step, batch ${batch}, ${PROFILE_RUNS} runs timed dispatch by dispatch`);
        const labels = Float32Array.from({ length: batch }, (_, i) => i % 5);
        const exe = loadTrainStep(gpu, project.graph.nodes, batch, { image: randomArray(batch * 256, 7), y: labels }, project.training.optimizer);
        await emitProfile(exe, { ...extras, model: 'digit-images', batch });
      });
    }),
};

/** The examples folder: beside this file in the GPU bundle (scripts/gpu-bundle.mjs copies it there), else the repo's. */
function examplesDir(): string {
  return [new URL('./examples', import.meta.url), new URL('../examples', import.meta.url)].map((u) => fileURLToPath(u)).find((d) => existsSync(d))!;
}

