import { normAxes, normAxis, strides } from '../../ir/shape';
import type { Window } from '../../ir/builder';
import { windowOutput } from '../../ops/layout';
import { counterHash, dropThreshold } from '../counter-rng';
import type { FloatArray, KernelCall, RunContext } from '../kernel';
import { binaryKernels, sameShapeBinary, unaryKernels } from './elementwise';
import { broadcastBlocks, broadcastIndex, reduceIndex, reduceSplit, transposeIndex, transposeSplit } from './index-maps';
import { WasmMatmul } from './matmul-wasm';

export { sigmoid, softplus } from './elementwise';

/** A CPU kernel: reads `ins`, writes all of `out`. */
export type CpuKernel = (ins: readonly FloatArray[], out: FloatArray, call: KernelCall, ctx: RunContext) => void;

const cache = new WeakMap<KernelCall, Map<string, unknown>>();
/** Index maps and other per-call constants, computed on the first run of a (static) plan step. */
function memo<T>(call: KernelCall, key: string, make: () => T): T {
  let m = cache.get(call);
  if (!m) cache.set(call, (m = new Map()));
  if (!m.has(key)) m.set(key, make());
  return m.get(key) as T;
}

function copy([x]: readonly FloatArray[], out: FloatArray): void {
  out.set(x.subarray(0, out.length));
}

const axesOf = (call: KernelCall) => normAxes(call.attrs.axes as number[], call.inShapes[0].length);

/** Visits each (output slot, input flat index) of an NCHW window op; `f(col, img)` with img = -1 for padding. */
function forEachWindow(imageShape: readonly number[], w: Window, f: (col: number, img: number) => void): void {
  const [n, c, h, wd] = imageShape;
  const oh = windowOutput(h, w.kh, w.sh, w.ph);
  const ow = windowOutput(wd, w.kw, w.sw, w.pw);
  let col = 0;
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let ky = 0; ky < w.kh; ky++)
        for (let kx = 0; kx < w.kw; kx++)
          for (let oy = 0; oy < oh; oy++) {
            const y = oy * w.sh - w.ph + ky;
            for (let ox = 0; ox < ow; ox++, col++) {
              const x = ox * w.sw - w.pw + kx;
              f(col, y < 0 || y >= h || x < 0 || x >= wd ? -1 : ((b * c + ch) * h + y) * wd + x);
            }
          }
}

function windowIndex(call: KernelCall, imageShape: readonly number[]): Int32Array {
  return memo(call, 'window', () => {
    const idx: number[] = [];
    forEachWindow(imageShape, call.attrs as unknown as Window, (_col, img) => idx.push(img));
    return Int32Array.from(idx);
  });
}

export const cpuKernels: Record<string, CpuKernel> = {
  full_like: (_ins, out, call) => out.fill(call.attrs.value as number),
  one_hot: ([labels], out, call) => {
    const k = call.attrs.classes as number;
    out.fill(0);
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i];
      if (c >= 0 && c < k && Number.isInteger(c)) out[i * k + c] = 1;
    }
  },
  dropout_mask: (_ins, out, call, ctx) => {
    // Counter-based, as the WebGPU kernel draws it: the same mask on both backends.
    const rate = call.attrs.rate as number;
    const drop = dropThreshold(rate);
    const stream = call.attrs.stream as number;
    const keep = 1 / (1 - rate);
    for (let i = 0; i < out.length; i++) out[i] = counterHash(ctx.seed, ctx.step, stream, i) >>> 8 < drop ? 0 : keep;
  },

  ...unaryKernels,
  stop_gradient: copy,
  ...binaryKernels,

  sum: (ins, out, call) => {
    // Float64 accumulators, each slot summed in increasing input order whatever the path.
    const x = ins[0];
    const split = memo(call, 's', () => reduceSplit(call.inShapes[0], axesOf(call)));
    if (split && split.inner === 1) {
      const { outer, mid } = split;
      for (let o = 0; o < outer; o++) {
        let acc = 0;
        for (let r = 0, at = o * mid; r < mid; r++) acc += x[at + r];
        out[o] = acc;
      }
      return;
    }
    const acc = memo(call, 'acc', () => new Float64Array(out.length));
    acc.fill(0);
    if (split) {
      const { outer, mid, inner } = split;
      for (let o = 0; o < outer; o++) {
        for (let r = 0; r < mid; r++) {
          const at = (o * mid + r) * inner;
          for (let i = 0, slot = o * inner; i < inner; i++) acc[slot + i] += x[at + i];
        }
      }
    } else {
      const idx = memo(call, 'r', () => reduceIndex(call.inShapes[0], axesOf(call)));
      for (let i = 0; i < x.length; i++) acc[idx[i]] += x[i];
    }
    out.set(acc);
  },
  max: ([x], out, call) => {
    const idx = memo(call, 'r', () => reduceIndex(call.inShapes[0], axesOf(call)));
    out.fill(-Infinity);
    for (let i = 0; i < x.length; i++) if (x[i] > out[idx[i]] || Number.isNaN(x[i])) out[idx[i]] = x[i];
  },
  max_mask: ([x], out, call) => {
    const idx = memo(call, 'r', () => reduceIndex(call.inShapes[0], axesOf(call)));
    const slots = idx.reduce((m, v) => Math.max(m, v), -1) + 1;
    const best = new Float64Array(slots).fill(-Infinity);
    const at = new Int32Array(slots).fill(-1);
    for (let i = 0; i < x.length; i++) {
      if (x[i] > best[idx[i]] || at[idx[i]] < 0) {
        best[idx[i]] = x[i];
        at[idx[i]] = i;
      }
    }
    out.fill(0);
    for (const i of at) if (i >= 0) out[i] = 1;
  },

  reshape: copy,
  broadcast_to: (ins, out, call) => {
    const x = ins[0];
    const { len, count, contiguous, starts } = memo(call, 'x', () => broadcastBlocks([call.inShapes[0]], call.outShape));
    const at = starts[0];
    if (!contiguous[0]) for (let q = 0; q < count; q++) out.fill(x[at[q]], q * len, (q + 1) * len);
    else if (len >= 64) for (let q = 0; q < count; q++) out.set(x.subarray(at[q], at[q] + len), q * len);
    else for (let q = 0; q < count; q++) for (let i = 0, from = at[q], to = q * len; i < len; i++) out[to + i] = x[from + i];
  },
  transpose: (ins, out, call) => {
    const x = ins[0];
    const split = memo(call, 's', () => transposeSplit(call.inShapes[0], call.attrs.perm as number[]));
    if (split) {
      const { batches, rows, cols } = split;
      const wasm = x instanceof Float32Array && out instanceof Float32Array && rows * cols >= 64 ? wasmMatmul() : null;
      if (rows === 1 || cols === 1) out.set(x.subarray(0, out.length));
      else if (wasm) wasm.transpose(x as Float32Array, out as Float32Array, batches, rows, cols);
      else for (let t = 0; t < batches; t++) transposeInto(x, out, t * rows * cols, rows, cols);
      return;
    }
    const ix = memo(call, 't', () => transposeIndex(call.inShapes[0], call.attrs.perm as number[]));
    for (let i = 0; i < out.length; i++) out[i] = x[ix[i]];
  },
  concat: ([a, b], out, call) => {
    const [sa, sb] = call.inShapes;
    const axis = normAxis(call.attrs.axis as number, sa.length);
    const outer = sa.slice(0, axis).reduce((p, d) => p * d, 1);
    const na = strides(sa)[axis] * sa[axis];
    const nb = strides(sb)[axis] * sb[axis];
    for (let o = 0, k = 0; o < outer; o++) {
      out.set(a.subarray(o * na, (o + 1) * na), k);
      k += na;
      out.set(b.subarray(o * nb, (o + 1) * nb), k);
      k += nb;
    }
  },
  slice: ([x], out, call) => {
    const s = call.inShapes[0];
    const axis = normAxis(call.attrs.axis as number, s.length);
    const inner = strides(s)[axis];
    const outer = s.slice(0, axis).reduce((p, d) => p * d, 1);
    const { start, end } = call.attrs as { start: number; end: number };
    const len = (end - start) * inner;
    for (let o = 0; o < outer; o++) {
      const from = (o * s[axis] + start) * inner;
      out.set(x.subarray(from, from + len), o * len);
    }
  },
  pad: ([x], out, call) => {
    const s = call.inShapes[0];
    const axis = normAxis(call.attrs.axis as number, s.length);
    const inner = strides(s)[axis];
    const outer = s.slice(0, axis).reduce((p, d) => p * d, 1);
    const before = (call.attrs.before as number) * inner;
    const rowIn = s[axis] * inner;
    const rowOut = call.outShape[axis] * inner;
    out.fill(0);
    for (let o = 0; o < outer; o++) out.set(x.subarray(o * rowIn, (o + 1) * rowIn), o * rowOut + before);
  },
  matmul: (ins, out, call) => {
    const a = ins[0], b = ins[1];
    const { m, k, n, aAt, bAt } = memo(call, 'mm', () => matmulLayout(call));
    const wasm = a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array ? wasmMatmul() : null;
    if (wasm) return wasm.matmul(a as Float32Array, aAt, b as Float32Array, bAt, out as Float32Array, m, k, n);
    out.fill(0);
    for (let t = 0; t < aAt.length; t++) matmulInto(a, aAt[t] * m * k, b, bAt[t] * k * n, out, t * m * n, m, k, n);
  },
  im2col: ([x], out, call) => {
    const idx = windowIndex(call, call.inShapes[0]);
    for (let i = 0; i < out.length; i++) out[i] = idx[i] < 0 ? 0 : x[idx[i]];
  },
  col2im: ([cols], out, call) => {
    const idx = windowIndex(call, call.outShape);
    out.fill(0);
    for (let i = 0; i < cols.length; i++) if (idx[i] >= 0) out[idx[i]] += cols[i];
  },
};

/** The kernel for one plan step: a variant chosen for its shapes where there is one, else the op's kernel. */
export function cpuKernelFor(call: KernelCall): CpuKernel | undefined {
  return sameShapeBinary(call) ?? cpuKernels[call.op];
}

/**
 * The batches of a matmul: output batch t is A[aAt[t]] B[bAt[t]] (matrices of m x k and k x n). Consecutive batches
 * of A times one B are one matmul of their rows stacked (a dense layer applied over a sequence, say).
 */
function matmulLayout(call: KernelCall): { m: number; k: number; n: number; aAt: Int32Array; bAt: Int32Array } {
  const [sa, sb] = call.inShapes;
  const m = sa[sa.length - 2];
  const k = sa[sa.length - 1];
  const n = sb[sb.length - 1];
  const batchShape = call.outShape.slice(0, -2);
  const aAt = broadcastIndex(sa.slice(0, -2), batchShape);
  const bAt = broadcastIndex(sb.slice(0, -2), batchShape);
  if (aAt.length > 1 && aAt.every((v, t) => v === t) && bAt.every((v) => v === bAt[0])) {
    return { m: m * aAt.length, k, n, aAt: Int32Array.of(0), bAt: Int32Array.of(bAt[0]) };
  }
  return { m, k, n, aAt, bAt };
}

/** The WebAssembly matmuls loaded so far, by their worker count, and the count in use (undefined: the default). */
const wasmKernels = new Map<number | undefined, WasmMatmul | null>();
let matmulWorkers: number | undefined;

/** The WebAssembly matmul, loaded on first use; null where the runtime has no WebAssembly SIMD. */
function wasmMatmul(): WasmMatmul | null {
  if (!wasmKernels.has(matmulWorkers)) wasmKernels.set(matmulWorkers, WasmMatmul.load({ workers: matmulWorkers }));
  return wasmKernels.get(matmulWorkers)!;
}

/**
 * The worker threads the float32 matmul uses from now on in this process (undefined: the default, see
 * gemm-threads.ts); the benchmarks time the engine on one thread beside the default. Returns the threads it runs on.
 */
export function useMatmulWorkers(workers: number | undefined): number {
  matmulWorkers = workers;
  return wasmMatmul()?.threads ?? 1;
}

/** out[off + j rows + i] = x[off + i cols + j] for one rows x cols matrix, in cache-sized tiles. */
function transposeInto(x: FloatArray, out: FloatArray, off: number, rows: number, cols: number): void {
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(i0 + T, rows);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = Math.min(j0 + T, cols);
      for (let i = i0; i < i1; i++) {
        const from = off + i * cols;
        for (let j = j0; j < j1; j++) out[off + j * rows + i] = x[from + j];
      }
    }
  }
}

/** C[m,n] += A[m,k] B[k,n] (row-major, offsets into flat arrays), i-k-j order so the inner loop streams rows. */
export function matmulInto(
  a: FloatArray,
  aOff: number,
  b: FloatArray,
  bOff: number,
  c: FloatArray,
  cOff: number,
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * n;
    for (let p = 0; p < k; p++) {
      const av = a[aOff + i * k + p];
      const bp = bOff + p * n;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
    }
  }
}
