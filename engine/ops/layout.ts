import type { Window } from '../ir/builder';
import type { Attrs } from '../ir/node';
import { defineOps } from '../ir/registry';
import { broadcastShapes, formatShape, normAxis, ShapeError, shapesEqual, type Dim, type Shape } from '../ir/shape';

/** Element counts agree, the batch dimension counted as a symbol. */
function sameSize(a: Shape, b: Shape): boolean {
  const nulls = (s: Shape) => s.filter((d) => d === null).length;
  const prod = (s: Shape) => s.reduce<number>((n, d) => n * (d ?? 1), 1);
  return nulls(a) === nulls(b) && prod(a) === prod(b);
}

export function windowOutput(size: number, k: number, s: number, p: number): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

function colsShape(x: Shape, w: Window): Shape {
  if (x.length !== 4) throw new ShapeError(`expects an NCHW image tensor, got ${formatShape(x)}`);
  const [n, c, h, wd] = x;
  if (h === null || wd === null || c === null) throw new ShapeError('image dimensions must be fixed');
  const oh = windowOutput(h, w.kh, w.sh, w.ph);
  const ow = windowOutput(wd, w.kw, w.sw, w.pw);
  if (oh < 1 || ow < 1) throw new ShapeError(`a ${w.kh}x${w.kw} window does not fit a ${h}x${wd} image`);
  return [n, c * w.kh * w.kw, oh * ow];
}

function win(a: Attrs): Window {
  return a as unknown as Window;
}

defineOps([
  {
    name: 'reshape',
    arity: 1,
    shape: ([x], a) => {
      const s = a.shape as Shape;
      if (!sameSize(x, s)) throw new ShapeError(`cannot reshape ${formatShape(x)} to ${formatShape(s)}`);
      return s;
    },
    vjp: (b, y, g) => [b.reshape(g, y.inputs[0].shape)],
    jvp: (b, y, [t]) => t && b.reshape(t, y.shape),
  },
  {
    name: 'broadcast_to',
    arity: 1,
    shape: ([x], a) => {
      const s = a.shape as Shape;
      if (x.length > s.length || !shapesEqual(broadcastShapes(x, s), s)) {
        throw new ShapeError(`cannot broadcast ${formatShape(x)} to ${formatShape(s)}`);
      }
      return s;
    },
    vjp: (b, y, g) => [b.unbroadcast(g, y.inputs[0].shape)],
    jvp: (b, y, [t]) => t && b.broadcastTo(t, y.shape),
  },
  {
    name: 'transpose',
    arity: 1,
    shape: ([x], a) => {
      const perm = a.perm as number[];
      if (perm.length !== x.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
        throw new ShapeError(`perm ${JSON.stringify(perm)} is not a permutation of the ${x.length} axes of ${formatShape(x)}`);
      }
      return perm.map((p) => x[p]);
    },
    vjp: (b, y, g) => {
      const perm = y.attrs.perm as number[];
      const inv = perm.map((_, i) => perm.indexOf(i));
      return [b.transpose(g, inv)];
    },
    jvp: (b, y, [t]) => t && b.transpose(t, y.attrs.perm as number[]),
  },
  {
    name: 'concat',
    arity: 2,
    shape: ([x0, x1], a) => {
      const axis = normAxis(a.axis as number, x0.length);
      if (x0.length !== x1.length || x0.some((d, i) => i !== axis && d !== x1[i])) {
        throw new ShapeError(`cannot concatenate ${formatShape(x0)} and ${formatShape(x1)} along axis ${a.axis as number}`, 'b');
      }
      if (x0[axis] === null || x1[axis] === null) throw new ShapeError('cannot concatenate along the batch dimension');
      return x0.map((d, i) => (i === axis ? (d as number) + (x1[axis] as number) : d));
    },
    vjp: (b, y, g) => {
      const [x0, x1] = y.inputs;
      const axis = normAxis(y.attrs.axis as number, x0.shape.length);
      const n0 = x0.shape[axis] as number;
      return [b.slice(g, axis, 0, n0), b.slice(g, axis, n0, n0 + (x1.shape[axis] as number))];
    },
    jvp: (b, y, [t0, t1]) => {
      if (!t0 && !t1) return null;
      const [x0, x1] = y.inputs;
      return b.concat(t0 ?? b.fullLike(x0, 0), t1 ?? b.fullLike(x1, 0), y.attrs.axis as number);
    },
  },
  {
    name: 'slice',
    arity: 1,
    shape: ([x], a) => {
      const axis = normAxis(a.axis as number, x.length);
      const [start, end] = [a.start as number, a.end as number];
      const n = x[axis];
      if (n === null || start < 0 || end > n || start >= end) throw new ShapeError(`bad slice ${start}:${end} of ${formatShape(x)}`);
      return x.map((d, i) => (i === axis ? end - start : d));
    },
    vjp: (b, y, g) => {
      const x = y.inputs[0];
      const axis = normAxis(y.attrs.axis as number, x.shape.length);
      const [start, end] = [y.attrs.start as number, y.attrs.end as number];
      return [b.pad(g, axis, start, (x.shape[axis] as number) - end)];
    },
    jvp: (b, y, [t]) => t && b.slice(t, y.attrs.axis as number, y.attrs.start as number, y.attrs.end as number),
  },
  {
    name: 'pad',
    arity: 1,
    shape: ([x], a) => {
      const axis = normAxis(a.axis as number, x.length);
      if (x[axis] === null) throw new ShapeError('cannot pad the batch dimension');
      return x.map((d, i) => (i === axis ? (d as number) + (a.before as number) + (a.after as number) : d));
    },
    vjp: (b, y, g) => {
      const x = y.inputs[0];
      const axis = normAxis(y.attrs.axis as number, x.shape.length);
      const before = y.attrs.before as number;
      return [b.slice(g, axis, before, before + (x.shape[axis] as number))];
    },
    jvp: (b, y, [t]) => t && b.pad(t, y.attrs.axis as number, y.attrs.before as number, y.attrs.after as number),
  },
  {
    // NumPy matmul of tensors of rank >= 2: the last two axes multiply, the leading ones broadcast.
    name: 'matmul',
    arity: 2,
    shape: ([a, b]) => {
      if (a.length < 2) throw new ShapeError(`matmul needs rank >= 2, got ${formatShape(a)}`, 'a');
      if (b.length < 2) throw new ShapeError(`matmul needs rank >= 2, got ${formatShape(b)}`, 'b');
      const [m, k] = a.slice(-2);
      const [k2, n] = b.slice(-2);
      if (k !== k2) throw new ShapeError(`inner dimensions differ: ${formatShape(a)} @ ${formatShape(b)}`, 'b');
      const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
      return [...batch, m, n] as Dim[];
    },
    vjp: (b, y, g) => {
      const [x0, x1] = y.inputs;
      return [
        b.unbroadcast(b.matmul(g, b.transposeLast2(x1)), x0.shape),
        b.unbroadcast(b.matmul(b.transposeLast2(x0), g), x1.shape),
      ];
    },
    jvp: (b, y, [t0, t1]) => {
      const [x0, x1] = y.inputs;
      const parts = [t0 && b.matmul(t0, x1), t1 && b.matmul(x0, t1)].filter((p) => p !== null);
      if (!parts.length) return null;
      return b.expandTo(parts.length === 2 ? b.add(parts[0], parts[1]) : parts[0], y.shape);
    },
  },
  {
    // Patches of an NCHW image as columns: [N, C*kh*kw, OH*OW] (channel-major, then window row, then column),
    // zero outside the image. Convolution is then a matmul, and pooling a reduction over the window axis.
    name: 'im2col',
    arity: 1,
    shape: ([x], a) => colsShape(x, win(a)),
    vjp: (b, y, g) => [b.col2im(g, win(y.attrs), y.inputs[0].shape)],
    jvp: (b, y, [t]) => t && b.im2col(t, win(y.attrs)),
  },
  {
    // The transpose of im2col: sums each column entry back into the pixel it came from.
    name: 'col2im',
    arity: 1,
    shape: ([x], a) => {
      const image = a.imageShape as Shape;
      const cols = colsShape(image, win(a));
      if (!shapesEqual(cols.slice(1), x.slice(1))) throw new ShapeError(`col2im: ${formatShape(x)} is not the columns of ${formatShape(image)}`);
      return [x[0], ...image.slice(1)];
    },
    vjp: (b, y, g) => [b.im2col(g, win(y.attrs))],
    jvp: (b, y, [t]) => t && b.col2im(t, win(y.attrs), y.shape),
  },
]);
