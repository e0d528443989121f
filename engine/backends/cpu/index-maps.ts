import { strides } from '../../ir/shape';

/**
 * For each element of `outShape`, the flat index of the element of `inShape` that broadcasting maps onto it.
 * Plans are static, so these are computed once per kernel call and cached.
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const rank = outShape.length;
  const lead = rank - inShape.length;
  const inStrides = strides(inShape);
  const st = outShape.map((_d, i) => (i < lead || inShape[i - lead] === 1 ? 0 : inStrides[i - lead]));
  return walk(outShape, st);
}

/** For each element of the output of a transpose by `perm`, the flat index of its source. */
export function transposeIndex(inShape: readonly number[], perm: readonly number[]): Int32Array {
  const inStrides = strides(inShape);
  return walk(
    perm.map((p) => inShape[p]),
    perm.map((p) => inStrides[p]),
  );
}

/** Flat offsets sum(index_i * stride_i) for every multi-index of `shape`, in row-major order. */
export function walk(shape: readonly number[], st: readonly number[]): Int32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Int32Array(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    out[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      off += st[d];
      if (idx[d] < shape[d]) break;
      off -= st[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Splits a shape around `axes` for reductions: for each input element, the index of its output slot. */
export function reduceIndex(inShape: readonly number[], axes: readonly number[]): Int32Array {
  const kept = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outStrides = strides(kept);
  return walk(
    inShape,
    outStrides.map((s, i) => (axes.includes(i) ? 0 : s)),
  );
}

/**
 * An elementwise op over operands broadcast to `outShape`, split into `count` blocks of `len` consecutive outputs
 * such that over each block every operand is either contiguous (`contiguous[k]`) or one repeated element: block q
 * starts at flat index `starts[k][q]` of operand k. A bias [n] added to [m, n] is m blocks of n, both contiguous.
 */
export interface BroadcastBlocks {
  readonly len: number;
  readonly count: number;
  readonly contiguous: readonly boolean[];
  readonly starts: readonly Int32Array[];
}

export function broadcastBlocks(inShapes: readonly (readonly number[])[], outShape: readonly number[]): BroadcastBlocks {
  const rank = outShape.length;
  const padded = inShapes.map((s) => [...new Array<number>(rank - s.length).fill(1), ...s]);
  const contiguous: (boolean | null)[] = inShapes.map(() => null);
  // Grow the block from the last axis while every operand keeps one kind: all its axes full, or all of size 1.
  let d = rank - 1;
  for (; d >= 0; d--) {
    if (outShape[d] === 1) continue;
    const kinds = padded.map((s) => s[d] !== 1);
    if (kinds.some((c, k) => contiguous[k] !== null && contiguous[k] !== c)) break;
    kinds.forEach((c, k) => (contiguous[k] = c));
  }
  const outer = outShape.slice(0, d + 1);
  return {
    len: outShape.slice(d + 1).reduce((a, b) => a * b, 1),
    count: outer.reduce((a, b) => a * b, 1),
    contiguous: contiguous.map((c) => c === true),
    starts: padded.map((s) => {
      const st = strides(s);
      return walk(
        outer,
        outer.map((_d, i) => (s[i] === 1 ? 0 : st[i])),
      );
    }),
  };
}

/**
 * A reduction over `axes` seen as out[o, i] = reduce over r of x[o, r, i], x viewed as [outer, mid, inner]; null
 * where axes of size > 1 that are reduced are separated by one that is kept.
 */
export function reduceSplit(inShape: readonly number[], axes: readonly number[]): { outer: number; mid: number; inner: number } | null {
  const reduced = axes.filter((a) => inShape[a] !== 1);
  if (!reduced.length) return { outer: inShape.reduce((a, b) => a * b, 1), mid: 1, inner: 1 };
  const lo = Math.min(...reduced);
  const hi = Math.max(...reduced);
  for (let d = lo; d <= hi; d++) if (inShape[d] !== 1 && !axes.includes(d)) return null;
  const prod = (from: number, to: number) => inShape.slice(from, to).reduce((a, b) => a * b, 1);
  return { outer: prod(0, lo), mid: prod(lo, hi + 1), inner: prod(hi + 1, inShape.length) };
}

/**
 * A transpose by `perm` as `batches` consecutive transposes of [rows, cols] matrices, after dropping axes of size 1
 * and merging axes that stay adjacent; null for other permutations (three groups or more that move).
 */
export function transposeSplit(inShape: readonly number[], perm: readonly number[]): { batches: number; rows: number; cols: number } | null {
  const kept = perm.filter((p) => inShape[p] !== 1);
  const rankIn = [...kept].sort((p, q) => p - q);
  // Runs of input axes that stay consecutive in the output, in output order.
  const groups: number[][] = [];
  for (const p of kept) {
    const last = groups[groups.length - 1];
    if (last && rankIn.indexOf(last[last.length - 1]) + 1 === rankIn.indexOf(p)) last.push(p);
    else groups.push([p]);
  }
  const size = (g: number[]) => g.reduce((a, p) => a * inShape[p], 1);
  const byInput = [...groups].sort((g, h) => g[0] - h[0]);
  const order = groups.map((g) => byInput.indexOf(g));
  if (order.length <= 1) return { batches: 1, rows: 1, cols: inShape.reduce((a, b) => a * b, 1) };
  if (order.length === 2) return { batches: 1, rows: size(byInput[0]), cols: size(byInput[1]) };
  if (order.length === 3 && order[0] === 0 && order[1] === 2) return { batches: size(byInput[0]), rows: size(byInput[1]), cols: size(byInput[2]) };
  return null;
}
