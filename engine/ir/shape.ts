/**
 * Shapes. A dimension is a number, or `null` for the batch dimension while it is still symbolic (the editor's
 * shape inference). Compiled graphs use concrete numbers only.
 */
export type Dim = number | null;
export type Shape = readonly Dim[];

/** A shape rule's complaint; the graph module turns it into an error that names the node and port. */
export class ShapeError extends Error {
  constructor(
    message: string,
    readonly port?: string,
    /** The node's attribute at fault, where the inputs are not (the inspector shows it under that field). */
    readonly attr?: string,
  ) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** The permutation that swaps the last two of `rank` axes (a matrix transpose, batched). */
export function lastTwoSwapped(rank: number): number[] {
  return [...Array(rank).keys()].map((i) => (i === rank - 2 ? rank - 1 : i === rank - 1 ? rank - 2 : i));
}

export function formatShape(s: Shape): string {
  return '[' + s.map((d) => (d === null ? 'B' : String(d))).join(', ') + ']';
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Number of elements; NaN while a dimension is symbolic. */
export function numel(s: Shape): number {
  let n = 1;
  for (const d of s) n *= d === null ? NaN : d;
  return n;
}

/** The concrete shape; throws if a dimension is still symbolic (a bug: kernels only see compiled graphs). */
export function concrete(s: Shape): number[] {
  return s.map((d) => {
    if (d === null) throw new Error('symbolic dimension in a compiled graph');
    return d;
  });
}

/** NumPy broadcasting, aligning trailing dimensions. The batch dimension broadcasts only against itself or 1. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else throw new ShapeError(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
  }
  return out;
}

/** Normalises an axis (negative counts from the end). */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new ShapeError(`${what} ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function normAxes(axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(a, rank));
  if (new Set(out).size !== out.length) throw new ShapeError(`axes ${JSON.stringify(axes)} repeat an axis`);
  return out.sort((x, y) => x - y);
}

/** Row-major strides of a concrete shape. */
export function strides(s: readonly number[]): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}
