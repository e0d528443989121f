import type { FloatArray, KernelCall } from '../kernel';
import { broadcastBlocks, type BroadcastBlocks } from './index-maps';

/**
 * Elementwise kernels. Every op has loops of its own, written out, rather than one loop calling the op's scalar
 * function: a loop shared by all ops sees many functions at its call site, V8 then stops inlining it, and each
 * element pays for a call (ten times the cost of relu itself).
 */
type Kernel = (ins: readonly FloatArray[], out: FloatArray, call: KernelCall) => void;

/** log(1 + e^x) without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export const unaryKernels: Record<string, Kernel> = {
  neg: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = -x[i];
  },
  exp: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]);
  },
  ln: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.log(x[i]);
  },
  sin: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]);
  },
  cos: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]);
  },
  tanh: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
  },
  sigmoid: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]);
  },
  relu: (ins, out) => {
    const x = ins[0], n = out.length;
    if (x instanceof Float32Array && out instanceof Float32Array && n >= 256) return reluBits(x, out);
    for (let i = 0; i < n; i++) {
      const v = x[i];
      out[i] = v > 0 ? v : 0;
    }
  },
  leaky_relu: (ins, out, call) => {
    const x = ins[0], n = out.length, alpha = call.attrs.alpha as number;
    for (let i = 0; i < n; i++) {
      const v = x[i];
      out[i] = v > 0 ? v : v * alpha;
    }
  },
  softplus: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = softplus(x[i]);
  },
  abs: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
  },
  sqrt: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
  },
  pow: (ins, out, call) => {
    const x = ins[0], n = out.length, e = call.attrs.exponent as number;
    for (let i = 0; i < n; i++) out[i] = Math.pow(x[i], e);
  },
  // Comparisons as numbers (+(v > 0)) rather than branches: on data of mixed signs a branch mispredicts half the time.
  sign: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) {
      const v = x[i];
      out[i] = +(v > 0) - +(v < 0);
    }
  },
  step: (ins, out) => {
    const x = ins[0], n = out.length;
    for (let i = 0; i < n; i++) out[i] = +(x[i] > 0);
  },
};

/**
 * relu on float32 through the bits, without a branch: x > 0 exactly when its bits, as an int32, lie in
 * [1, 0x7f800000] (positive, not zero, not NaN; +Infinity included), and then the output is x, else +0.
 */
function reluBits(x: Float32Array, out: Float32Array): void {
  const n = out.length;
  const xi = new Int32Array(x.buffer, x.byteOffset, n);
  const oi = new Int32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = xi[i];
    oi[i] = b & -(((b - 1) >>> 0) < 0x7f800000);
  }
}

/**
 * A binary op f: `same` for operands of the output's size (picked when a plan is loaded, so that a graph of scalar
 * ops pays for one call a step), and loops over runs of n elements, each operand either a run or one value s.
 */
interface BinaryOp {
  same: Kernel;
  /** o[oo + i] = f(a[ao + i], b[bo + i]) */
  vv(a: FloatArray, ao: number, b: FloatArray, bo: number, o: FloatArray, oo: number, n: number): void;
  /** o[oo + i] = f(a[ao + i], s) */
  vs(a: FloatArray, ao: number, s: number, o: FloatArray, oo: number, n: number): void;
  /** o[oo + i] = f(s, b[bo + i]) */
  sv(s: number, b: FloatArray, bo: number, o: FloatArray, oo: number, n: number): void;
}

const add: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) o[i] = a[i] + b[i]; },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] + b[bo + i]; },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] + s; },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = s + b[bo + i]; },
};
const sub: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) o[i] = a[i] - b[i]; },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] - b[bo + i]; },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] - s; },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = s - b[bo + i]; },
};
const mul: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) o[i] = a[i] * b[i]; },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] * b[bo + i]; },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] * s; },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = s * b[bo + i]; },
};
const div: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) o[i] = a[i] / b[i]; },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] / b[bo + i]; },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = a[ao + i] / s; },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = s / b[bo + i]; },
};
// maximum and minimum give b when either is NaN, as `a >= b ? a : b` does.
const maximum: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) { const x = a[i], y = b[i]; o[i] = x >= y ? x : y; } },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) { const x = a[ao + i], y = b[bo + i]; o[oo + i] = x >= y ? x : y; } },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) { const x = a[ao + i]; o[oo + i] = x >= s ? x : s; } },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) { const y = b[bo + i]; o[oo + i] = s >= y ? s : y; } },
};
const minimum: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) { const x = a[i], y = b[i]; o[i] = x <= y ? x : y; } },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) { const x = a[ao + i], y = b[bo + i]; o[oo + i] = x <= y ? x : y; } },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) { const x = a[ao + i]; o[oo + i] = x <= s ? x : s; } },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) { const y = b[bo + i]; o[oo + i] = s <= y ? s : y; } },
};
const greater: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) o[i] = +(a[i] > b[i]); },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = +(a[ao + i] > b[bo + i]); },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = +(a[ao + i] > s); },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = +(s > b[bo + i]); },
};
const greaterEqual: BinaryOp = {
  same: (ins, o) => { const a = ins[0], b = ins[1]; for (let i = 0, n = o.length; i < n; i++) o[i] = +(a[i] >= b[i]); },
  vv: (a, ao, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = +(a[ao + i] >= b[bo + i]); },
  vs: (a, ao, s, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = +(a[ao + i] >= s); },
  sv: (s, b, bo, o, oo, n) => { for (let i = 0; i < n; i++) o[oo + i] = +(s >= b[bo + i]); },
};

const binaryOps: Record<string, BinaryOp> = { add, sub, mul, div, maximum, minimum, greater, greater_equal: greaterEqual };

const blocksCache = new WeakMap<KernelCall, BroadcastBlocks>();

/**
 * A binary kernel: operands of the output's size or of one element directly; other broadcasts as runs over which
 * each operand is contiguous or constant (a bias row added to every row of a batch, a per-row value).
 */
function binary(f: BinaryOp): Kernel {
  return (ins, out, call) => {
    const a = ins[0], b = ins[1], n = out.length;
    if (a.length === n && b.length === n) return f.same(ins, out, call);
    if (a.length === n && b.length === 1) return f.vs(a, 0, b[0], out, 0, n);
    if (a.length === 1 && b.length === n) return f.sv(a[0], b, 0, out, 0, n);
    if (n === 0) return;
    let bl = blocksCache.get(call);
    if (!bl) blocksCache.set(call, (bl = broadcastBlocks(call.inShapes, call.outShape)));
    const { len, count } = bl;
    const [sa, sb] = bl.starts;
    const [ca, cb] = bl.contiguous;
    if (ca && cb) for (let q = 0; q < count; q++) f.vv(a, sa[q], b, sb[q], out, q * len, len);
    else if (ca) for (let q = 0; q < count; q++) f.vs(a, sa[q], b[sb[q]], out, q * len, len);
    else if (cb) for (let q = 0; q < count; q++) f.sv(a[sa[q]], b, sb[q], out, q * len, len);
    else {
      for (let q = 0; q < count; q++) {
        f.vs(a, sa[q], b[sb[q]], out, q * len, 1);
        out.fill(out[q * len], q * len + 1, (q + 1) * len);
      }
    }
  };
}

export const binaryKernels: Record<string, Kernel> = Object.fromEntries(Object.entries(binaryOps).map(([op, f]) => [op, binary(f)]));

/** The kernel of a binary op whose operands both have the output's size (no broadcast), else undefined. */
export function sameShapeBinary(call: KernelCall): Kernel | undefined {
  const f = binaryOps[call.op];
  const size = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
  const n = size(call.outShape);
  return f && call.inShapes.length === 2 && call.inShapes.every((s) => size(s) === n) ? f.same : undefined;
}
