/**
 * Reference implementations for the conformance tables, written from the definitions in plain JavaScript, in
 * float64, with no engine code: multi-indices and index arithmetic, naive loops. Slow on purpose; clear first.
 */
import { size, tensor, type Tensor } from './tensor';

// ---------------------------------------------------------------------------------------------------------------
// indices

function stridesOf(shape: readonly number[]): number[] {
  const st: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

/** The multi-index of flat position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  return idx.reduce((s, i, d) => s + i * st[d], 0);
}

/** x at a multi-index. */
export function at(x: Tensor, idx: readonly number[]): number {
  return x.data[ravel(idx, x.shape)];
}

/** Builds a tensor from a function of the multi-index. */
export function fromIndex(shape: readonly number[], f: (idx: number[]) => number): Tensor {
  const n = size(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = f(unravel(i, shape));
  return tensor(shape, data);
}

const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

// ---------------------------------------------------------------------------------------------------------------
// elementwise

export function map(x: Tensor, f: (v: number) => number): Tensor {
  return tensor(x.shape, x.data.map(f));
}

/** NumPy broadcasting: align trailing dimensions; a dimension of 1 stretches. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`reference: [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** The element of `x` that broadcasting maps onto output index `idx`. */
function broadcastAt(x: Tensor, idx: readonly number[]): number {
  const lead = idx.length - x.shape.length;
  return at(
    x,
    x.shape.map((d, i) => (d === 1 ? 0 : idx[lead + i])),
  );
}

export function zip(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  return fromIndex(broadcastShape(a.shape, b.shape), (idx) => f(broadcastAt(a, idx), broadcastAt(b, idx)));
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return fromIndex(shape, (idx) => broadcastAt(x, idx));
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** ln(1 + e^x), written as max(x, 0) + ln(1 + e^-|x|). */
export const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

// ---------------------------------------------------------------------------------------------------------------
// reductions

/** Reduces over `axes` (negative allowed): f(acc, v) from `init`, in row-major order of the input. */
export function reduce(x: Tensor, axes: readonly number[], keepdims: boolean, init: number, f: (acc: number, v: number) => number): Tensor {
  const ax = axes.map((a) => axisOf(a, x.shape.length));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const acc = new Float64Array(size(kept)).fill(init);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, d) => (ax.includes(d) ? 0 : v));
    const o = ravel(idx, kept);
    acc[o] = f(acc[o], x.data[i]);
  }
  const shape = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return tensor(shape, acc);
}

export const sum = (x: Tensor, axes: readonly number[], keepdims = false) => reduce(x, axes, keepdims, 0, (s, v) => s + v);
export const max = (x: Tensor, axes: readonly number[], keepdims = false) => reduce(x, axes, keepdims, -Infinity, Math.max);
export function mean(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  const count = axes.reduce((n, a) => n * x.shape[axisOf(a, x.shape.length)], 1);
  return map(sum(x, axes, keepdims), (v) => v / count);
}

/** 1 at the first maximum (row-major) of each slice over `axes`, else 0. */
export function maxMask(x: Tensor, axes: readonly number[]): Tensor {
  const ax = axes.map((a) => axisOf(a, x.shape.length));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const best = new Float64Array(size(kept)).fill(-Infinity);
  const where = new Int32Array(size(kept)).fill(-1);
  for (let i = 0; i < x.data.length; i++) {
    const o = ravel(
      unravel(i, x.shape).map((v, d) => (ax.includes(d) ? 0 : v)),
      kept,
    );
    if (where[o] < 0 || x.data[i] > best[o]) [best[o], where[o]] = [x.data[i], i];
  }
  const out = new Float64Array(x.data.length);
  for (const i of where) out[i] = 1;
  return tensor(x.shape, out);
}

// ---------------------------------------------------------------------------------------------------------------
// layout

export const reshape = (x: Tensor, shape: readonly number[]) => tensor(shape, x.data);

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  return fromIndex(
    perm.map((p) => x.shape[p]),
    (idx) => {
      const src = new Array<number>(perm.length);
      perm.forEach((p, i) => (src[p] = idx[i]));
      return at(x, src);
    },
  );
}

export function concat(a: Tensor, b: Tensor, axis: number): Tensor {
  const ax = axisOf(axis, a.shape.length);
  const na = a.shape[ax];
  const shape = a.shape.map((d, i) => (i === ax ? d + b.shape[ax] : d));
  return fromIndex(shape, (idx) => (idx[ax] < na ? at(a, idx) : at(b, idx.map((v, i) => (i === ax ? v - na : v)))));
}

export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = axisOf(axis, x.shape.length);
  const shape = x.shape.map((d, i) => (i === ax ? end - start : d));
  return fromIndex(shape, (idx) => at(x, idx.map((v, i) => (i === ax ? v + start : v))));
}

export function pad(x: Tensor, axis: number, before: number, after: number): Tensor {
  const ax = axisOf(axis, x.shape.length);
  const n = x.shape[ax];
  const shape = x.shape.map((d, i) => (i === ax ? d + before + after : d));
  return fromIndex(shape, (idx) => {
    const j = idx[ax] - before;
    return j < 0 || j >= n ? 0 : at(x, idx.map((v, i) => (i === ax ? j : v)));
  });
}

/** NumPy matmul, rank >= 2: the last two axes multiply, the leading ones broadcast. Naive triple loop. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const aBatch = tensor(a.shape.slice(0, -2), [...Array(size(a.shape.slice(0, -2))).keys()]);
  const bBatch = tensor(b.shape.slice(0, -2), [...Array(size(b.shape.slice(0, -2))).keys()]);
  return fromIndex([...batch, m, n], (idx) => {
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2);
    const ta = broadcastAt(aBatch, bi);
    const tb = broadcastAt(bBatch, bi);
    let s = 0;
    for (let p = 0; p < k; p++) s += a.data[(ta * m + i) * k + p] * b.data[(tb * k + p) * n + j];
    return s;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// windows over NCHW images

export interface Win {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

export const outSize = (size: number, k: number, s: number, p: number) => Math.floor((size + 2 * p - k) / s) + 1;

/**
 * By the definition: cols[n, (c * kh + ky) * kw + kx, oy * OW + ox] = x[n, c, oy * sh - ph + ky, ox * sw - pw + kx],
 * zero where that pixel lies in the padding.
 */
export function im2col(x: Tensor, w: Win): Tensor {
  const [n, c, h, wd] = x.shape;
  const oh = outSize(h, w.kh, w.sh, w.ph);
  const ow = outSize(wd, w.kw, w.sw, w.pw);
  return fromIndex([n, c * w.kh * w.kw, oh * ow], ([b, row, col]) => {
    const ch = Math.floor(row / (w.kh * w.kw));
    const ky = Math.floor(row / w.kw) % w.kh;
    const kx = row % w.kw;
    const y = Math.floor(col / ow) * w.sh - w.ph + ky;
    const xx = (col % ow) * w.sw - w.pw + kx;
    return y < 0 || y >= h || xx < 0 || xx >= wd ? 0 : at(x, [b, ch, y, xx]);
  });
}

/** By the definition: every pixel sums the column entries that im2col would read from it. */
export function col2im(cols: Tensor, w: Win, image: readonly number[]): Tensor {
  const [, c, h, wd] = image;
  const oh = outSize(h, w.kh, w.sh, w.ph);
  const ow = outSize(wd, w.kw, w.sw, w.pw);
  return fromIndex([cols.shape[0], c, h, wd], ([b, ch, y, xx]) => {
    let s = 0;
    for (let ky = 0; ky < w.kh; ky++)
      for (let kx = 0; kx < w.kw; kx++)
        for (let oy = 0; oy < oh; oy++)
          for (let ox = 0; ox < ow; ox++) {
            if (oy * w.sh - w.ph + ky === y && ox * w.sw - w.pw + kx === xx) {
              s += at(cols, [b, (ch * w.kh + ky) * w.kw + kx, oy * ow + ox]);
            }
          }
    return s;
  });
}

/** Direct convolution (cross-correlation, as torch conv2d): weight [F, C, kh, kw], bias [F] or null. */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, w: Win): Tensor {
  const [n, c, h, wd] = x.shape;
  const [f, , kh, kw] = weight.shape;
  const oh = outSize(h, kh, w.sh, w.ph);
  const ow = outSize(wd, kw, w.sw, w.pw);
  return fromIndex([n, f, oh, ow], ([b, o, oy, ox]) => {
    let s = bias ? bias.data[o] : 0;
    for (let ch = 0; ch < c; ch++)
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) {
          const y = oy * w.sh - w.ph + ky;
          const xx = ox * w.sw - w.pw + kx;
          if (y >= 0 && y < h && xx >= 0 && xx < wd) s += at(x, [b, ch, y, xx]) * at(weight, [o, ch, ky, kx]);
        }
    return s;
  });
}

/** Max or average pooling without padding. */
export function pool2d(x: Tensor, k: [number, number], s: [number, number], kind: 'max' | 'mean'): Tensor {
  const [n, c, h, wd] = x.shape;
  const oh = outSize(h, k[0], s[0], 0);
  const ow = outSize(wd, k[1], s[1], 0);
  return fromIndex([n, c, oh, ow], ([b, ch, oy, ox]) => {
    const vals: number[] = [];
    for (let ky = 0; ky < k[0]; ky++) for (let kx = 0; kx < k[1]; kx++) vals.push(at(x, [b, ch, oy * s[0] + ky, ox * s[1] + kx]));
    return kind === 'max' ? Math.max(...vals) : vals.reduce((p, v) => p + v, 0) / vals.length;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// others

export function oneHot(labels: Tensor, k: number): Tensor {
  return fromIndex([...labels.shape, k], (idx) => (at(labels, idx.slice(0, -1)) === idx[idx.length - 1] ? 1 : 0));
}

/** log softmax along an axis: x - max - ln(sum(exp(x - max))) over each slice. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  const ax = axisOf(axis, x.shape.length);
  return fromIndex(x.shape, (idx) => {
    const slice: number[] = [];
    for (let j = 0; j < x.shape[ax]; j++) slice.push(at(x, idx.map((v, d) => (d === ax ? j : v))));
    const m = Math.max(...slice);
    return at(x, idx) - m - Math.log(slice.reduce((s, v) => s + Math.exp(v - m), 0));
  });
}

export const softmax = (x: Tensor, axis: number) => map(logSoftmax(x, axis), Math.exp);

/** Batch normalisation with given per-channel statistics (channel axis 1; [B, C] or [B, C, H, W]). */
export function normalize(x: Tensor, mu: readonly number[], variance: readonly number[], gamma: Tensor, beta: Tensor, eps: number): Tensor {
  return fromIndex(x.shape, (idx) => {
    const c = idx[1];
    return ((at(x, idx) - mu[c]) / Math.sqrt(variance[c] + eps)) * gamma.data[c] + beta.data[c];
  });
}

/** Per-channel mean and biased variance over every axis but 1. */
export function channelStats(x: Tensor): { mu: number[]; variance: number[] } {
  const c = x.shape[1];
  const groups: number[][] = Array.from({ length: c }, () => []);
  for (let i = 0; i < x.data.length; i++) groups[unravel(i, x.shape)[1]].push(x.data[i]);
  const mu = groups.map((g) => g.reduce((s, v) => s + v, 0) / g.length);
  const variance = groups.map((g, k) => g.reduce((s, v) => s + (v - mu[k]) ** 2, 0) / g.length);
  return { mu, variance };
}

export const scalar = (v: number) => tensor([], [v]);
