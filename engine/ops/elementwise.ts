import type { Builder } from '../ir/builder';
import type { IRNode } from '../ir/node';
import { defineOps, type OpDef } from '../ir/registry';
import { broadcastShapes } from '../ir/shape';

/** d y / d x of an elementwise op, as a node (or the constant -1 / 1); y is the op's output. */
type Partial = (b: Builder, x: IRNode, y: IRNode) => IRNode | 1 | -1;

function times(b: Builder, g: IRNode, p: IRNode | 1 | -1): IRNode {
  return p === 1 ? g : p === -1 ? b.neg(g) : b.mul(g, p);
}

/** A unary elementwise op: the derivative, written once, gives both the VJP (g * f') and the JVP (t * f'). */
function unary(name: string, derivative?: Partial): OpDef {
  return {
    name,
    arity: 1,
    shape: ([x]) => x,
    vjp: derivative && ((b, y, g) => [times(b, g, derivative(b, y.inputs[0], y))]),
    jvp: derivative && ((b, y, [t]) => (t ? times(b, t, derivative(b, y.inputs[0], y)) : null)),
  };
}

/**
 * A broadcasting binary op. The VJP reduces each adjoint back to its input's shape (Builder.unbroadcast, the one
 * shared place); the JVP broadcasts tangents up to the output's shape.
 */
function binary(name: string, da?: Partial2, db?: Partial2): OpDef {
  return {
    name,
    arity: 2,
    shape: ([a, b]) => broadcastShapes(a, b),
    vjp:
      da &&
      db &&
      ((b, y, g) => {
        const [x0, x1] = y.inputs;
        return [b.unbroadcast(times(b, g, da(b, x0, x1, y)), x0.shape), b.unbroadcast(times(b, g, db(b, x0, x1, y)), x1.shape)];
      }),
    jvp:
      da &&
      db &&
      ((b, y, [t0, t1]) => {
        const [x0, x1] = y.inputs;
        const parts = [t0 && times(b, t0, da(b, x0, x1, y)), t1 && times(b, t1, db(b, x0, x1, y))].filter((p): p is IRNode => !!p);
        if (!parts.length) return null;
        return b.expandTo(parts.length === 2 ? b.add(parts[0], parts[1]) : parts[0], y.shape);
      }),
  };
}

type Partial2 = (b: Builder, x0: IRNode, x1: IRNode, y: IRNode) => IRNode | 1 | -1;

defineOps([
  unary('neg', () => -1),
  unary('exp', (_b, _x, y) => y),
  unary('ln', (b, x) => b.div(1, x)),
  unary('sin', (b, x) => b.cos(x)),
  unary('cos', (b, x) => b.neg(b.sin(x))),
  unary('tanh', (b, _x, y) => b.sub(1, b.mul(y, y))),
  unary('sigmoid', (b, _x, y) => b.mul(y, b.sub(1, y))),
  // relu'(0) = 0, as in PyTorch. step(y) = step(x) (relu(x) > 0 exactly where x > 0), read from the output so that
  // the pre-activation need not be kept for the backward pass (and a GPU matmul can write the relu itself).
  unary('relu', (b, _x, y) => b.step(y)),
  {
    ...unary('leaky_relu'),
    vjp: (b, y, g) => [b.mul(g, leakySlope(b, y))],
    jvp: (b, y, [t]) => (t ? b.mul(t, leakySlope(b, y)) : null),
  },
  unary('softplus', (b, x) => b.sigmoid(x)),
  // abs'(0) = 0 (sign(0) = 0), as in PyTorch.
  unary('abs', (b, x) => b.sign(x)),
  unary('sqrt', (b, _x, y) => b.div(0.5, y)),
  {
    ...unary('pow'),
    vjp: (b, y, g) => [b.mul(g, powSlope(b, y))],
    jvp: (b, y, [t]) => (t ? b.mul(t, powSlope(b, y)) : null),
  },
  unary('sign'),
  unary('step'),
  { name: 'stop_gradient', arity: 1, shape: ([x]) => x },

  binary('add', () => 1, () => 1),
  binary('sub', () => 1, () => -1),
  binary('mul', (_b, _x0, x1) => x1, (_b, x0) => x0),
  binary('div', (b, _x0, x1) => b.div(1, x1), (b, _x0, x1, y) => b.neg(b.div(y, x1))),
  // Ties: the whole gradient goes to the first input, a.
  binary('maximum', (b, x0, x1) => b.greaterEqual(x0, x1), (b, x0, x1) => b.greater(x1, x0)),
  binary('minimum', (b, x0, x1) => b.greaterEqual(x1, x0), (b, x0, x1) => b.greater(x0, x1)),
  binary('greater'),
  binary('greater_equal'),
]);

/** leaky_relu'(x) = 1 for x > 0, else alpha (so alpha at 0, as in PyTorch). */
function leakySlope(b: Builder, y: IRNode): IRNode {
  const alpha = y.attrs.alpha as number;
  return b.add(alpha, b.mul(b.step(y.inputs[0]), 1 - alpha));
}

/** d x^p / dx = p x^(p-1). */
function powSlope(b: Builder, y: IRNode): IRNode {
  const p = y.attrs.exponent as number;
  return b.mul(b.pow(y.inputs[0], p - 1), p);
}
