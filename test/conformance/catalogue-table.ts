/**
 * Catalogue-level conformance cases: small project graphs (project-format.md) around each op of the catalogue
 * (engine/graph/catalogue), expanded by expandGraph, with a reference forward in plain JS written from the
 * format's definitions (torch semantics for the losses). The node under test has id `y` unless `out` says
 * otherwise. Data only, like op-table.ts: every backend runs the same cases.
 */
import type { GraphNode } from '../../engine/graph/expand';
import type { Mode } from '../../engine/graph/catalogue';
import * as ref from './reference';
import { AWAY, DISTINCT, LATTICE_A, LATTICE_B, POSITIVE, size, tensor, type Domain, type Tensor } from './tensor';

/** A source's value (inputs and labels with their batch dimension; parameter tensors by name). */
export type Values = (name: string) => Tensor;

export interface CatalogueCase {
  readonly name: string;
  /** The catalogue op this case covers. */
  readonly op: string;
  readonly nodes: readonly GraphNode[];
  /** The node whose output is checked (default `y`). */
  readonly out?: string;
  readonly batch: number;
  /** Default `eval`. */
  readonly mode?: Mode;
  /** Domains by tensor name: an input or label node's id, a parameter's tensor name (`d.weight`). */
  readonly feeds?: Readonly<Record<string, Domain>>;
  /** The forward, by definition. Absent where the output is random (dropout in train mode): see `property`. */
  readonly reference?: (v: Values) => Tensor;
  /** A check of the output for random ops: a message when it fails. */
  readonly property?: (got: ArrayLike<number>, v: Values) => string | null;
}

// ---------------------------------------------------------------------------------------------------------------
// graph helpers

const input = (id: string, shape: number[]): GraphNode => ({ id, op: 'input', attrs: { shape } });
const label = (id: string, kind: 'class' | 'real' | 'sign', shape: number[] = []): GraphNode => ({ id, op: 'label', attrs: { kind, shape } });
const parameter = (id: string, shape: number[]): GraphNode => ({ id, op: 'parameter', attrs: { shape } });
const node = (id: string, op: string, inputs: Record<string, string>, attrs: Record<string, unknown> = {}): GraphNode => ({ id, op, inputs, attrs });

const CLASSES = (k: number): Domain => ({ kind: 'classes', k });
/** Scores on a 0.4 lattice: 1 - y s and multi-margin terms 1 - s_y + s_j stay >= 0.1 away from the hinge. */
const HINGE_SCORES: Domain = { kind: 'lattice', step: 0.4, offset: 0, jitter: 0.05, span: 4 };

const ACT: Record<string, (x: number) => number> = {
  none: (x) => x,
  relu: (x) => Math.max(x, 0),
  leaky_relu: (x) => (x > 0 ? x : 0.01 * x),
  sigmoid: ref.sigmoid,
  tanh: Math.tanh,
  softplus: ref.softplus,
};

const add = (a: Tensor, b: Tensor) => ref.zip(a, b, (p, q) => p + q);
const sumAll = (t: Tensor) => t.data.reduce((s, v) => s + v, 0);

// ---------------------------------------------------------------------------------------------------------------
// sources

const SOURCES: CatalogueCase[] = [
  { name: 'input [3]', op: 'input', nodes: [input('y', [3])], batch: 2, reference: (v) => v('y') },
  { name: 'input [] (scalar per example), batch 1', op: 'input', nodes: [input('y', [])], batch: 1, reference: (v) => v('y') },
  {
    name: 'label class',
    op: 'label',
    nodes: [label('y', 'class')],
    batch: 4,
    feeds: { y: CLASSES(3) },
    reference: (v) => v('y'),
  },
  { name: 'label real [2]', op: 'label', nodes: [label('y', 'real', [2])], batch: 3, reference: (v) => v('y') },
  { name: 'parameter [2,3]', op: 'parameter', nodes: [parameter('y', [2, 3])], batch: 2, reference: (v) => v('y') },
  {
    name: 'parameter [3] added to a batch',
    op: 'parameter',
    nodes: [input('x', [3]), parameter('p', [3]), node('y', 'add', { a: 'x', b: 'p' })],
    batch: 2,
    reference: (v) => add(v('x'), v('p')),
  },
  {
    name: 'constant [[1,2],[3,4.5]]',
    op: 'constant',
    nodes: [{ id: 'y', op: 'constant', attrs: { value: [[1, 2], [3, 4.5]] } }],
    batch: 2,
    reference: () => tensor([2, 2], [1, 2, 3, 4.5]),
  },
  {
    name: 'constant 2.5 (scalar) scaling a batch',
    op: 'constant',
    nodes: [input('x', [2]), { id: 'c', op: 'constant', attrs: { value: 2.5 } }, node('y', 'mul', { a: 'x', b: 'c' })],
    batch: 3,
    reference: (v) => ref.map(v('x'), (x) => 2.5 * x),
  },
  {
    name: 'constant [0.5,-2] broadcast over a batch',
    op: 'constant',
    nodes: [input('x', [2]), { id: 'c', op: 'constant', attrs: { value: [0.5, -2] } }, node('y', 'sub', { a: 'c', b: 'x' })],
    batch: 3,
    reference: (v) => ref.zip(tensor([2], [0.5, -2]), v('x'), (c, x) => c - x),
  },
];

// ---------------------------------------------------------------------------------------------------------------
// unary

function unary(
  op: string,
  f: (x: Tensor) => Tensor,
  opts: { attrs?: Record<string, unknown>; domain?: Domain; shape?: number[]; batch?: number; tag?: string } = {},
): CatalogueCase {
  const shape = opts.shape ?? [3];
  const batch = opts.batch ?? 2;
  return {
    name: `${op} [B=${batch},${shape.join(',')}]${opts.attrs ? ' ' + JSON.stringify(opts.attrs) : ''}${opts.tag ? ` (${opts.tag})` : ''}`,
    op,
    nodes: [input('x', shape), node('y', op, { x: 'x' }, opts.attrs)],
    batch,
    feeds: opts.domain ? { x: opts.domain } : undefined,
    reference: (v) => f(v('x')),
  };
}

const elementwise = (f: (x: number) => number) => (t: Tensor) => ref.map(t, f);

const UNARY: CatalogueCase[] = [
  unary('neg', elementwise((x) => -x)),
  unary('exp', elementwise(Math.exp)),
  unary('ln', elementwise(Math.log), { domain: POSITIVE }),
  unary('sin', elementwise(Math.sin)),
  unary('cos', elementwise(Math.cos), { batch: 1 }),
  unary('tanh', elementwise(Math.tanh)),
  unary('sigmoid', elementwise(ref.sigmoid)),
  unary('relu', elementwise(ACT.relu), { domain: AWAY }),
  unary('leaky_relu', elementwise(ACT.leaky_relu), { domain: AWAY }),
  unary('leaky_relu', elementwise((x) => (x > 0 ? x : 0.3 * x)), { domain: AWAY, attrs: { alpha: 0.3 } }),
  unary('softplus', elementwise(ref.softplus)),
  unary('abs', elementwise(Math.abs), { domain: AWAY }),
  unary('sqrt', elementwise(Math.sqrt), { domain: POSITIVE }),
  unary('square', elementwise((x) => x * x)),
  unary('pow', elementwise((x) => x * x)),
  unary('pow', elementwise((x) => x ** 1.5), { domain: POSITIVE, attrs: { exponent: 1.5 } }),
  unary('softmax', (t) => ref.softmax(t, -1), { shape: [4] }),
  unary('softmax', (t) => ref.softmax(t, 1), { shape: [3, 2], attrs: { axis: 1 } }),
  unary('softmax', (t) => ref.softmax(t, 0), { shape: [3], batch: 3, attrs: { axis: 0 }, tag: 'over the batch' }),
  unary('softmax', (t) => ref.softmax(t, -1), {
    shape: [3],
    domain: { kind: 'values', values: [1000, 999, -1000, -50, -51, -49] },
    tag: 'large logits',
  }),
  unary('log_softmax', (t) => ref.logSoftmax(t, -1), { shape: [4] }),
  unary('log_softmax', (t) => ref.logSoftmax(t, 1), { shape: [3, 2], attrs: { axis: 1 }, batch: 1 }),
  unary('log_softmax', (t) => ref.logSoftmax(t, -2), { shape: [2, 3], attrs: { axis: -2 } }),
  unary('log_softmax', (t) => ref.logSoftmax(t, -1), {
    shape: [3],
    domain: { kind: 'values', values: [1000, 999, -1000, -50, -51, -49] },
    tag: 'large logits',
  }),
];

// ---------------------------------------------------------------------------------------------------------------
// binary

function binary(
  op: string,
  f: (a: number, b: number) => number,
  a: GraphNode,
  b: GraphNode,
  opts: { batch?: number; feeds?: Record<string, Domain>; tag?: string } = {},
): CatalogueCase {
  return {
    name: `${op} ${a.op} ${JSON.stringify(a.attrs?.shape)}, ${b.op} ${JSON.stringify(b.attrs?.shape)}${opts.tag ? ` (${opts.tag})` : ''}`,
    op,
    nodes: [a, b, node('y', op, { a: a.id, b: b.id })],
    batch: opts.batch ?? 2,
    feeds: opts.feeds,
    reference: (v) => ref.zip(v(a.id), v(b.id), f),
  };
}

const BINARY: CatalogueCase[] = [
  binary('add', (a, b) => a + b, input('u', [2, 3]), parameter('p', [3])),
  binary('add', (a, b) => a + b, input('u', [2, 1]), input('w', [3]), { batch: 1 }),
  binary('sub', (a, b) => a - b, input('u', [3]), input('w', [3])),
  binary('mul', (a, b) => a * b, input('u', [2, 1]), input('w', [3])),
  binary('div', (a, b) => a / b, input('u', [3]), parameter('p', [3]), { feeds: { p: AWAY } }),
  binary('maximum', (a, b) => Math.max(a, b), input('u', [3]), input('w', [3]), { feeds: { u: LATTICE_A, w: LATTICE_B } }),
  binary('minimum', (a, b) => Math.min(a, b), input('u', [2, 3]), parameter('p', [3]), { feeds: { u: LATTICE_A, p: LATTICE_B } }),
];

// ---------------------------------------------------------------------------------------------------------------
// linear algebra

const LINALG: CatalogueCase[] = [
  {
    name: 'matmul [B,3] @ parameter [3,2]',
    op: 'matmul',
    nodes: [input('x', [3]), parameter('w', [3, 2]), node('y', 'matmul', { a: 'x', b: 'w' })],
    batch: 2,
    reference: (v) => ref.matmul(v('x'), v('w')),
  },
  {
    name: 'matmul [B,2,3] @ [B,3,2]',
    op: 'matmul',
    nodes: [input('x', [2, 3]), input('z', [3, 2]), node('y', 'matmul', { a: 'x', b: 'z' })],
    batch: 2,
    reference: (v) => ref.matmul(v('x'), v('z')),
  },
  {
    name: 'matmul parameter [2,3] @ [B,3,4], batch 1',
    op: 'matmul',
    nodes: [parameter('w', [2, 3]), input('x', [3, 4]), node('y', 'matmul', { a: 'w', b: 'x' })],
    batch: 1,
    reference: (v) => ref.matmul(v('w'), v('x')),
  },
  {
    name: 'transpose (default: the last two axes)',
    op: 'transpose',
    nodes: [input('x', [2, 3]), node('y', 'transpose', { x: 'x' })],
    batch: 2,
    reference: (v) => ref.transpose(v('x'), [0, 2, 1]),
  },
  {
    name: 'transpose perm [0,2,3,1]',
    op: 'transpose',
    nodes: [input('x', [2, 3, 2]), node('y', 'transpose', { x: 'x' }, { perm: [0, 2, 3, 1] })],
    batch: 2,
    reference: (v) => ref.transpose(v('x'), [0, 2, 3, 1]),
  },
  {
    name: 'transpose perm [1,0] (moves the batch)',
    op: 'transpose',
    nodes: [input('x', [3]), node('y', 'transpose', { x: 'x' }, { perm: [1, 0] })],
    batch: 2,
    reference: (v) => ref.transpose(v('x'), [1, 0]),
  },
  {
    name: 'reshape [2,3,2] to [-1,4]',
    op: 'reshape',
    nodes: [input('x', [2, 3, 2]), node('y', 'reshape', { x: 'x' }, { shape: [-1, 4] })],
    batch: 2,
    reference: (v) => ref.reshape(v('x'), [2, 3, 4]),
  },
  {
    name: 'reshape [6] to [3,2], batch 1',
    op: 'reshape',
    nodes: [input('x', [6]), node('y', 'reshape', { x: 'x' }, { shape: [3, 2] })],
    batch: 1,
    reference: (v) => ref.reshape(v('x'), [1, 3, 2]),
  },
  {
    name: 'reshape parameter [2,3] to [-1]',
    op: 'reshape',
    nodes: [parameter('p', [2, 3]), node('y', 'reshape', { x: 'p' }, { shape: [-1] })],
    batch: 2,
    reference: (v) => ref.reshape(v('p'), [6]),
  },
  {
    name: 'flatten [2,3]',
    op: 'flatten',
    nodes: [input('x', [2, 3]), node('y', 'flatten', { x: 'x' })],
    batch: 2,
    reference: (v) => ref.reshape(v('x'), [2, 6]),
  },
  {
    name: 'flatten [1,2,2], batch 1',
    op: 'flatten',
    nodes: [input('x', [1, 2, 2]), node('y', 'flatten', { x: 'x' })],
    batch: 1,
    reference: (v) => ref.reshape(v('x'), [1, 4]),
  },
  {
    name: 'concat [B,2] and [B,3] (default axis -1)',
    op: 'concat',
    nodes: [input('u', [2]), input('w', [3]), node('y', 'concat', { a: 'u', b: 'w' })],
    batch: 2,
    reference: (v) => ref.concat(v('u'), v('w'), -1),
  },
  {
    name: 'concat [B,2,2] and [B,1,2] axis 1',
    op: 'concat',
    nodes: [input('u', [2, 2]), input('w', [1, 2]), node('y', 'concat', { a: 'u', b: 'w' }, { axis: 1 })],
    batch: 2,
    reference: (v) => ref.concat(v('u'), v('w'), 1),
  },
  {
    name: 'concat parameters [2,3] and [1,3] along axis 0',
    op: 'concat',
    nodes: [parameter('p', [2, 3]), parameter('q', [1, 3]), node('y', 'concat', { a: 'p', b: 'q' }, { axis: 0 })],
    batch: 2,
    reference: (v) => ref.concat(v('p'), v('q'), 0),
  },
];

// ---------------------------------------------------------------------------------------------------------------
// reductions

const REDUCERS = [
  { op: 'sum', f: ref.sum, feed: undefined },
  { op: 'mean', f: ref.mean, feed: undefined },
  { op: 'reduce_max', f: ref.max, feed: DISTINCT },
] as const;

const REDUCTION_SETUPS: readonly { tag: string; shape: number[]; attrs: Record<string, unknown>; axes: number[]; keepdims: boolean; batch?: number }[] = [
  { tag: 'default axes', shape: [2, 3], attrs: {}, axes: [1, 2], keepdims: false },
  { tag: 'axes [2] keepdims', shape: [2, 3], attrs: { axes: [2], keepdims: true }, axes: [2], keepdims: true },
  { tag: 'axes [-1]', shape: [2, 3], attrs: { axes: [-1] }, axes: [-1], keepdims: false },
  { tag: 'axes [0] (over the batch)', shape: [3], attrs: { axes: [0] }, axes: [0], keepdims: false, batch: 3 },
  { tag: 'default axes keepdims, batch 1', shape: [2, 2], attrs: { keepdims: true }, axes: [1, 2], keepdims: true, batch: 1 },
];

const REDUCE: CatalogueCase[] = [
  ...REDUCERS.flatMap(({ op, f, feed }) =>
    REDUCTION_SETUPS.map(
      (s): CatalogueCase => ({
        name: `${op} [B,${s.shape.join(',')}] ${s.tag}`,
        op,
        nodes: [input('x', s.shape), node('y', op, { x: 'x' }, s.attrs)],
        batch: s.batch ?? 2,
        feeds: feed ? { x: feed } : undefined,
        reference: (v) => f(v('x'), s.axes, s.keepdims),
      }),
    ),
  ),
  ...REDUCERS.map(
    ({ op, f, feed }): CatalogueCase => ({
      name: `${op} of a parameter [2,3] (default: every axis)`,
      op,
      nodes: [parameter('p', [2, 3]), node('y', op, { x: 'p' })],
      batch: 2,
      feeds: feed ? { p: feed } : undefined,
      reference: (v) => f(v('p'), [0, 1], false),
    }),
  ),
];

// ---------------------------------------------------------------------------------------------------------------
// layers

function dense(x: Tensor, v: Values, id: string, act: string, bias: boolean): Tensor {
  const w = v(`${id}.weight`);
  const rank1 = x.shape.length === 1;
  const x2 = rank1 ? ref.reshape(x, [1, x.shape[0]]) : x;
  let y = ref.matmul(x2, ref.transpose(w, [1, 0]));
  if (rank1) y = ref.reshape(y, [w.shape[0]]);
  if (bias) y = add(y, v(`${id}.bias`));
  return ref.map(y, ACT[act]);
}

const denseCase = (tag: string, x: GraphNode, attrs: Record<string, unknown>, batch = 2): CatalogueCase => ({
  name: `dense ${tag}`,
  op: 'dense',
  nodes: [x, node('y', 'dense', { x: x.id }, attrs)],
  batch,
  reference: (v) => dense(v(x.id), v, 'y', (attrs.activation as string | undefined) ?? 'none', attrs.bias !== false),
});

const pairOf = (p: unknown): [number, number] => (Array.isArray(p) ? [p[0] as number, p[1] as number] : [p as number, p as number]);

function convCase(tag: string, image: number[], attrs: Record<string, unknown>, batch = 2): CatalogueCase {
  return {
    name: `conv2d [B,${image.join(',')}] ${tag}`,
    op: 'conv2d',
    nodes: [input('x', image), node('y', 'conv2d', { x: 'x' }, attrs)],
    batch,
    reference: (v) => {
      const [kh, kw] = pairOf(attrs.kernel ?? 3);
      const [sh, sw] = pairOf(attrs.stride ?? 1);
      const [ph, pw] = attrs.padding === 'same' ? [(kh - 1) / 2, (kw - 1) / 2] : pairOf(attrs.padding ?? 0);
      const y = ref.conv2d(v('x'), v('y.weight'), attrs.bias === false ? null : v('y.bias'), { kh, kw, sh, sw, ph, pw });
      return ref.map(y, ACT[(attrs.activation as string | undefined) ?? 'none']);
    },
  };
}

function poolCase(op: 'maxpool2d' | 'avgpool2d', image: number[], attrs: Record<string, unknown>, batch = 2): CatalogueCase {
  return {
    name: `${op} [B,${image.join(',')}] ${JSON.stringify(attrs)}${batch === 1 ? ', batch 1' : ''}`,
    op,
    nodes: [input('x', image), node('y', op, { x: 'x' }, attrs)],
    batch,
    feeds: op === 'maxpool2d' ? { x: DISTINCT } : undefined,
    reference: (v) => ref.pool2d(v('x'), pairOf(attrs.kernel ?? 2), pairOf(attrs.stride ?? attrs.kernel ?? 2), op === 'maxpool2d' ? 'max' : 'mean'),
  };
}

const POOLS: readonly { image: number[]; attrs: Record<string, unknown>; batch?: number }[] = [
  { image: [2, 4, 4], attrs: {} },
  { image: [1, 5, 5], attrs: { kernel: 3, stride: 1 } },
  { image: [1, 4, 6], attrs: { kernel: [2, 3], stride: [2, 1] } },
  { image: [2, 5, 5], attrs: { kernel: 2 }, batch: 1 },
];

function batchnormCase(tag: string, shape: number[], batch: number, mode: Mode): CatalogueCase {
  return {
    name: `batchnorm [B=${batch},${shape.join(',')}] ${tag}`,
    op: 'batchnorm',
    nodes: [input('x', shape), node('y', 'batchnorm', { x: 'x' })],
    batch,
    mode,
    feeds: { 'y.running_var': POSITIVE },
    reference: (v) => {
      const x = v('x');
      const stats = mode === 'infer' ? { mu: [...v('y.running_mean').data], variance: [...v('y.running_var').data] } : ref.channelStats(x);
      return ref.normalize(x, stats.mu, stats.variance, v('y.weight'), v('y.bias'), 1e-5);
    },
  };
}

const DROPOUT_RATE = 0.4;

const LAYERS: CatalogueCase[] = [
  denseCase('[B,3] to 4 units', input('x', [3]), { units: 4 }),
  denseCase('tanh, no bias', input('x', [3]), { units: 2, activation: 'tanh', bias: false }),
  denseCase('relu', input('x', [4]), { units: 3, activation: 'relu' }),
  denseCase('sigmoid, batch 1', input('x', [2]), { units: 3, activation: 'sigmoid' }, 1),
  denseCase('over the last axis of [B,2,3]', input('x', [2, 3]), { units: 2, activation: 'softplus' }),
  denseCase('of an unbatched parameter [3]', parameter('p', [3]), { units: 2, activation: 'leaky_relu' }),
  convCase('3 filters, kernel 3', [2, 5, 5], { filters: 3, kernel: 3 }),
  convCase('stride 2, padding 1', [1, 5, 5], { filters: 2, kernel: 3, stride: 2, padding: 1 }),
  convCase("padding 'same', tanh", [2, 4, 4], { filters: 2, kernel: 3, padding: 'same', activation: 'tanh' }),
  convCase('kernel [2,3], stride [1,2], padding [1,0], no bias', [1, 4, 5], { filters: 2, kernel: [2, 3], stride: [1, 2], padding: [1, 0], bias: false }),
  convCase('kernel 2, batch 1', [2, 3, 3], { filters: 1, kernel: 2 }, 1),
  ...POOLS.map((p) => poolCase('maxpool2d', p.image, p.attrs, p.batch)),
  ...POOLS.map((p) => poolCase('avgpool2d', p.image, p.attrs, p.batch)),
  {
    name: 'dropout in eval mode is the identity',
    op: 'dropout',
    nodes: [input('x', [4]), node('y', 'dropout', { x: 'x' }, { rate: DROPOUT_RATE })],
    batch: 3,
    reference: (v) => v('x'),
  },
  {
    name: 'dropout in train mode',
    op: 'dropout',
    nodes: [input('x', [50]), node('y', 'dropout', { x: 'x' }, { rate: DROPOUT_RATE })],
    batch: 4,
    mode: 'train',
    feeds: { x: AWAY },
    property: (got, v) => {
      const x = v('x').data;
      const keep = 1 / (1 - DROPOUT_RATE);
      let zeros = 0;
      for (let i = 0; i < x.length; i++) {
        if (got[i] === 0) zeros++;
        else if (Math.abs(got[i] - x[i] * keep) > 1e-6 * Math.abs(x[i] * keep)) return `element ${i}: ${got[i]} is neither 0 nor x / (1 - rate) = ${x[i] * keep}`;
      }
      const frac = zeros / x.length;
      return Math.abs(frac - DROPOUT_RATE) > 0.12 ? `fraction of zeros ${frac}, rate ${DROPOUT_RATE}` : null;
    },
  },
  batchnormCase('eval', [3], 4, 'eval'),
  batchnormCase('eval', [2, 3, 3], 2, 'eval'),
  batchnormCase('eval, batch 1', [2, 2, 2], 1, 'eval'),
  batchnormCase('infer (running statistics)', [3], 3, 'infer'),
  batchnormCase('infer (running statistics)', [2, 2, 2], 2, 'infer'),
];

// ---------------------------------------------------------------------------------------------------------------
// losses (torch semantics, mean over the batch)

const weighted = (w: number, x: number) => tensor([], [w * x]);

const LOSSES: CatalogueCase[] = [
  {
    name: 'mse pred [B,3], target [B,3]',
    op: 'mse',
    nodes: [input('p', [3]), input('t', [3]), node('y', 'mse', { pred: 'p', target: 't' })],
    batch: 2,
    reference: (v) => weighted(1, sumAll(ref.zip(v('p'), v('t'), (a, b) => (a - b) ** 2)) / size(v('p').shape)),
  },
  {
    name: 'mse pred [B,1] against a real label [B], weight 0.5',
    op: 'mse',
    nodes: [input('p', [1]), label('t', 'real'), node('y', 'mse', { pred: 'p', target: 't' }, { weight: 0.5 })],
    batch: 3,
    reference: (v) => weighted(0.5, sumAll(ref.zip(v('p'), ref.reshape(v('t'), [3, 1]), (a, b) => (a - b) ** 2)) / 3),
  },
  {
    name: 'softmax_cross_entropy logits [B,4], class labels',
    op: 'softmax_cross_entropy',
    nodes: [input('z', [4]), label('l', 'class'), node('y', 'softmax_cross_entropy', { logits: 'z', labels: 'l' })],
    batch: 3,
    feeds: { l: CLASSES(4) },
    reference: (v) => weighted(1, crossEntropy(v('z'), v('l'))),
  },
  {
    name: 'softmax_cross_entropy weight 2, batch 1, from a dense layer',
    op: 'softmax_cross_entropy',
    nodes: [input('x', [2]), node('d', 'dense', { x: 'x' }, { units: 3 }), label('l', 'class'), node('y', 'softmax_cross_entropy', { logits: 'd', labels: 'l' }, { weight: 2 })],
    batch: 1,
    feeds: { l: CLASSES(3) },
    reference: (v) => weighted(2, crossEntropy(dense(v('x'), v, 'd', 'none', true), v('l'))),
  },
  {
    name: 'sigmoid_cross_entropy logits [B], class labels 0/1',
    op: 'sigmoid_cross_entropy',
    nodes: [input('s', []), label('l', 'class'), node('y', 'sigmoid_cross_entropy', { logits: 's', labels: 'l' })],
    batch: 4,
    feeds: { l: CLASSES(2), s: { kind: 'normal', std: 2 } },
    reference: (v) => weighted(1, binaryCrossEntropy(v('s').data, v('l').data)),
  },
  {
    name: 'sigmoid_cross_entropy logits [B,1], sign labels -1/+1, weight 3',
    op: 'sigmoid_cross_entropy',
    nodes: [input('s', [1]), label('l', 'sign'), node('y', 'sigmoid_cross_entropy', { logits: 's', labels: 'l' }, { weight: 3 })],
    batch: 4,
    feeds: { l: { kind: 'sign' } },
    reference: (v) =>
      weighted(
        3,
        binaryCrossEntropy(
          v('s').data,
          v('l').data.map((y) => (y + 1) / 2),
        ),
      ),
  },
  {
    name: 'hinge scores [B], sign labels',
    op: 'hinge',
    nodes: [input('s', []), label('l', 'sign'), node('y', 'hinge', { scores: 's', labels: 'l' })],
    batch: 5,
    feeds: { s: HINGE_SCORES, l: { kind: 'sign' } },
    reference: (v) => weighted(1, signHinge(v('s').data, v('l').data)),
  },
  {
    name: 'hinge scores [B,1], sign labels, weight 0.5',
    op: 'hinge',
    nodes: [input('s', [1]), label('l', 'sign'), node('y', 'hinge', { scores: 's', labels: 'l' }, { weight: 0.5 })],
    batch: 4,
    feeds: { s: HINGE_SCORES, l: { kind: 'sign' } },
    reference: (v) => weighted(0.5, signHinge(v('s').data, v('l').data)),
  },
  {
    name: 'hinge scores [B,3], class labels (multi-margin)',
    op: 'hinge',
    nodes: [input('s', [3]), label('l', 'class'), node('y', 'hinge', { scores: 's', labels: 'l' })],
    batch: 4,
    feeds: { s: HINGE_SCORES, l: CLASSES(3) },
    reference: (v) => weighted(1, multiMargin(v('s'), v('l'))),
  },
  {
    name: 'l2 of a batch [B,3]',
    op: 'l2',
    nodes: [input('x', [3]), node('y', 'l2', { x: 'x' })],
    batch: 3,
    reference: (v) => weighted(1, (0.5 * sumAll(ref.map(v('x'), (x) => x * x))) / 3),
  },
  {
    name: 'l2 of a parameter [2,2], weight 0.1',
    op: 'l2',
    nodes: [parameter('p', [2, 2]), node('y', 'l2', { x: 'p' }, { weight: 0.1 })],
    batch: 3,
    reference: (v) => weighted(0.1, 0.5 * sumAll(ref.map(v('p'), (x) => x * x))),
  },
];

/** torch cross_entropy with class indices, mean over the batch. */
function crossEntropy(z: Tensor, labels: Tensor): number {
  const ls = ref.logSoftmax(z, -1);
  const [b, k] = z.shape;
  let s = 0;
  for (let i = 0; i < b; i++) s -= ls.data[i * k + labels.data[i]];
  return s / b;
}

/** torch binary_cross_entropy_with_logits: max(s, 0) - s y + ln(1 + e^-|s|), mean. */
function binaryCrossEntropy(s: Float64Array, y: Float64Array): number {
  let t = 0;
  for (let i = 0; i < s.length; i++) t += Math.max(s[i], 0) - s[i] * y[i] + Math.log1p(Math.exp(-Math.abs(s[i])));
  return t / s.length;
}

function signHinge(s: Float64Array, y: Float64Array): number {
  let t = 0;
  for (let i = 0; i < s.length; i++) t += Math.max(0, 1 - y[i] * s[i]);
  return t / s.length;
}

/** torch multi_margin_loss (p = 1, margin 1): sum over j != y of max(0, 1 - s_y + s_j) / K, mean over the batch. */
function multiMargin(s: Tensor, labels: Tensor): number {
  const [b, k] = s.shape;
  let t = 0;
  for (let i = 0; i < b; i++) {
    const y = labels.data[i];
    for (let j = 0; j < k; j++) if (j !== y) t += Math.max(0, 1 - s.data[i * k + y] + s.data[i * k + j]) / k;
  }
  return t / b;
}

export const CATALOGUE_CASES: readonly CatalogueCase[] = [...SOURCES, ...UNARY, ...BINARY, ...LINALG, ...REDUCE, ...LAYERS, ...LOSSES];

// ---------------------------------------------------------------------------------------------------------------
// ties at catalogue level

export interface CatalogueTieCase extends CatalogueCase {
  /** d sum(y) / d input, by input id. */
  readonly grads: Readonly<Record<string, readonly number[]>>;
}

export const CATALOGUE_TIES: readonly CatalogueTieCase[] = [
  {
    name: 'maxpool2d: the first maximum of each window (row-major) gets the gradient',
    op: 'maxpool2d',
    nodes: [input('x', [1, 4, 4]), node('y', 'maxpool2d', { x: 'x' }, { kernel: 2 })],
    batch: 1,
    // Windows: [[0,5],[5,0]] ties at (0,1) and (1,0); [[1,1],[1,1]] all tie; the lower two all tie at 2.
    feeds: { x: { kind: 'values', values: [0, 5, 1, 1, 5, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2] } },
    grads: { x: [0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0] },
  },
  {
    name: 'maxpool2d: overlapping windows (stride 1) each route to their own first maximum',
    op: 'maxpool2d',
    nodes: [input('x', [1, 2, 3]), node('y', 'maxpool2d', { x: 'x' }, { kernel: 2, stride: 1 })],
    batch: 1,
    // Windows over columns 0-1 and 1-2 of [[3,3,3],[3,3,3]]: (0,0) and (0,1).
    feeds: { x: { kind: 'values', values: [3] } },
    grads: { x: [1, 1, 0, 0, 0, 0] },
  },
  {
    name: 'reduce_max: the first maximum of each example',
    op: 'reduce_max',
    nodes: [input('x', [2, 2]), node('y', 'reduce_max', { x: 'x' })],
    batch: 2,
    feeds: { x: { kind: 'values', values: [1, 4, 4, 0, 2, 2, 2, 2] } },
    grads: { x: [0, 1, 0, 0, 1, 0, 0, 0] },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// graph errors: shapes that do not fit, found by expandGraph with a symbolic batch

export interface GraphErrorCase {
  readonly name: string;
  readonly nodes: readonly GraphNode[];
  readonly node: string;
  /** The port named; undefined where no one port is at fault. */
  readonly port: string | undefined;
  /** The attribute named instead, where it is at fault. */
  readonly attr?: string;
  readonly message?: RegExp;
}

export const GRAPH_ERRORS: readonly GraphErrorCase[] = [
  {
    name: 'add: [B,3] and [B,4] do not broadcast',
    nodes: [input('u', [3]), input('w', [4]), node('y', 'add', { a: 'u', b: 'w' })],
    node: 'y',
    port: 'b',
    message: /broadcast/,
  },
  {
    name: 'maximum: a batch against a parameter [2] that is not 1 or the batch',
    nodes: [input('u', []), parameter('p', [2]), node('y', 'maximum', { a: 'u', b: 'p' })],
    node: 'y',
    port: 'b',
  },
  {
    name: 'matmul: inner dimensions differ',
    nodes: [input('x', [2, 3]), parameter('w', [4, 5]), node('y', 'matmul', { a: 'x', b: 'w' })],
    node: 'y',
    port: 'b',
    message: /inner/,
  },
  {
    name: 'matmul: a of rank 1',
    nodes: [input('x', []), parameter('w', [1, 5]), node('y', 'matmul', { a: 'x', b: 'w' })],
    node: 'y',
    port: 'a',
  },
  {
    name: 'reshape: 6 values per example into 4, the shape at fault',
    nodes: [input('x', [2, 3]), node('y', 'reshape', { x: 'x' }, { shape: [4] })],
    node: 'y',
    port: undefined,
    attr: 'shape',
    message: /^an example of shape \[2, 3\] has 6 values: shape \[4\] holds 4$/,
  },
  {
    name: 'reshape: -1 that does not divide, the shape at fault',
    nodes: [input('x', [7]), node('y', 'reshape', { x: 'x' }, { shape: [-1, 2] })],
    node: 'y',
    port: undefined,
    attr: 'shape',
    message: /^an example of shape \[7\] has 7 values: shape \[-1, 2\] needs a multiple of 2$/,
  },
  {
    name: 'transpose: perm repeats an axis, the perm at fault',
    nodes: [input('x', [2, 3]), node('y', 'transpose', { x: 'x' }, { perm: [0, 1, 1] })],
    node: 'y',
    port: undefined,
    attr: 'perm',
    message: /perm \[0,1,1\] is not a permutation of the 3 axes of \[(B|3), 2, 3\]/,
  },
  {
    name: 'transpose: perm of another rank, the perm at fault',
    nodes: [input('x', [2, 3]), node('y', 'transpose', { x: 'x' }, { perm: [0, 2, 1, 3] })],
    node: 'y',
    port: undefined,
    attr: 'perm',
  },
  {
    name: 'transpose: default swap of a rank-1 tensor',
    nodes: [input('x', []), node('y', 'transpose', { x: 'x' })],
    node: 'y',
    port: 'x',
  },
  {
    name: 'concat: the other dimensions differ',
    nodes: [input('u', [2]), input('w', [3, 1]), node('y', 'concat', { a: 'u', b: 'w' })],
    node: 'y',
    port: 'b',
  },
  {
    name: 'concat: along the batch dimension, the axis at fault',
    nodes: [input('u', [2]), input('w', [2]), node('y', 'concat', { a: 'u', b: 'w' }, { axis: 0 })],
    node: 'y',
    port: undefined,
    attr: 'axis',
    message: /batch/,
  },
  {
    name: 'softmax: an axis out of range, the axis at fault',
    nodes: [input('x', [3]), node('y', 'softmax', { x: 'x' }, { axis: 2 })],
    node: 'y',
    port: undefined,
    attr: 'axis',
    message: /axis 2 is out of range for a tensor of rank 2/,
  },
  {
    name: 'softmax of a scalar: no axis to choose, the input at fault',
    nodes: [parameter('p', []), node('y', 'softmax', { x: 'p' })],
    node: 'y',
    port: 'x',
    message: /out of range for a tensor of rank 0/,
  },
  {
    name: 'log_softmax: an axis out of range, the axis at fault',
    nodes: [input('x', [3]), node('y', 'log_softmax', { x: 'x' }, { axis: -3 })],
    node: 'y',
    port: undefined,
    attr: 'axis',
    message: /axis -3 is out of range/,
  },
  {
    name: 'concat: an axis out of range, the axis at fault',
    nodes: [input('u', [2]), input('w', [2]), node('y', 'concat', { a: 'u', b: 'w' }, { axis: 2 })],
    node: 'y',
    port: undefined,
    attr: 'axis',
    message: /axis 2 is out of range/,
  },
  {
    name: 'sum: an axis out of range, the axes at fault',
    nodes: [input('x', [2]), node('y', 'sum', { x: 'x' }, { axes: [3] })],
    node: 'y',
    port: undefined,
    attr: 'axes',
    message: /axis 3 is out of range for a tensor of rank 2/,
  },
  {
    name: 'mean: axes that repeat an axis, the axes at fault',
    nodes: [input('x', [2, 3]), node('y', 'mean', { x: 'x' }, { axes: [1, -2] })],
    node: 'y',
    port: undefined,
    attr: 'axes',
    message: /repeat an axis/,
  },
  {
    name: 'maxpool2d: the window is larger than the image',
    nodes: [input('x', [1, 4, 4]), node('y', 'maxpool2d', { x: 'x' }, { kernel: 5 })],
    node: 'y',
    port: 'x',
    message: /window/,
  },
  {
    name: 'avgpool2d: not an image',
    nodes: [input('x', [4]), node('y', 'avgpool2d', { x: 'x' })],
    node: 'y',
    port: 'x',
  },
  {
    name: 'conv2d: the kernel is larger than the image',
    nodes: [input('x', [1, 2, 2]), node('y', 'conv2d', { x: 'x' }, { kernel: 3 })],
    node: 'y',
    port: 'x',
  },
  {
    name: "conv2d: padding 'same' with an even kernel, the padding at fault",
    nodes: [input('x', [1, 4, 4]), node('y', 'conv2d', { x: 'x' }, { kernel: 2, padding: 'same' })],
    node: 'y',
    port: undefined,
    attr: 'padding',
    message: /odd kernel size, not 2x2/,
  },
  {
    name: "conv2d: padding 'same' with stride 2, the padding at fault",
    nodes: [input('x', [1, 4, 4]), node('y', 'conv2d', { x: 'x' }, { kernel: 3, stride: 2, padding: 'same' })],
    node: 'y',
    port: undefined,
    attr: 'padding',
    message: /needs stride 1, not 2x2/,
  },
  {
    name: 'dense: a scalar parameter has no feature axis',
    nodes: [parameter('p', []), node('y', 'dense', { x: 'p' })],
    node: 'y',
    port: 'x',
  },
  {
    name: 'batchnorm: rank 3',
    nodes: [input('x', [2, 3]), node('y', 'batchnorm', { x: 'x' })],
    node: 'y',
    port: 'x',
  },
  {
    name: 'mse: target with a different size',
    nodes: [input('p', [3]), input('t', [2]), node('y', 'mse', { pred: 'p', target: 't' })],
    node: 'y',
    port: 'target',
  },
  {
    name: 'softmax_cross_entropy: logits of rank 3',
    nodes: [input('z', [2, 2]), label('l', 'class'), node('y', 'softmax_cross_entropy', { logits: 'z', labels: 'l' })],
    node: 'y',
    port: 'logits',
  },
  {
    name: 'softmax_cross_entropy: labels with a shape per example',
    nodes: [input('z', [3]), label('l', 'class', [2]), node('y', 'softmax_cross_entropy', { logits: 'z', labels: 'l' })],
    node: 'y',
    port: 'labels',
  },
  {
    name: 'sigmoid_cross_entropy: logits [B,3]',
    nodes: [input('s', [3]), label('l', 'class'), node('y', 'sigmoid_cross_entropy', { logits: 's', labels: 'l' })],
    node: 'y',
    port: 'logits',
  },
  {
    name: 'hinge: class labels with scores [B]',
    nodes: [input('s', []), label('l', 'class'), node('y', 'hinge', { scores: 's', labels: 'l' })],
    node: 'y',
    port: 'scores',
  },
];
