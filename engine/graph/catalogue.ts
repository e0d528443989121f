import type { Builder } from '../ir/builder';
import type { IRNode } from '../ir/node';
import { formatShape, normAxes, normAxis, numel, ShapeError, shapesEqual, type Dim, type Shape } from '../ir/shape';
import { windowOutput } from '../ops/layout';
import { nestedShape, pair, type AttrSpec } from './attrs';
import { INIT_NAMES, type InitSpec } from './init';

/**
 * The op catalogue of project-format.md: what each op of a project file is (group, ports, attributes with
 * defaults and ranges) and how it expands into primitives. Pure data and graph code: the editor's palette,
 * inspector, port checks and shape inference all run from it.
 */
export type Group = 'sources' | 'unary' | 'binary' | 'linalg' | 'reduce' | 'layers' | 'losses';

export const GROUPS: readonly { id: Group; title: string }[] = [
  { id: 'sources', title: 'Sources' },
  { id: 'layers', title: 'Layers' },
  { id: 'unary', title: 'Math: unary' },
  { id: 'binary', title: 'Math: binary' },
  { id: 'linalg', title: 'Linear algebra' },
  { id: 'reduce', title: 'Reduce' },
  { id: 'losses', title: 'Losses' },
];

/** train: dropout on, batchnorm on batch statistics (updating the running ones); eval: dropout off, batchnorm on
 * batch statistics (grad and gradcheck); infer: dropout off, batchnorm on running statistics. */
export type Mode = 'train' | 'eval' | 'infer';

export type LabelKind = 'class' | 'real' | 'sign';

export interface ExpandCtx {
  readonly b: Builder;
  readonly nodeId: string;
  readonly mode: Mode;
  /** The batch size, or null (symbolic) for shape inference. */
  readonly batch: Dim;
  /** Whether a tensor carries the batch dimension first. */
  batched(x: IRNode): boolean;
  /** A tensor of this node: `ID.local`, or `ID` itself when local is null. */
  param(local: string | null, shape: readonly number[], init: InitSpec, trainable?: boolean): IRNode;
  /** In train mode, writes `value` into state tensor `ID.local` after the step (batchnorm running statistics). */
  assign(local: string, value: IRNode): void;
  /** The kind of the label node wired (directly) to a port, if it is one. */
  labelKind(port: string): LabelKind | undefined;
  /** A number unique to this node, for its random stream. */
  readonly stream: number;
}

export interface OpSpec {
  readonly op: string;
  readonly group: Group;
  readonly inputs: readonly string[];
  readonly attrs: readonly AttrSpec[];
  readonly doc: string;
  /** Does the output carry the batch dimension? Default: when any input does; sources and losses say. */
  batched?(attrs: Attrs, inputs: Readonly<Record<string, { batched: boolean; shape: Shape }>>): boolean;
  expand(ctx: ExpandCtx, x: Readonly<Record<string, IRNode>>, attrs: Attrs): IRNode;
}

export type Attrs = Readonly<Record<string, unknown>>;

// ---------------------------------------------------------------------------------------------------------------
// shared pieces

const ACTIVATIONS = ['none', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'softplus'] as const;

function activate(b: Builder, x: IRNode, act: string): IRNode {
  switch (act) {
    case 'relu':
      return b.relu(x);
    case 'leaky_relu':
      return b.leakyRelu(x, 0.01);
    case 'sigmoid':
      return b.sigmoid(x);
    case 'tanh':
      return b.tanh(x);
    case 'softplus':
      return b.softplus(x);
    default:
      return x;
  }
}

const initAttrs = (dflt: string | undefined, doc: string): AttrSpec[] => [
  { name: 'init', kind: { type: 'enum', options: INIT_NAMES }, default: dflt, optional: dflt === undefined, doc },
  { name: 'value', kind: { type: 'number' }, default: 0, doc: 'init constant: the value', shownWhen: { attr: 'init', in: ['constant'] } },
  { name: 'std', kind: { type: 'number', min: 0 }, default: 0.01, doc: 'init normal: the standard deviation', shownWhen: { attr: 'init', in: ['normal'] } },
  { name: 'low', kind: { type: 'number' }, default: -0.05, doc: 'init uniform: the lower bound', shownWhen: { attr: 'init', in: ['uniform'] } },
  { name: 'high', kind: { type: 'number' }, default: 0.05, doc: 'init uniform: the upper bound', shownWhen: { attr: 'init', in: ['uniform'] } },
];

function initOf(a: Attrs, fallback: InitSpec['init']): InitSpec {
  return {
    init: (a.init as InitSpec['init'] | undefined) ?? fallback,
    value: a.value as number,
    std: a.std as number,
    low: a.low as number,
    high: a.high as number,
  };
}

/** Default init of a layer's weight: he for relu-like activations, else xavier. */
function layerInit(a: Attrs): InitSpec {
  return initOf(a, a.activation === 'relu' || a.activation === 'leaky_relu' ? 'he' : 'xavier');
}

const weightAttr: AttrSpec = { name: 'weight', kind: { type: 'number' }, default: 1, doc: 'multiplies the loss' };

function unaryOp(op: string, doc: string, f: (b: Builder, x: IRNode, a: Attrs) => IRNode, attrs: AttrSpec[] = []): OpSpec {
  return { op, group: 'unary', inputs: ['x'], attrs, doc, expand: ({ b }, { x }, a) => f(b, x, a) };
}

function binaryOp(op: string, doc: string, f: (b: Builder, a: IRNode, c: IRNode) => IRNode): OpSpec {
  return {
    op,
    group: 'binary',
    inputs: ['a', 'b'],
    attrs: [],
    doc,
    expand: ({ b }, x) => {
      try {
        return f(b, x.a, x.b);
      } catch (e) {
        if (e instanceof ShapeError && !e.port) {
          throw new ShapeError(`shape ${formatShape(x.b.shape)} does not broadcast with port a's ${formatShape(x.a.shape)}`, 'b');
        }
        throw e;
      }
    },
  };
}

/** log_softmax along an axis, stable: x - max - ln(sum(exp(x - max))), the max carrying no gradient. */
function logSoftmax(b: Builder, x: IRNode, axis: number): IRNode {
  const ax = [normAxis(axis, x.shape.length)];
  const shifted = b.sub(x, b.stopGradient(b.max(x, ax, true)));
  return b.sub(shifted, b.ln(b.sum(b.exp(shifted), ax, true)));
}

/** `f`'s shape errors as errors of the node's attribute `attr`, which is at fault there (shown under its field). */
function attrFault<T>(attr: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof ShapeError ? new ShapeError(e.message, undefined, attr) : e;
  }
}

/**
 * The node's `axis` attribute normalised for `x`: one outside x's axes is that attribute's error, unless x is a scalar,
 * which has no axis to choose (the input's error: search-to-add does not offer the op for a scalar wire).
 */
function axisOf(a: Attrs, x: IRNode): number {
  if (x.shape.length === 0) return normAxis(a.axis as number, 0);
  return attrFault('axis', () => normAxis(a.axis as number, x.shape.length));
}

/**
 * The axes a reduction sums over: the node's (where they do not fit its input, that attribute's error), else all but
 * the batch dimension.
 */
function reductionAxes(ctx: ExpandCtx, x: IRNode, a: Attrs): number[] {
  if (a.axes === undefined) return [...x.shape.keys()].filter((i) => !(i === 0 && ctx.batched(x)));
  return attrFault('axes', () => normAxes(a.axes as number[], x.shape.length));
}

function reductionBatched(a: Attrs, x: { batched: boolean; shape: Shape }): boolean {
  if (!x.batched) return false;
  if (a.axes === undefined) return true;
  try {
    return !normAxes(a.axes as number[], x.shape.length).includes(0);
  } catch {
    return true;
  }
}

/** Mean over the batch of a per-example value (sums the rest first), giving a scalar. */
function batchMean(ctx: ExpandCtx, perExample: IRNode): IRNode {
  const { b } = ctx;
  if (!ctx.batched(perExample)) return b.sum(perExample, [...perExample.shape.keys()]);
  const rest = [...perExample.shape.keys()].slice(1);
  const s = rest.length ? b.sum(perExample, rest) : perExample;
  return b.mean(s, [0]);
}

function scaled(b: Builder, x: IRNode, a: Attrs): IRNode {
  const w = (a.weight as number | undefined) ?? 1;
  return w === 1 ? x : b.mul(x, w);
}

/** Per-example scores [B] or [B, 1] as [B]. */
function scoresVector(ctx: ExpandCtx, s: IRNode, port: string): IRNode {
  const ok = ctx.batched(s) && (s.shape.length === 1 || (s.shape.length === 2 && s.shape[1] === 1));
  if (!ok) throw new ShapeError(`expects per-example scores [B] or [B, 1], got ${formatShape(s.shape)}`, port);
  return ctx.b.reshape(s, [s.shape[0]]);
}

function labelsVector(ctx: ExpandCtx, y: IRNode, port: string): IRNode {
  if (!ctx.batched(y) || y.shape.length !== 1) throw new ShapeError(`expects one label per example [B], got ${formatShape(y.shape)}`, port);
  return y;
}

/** -1/+1 labels (sign) as 0/1; 0/1 labels as they are. */
function zeroOne(ctx: ExpandCtx, y: IRNode, port: string): IRNode {
  return ctx.labelKind(port) === 'sign' ? ctx.b.mul(ctx.b.add(y, 1), 0.5) : y;
}

/** NCHW window attributes of conv2d and the pools. */
function windowOf(x: IRNode, a: Attrs, padding: unknown): { kh: number; kw: number; sh: number; sw: number; ph: number; pw: number } {
  const [kh, kw] = pair(a.kernel);
  const [sh, sw] = pair(a.stride ?? a.kernel);
  let ph: number;
  let pw: number;
  if (padding === 'same') {
    if (kh % 2 === 0 || kw % 2 === 0) throw new ShapeError(`padding "same" needs an odd kernel size, not ${kh}x${kw}`, undefined, 'padding');
    if (sh !== 1 || sw !== 1) throw new ShapeError(`padding "same" needs stride 1, not ${sh}x${sw}`, undefined, 'padding');
    [ph, pw] = [(kh - 1) / 2, (kw - 1) / 2];
  } else [ph, pw] = pair(padding ?? 0);
  if (x.shape.length !== 4) throw new ShapeError(`expects an NCHW image batch [B, C, H, W], got ${formatShape(x.shape)}`, 'x');
  const [h, w] = [x.shape[2] as number, x.shape[3] as number];
  if (windowOutput(h, kh, sh, ph) < 1 || windowOutput(w, kw, sw, pw) < 1) {
    throw new ShapeError(`a ${kh}x${kw} window does not fit the ${h}x${w} image ${formatShape(x.shape)}`, 'x');
  }
  return { kh, kw, sh, sw, ph, pw };
}

/** Pooling: im2col, then reduce over the window axis. */
function pool(ctx: ExpandCtx, x: IRNode, a: Attrs, reduce: 'max' | 'mean'): IRNode {
  const { b } = ctx;
  const w = windowOf(x, a, 0);
  const [n, c, h, wd] = x.shape as [Dim, number, number, number];
  const oh = windowOutput(h, w.kh, w.sh, 0);
  const ow = windowOutput(wd, w.kw, w.sw, 0);
  const cols = b.reshape(b.im2col(x, w), [n, c, w.kh * w.kw, oh * ow]);
  const r = reduce === 'max' ? b.max(cols, [2]) : b.mean(cols, [2]);
  return b.reshape(r, [n, c, oh, ow]);
}

function perExampleShape(x: IRNode, ctx: ExpandCtx): { lead: Dim[]; rest: Shape } {
  return ctx.batched(x) ? { lead: [x.shape[0]], rest: x.shape.slice(1) } : { lead: [], rest: x.shape };
}

/** A constant's value as a flat array and its shape. */
export function tensorValue(v: unknown): { values: Float32Array; shape: number[] } {
  const shape = nestedShape(v);
  const flat = (Array.isArray(v) ? (v as unknown[]).flat(Infinity) : [v]) as number[];
  return { values: Float32Array.from(flat), shape };
}

// ---------------------------------------------------------------------------------------------------------------
// the catalogue

const SOURCES: OpSpec[] = [
  {
    op: 'input',
    group: 'sources',
    inputs: [],
    attrs: [
      { name: 'shape', kind: { type: 'shape' }, default: [], doc: "one example's shape ([] for a scalar)" },
      { name: 'feature', kind: { type: 'string' }, optional: true, doc: 'the data column feeding a scalar input' },
      { name: 'features', kind: { type: 'strings' }, optional: true, doc: 'the data columns feeding it (default: all features)' },
    ],
    doc: 'A batch of examples from the data.',
    batched: () => true,
    expand: (ctx, _x, a) => ctx.b.input(ctx.nodeId, [ctx.batch, ...(a.shape as number[])]),
  },
  {
    op: 'label',
    group: 'sources',
    inputs: [],
    attrs: [
      { name: 'kind', kind: { type: 'enum', options: ['class', 'real', 'sign'] }, default: 'class', doc: 'class indices, real values, or -1/+1' },
      { name: 'shape', kind: { type: 'shape' }, default: [], doc: "one example's label shape ([] for one value per example)" },
    ],
    doc: "The data's label for each example of the batch.",
    batched: () => true,
    expand: (ctx, _x, a) => ctx.b.input(ctx.nodeId, [ctx.batch, ...(a.shape as number[])]),
  },
  {
    op: 'parameter',
    group: 'sources',
    inputs: [],
    attrs: [
      { name: 'shape', kind: { type: 'shape' }, default: [], doc: 'the tensor shape (no batch dimension)' },
      ...initAttrs(undefined, 'how it starts (default: xavier for 2-D and more, zeros otherwise)'),
    ],
    doc: 'A trainable tensor, named by the node id.',
    batched: () => false,
    expand: (ctx, _x, a) => {
      const shape = a.shape as number[];
      return ctx.param(null, shape, initOf(a, shape.length >= 2 ? 'xavier' : 'zeros'));
    },
  },
  {
    op: 'constant',
    group: 'sources',
    inputs: [],
    attrs: [{ name: 'value', kind: { type: 'tensor' }, default: 0, doc: 'a number or a nested list of numbers' }],
    doc: 'A fixed tensor.',
    batched: () => false,
    expand: (ctx, _x, a) => {
      const { values, shape } = tensorValue(a.value);
      return ctx.b.constant(values, shape);
    },
  },
];

const UNARY: OpSpec[] = [
  unaryOp('neg', '-x', (b, x) => b.neg(x)),
  unaryOp('exp', 'e^x', (b, x) => b.exp(x)),
  unaryOp('ln', 'natural logarithm', (b, x) => b.ln(x)),
  unaryOp('sin', 'sine', (b, x) => b.sin(x)),
  unaryOp('cos', 'cosine', (b, x) => b.cos(x)),
  unaryOp('tanh', 'hyperbolic tangent', (b, x) => b.tanh(x)),
  unaryOp('sigmoid', '1 / (1 + e^-x)', (b, x) => b.sigmoid(x)),
  unaryOp('relu', 'max(x, 0)', (b, x) => b.relu(x)),
  unaryOp('leaky_relu', 'x for x > 0, else alpha x', (b, x, a) => b.leakyRelu(x, a.alpha as number), [
    { name: 'alpha', kind: { type: 'number', min: 0, max: 1 }, default: 0.01, doc: 'slope below zero' },
  ]),
  unaryOp('softplus', 'ln(1 + e^x), computed stably', (b, x) => b.softplus(x)),
  unaryOp('abs', '|x|', (b, x) => b.abs(x)),
  unaryOp('sqrt', 'square root', (b, x) => b.sqrt(x)),
  unaryOp('square', 'x^2', (b, x) => b.mul(x, x)),
  unaryOp('pow', 'x^exponent', (b, x, a) => b.pow(x, a.exponent as number), [
    { name: 'exponent', kind: { type: 'number' }, default: 2, doc: 'the power' },
  ]),
  unaryOp('softmax', 'e^x / sum(e^x) along an axis, computed stably', (b, x, a) => b.exp(logSoftmax(b, x, axisOf(a, x))), [
    { name: 'axis', kind: { type: 'axis' }, default: -1, doc: 'the axis that sums to 1' },
  ]),
  unaryOp('log_softmax', 'x - logsumexp(x) along an axis, computed stably', (b, x, a) => logSoftmax(b, x, axisOf(a, x)), [
    { name: 'axis', kind: { type: 'axis' }, default: -1, doc: 'the axis normalised over' },
  ]),
];

const BINARY: OpSpec[] = [
  binaryOp('add', 'a + b', (b, x, y) => b.add(x, y)),
  binaryOp('sub', 'a - b', (b, x, y) => b.sub(x, y)),
  binaryOp('mul', 'a * b', (b, x, y) => b.mul(x, y)),
  binaryOp('div', 'a / b', (b, x, y) => b.div(x, y)),
  binaryOp('maximum', 'the larger of a and b (ties: the gradient goes to a)', (b, x, y) => b.maximum(x, y)),
  binaryOp('minimum', 'the smaller of a and b (ties: the gradient goes to a)', (b, x, y) => b.minimum(x, y)),
];

const LINALG: OpSpec[] = [
  {
    op: 'matmul',
    group: 'linalg',
    inputs: ['a', 'b'],
    attrs: [],
    doc: 'Matrix product of the last two axes; leading axes broadcast (NumPy matmul, rank >= 2).',
    expand: ({ b }, x) => b.matmul(x.a, x.b),
  },
  {
    op: 'transpose',
    group: 'linalg',
    inputs: ['x'],
    attrs: [{ name: 'perm', kind: { type: 'axes' }, optional: true, doc: 'the new order of the axes (default: swap the last two)' }],
    doc: 'Permutes the axes (the batch dimension is axis 0).',
    batched: (a, { x }) => x.batched && (a.perm === undefined || (a.perm as number[])[0] === 0),
    expand: ({ b }, { x }, a) => {
      if (a.perm === undefined) {
        if (x.shape.length < 2) throw new ShapeError(`needs rank >= 2 to swap the last two axes, got ${formatShape(x.shape)}`, 'x');
        return b.transposeLast2(x);
      }
      // the op's own check: a perm that is not a permutation of x's axes
      return attrFault('perm', () => b.transpose(x, a.perm as number[]));
    },
  },
  {
    op: 'reshape',
    group: 'linalg',
    inputs: ['x'],
    attrs: [{ name: 'shape', kind: { type: 'shape', allowInfer: true }, default: [-1], doc: 'the new per-example shape (one -1 is inferred)' }],
    doc: "Reshapes each example (the batch dimension stays).",
    expand: (ctx, { x }, a) => {
      const { lead, rest } = perExampleShape(x, ctx);
      const want = a.shape as number[];
      const total = numel(rest);
      const known = want.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
      const infers = want.includes(-1);
      // The attribute is what a user edits to fit the wire, so it carries the error (shown under its field).
      if (infers ? total % known !== 0 : known !== total) {
        const holds = infers ? `needs a multiple of ${known}` : `holds ${known}`;
        throw new ShapeError(`an example of shape ${formatShape(rest)} has ${total} values: shape ${formatShape(want)} ${holds}`, undefined, 'shape');
      }
      return ctx.b.reshape(x, [...lead, ...want.map((d) => (d === -1 ? total / known : d))]);
    },
  },
  {
    op: 'flatten',
    group: 'linalg',
    inputs: ['x'],
    attrs: [],
    doc: 'Flattens each example to a vector.',
    expand: (ctx, { x }) => {
      const { lead, rest } = perExampleShape(x, ctx);
      return ctx.b.reshape(x, [...lead, numel(rest)]);
    },
  },
  {
    op: 'concat',
    group: 'linalg',
    inputs: ['a', 'b'],
    attrs: [{ name: 'axis', kind: { type: 'axis' }, default: -1, doc: 'the axis joined along' }],
    doc: 'Joins a and b along an axis (not the batch dimension).',
    expand: (ctx, x, a) => {
      const axis = axisOf(a, x.a);
      if (axis === 0 && (ctx.batched(x.a) || ctx.batched(x.b))) throw new ShapeError('cannot concatenate along the batch dimension', undefined, 'axis');
      return ctx.b.concat(x.a, x.b, axis);
    },
  },
];

const reductionAttrs: AttrSpec[] = [
  { name: 'axes', kind: { type: 'axes' }, optional: true, doc: 'the axes reduced (default: all but the batch dimension)' },
  { name: 'keepdims', kind: { type: 'bool' }, default: false, doc: 'keep reduced axes as size 1' },
];

const REDUCE: OpSpec[] = [
  {
    op: 'sum',
    group: 'reduce',
    inputs: ['x'],
    attrs: reductionAttrs,
    doc: 'Sum over axes.',
    batched: (a, { x }) => reductionBatched(a, x),
    expand: (ctx, { x }, a) => ctx.b.sum(x, reductionAxes(ctx, x, a), a.keepdims as boolean),
  },
  {
    op: 'mean',
    group: 'reduce',
    inputs: ['x'],
    attrs: reductionAttrs,
    doc: 'Mean over axes.',
    batched: (a, { x }) => reductionBatched(a, x),
    expand: (ctx, { x }, a) => ctx.b.mean(x, reductionAxes(ctx, x, a), a.keepdims as boolean),
  },
  {
    op: 'reduce_max',
    group: 'reduce',
    inputs: ['x'],
    attrs: reductionAttrs,
    doc: 'Maximum over axes (ties: the gradient goes to the first maximum).',
    batched: (a, { x }) => reductionBatched(a, x),
    expand: (ctx, { x }, a) => ctx.b.max(x, reductionAxes(ctx, x, a), a.keepdims as boolean),
  },
];

const LAYERS: OpSpec[] = [
  {
    op: 'dense',
    group: 'layers',
    inputs: ['x'],
    attrs: [
      { name: 'units', kind: { type: 'int', min: 1, max: 1 << 20 }, default: 16, doc: 'output features' },
      { name: 'activation', kind: { type: 'enum', options: ACTIVATIONS }, default: 'none', doc: 'applied to the output' },
      { name: 'bias', kind: { type: 'bool' }, default: true, doc: 'add a learned bias' },
      ...initAttrs(undefined, 'weight init (default: he for relu-like activations, else xavier)'),
    ],
    doc: 'Fully connected: act(x W^T + b), weight [units, in], over the last axis.',
    expand: (ctx, { x }, a) => {
      const { b } = ctx;
      if (x.shape.length < 1 || (ctx.batched(x) && x.shape.length < 2)) {
        throw new ShapeError(`expects features on the last axis, got ${formatShape(x.shape)}`, 'x');
      }
      const inF = x.shape[x.shape.length - 1] as number;
      const units = a.units as number;
      const w = ctx.param('weight', [units, inF], layerInit(a));
      const x2 = x.shape.length === 1 ? b.reshape(x, [1, inF]) : x;
      let y = b.matmul(x2, b.transposeLast2(w));
      if (x.shape.length === 1) y = b.reshape(y, [units]);
      if (a.bias) y = b.add(y, ctx.param('bias', [units], { init: 'zeros' }));
      return activate(b, y, a.activation as string);
    },
  },
  {
    op: 'conv2d',
    group: 'layers',
    inputs: ['x'],
    attrs: [
      { name: 'filters', kind: { type: 'int', min: 1, max: 1 << 16 }, default: 8, doc: 'output channels' },
      { name: 'kernel', kind: { type: 'pair', min: 1 }, default: 3, doc: 'window size (or [h, w])' },
      { name: 'stride', kind: { type: 'pair', min: 1 }, default: 1, doc: 'step between windows' },
      { name: 'padding', kind: { type: 'padding' }, default: 0, doc: 'zeros around the image, or "same" (odd kernel, stride 1)' },
      { name: 'activation', kind: { type: 'enum', options: ACTIVATIONS }, default: 'none', doc: 'applied to the output' },
      { name: 'bias', kind: { type: 'bool' }, default: true, doc: 'add a learned bias per filter' },
      ...initAttrs(undefined, 'weight init (default: he for relu-like activations, else xavier)'),
    ],
    doc: '2-D convolution over NCHW images, weight [filters, in, kh, kw].',
    expand: (ctx, { x }, a) => {
      const { b } = ctx;
      const w = windowOf(x, a, a.padding);
      const [n, c, h, wd] = x.shape as [Dim, number, number, number];
      const f = a.filters as number;
      const weight = ctx.param('weight', [f, c, w.kh, w.kw], layerInit(a));
      const oh = windowOutput(h, w.kh, w.sh, w.ph);
      const ow = windowOutput(wd, w.kw, w.sw, w.pw);
      let y = b.matmul(b.reshape(weight, [f, c * w.kh * w.kw]), b.im2col(x, w));
      if (a.bias) y = b.add(y, b.reshape(ctx.param('bias', [f], { init: 'zeros' }), [f, 1]));
      return activate(b, b.reshape(y, [n, f, oh, ow]), a.activation as string);
    },
  },
  {
    op: 'maxpool2d',
    group: 'layers',
    inputs: ['x'],
    attrs: [
      { name: 'kernel', kind: { type: 'pair', min: 1 }, default: 2, doc: 'window size (or [h, w])' },
      { name: 'stride', kind: { type: 'pair', min: 1 }, optional: true, doc: 'step between windows (default: the kernel)' },
    ],
    doc: 'Maximum over each window of NCHW images (ties: the first in the window gets the gradient).',
    expand: (ctx, { x }, a) => pool(ctx, x, a, 'max'),
  },
  {
    op: 'avgpool2d',
    group: 'layers',
    inputs: ['x'],
    attrs: [
      { name: 'kernel', kind: { type: 'pair', min: 1 }, default: 2, doc: 'window size (or [h, w])' },
      { name: 'stride', kind: { type: 'pair', min: 1 }, optional: true, doc: 'step between windows (default: the kernel)' },
    ],
    doc: 'Mean over each window of NCHW images.',
    expand: (ctx, { x }, a) => pool(ctx, x, a, 'mean'),
  },
  {
    op: 'dropout',
    group: 'layers',
    inputs: ['x'],
    attrs: [{ name: 'rate', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: 0.5, doc: 'probability of zeroing an element' }],
    doc: 'While training, zeroes elements at random and scales the rest by 1 / (1 - rate); off otherwise.',
    expand: (ctx, { x }, a) => {
      const rate = a.rate as number;
      if (ctx.mode !== 'train' || rate === 0) return x;
      return ctx.b.mul(x, ctx.b.dropoutMask(x, rate, ctx.stream));
    },
  },
  {
    op: 'batchnorm',
    group: 'layers',
    inputs: ['x'],
    attrs: [
      { name: 'momentum', kind: { type: 'number', min: 0, max: 1 }, default: 0.1, doc: 'weight of the batch in the running statistics' },
      { name: 'eps', kind: { type: 'number', min: 0, exclusiveMin: true }, default: 1e-5, doc: 'added to the variance' },
    ],
    doc: 'Normalises each channel (axis 1) over the batch (and H, W), then scales and shifts; running statistics for inference.',
    expand: (ctx, { x }, a) => {
      const { b } = ctx;
      if (!ctx.batched(x) || (x.shape.length !== 2 && x.shape.length !== 4)) {
        throw new ShapeError(`expects [B, C] or [B, C, H, W], got ${formatShape(x.shape)}`, 'x');
      }
      const c = x.shape[1] as number;
      const axes = x.shape.length === 2 ? [0] : [0, 2, 3];
      const bshape = x.shape.length === 2 ? [1, c] : [1, c, 1, 1];
      const gamma = b.reshape(ctx.param('weight', [c], { init: 'ones' }), bshape);
      const beta = b.reshape(ctx.param('bias', [c], { init: 'zeros' }), bshape);
      const runMean = ctx.param('running_mean', [c], { init: 'zeros' }, false);
      const runVar = ctx.param('running_var', [c], { init: 'ones' }, false);
      const eps = a.eps as number;
      let mean: IRNode;
      let variance: IRNode;
      if (ctx.mode === 'infer') {
        mean = b.reshape(runMean, bshape);
        variance = b.reshape(runVar, bshape);
      } else {
        mean = b.mean(x, axes, true);
        const centred = b.sub(x, mean);
        variance = b.mean(b.mul(centred, centred), axes, true);
        if (ctx.mode === 'train') {
          const m = a.momentum as number;
          const count = axes.reduce((p, ax) => p * (x.shape[ax] as number), 1);
          const unbiased = b.mul(b.reshape(variance, [c]), count / Math.max(count - 1, 1));
          ctx.assign('running_mean', b.add(b.mul(runMean, 1 - m), b.mul(b.reshape(mean, [c]), m)));
          ctx.assign('running_var', b.add(b.mul(runVar, 1 - m), b.mul(unbiased, m)));
        }
      }
      const xhat = b.div(b.sub(x, mean), b.sqrt(b.add(variance, eps)));
      return b.add(b.mul(xhat, gamma), beta);
    },
  },
];

const LOSSES: OpSpec[] = [
  {
    op: 'mse',
    group: 'losses',
    inputs: ['pred', 'target'],
    attrs: [weightAttr],
    doc: 'Mean squared error over all elements (torch mse_loss). A target with as many values per example is reshaped to the prediction.',
    batched: () => false,
    expand: (ctx, x, a) => {
      const { b } = ctx;
      let t = x.target;
      if (!shapesEqual(t.shape, x.pred.shape)) {
        const per = (n: IRNode) => numel(perExampleShape(n, ctx).rest);
        if (ctx.batched(t) === ctx.batched(x.pred) && per(t) === per(x.pred)) t = b.reshape(t, x.pred.shape);
        else throw new ShapeError(`target ${formatShape(t.shape)} does not match the prediction ${formatShape(x.pred.shape)}`, 'target');
      }
      const d = b.sub(x.pred, t);
      const sq = b.mul(d, d);
      return scaled(b, b.mean(sq, [...sq.shape.keys()]), a);
    },
  },
  {
    op: 'softmax_cross_entropy',
    group: 'losses',
    inputs: ['logits', 'labels'],
    attrs: [weightAttr],
    doc: 'Cross-entropy of softmax(logits) against class-index labels, batch mean (torch cross_entropy).',
    batched: () => false,
    expand: (ctx, x, a) => {
      const { b } = ctx;
      const z = x.logits;
      if (!ctx.batched(z) || z.shape.length !== 2) throw new ShapeError(`expects logits [B, classes], got ${formatShape(z.shape)}`, 'logits');
      const y = labelsVector(ctx, x.labels, 'labels');
      const k = z.shape[1] as number;
      const picked = b.sum(b.mul(b.oneHot(y, k), logSoftmax(b, z, -1)), [1]);
      return scaled(b, b.neg(b.mean(picked, [0])), a);
    },
  },
  {
    op: 'sigmoid_cross_entropy',
    group: 'losses',
    inputs: ['logits', 'labels'],
    attrs: [weightAttr],
    doc: 'Binary cross-entropy with logits, batch mean (labels 0/1, or -1/+1 from a sign label).',
    batched: () => false,
    expand: (ctx, x, a) => {
      const { b } = ctx;
      const s = scoresVector(ctx, x.logits, 'logits');
      const y = zeroOne(ctx, labelsVector(ctx, x.labels, 'labels'), 'labels');
      // softplus(s) - s y = -[y ln sigmoid(s) + (1 - y) ln(1 - sigmoid(s))], without overflow.
      return scaled(b, b.mean(b.sub(b.softplus(s), b.mul(s, y)), [0]), a);
    },
  },
  {
    op: 'hinge',
    group: 'losses',
    inputs: ['scores', 'labels'],
    attrs: [weightAttr],
    doc: 'Sign labels with scores [B]: mean(max(0, 1 - y s)); class labels with scores [B, K]: multi-class margin (torch multi_margin_loss).',
    batched: () => false,
    expand: (ctx, x, a) => {
      const { b } = ctx;
      const s = x.scores;
      const y = labelsVector(ctx, x.labels, 'labels');
      if (ctx.labelKind('labels') !== 'class' && !(s.shape.length === 2 && (s.shape[1] as number) > 1)) {
        return scaled(b, b.mean(b.relu(b.sub(1, b.mul(y, scoresVector(ctx, s, 'scores')))), [0]), a);
      }
      if (!ctx.batched(s) || s.shape.length !== 2) throw new ShapeError(`expects scores [B, classes] for class labels, got ${formatShape(s.shape)}`, 'scores');
      const k = s.shape[1] as number;
      const onehot = b.oneHot(y, k);
      const target = b.sum(b.mul(s, onehot), [1], true);
      const margins = b.mul(b.relu(b.add(b.sub(1, target), s)), b.sub(1, onehot));
      return scaled(b, b.mean(b.mul(b.sum(margins, [1]), 1 / k), [0]), a);
    },
  },
  {
    op: 'l2',
    group: 'losses',
    inputs: ['x'],
    attrs: [weightAttr],
    doc: '1/2 sum x^2 (for a batch: per example, then the batch mean). Weight decay as a loss.',
    batched: () => false,
    expand: (ctx, { x }, a) => scaled(ctx.b, batchMean(ctx, ctx.b.mul(ctx.b.mul(x, x), 0.5)), a),
  },
];

export const CATALOGUE: readonly OpSpec[] = [...SOURCES, ...UNARY, ...BINARY, ...LINALG, ...REDUCE, ...LAYERS, ...LOSSES];

const byName = new Map(CATALOGUE.map((s) => [s.op, s]));

export function opSpec(op: string): OpSpec | undefined {
  return byName.get(op);
}

