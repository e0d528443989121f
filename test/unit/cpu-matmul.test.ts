import { readFileSync } from 'node:fs';
import { describe, expect, it, test } from 'vitest';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { cpuKernels, matmulInto } from '../../engine/backends/cpu/kernels';
import { THREADS_FROM, WasmMatmul } from '../../engine/backends/cpu/matmul-wasm';
import { workerCount } from '../../engine/backends/cpu/gemm-threads';
import type { FloatArray, KernelCall } from '../../engine/backends/kernel';
import { Builder } from '../../engine/ir/builder';
import { compilePlan } from '../../engine/plan/plan';
import { Rng } from '../../engine/util/rng';

const ctx = { seed: 0, step: 0 };
const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

function random(n: number, seed: number, make: (n: number) => FloatArray = (k) => new Float32Array(k)): FloatArray {
  const rng = new Rng(seed, 5);
  const out = make(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform() * 2 - 1;
  return out;
}

/** Flat index of each batch's matrix under NumPy broadcasting of the leading axes. */
function batchIndex(lead: readonly number[], batch: readonly number[]): number[] {
  const out: number[] = [];
  const pad = [...new Array<number>(batch.length - lead.length).fill(1), ...lead];
  for (let t = 0; t < numel(batch); t++) {
    let rest = t;
    let at = 0;
    let stride = 1;
    for (let d = batch.length - 1; d >= 0; d--) {
      const i = rest % batch[d];
      rest = Math.floor(rest / batch[d]);
      if (pad[d] !== 1) at += i * stride;
      stride *= pad[d];
    }
    out.push(at);
  }
  return out;
}

interface Reference {
  /** Float64 sums of exact products. */
  exact: Float64Array;
  /** sum |a b| of each output, for the error bound. */
  magnitude: Float64Array;
  /** The kernel's own arithmetic: float32 sums in increasing p of float32-rounded products. */
  f32: Float32Array;
}

function reference(a: FloatArray, sa: number[], b: FloatArray, sb: number[]): Reference {
  const [m, k] = sa.slice(-2);
  const n = sb[sb.length - 1];
  const batch = sa.length > 2 || sb.length > 2 ? outBatch(sa, sb) : [];
  const ia = batchIndex(sa.slice(0, -2), batch);
  const ib = batchIndex(sb.slice(0, -2), batch);
  const size = numel(batch) * m * n;
  const ref = { exact: new Float64Array(size), magnitude: new Float64Array(size), f32: new Float32Array(size) };
  for (let t = 0; t < ia.length; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let exact = 0;
        let mag = 0;
        let f32 = 0;
        for (let p = 0; p < k; p++) {
          const prod = a[ia[t] * m * k + i * k + p] * b[ib[t] * k * n + p * n + j];
          exact += prod;
          mag += Math.abs(prod);
          f32 = Math.fround(f32 + Math.fround(prod));
        }
        const o = t * m * n + i * n + j;
        ref.exact[o] = exact;
        ref.magnitude[o] = mag;
        ref.f32[o] = f32;
      }
    }
  }
  return ref;
}

function outBatch(sa: number[], sb: number[]): number[] {
  const la = sa.slice(0, -2);
  const lb = sb.slice(0, -2);
  const r = Math.max(la.length, lb.length);
  const pa = [...new Array<number>(r - la.length).fill(1), ...la];
  const pb = [...new Array<number>(r - lb.length).fill(1), ...lb];
  return pa.map((d, i) => Math.max(d, pb[i]));
}

function call(sa: number[], sb: number[]): KernelCall {
  const batch = sa.length > 2 || sb.length > 2 ? outBatch(sa, sb) : [];
  return { op: 'matmul', attrs: {}, inShapes: [sa, sb], outShape: [...batch, sa[sa.length - 2], sb[sb.length - 1]] };
}

function runKernel(a: FloatArray, sa: number[], b: FloatArray, sb: number[], make: (n: number) => FloatArray = (k) => new Float32Array(k)): FloatArray {
  const c = call(sa, sb);
  const out = make(numel(c.outShape));
  cpuKernels.matmul([a, b], out, c, ctx);
  return out;
}

/** Same value, NaN matching NaN. */
const same = (x: number, y: number) => Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)) || (x === 0 && y === 0);

function expectMatches(got: FloatArray, ref: Reference, k: number): void {
  expect(got.length).toBe(ref.f32.length);
  let mismatches = 0;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    if (!same(got[i], ref.f32[i])) mismatches++;
    if (Number.isFinite(ref.exact[i])) {
      // Float32 accumulation of k rounded products: within (k + 1) u sum |a b|, u = 2^-24; twice that as margin.
      const bound = 2 * (k + 1) * 2 ** -24 * ref.magnitude[i] + 1e-30;
      worst = Math.max(worst, Math.abs(got[i] - ref.exact[i]) / bound);
    }
  }
  expect(mismatches).toBe(0);
  expect(worst).toBeLessThanOrEqual(1);
}

// [A shape, B shape]: odd sizes and edges of the 4 x 8 tile, k past the 256-step blocks, m past the 128-row blocks.
const SHAPES: [number[], number[]][] = [
  [[1, 1], [1, 1]],
  [[1, 1], [1, 7]],
  [[1, 3], [3, 1]],
  [[2, 3], [3, 1]],
  [[3, 5], [5, 7]],
  [[4, 8], [8, 8]],
  [[5, 1], [1, 9]],
  [[7, 13], [13, 5]],
  [[9, 2], [2, 17]],
  [[17, 300], [300, 33]],
  [[64, 257], [257, 9]],
  [[33, 513], [513, 16]],
  [[129, 784], [784, 130]],
  [[200, 64], [64, 24]],
  [[128, 784], [784, 256]],
];

// Batched, with the leading axes broadcast.
const BATCHED: [number[], number[]][] = [
  [[2, 3, 4, 5], [5, 6]],
  [[3, 4, 5], [3, 5, 6]],
  [[1, 4, 5], [3, 5, 6]],
  [[3, 5, 7], [1, 7, 9]],
  [[2, 1, 4, 5], [1, 3, 5, 6]],
  [[2, 3, 9, 11], [2, 3, 11, 10]],
  [[5, 6], [2, 6, 3]],
];

describe('the float32 matmul (WebAssembly SIMD)', () => {
  it('is generated from scripts/gen-wasm.mjs and loads', async () => {
    const script = '../../scripts/gen-wasm.mjs';
    const { generateMatmulWasmModule } = (await import(script)) as { generateMatmulWasmModule(): string };
    const committed = readFileSync(new URL('../../engine/backends/cpu/matmul-wasm.generated.ts', import.meta.url), 'utf8');
    expect(committed).toBe(generateMatmulWasmModule());
    expect(WasmMatmul.load()).not.toBeNull();
  });

  it.each(SHAPES)('%j @ %j matches float64 within the float32 bound, and float32 in order exactly', (sa, sb) => {
    const a = random(numel(sa), 1);
    const b = random(numel(sb), 2);
    expectMatches(runKernel(a, sa, b, sb), reference(a, sa, b, sb), sa[sa.length - 1]);
  });

  it.each(BATCHED)('batched %j @ %j broadcasts the leading axes', (sa, sb) => {
    const a = random(numel(sa), 3);
    const b = random(numel(sb), 4);
    expectMatches(runKernel(a, sa, b, sb), reference(a, sa, b, sb), sa[sa.length - 1]);
  });

  it('gives zeros for k = 0 and nothing for empty outputs', () => {
    const out = runKernel(new Float32Array(0), [3, 0], new Float32Array(0), [0, 5]);
    expect([...out]).toEqual(new Array(15).fill(0));
    expect(runKernel(new Float32Array(0), [0, 4], random(8, 1), [4, 2])).toHaveLength(0);
  });

  it('propagates NaN and infinities: no term is skipped, 0 * Inf is NaN', () => {
    const [m, k, n] = [6, 11, 10];
    const a = random(m * k, 5);
    const b = random(k * n, 6);
    a[1 * k + 2] = NaN; // row 1 all NaN
    a[3 * k + 4] = 0; // meets the infinity below: NaN in row 3, column 7
    b[4 * n + 7] = Infinity;
    a[4 * k + 0] = Infinity; // row 4: +-Inf where b[0, j] != 0
    b[0 * n + 3] = 0; // ... and NaN at column 3 (Inf * 0)
    a[4 * k + 4] = 1; // +Inf + Inf at column 7, not Inf - Inf
    b[0 * n + 7] = 1;
    a[5 * k + 9] = 3e38; // overflow to infinity in row 5
    b[9 * n + 1] = 3e38;
    const got = runKernel(a, [m, k], b, [k, n]);
    const ref = reference(a, [m, k], b, [k, n]);
    for (let i = 0; i < got.length; i++) expect(same(got[i], ref.f32[i]), `output ${i}`).toBe(true);
    for (let j = 0; j < n; j++) expect(got[1 * n + j]).toBeNaN();
    expect(got[3 * n + 7]).toBeNaN();
    expect(got[4 * n + 3]).toBeNaN();
    expect(Math.abs(got[4 * n + 5])).toBe(Infinity);
    expect(got[5 * n + 1]).toBe(Infinity);
    expect(got[4 * n + 7]).toBe(Infinity);
    expect(got.filter((v) => Number.isNaN(v)).length).toBe(n + 2);
  });

  it('is deterministic: bit-identical results run to run, whatever ran before in its memory', () => {
    const cases = [...SHAPES.slice(0, 12), ...BATCHED];
    const inputs = cases.map(([sa, sb], i) => [random(numel(sa), 10 + i), random(numel(sb), 50 + i)]);
    const first = cases.map(([sa, sb], i) => runKernel(inputs[i][0], sa, inputs[i][1], sb));
    // Fill the kernel's memory with NaN: padding rows and columns must never leak into results.
    runKernel(new Float32Array(300 * 300).fill(NaN), [300, 300], new Float32Array(300 * 300).fill(NaN), [300, 300]);
    const second = cases.map(([sa, sb], i) => runKernel(inputs[i][0], sa, inputs[i][1], sb));
    for (let i = 0; i < cases.length; i++) {
      expect(new Uint32Array(second[i].buffer)).toEqual(new Uint32Array(first[i].buffer));
    }
  });

  it('runs in a compiled plan, with the transposes of a dense layer around it', () => {
    const g = new Builder();
    const x = g.input('x', [5, 7]);
    const w = g.input('w', [3, 7]);
    const y = g.matmul(x, g.transpose(w, [1, 0]));
    const exe = new CpuBackend().load(compilePlan({ y }));
    const xs = random(35, 7);
    const ws = random(21, 8);
    exe.setInput('x', xs);
    exe.setInput('w', ws);
    exe.run(ctx);
    const wt = new Float32Array(21);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 7; j++) wt[j * 3 + i] = ws[i * 7 + j];
    expectMatches(exe.readSync('y'), reference(xs, [5, 7], wt, [7, 3]), 7);
  });
});

describe('the float64 matmul', () => {
  it('keeps the JavaScript loop: float64 products summed in float64', () => {
    for (const [sa, sb] of [...SHAPES.slice(0, 12), ...BATCHED]) {
      const a = random(numel(sa), 1, (n) => new Float64Array(n));
      const b = random(numel(sb), 2, (n) => new Float64Array(n));
      const got = runKernel(a, sa, b, sb, (n) => new Float64Array(n));
      const ref = reference(a, sa, b, sb);
      const [m, k] = sa.slice(-2);
      const n = sb[sb.length - 1];
      // Same loop order as the kernel (i, p, j), so equal to the last bit for unbatched shapes.
      if (sa.length === 2 && sb.length === 2) {
        const want = new Float64Array(m * n);
        matmulInto(a, 0, b, 0, want, 0, m, k, n);
        expect(got).toEqual(want);
      }
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - ref.exact[i])).toBeLessThanOrEqual(1e-12 * (1 + ref.magnitude[i]));
    }
  });

  it('is the kernel of CpuBackend("f64") plans', () => {
    const g = new Builder();
    const y = g.matmul(g.input('a', [3, 4]), g.input('b', [4, 2]));
    const exe = new CpuBackend('f64').load(compilePlan({ y }));
    const a = Float64Array.from({ length: 12 }, (_, i) => 0.1 * (i + 1));
    const b = Float64Array.from({ length: 8 }, (_, i) => 1 / (i + 3));
    exe.setInput('a', a);
    exe.setInput('b', b);
    exe.run(ctx);
    const want = new Float64Array(6);
    matmulInto(a, 0, b, 0, want, 0, 3, 4, 2);
    expect(exe.readSync('y')).toEqual(want);
  });
});

describe('the float32 matmul on worker threads', () => {
  test.each([
    ['one core: no workers', {}, 1, 0],
    ['two cores: one worker beside the calling thread', {}, 2, 1],
    ['many cores: at most 15', {}, 64, 15],
    ['BPSTUDIO_CPU_THREADS=0 turns them off', { BPSTUDIO_CPU_THREADS: '0' }, 8, 0],
    ['BPSTUDIO_CPU_THREADS=3', { BPSTUDIO_CPU_THREADS: ' 3 ' }, 2, 3],
    ['BPSTUDIO_CPU_THREADS past the cap', { BPSTUDIO_CPU_THREADS: '100' }, 2, 15],
    ['BPSTUDIO_CPU_THREADS that is not a count is ignored', { BPSTUDIO_CPU_THREADS: 'all' }, 4, 3],
  ])('%s', (_name, env, cores, want) => {
    expect(workerCount(env, cores)).toBe(want);
  });

  // Past the size from which products are split (THREADS_FROM multiply-adds): the MLP bench's first layer, rows that
  // are not a multiple of the kernel's 4 (fewer blocks than workers), batches sharing one B, a tall one.
  const LARGE: [number[], number[]][] = [
    [[128, 784], [784, 256]],
    [[7, 1000], [1000, 600]],
    [[3, 64, 400], [400, 200]],
    [[2000, 40], [40, 65]],
  ];

  it.each(LARGE)('%j @ %j gives the single-threaded result bit for bit on 1 and 3 workers', async (sa, sb) => {
    const [m, k] = sa.slice(-2);
    const n = sb[sb.length - 1];
    const batches = numel(sa.slice(0, -2));
    expect(Math.ceil(m / 4) * 4 * k * n).toBeGreaterThanOrEqual(THREADS_FROM);
    const a = random(numel(sa), 11) as Float32Array;
    const b = random(numel(sb), 12) as Float32Array;
    const product = (kernel: WasmMatmul) => {
      const c = new Float32Array(batches * m * n);
      kernel.matmul(a, Int32Array.from({ length: batches }, (_, t) => t), b, new Int32Array(batches), c, m, k, n);
      return c;
    };
    const single = WasmMatmul.load({ workers: 0 })!;
    expect(single.threads).toBe(1);
    const want = product(single);
    for (const workers of [1, 3]) {
      const threaded = WasmMatmul.load({ workers })!;
      expect(threaded.threads).toBe(workers + 1);
      const got = product(threaded);
      // Twice: the second call reuses the workers and the memory.
      expect(product(threaded)).toEqual(got);
      expect(threaded.threadedCalls).toBe(2 * batches);
      await threaded.stop();
      expect(got.every((v, i) => Object.is(v, want[i]))).toBe(true);
    }
    expectMatches(want, reference(a, sa, b, sb), k);
  });
});
