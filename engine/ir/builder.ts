import '../ops';
import type { Attrs, IRNode } from './node';
import { getOp } from './registry';
import { broadcastShapes, lastTwoSwapped, numel, shapesEqual, type Dim, type Shape } from './shape';

type Operand = IRNode | number;

/**
 * Builds the IR: every primitive has a method here, so that expansions of layers and VJPs read like maths.
 * Numbers passed where a tensor is expected become scalar constants.
 */
export class Builder {
  readonly nodes: IRNode[] = [];
  /** Set while expanding a project node, so that each primitive knows where it came from. */
  origin: string | undefined;

  emit(op: string, inputs: readonly IRNode[], attrs: Attrs = {}): IRNode {
    const def = getOp(op);
    if (inputs.length !== def.arity) throw new Error(`${op} takes ${def.arity} inputs, got ${inputs.length}`);
    const shape = def.shape(
      inputs.map((i) => i.shape),
      attrs,
    );
    const node: IRNode = { id: this.nodes.length, op, inputs, attrs, shape, origin: this.origin };
    this.nodes.push(node);
    return node;
  }

  private t(x: Operand): IRNode {
    return typeof x === 'number' ? this.scalar(x) : x;
  }

  // sources
  input(name: string, shape: Shape): IRNode {
    return this.emit('input', [], { name, shape });
  }
  param(name: string, shape: Shape): IRNode {
    return this.emit('param', [], { name, shape });
  }
  /** A fixed tensor; float64 values stay float64 on a float64 backend (gradient checks). */
  constant(value: Float32Array | Float64Array, shape: Shape): IRNode {
    if (value.length !== numel(shape)) throw new Error('constant value does not match its shape');
    return this.emit('const', [], { value, shape });
  }
  scalar(v: number): IRNode {
    return this.constant(Float64Array.of(v), []);
  }
  fullLike(x: IRNode, value: number): IRNode {
    return this.emit('full_like', [x], { value });
  }

  // unary
  neg(x: IRNode): IRNode { return this.emit('neg', [x]); }
  exp(x: IRNode): IRNode { return this.emit('exp', [x]); }
  ln(x: IRNode): IRNode { return this.emit('ln', [x]); }
  sin(x: IRNode): IRNode { return this.emit('sin', [x]); }
  cos(x: IRNode): IRNode { return this.emit('cos', [x]); }
  tanh(x: IRNode): IRNode { return this.emit('tanh', [x]); }
  sigmoid(x: IRNode): IRNode { return this.emit('sigmoid', [x]); }
  relu(x: IRNode): IRNode { return this.emit('relu', [x]); }
  leakyRelu(x: IRNode, alpha: number): IRNode { return this.emit('leaky_relu', [x], { alpha }); }
  softplus(x: IRNode): IRNode { return this.emit('softplus', [x]); }
  abs(x: IRNode): IRNode { return this.emit('abs', [x]); }
  sqrt(x: IRNode): IRNode { return this.emit('sqrt', [x]); }
  pow(x: IRNode, exponent: number): IRNode { return this.emit('pow', [x], { exponent }); }
  sign(x: IRNode): IRNode { return this.emit('sign', [x]); }
  /** 1 where x > 0, else 0. */
  step(x: IRNode): IRNode { return this.emit('step', [x]); }
  stopGradient(x: IRNode): IRNode { return this.emit('stop_gradient', [x]); }

  // binary, broadcasting
  add(a: Operand, b: Operand): IRNode { return this.binary('add', a, b); }
  sub(a: Operand, b: Operand): IRNode { return this.binary('sub', a, b); }
  mul(a: Operand, b: Operand): IRNode { return this.binary('mul', a, b); }
  div(a: Operand, b: Operand): IRNode { return this.binary('div', a, b); }
  maximum(a: Operand, b: Operand): IRNode { return this.binary('maximum', a, b); }
  minimum(a: Operand, b: Operand): IRNode { return this.binary('minimum', a, b); }
  /** 1 where a > b, else 0. */
  greater(a: Operand, b: Operand): IRNode { return this.binary('greater', a, b); }
  /** 1 where a >= b, else 0. */
  greaterEqual(a: Operand, b: Operand): IRNode { return this.binary('greater_equal', a, b); }

  /**
   * A broadcasting binary op. An operand that is uniform (`uniformValue`: the reverse seed, as a mean's VJP scales,
   * reshapes and broadcasts it) is read as a scalar constant where the other operand has the result's shape already:
   * the steps that built it are left out of plans (nothing reads them).
   */
  private binary(op: string, a: Operand, b: Operand): IRNode {
    const [x, y] = [this.t(a), this.t(b)];
    const first = this.asScalar(x, y);
    // Against the first as read: two uniforms of one shape are not both scalars, which would lose the shape.
    return this.emit(op, [first, this.asScalar(y, first)]);
  }

  private asScalar(u: IRNode, other: IRNode): IRNode {
    if (u.op === 'const' && u.shape.length === 0) return u;
    const v = uniformValue(u);
    if (v === undefined || !shapesEqual(broadcastShapes(u.shape, other.shape), other.shape)) return u;
    return this.scalar(v);
  }

  // reductions
  sum(x: IRNode, axes: readonly number[], keepdims = false): IRNode {
    return this.emit('sum', [x], { axes, keepdims });
  }
  max(x: IRNode, axes: readonly number[], keepdims = false): IRNode {
    return this.emit('max', [x], { axes, keepdims });
  }
  /** One-hot of the first maximum (row-major) within each slice over `axes`: where a max reduction's gradient goes. */
  maxMask(x: IRNode, axes: readonly number[]): IRNode {
    return this.emit('max_mask', [x], { axes });
  }
  mean(x: IRNode, axes: readonly number[], keepdims = false): IRNode {
    const count = axes.reduce((n, a) => n * dimValue(x.shape[a < 0 ? a + x.shape.length : a]), 1);
    return this.mul(this.sum(x, axes, keepdims), 1 / count);
  }

  // layout
  reshape(x: IRNode, shape: Shape): IRNode {
    return shapesEqual(x.shape, shape) ? x : this.emit('reshape', [x], { shape });
  }
  broadcastTo(x: IRNode, shape: Shape): IRNode {
    return shapesEqual(x.shape, shape) ? x : this.emit('broadcast_to', [x], { shape });
  }
  transpose(x: IRNode, perm: readonly number[]): IRNode {
    return perm.every((p, i) => p === i) ? x : this.emit('transpose', [x], { perm });
  }
  /** Swaps the last two axes. */
  transposeLast2(x: IRNode): IRNode {
    return this.transpose(x, lastTwoSwapped(x.shape.length));
  }
  concat(a: IRNode, b: IRNode, axis: number): IRNode {
    return this.emit('concat', [a, b], { axis });
  }
  slice(x: IRNode, axis: number, start: number, end: number): IRNode {
    return this.emit('slice', [x], { axis, start, end });
  }
  pad(x: IRNode, axis: number, before: number, after: number): IRNode {
    return this.emit('pad', [x], { axis, before, after });
  }
  matmul(a: IRNode, b: IRNode): IRNode {
    return this.emit('matmul', [a, b]);
  }
  im2col(x: IRNode, w: Window): IRNode {
    return this.emit('im2col', [x], { ...w });
  }
  col2im(x: IRNode, w: Window, imageShape: Shape): IRNode {
    return this.emit('col2im', [x], { ...w, imageShape });
  }

  // data-dependent constants
  oneHot(labels: IRNode, classes: number): IRNode {
    return this.emit('one_hot', [labels], { classes });
  }
  dropoutMask(x: IRNode, rate: number, stream: number): IRNode {
    return this.emit('dropout_mask', [x], { rate, stream });
  }

  /**
   * Sums a gradient down to `shape`: the one place where broadcasting is undone in reverse mode.
   * Leading axes that broadcasting added are summed away; axes that were 1 are summed with keepdims.
   */
  unbroadcast(g: IRNode, shape: Shape): IRNode {
    if (shapesEqual(g.shape, shape)) return g;
    const lead = g.shape.length - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < g.shape.length; i++) {
      if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    }
    const summed = axes.length ? this.sum(g, axes, true) : g;
    return this.reshape(summed, shape);
  }

  /** Broadcasts a tangent to the output shape of the op it flows into. */
  expandTo(t: IRNode, shape: Shape): IRNode {
    return this.broadcastTo(this.reshape(t, alignRank(t.shape, shape.length)), broadcastShapes(t.shape, shape));
  }
}

/** Arithmetic on uniform values (in float64: the values folded in practice, ±1 and 1/n, come out exact). */
const ARITHMETIC: Readonly<Record<string, (a: number, b: number) => number>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};
const uniforms = new WeakMap<IRNode, number | undefined>();

/**
 * The value of a node that is the same at every element and known when the graph is built: a fill, a one-element
 * constant, and what reshapes, broadcasts, negation and arithmetic make of them; undefined for any other node.
 */
export function uniformValue(n: IRNode): number | undefined {
  if (uniforms.has(n)) return uniforms.get(n);
  let v: number | undefined;
  if (n.op === 'full_like') v = n.attrs.value as number;
  else if (n.op === 'const') {
    const values = n.attrs.value as Float32Array | Float64Array;
    v = values.length === 1 ? values[0] : undefined;
  } else if (n.op === 'reshape' || n.op === 'broadcast_to') v = uniformValue(n.inputs[0]);
  else if (n.op === 'neg') {
    const x = uniformValue(n.inputs[0]);
    v = x === undefined ? undefined : -x;
  } else if (n.op in ARITHMETIC) {
    const a = uniformValue(n.inputs[0]);
    const b = a === undefined ? undefined : uniformValue(n.inputs[1]);
    v = b === undefined ? undefined : ARITHMETIC[n.op](a!, b);
  }
  uniforms.set(n, v);
  return v;
}

/** Convolution or pooling window over NCHW images. */
export interface Window {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

function dimValue(d: Dim): number {
  return d === null ? NaN : d;
}

function alignRank(s: Shape, rank: number): Shape {
  return [...Array<Dim>(Math.max(0, rank - s.length)).fill(1), ...s];
}
