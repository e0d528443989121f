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
