import type { Builder } from '../ir/builder';
import type { Attrs, IRNode } from '../ir/node';
import { defineOps } from '../ir/registry';
import { normAxes, type Shape } from '../ir/shape';

export function reducedShape(x: Shape, a: Attrs): Shape {
  const axes = normAxes(a.axes as number[], x.length);
  return a.keepdims ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i));
}

/** The adjoint of a reduction's output, laid back over the reduced axes. */
function spread(b: Builder, y: IRNode, g: IRNode): IRNode {
  const x = y.inputs[0];
  return b.broadcastTo(b.reshape(g, reducedShape(x.shape, { ...y.attrs, keepdims: true })), x.shape);
}

defineOps([
  {
    name: 'sum',
    arity: 1,
    shape: ([x], a) => reducedShape(x, a),
    vjp: (b, y, g) => [spread(b, y, g)],
    jvp: (b, y, [t]) => t && b.sum(t, y.attrs.axes as number[], y.attrs.keepdims as boolean),
  },
  {
    // Ties: the gradient goes to the first maximum in row-major order (as torch.max(dim) and max_pool2d do).
    name: 'max',
    arity: 1,
    shape: ([x], a) => reducedShape(x, a),
    vjp: (b, y, g) => [b.mul(b.maxMask(y.inputs[0], y.attrs.axes as number[]), spread(b, y, g))],
    jvp: (b, y, [t]) =>
      t && b.sum(b.mul(b.maxMask(y.inputs[0], y.attrs.axes as number[]), t), y.attrs.axes as number[], y.attrs.keepdims as boolean),
  },
  {
    name: 'max_mask',
    arity: 1,
    shape: ([x], a) => {
      normAxes(a.axes as number[], x.length);
      return x;
    },
  },
]);
