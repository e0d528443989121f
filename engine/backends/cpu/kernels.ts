import { normAxes, normAxis, strides } from '../../ir/shape';
import { Rng } from '../../util/rng';
import type { Window } from '../../ir/builder';
import { windowOutput } from '../../ops/layout';
import type { FloatArray, KernelCall, RunContext } from '../kernel';
import { broadcastIndex, reduceIndex, transposeIndex } from './index-maps';

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

function unary(f: (x: number, call: KernelCall) => number): CpuKernel {
  return ([x], out, call) => {
    for (let i = 0; i < out.length; i++) out[i] = f(x[i], call);
  };
}

function binary(f: (a: number, b: number) => number): CpuKernel {
  return ([a, b], out, call) => {
    const n = out.length;
    if (a.length === n && b.length === n) {
      for (let i = 0; i < n; i++) out[i] = f(a[i], b[i]);
    } else if (a.length === n && b.length === 1) {
      const s = b[0];
      for (let i = 0; i < n; i++) out[i] = f(a[i], s);
    } else if (a.length === 1 && b.length === n) {
      const s = a[0];
      for (let i = 0; i < n; i++) out[i] = f(s, b[i]);
    } else {
      const ia = memo(call, 'a', () => broadcastIndex(call.inShapes[0], call.outShape));
      const ib = memo(call, 'b', () => broadcastIndex(call.inShapes[1], call.outShape));
      for (let i = 0; i < n; i++) out[i] = f(a[ia[i]], b[ib[i]]);
    }
  };
}

function copy([x]: readonly FloatArray[], out: FloatArray): void {
  out.set(x.subarray(0, out.length));
}

/** log(1 + e^x) without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
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
    const rate = call.attrs.rate as number;
    const rng = new Rng(ctx.seed ^ Math.imul(ctx.step + 1, 0x2c1b3c6d), 1000 + (call.attrs.stream as number));
    const keep = 1 / (1 - rate);
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform() < rate ? 0 : keep;
  },

  neg: unary((x) => -x),
  exp: unary(Math.exp),
  ln: unary(Math.log),
  sin: unary(Math.sin),
  cos: unary(Math.cos),
  tanh: unary(Math.tanh),
  sigmoid: unary(sigmoid),
  relu: unary((x) => (x > 0 ? x : 0)),
  leaky_relu: unary((x, c) => (x > 0 ? x : x * (c.attrs.alpha as number))),
  softplus: unary(softplus),
  abs: unary(Math.abs),
  sqrt: unary(Math.sqrt),
  pow: unary((x, c) => Math.pow(x, c.attrs.exponent as number)),
  sign: unary((x) => (x > 0 ? 1 : x < 0 ? -1 : 0)),
  step: unary((x) => (x > 0 ? 1 : 0)),
  stop_gradient: copy,

  add: binary((a, b) => a + b),
  sub: binary((a, b) => a - b),
  mul: binary((a, b) => a * b),
  div: binary((a, b) => a / b),
  maximum: binary((a, b) => (a >= b ? a : b)),
  minimum: binary((a, b) => (a <= b ? a : b)),
  greater: binary((a, b) => (a > b ? 1 : 0)),
  greater_equal: binary((a, b) => (a >= b ? 1 : 0)),

  sum: ([x], out, call) => {
    const idx = memo(call, 'r', () => reduceIndex(call.inShapes[0], axesOf(call)));
    const acc = new Float64Array(out.length);
    for (let i = 0; i < x.length; i++) acc[idx[i]] += x[i];
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
  broadcast_to: ([x], out, call) => {
    const ix = memo(call, 'x', () => broadcastIndex(call.inShapes[0], call.outShape));
    for (let i = 0; i < out.length; i++) out[i] = x[ix[i]];
  },
  transpose: ([x], out, call) => {
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
  matmul: ([a, b], out, call) => {
    const [sa, sb] = call.inShapes;
    const m = sa[sa.length - 2];
    const k = sa[sa.length - 1];
    const n = sb[sb.length - 1];
    const batchShape = call.outShape.slice(0, -2);
    const ia = memo(call, 'a', () => broadcastIndex(sa.slice(0, -2), batchShape));
    const ib = memo(call, 'b', () => broadcastIndex(sb.slice(0, -2), batchShape));
    out.fill(0);
    for (let t = 0; t < ia.length; t++) {
      matmulInto(a, ia[t] * m * k, b, ib[t] * k * n, out, t * m * n, m, k, n);
    }
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
