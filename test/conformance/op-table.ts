/**
 * The primitive op conformance table: one row per case, data only, so that every backend runs the same rows.
 * Each row names a primitive of the registry (engine/ir/registry), its attributes, its input shapes and the
 * domain their values are drawn from, and a reference forward written independently in plain JS (reference.ts).
 *
 * Domains keep central differences valid: positive values for ln, sqrt and fractional powers; values away from
 * the kinks of relu, abs, step and sign; operands of maximum / minimum that never tie; distinct values for max.
 * What happens exactly at a kink or a tie is tested separately, by TIE_CASES.
 */
import type { Attrs } from '../../engine/ir/node';
import type { Shape } from '../../engine/ir/shape';
import * as ref from './reference';
import { AWAY, DISTINCT, LATTICE_A, LATTICE_B, NORMAL, POSITIVE, tensor, type Domain, type Tensor } from './tensor';

export interface InputSpec {
  readonly shape: readonly number[];
  /** Default NORMAL. */
  readonly domain?: Domain;
}

export interface OpCase {
  /** Unique, readable: the op, its shapes and attributes. */
  readonly name: string;
  readonly op: string;
  readonly attrs: Attrs;
  /**
   * The op's inputs, fed by name `x0`, `x1`, ... For the sources `input` and `param` (no inputs of their own):
   * the one tensor the source itself is fed.
   */
  readonly inputs: readonly InputSpec[];
  /** The forward, by definition. Absent for random ops (dropout_mask), which have statistical checks instead. */
  readonly reference?: (xs: readonly Tensor[]) => Tensor;
  /**
   * Whether a gradient flows: to the inputs, or for `input` and `param`, to the source itself. Ops that pass none
   * are checked to have no VJP (or one that gives no gradient) and no JVP.
   */
  readonly grad: boolean;
  /** Set (with the reason) where values sit on a kink or tie on purpose: forward only; TIE_CASES covers the derivative. */
  readonly forwardOnly?: string;
}

/** The ops that pass no gradient to their inputs (sources aside). */
export const NO_GRADIENT_OPS = ['step', 'sign', 'greater', 'greater_equal', 'one_hot', 'max_mask', 'dropout_mask', 'full_like', 'stop_gradient'];

/** Source ops fed directly: the case's single input spec is the source's own value. */
export const FED_SOURCES = ['input', 'param'];

const fmt = (s: readonly number[]) => `[${s.join(',')}]`;
const fmtAttrs = (a: Attrs) => {
  const parts = Object.entries(a)
    .filter(([k]) => k !== 'value' && k !== 'shape')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? ' ' + parts.join(' ') : '';
};

function row(
  op: string,
  inputs: readonly (readonly number[] | InputSpec)[],
  reference: OpCase['reference'],
  opts: { attrs?: Attrs; domains?: readonly Domain[]; grad?: boolean; forwardOnly?: string; tag?: string } = {},
): OpCase {
  const specs = inputs.map((s, i) => ('shape' in s ? s : { shape: s as readonly number[], domain: opts.domains?.[i] }));
  const attrs = opts.attrs ?? {};
  const name = `${op} ${specs.map((s) => fmt(s.shape)).join(' ')}${fmtAttrs(attrs)}${opts.tag ? ` (${opts.tag})` : ''}`;
  return { name, op, attrs, inputs: specs, reference, grad: opts.grad ?? !NO_GRADIENT_OPS.includes(op), forwardOnly: opts.forwardOnly };
}

const same = (xs: readonly Tensor[]) => xs[0];

// ---------------------------------------------------------------------------------------------------------------
// sources

const SOURCES: OpCase[] = [
  row('input', [[1, 3]], same, { tag: 'batch 1' }),
  row('input', [[2, 2]], same),
  row('param', [[3, 2]], same),
  row('param', [[]], same, { tag: 'scalar' }),
  {
    name: 'const [2,2]',
    op: 'const',
    attrs: { value: Float32Array.of(1.5, -2, 0.25, 4), shape: [2, 2] },
    inputs: [],
    reference: () => tensor([2, 2], [1.5, -2, 0.25, 4]),
    grad: false,
  },
  {
    name: 'const [] (scalar)',
    op: 'const',
    attrs: { value: Float32Array.of(-3.5), shape: [] },
    inputs: [],
    reference: () => tensor([], [-3.5]),
    grad: false,
  },
  row('full_like', [[2, 3]], (xs) => ref.map(xs[0], () => 2.5), { attrs: { value: 2.5 } }),
  row('full_like', [[]], (xs) => ref.map(xs[0], () => 0), { attrs: { value: 0 } }),
  row('one_hot', [{ shape: [4], domain: { kind: 'classes', k: 3 } }], (xs) => ref.oneHot(xs[0], 3), { attrs: { classes: 3 } }),
  row('one_hot', [{ shape: [2, 3], domain: { kind: 'classes', k: 5 } }], (xs) => ref.oneHot(xs[0], 5), { attrs: { classes: 5 } }),
  row('dropout_mask', [[40, 50]], undefined, { attrs: { rate: 0.25, stream: 3 } }),
  row('stop_gradient', [[2, 3]], same),
];

// ---------------------------------------------------------------------------------------------------------------
// unary elementwise

const UNARY_SHAPES: readonly (readonly number[])[] = [[2, 3], [1, 4], []];

const UNARY_FNS: readonly { op: string; f: (x: number) => number; domain: Domain; attrs?: Attrs }[] = [
  { op: 'neg', f: (x) => -x, domain: NORMAL },
  { op: 'exp', f: Math.exp, domain: NORMAL },
  { op: 'ln', f: Math.log, domain: POSITIVE },
  { op: 'sin', f: Math.sin, domain: { kind: 'normal', std: 2 } },
  { op: 'cos', f: Math.cos, domain: { kind: 'normal', std: 2 } },
  { op: 'tanh', f: Math.tanh, domain: NORMAL },
  { op: 'sigmoid', f: ref.sigmoid, domain: { kind: 'normal', std: 2 } },
  { op: 'relu', f: (x) => (x > 0 ? x : 0), domain: AWAY },
  { op: 'leaky_relu', f: (x) => (x > 0 ? x : 0.01 * x), domain: AWAY, attrs: { alpha: 0.01 } },
  { op: 'leaky_relu', f: (x) => (x > 0 ? x : 0.2 * x), domain: AWAY, attrs: { alpha: 0.2 } },
  { op: 'softplus', f: ref.softplus, domain: { kind: 'normal', std: 2 } },
  { op: 'abs', f: Math.abs, domain: AWAY },
  { op: 'sqrt', f: Math.sqrt, domain: POSITIVE },
  { op: 'pow', f: (x) => x ** 2, domain: NORMAL, attrs: { exponent: 2 } },
  { op: 'pow', f: (x) => x ** 3, domain: NORMAL, attrs: { exponent: 3 } },
  { op: 'pow', f: (x) => x ** 0.5, domain: POSITIVE, attrs: { exponent: 0.5 } },
  { op: 'pow', f: (x) => x ** -1.5, domain: POSITIVE, attrs: { exponent: -1.5 } },
  { op: 'pow', f: (x) => x ** (1 / 3), domain: POSITIVE, attrs: { exponent: 1 / 3 } },
  { op: 'sign', f: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), domain: AWAY },
  { op: 'step', f: (x) => (x > 0 ? 1 : 0), domain: AWAY },
];

const UNARY: OpCase[] = [
  ...UNARY_FNS.flatMap(({ op, f, domain, attrs }) =>
    UNARY_SHAPES.map((shape) => row(op, [{ shape, domain }], (xs) => ref.map(xs[0], f), { attrs })),
  ),
  // Far tails: the kernels must neither overflow nor lose the sign. Forward only: tangents there are ~e^-40, below
  // what central differences of an O(1) objective resolve.
  ...[
    { op: 'sigmoid', f: ref.sigmoid },
    { op: 'softplus', f: ref.softplus },
    { op: 'tanh', f: Math.tanh },
  ].map(({ op, f }) =>
    row(op, [{ shape: [6], domain: { kind: 'values', values: [-100, -40, -1e-3, 1e-3, 40, 100] } }], (xs) => ref.map(xs[0], f), {
      tag: 'tails',
      forwardOnly: 'derivatives of order e^-40 cannot be resolved by central differences',
    }),
  ),
  // Exactly at the kink (forward values; the derivative there is in TIE_CASES).
  ...[
    { op: 'relu', f: (x: number) => (x > 0 ? x : 0) },
    { op: 'abs', f: Math.abs },
    { op: 'sign', f: (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0) },
    { op: 'step', f: (x: number) => (x > 0 ? 1 : 0) },
  ].map(({ op, f }) =>
    row(op, [{ shape: [4], domain: { kind: 'values', values: [-1.5, 0, 2, -0] } }], (xs) => ref.map(xs[0], f), {
      tag: 'at zero',
      forwardOnly: 'sits on the kink',
    }),
  ),
];

// ---------------------------------------------------------------------------------------------------------------
// binary, broadcasting

/** Same shape; rank extension; both sides stretching; a scalar; a batch of 1 stretching. */
const BINARY_SHAPES: readonly (readonly [number[], number[]])[] = [
  [
    [2, 3],
    [2, 3],
  ],
  [[2, 3], [3]],
  [
    [2, 1],
    [1, 3],
  ],
  [[], [2, 3]],
  [
    [2, 3, 4],
    [3, 1],
  ],
  [
    [1, 4],
    [3, 1],
  ],
];

const BINARY_FNS: readonly { op: string; f: (a: number, b: number) => number; domains: readonly [Domain, Domain] }[] = [
  { op: 'add', f: (a, b) => a + b, domains: [NORMAL, NORMAL] },
  { op: 'sub', f: (a, b) => a - b, domains: [NORMAL, NORMAL] },
  { op: 'mul', f: (a, b) => a * b, domains: [NORMAL, NORMAL] },
  { op: 'div', f: (a, b) => a / b, domains: [NORMAL, AWAY] },
  { op: 'maximum', f: (a, b) => (a >= b ? a : b), domains: [LATTICE_A, LATTICE_B] },
  { op: 'minimum', f: (a, b) => (a <= b ? a : b), domains: [LATTICE_A, LATTICE_B] },
  { op: 'greater', f: (a, b) => (a > b ? 1 : 0), domains: [LATTICE_A, LATTICE_B] },
  { op: 'greater_equal', f: (a, b) => (a >= b ? 1 : 0), domains: [LATTICE_A, LATTICE_B] },
];

const TIES: Domain = { kind: 'values', values: [0, 1, -1, 2, 0.5, -0.5] };

const BINARY: OpCase[] = [
  ...BINARY_FNS.flatMap(({ op, f, domains }) => BINARY_SHAPES.map((shapes) => row(op, shapes, (xs) => ref.zip(xs[0], xs[1], f), { domains }))),
  // Equal operands (forward; the tie rule of the derivative is in TIE_CASES).
  ...BINARY_FNS.filter((b) => ['maximum', 'minimum', 'greater', 'greater_equal'].includes(b.op)).map(({ op, f }) =>
    row(op, [[2, 3], [2, 3]], (xs) => ref.zip(xs[0], xs[1], f), { domains: [TIES, TIES], tag: 'ties', forwardOnly: 'every pair ties' }),
  ),
];

// ---------------------------------------------------------------------------------------------------------------
// reductions

const REDUCTIONS: readonly { shape: number[]; axes: number[]; keepdims: boolean }[] = [
  { shape: [2, 3, 4], axes: [1], keepdims: false },
  { shape: [2, 3, 4], axes: [0, 2], keepdims: true },
  { shape: [2, 3, 4], axes: [-1], keepdims: false },
  { shape: [2, 3], axes: [0, 1], keepdims: false },
  { shape: [1, 5], axes: [1], keepdims: true },
  { shape: [3], axes: [0], keepdims: false },
];

const REDUCE: OpCase[] = [
  ...REDUCTIONS.map(({ shape, axes, keepdims }) => row('sum', [shape], (xs) => ref.sum(xs[0], axes, keepdims), { attrs: { axes, keepdims } })),
  row('sum', [[4]], same, { attrs: { axes: [], keepdims: false }, tag: 'no axes' }),
  ...REDUCTIONS.map(({ shape, axes, keepdims }) =>
    row('max', [{ shape, domain: DISTINCT }], (xs) => ref.max(xs[0], axes, keepdims), { attrs: { axes, keepdims } }),
  ),
  ...REDUCTIONS.map(({ shape, axes }) => row('max_mask', [{ shape, domain: DISTINCT }], (xs) => ref.maxMask(xs[0], axes), { attrs: { axes } })),
];

// ---------------------------------------------------------------------------------------------------------------
// layout

const w = (kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): ref.Win => ({ kh, kw, sh, sw, ph, pw });

/** Images and windows: non-overlapping; overlapping with padding; asymmetric everything; one window; batch 1. */
const WINDOWS: readonly { image: number[]; win: ref.Win }[] = [
  { image: [1, 1, 4, 4], win: w(2, 2, 2, 2, 0, 0) },
  { image: [2, 2, 5, 5], win: w(3, 3, 1, 1, 1, 1) },
  { image: [1, 2, 5, 4], win: w(2, 3, 2, 1, 1, 0) },
  { image: [2, 1, 3, 3], win: w(3, 3, 1, 1, 0, 0) },
];

const colsShape = (image: readonly number[], v: ref.Win) => [
  image[0],
  image[1] * v.kh * v.kw,
  ref.outSize(image[2], v.kh, v.sh, v.ph) * ref.outSize(image[3], v.kw, v.sw, v.pw),
];

const LAYOUT: OpCase[] = [
  ...(
    [
      [[2, 3, 4], [6, 4]],
      [[2, 3], [3, 2]],
      [[], [1, 1]],
      [[1, 6], [2, 3]],
      [[2, 2], [4]],
    ] as const
  ).map(([from, to]) => row('reshape', [from], (xs) => ref.reshape(xs[0], to), { attrs: { shape: to }, tag: `to ${fmt(to)}` })),
  ...(
    [
      [[3], [2, 3]],
      [[2, 1], [2, 2, 3]],
      [[], [2, 2]],
      [[1, 3], [4, 3]],
      [[2, 1, 3], [2, 4, 3]],
    ] as const
  ).map(([from, to]) => row('broadcast_to', [from], (xs) => ref.broadcastTo(xs[0], to), { attrs: { shape: to }, tag: `to ${fmt(to)}` })),
  ...(
    [
      [[2, 3], [1, 0]],
      [[2, 3, 4], [2, 0, 1]],
      [[2, 3, 4], [0, 2, 1]],
      [[1, 3, 2, 2], [0, 2, 3, 1]],
    ] as const
  ).map(([shape, perm]) => row('transpose', [shape], (xs) => ref.transpose(xs[0], perm), { attrs: { perm } })),
  ...(
    [
      [[2, 3], [1, 3], 0],
      [[2, 3], [2, 2], 1],
      [[2, 1, 3], [2, 2, 3], -2],
      [[2, 2], [2, 1], -1],
      [[1, 2], [1, 2], 1],
    ] as const
  ).map(([a, b, axis]) => row('concat', [a, b], (xs) => ref.concat(xs[0], xs[1], axis), { attrs: { axis } })),
  ...(
    [
      [[4, 3], 0, 1, 3],
      [[2, 5], 1, 0, 2],
      [[2, 3, 4], -1, 1, 4],
      [[2, 3], 1, 2, 3],
    ] as const
  ).map(([shape, axis, start, end]) => row('slice', [shape], (xs) => ref.slice(xs[0], axis, start, end), { attrs: { axis, start, end } })),
  ...(
    [
      [[2, 3], 0, 1, 2],
      [[2, 3], 1, 0, 1],
      [[2, 3, 2], -1, 2, 0],
    ] as const
  ).map(([shape, axis, before, after]) => row('pad', [shape], (xs) => ref.pad(xs[0], axis, before, after), { attrs: { axis, before, after } })),
  ...(
    [
      [
        [2, 3],
        [3, 4],
      ],
      [
        [2, 2, 3],
        [3, 4],
      ],
      [
        [2, 3],
        [2, 3, 4],
      ],
      [
        [2, 1, 2, 3],
        [3, 3, 2],
      ],
      [
        [1, 3],
        [3, 1],
      ],
      [
        [1, 1, 3],
        [4, 3, 2],
      ],
    ] as const
  ).map(([a, b]) => row('matmul', [a, b], (xs) => ref.matmul(xs[0], xs[1]))),
  ...WINDOWS.map(({ image, win }) => row('im2col', [image], (xs) => ref.im2col(xs[0], win), { attrs: { ...win } })),
  ...WINDOWS.map(({ image, win }) =>
    row('col2im', [colsShape(image, win)], (xs) => ref.col2im(xs[0], win, image), { attrs: { ...win, imageShape: image }, tag: `to ${fmt(image)}` }),
  ),
];

export const OP_CASES: readonly OpCase[] = [...SOURCES, ...UNARY, ...BINARY, ...REDUCE, ...LAYOUT];

// ---------------------------------------------------------------------------------------------------------------
// ties and kinks: the derivative rules documented in engine/ops

export interface TieCase {
  readonly name: string;
  readonly op: string;
  readonly attrs?: Attrs;
  readonly inputs: readonly { readonly shape: readonly number[]; readonly values: readonly number[] }[];
  /** d sum(op(x)) / d input, for each input (reverse mode; forward mode must agree). */
  readonly grads: readonly (readonly number[])[];
}

export const TIE_CASES: readonly TieCase[] = [
  { name: "relu'(0) = 0", op: 'relu', inputs: [{ shape: [4], values: [-1, 0, 2, -0] }], grads: [[0, 0, 1, 0]] },
  { name: "abs'(0) = 0", op: 'abs', inputs: [{ shape: [4], values: [-1, 0, 2, -0] }], grads: [[-1, 0, 1, 0]] },
  {
    name: "leaky_relu'(0) = alpha",
    op: 'leaky_relu',
    attrs: { alpha: 0.25 },
    inputs: [{ shape: [3], values: [-1, 0, 2] }],
    grads: [[0.25, 0.25, 1]],
  },
  {
    name: 'maximum: a tie gives the whole gradient to a',
    op: 'maximum',
    inputs: [
      { shape: [4], values: [1, 2, 3, -1] },
      { shape: [4], values: [1, 0, 3, 5] },
    ],
    grads: [
      [1, 1, 1, 0],
      [0, 0, 0, 1],
    ],
  },
  {
    name: 'maximum: ties under broadcasting, b a scalar',
    op: 'maximum',
    inputs: [
      { shape: [2, 2], values: [1, 1, 0, 2] },
      { shape: [], values: [1] },
    ],
    grads: [[1, 1, 0, 1], [1]],
  },
  {
    name: 'maximum: ties under broadcasting, a a scalar',
    op: 'maximum',
    inputs: [
      { shape: [], values: [1] },
      { shape: [3], values: [1, 0, 2] },
    ],
    grads: [[2], [0, 0, 1]],
  },
  {
    name: 'minimum: a tie gives the whole gradient to a',
    op: 'minimum',
    inputs: [
      { shape: [4], values: [1, 2, 3, 7] },
      { shape: [4], values: [1, 5, 3, 0] },
    ],
    grads: [
      [1, 1, 1, 0],
      [0, 0, 0, 1],
    ],
  },
  {
    name: 'max over the last axis: the first maximum of each row',
    op: 'max',
    attrs: { axes: [1], keepdims: false },
    inputs: [{ shape: [2, 3], values: [1, 3, 3, 2, 2, 0] }],
    grads: [[0, 1, 0, 1, 0, 0]],
  },
  {
    name: 'max over the first axis: the first maximum of each column',
    op: 'max',
    attrs: { axes: [0], keepdims: true },
    inputs: [{ shape: [3, 2], values: [1, 5, 4, 5, 4, 1] }],
    grads: [[0, 1, 1, 0, 0, 0]],
  },
  {
    name: 'max over all axes: the first maximum in row-major order',
    op: 'max',
    attrs: { axes: [0, 1], keepdims: false },
    inputs: [{ shape: [2, 3], values: [1, 0, 3, 3, 2, 3] }],
    grads: [[0, 0, 1, 0, 0, 0]],
  },
  {
    name: 'max over the middle axis of a 3-D tensor',
    op: 'max',
    attrs: { axes: [1], keepdims: false },
    inputs: [{ shape: [2, 2, 2], values: [7, 1, 7, 1, 0, 0, 0, 0] }],
    grads: [[1, 1, 0, 0, 1, 1, 0, 0]],
  },
];

// ---------------------------------------------------------------------------------------------------------------
// shape rules: inputs that must be refused with a ShapeError

export interface BadShapeCase {
  readonly op: string;
  readonly attrs?: Attrs;
  /** `null` is the symbolic batch dimension. */
  readonly inputs: readonly Shape[];
  /** The port the error names, where the rule knows it. */
  readonly port?: string;
  readonly why: string;
}

export const BAD_SHAPES: readonly BadShapeCase[] = [
  { op: 'add', inputs: [[2, 3], [4]], why: 'trailing dimensions 3 and 4 differ' },
  { op: 'sub', inputs: [[2, 3], [3, 2]], why: 'neither dimension is 1' },
  { op: 'maximum', inputs: [[null, 3], [2, 3]], why: 'the batch dimension broadcasts only against itself or 1' },
  { op: 'greater', inputs: [[5], [2, 4]], why: 'trailing dimensions 5 and 4 differ' },
  { op: 'matmul', inputs: [[2, 3], [4, 5]], port: 'b', why: 'inner dimensions 3 and 4 differ' },
  { op: 'matmul', inputs: [[3], [3, 2]], port: 'a', why: 'a has rank 1' },
  { op: 'matmul', inputs: [[2, 3], [3]], port: 'b', why: 'b has rank 1' },
  { op: 'matmul', inputs: [[2, 2, 3], [3, 3, 4]], why: 'batch dimensions 2 and 3 do not broadcast' },
  { op: 'reshape', attrs: { shape: [4] }, inputs: [[2, 3]], why: '6 elements into 4' },
  { op: 'reshape', attrs: { shape: [3] }, inputs: [[null, 3]], why: 'the batch dimension cannot disappear' },
  { op: 'broadcast_to', attrs: { shape: [2, 4] }, inputs: [[3]], why: '3 does not stretch to 4' },
  { op: 'broadcast_to', attrs: { shape: [3] }, inputs: [[2, 3]], why: 'cannot drop a dimension' },
  { op: 'transpose', attrs: { perm: [0, 0] }, inputs: [[2, 3]], why: 'perm repeats an axis' },
  { op: 'transpose', attrs: { perm: [0] }, inputs: [[2, 3]], why: 'perm is too short' },
  { op: 'transpose', attrs: { perm: [0, 2] }, inputs: [[2, 3]], why: 'perm names an axis out of range' },
  { op: 'concat', attrs: { axis: 1 }, inputs: [[2, 3], [3, 3]], port: 'b', why: 'the other dimension differs' },
  { op: 'concat', attrs: { axis: 0 }, inputs: [[2, 3], [2, 3, 1]], port: 'b', why: 'ranks differ' },
  { op: 'concat', attrs: { axis: 2 }, inputs: [[2, 3], [2, 3]], why: 'the axis is out of range' },
  { op: 'concat', attrs: { axis: 0 }, inputs: [[null, 3], [null, 3]], why: 'cannot concatenate along the batch dimension' },
  { op: 'slice', attrs: { axis: 1, start: 2, end: 5 }, inputs: [[2, 3]], why: 'end is past the dimension' },
  { op: 'slice', attrs: { axis: 0, start: 1, end: 1 }, inputs: [[2, 3]], why: 'empty slice' },
  { op: 'pad', attrs: { axis: 0, before: 1, after: 0 }, inputs: [[null, 3]], why: 'cannot pad the batch dimension' },
  { op: 'sum', attrs: { axes: [2], keepdims: false }, inputs: [[2, 3]], why: 'axis out of range' },
  { op: 'sum', attrs: { axes: [0, -2], keepdims: false }, inputs: [[2, 3]], why: 'the same axis twice' },
  { op: 'max', attrs: { axes: [-3], keepdims: false }, inputs: [[2, 3]], why: 'axis out of range' },
  { op: 'max_mask', attrs: { axes: [4] }, inputs: [[2, 3]], why: 'axis out of range' },
  { op: 'im2col', attrs: { ...w(3, 3, 1, 1, 0, 0) }, inputs: [[1, 1, 2, 2]], why: 'the window is larger than the image' },
  { op: 'im2col', attrs: { ...w(2, 5, 1, 1, 1, 0) }, inputs: [[1, 1, 6, 4]], why: 'the window is wider than the image' },
  { op: 'im2col', attrs: { ...w(2, 2, 1, 1, 0, 0) }, inputs: [[4, 4]], why: 'not an NCHW image' },
  {
    op: 'col2im',
    attrs: { ...w(2, 2, 2, 2, 0, 0), imageShape: [1, 1, 4, 4] },
    inputs: [[1, 4, 5]],
    why: 'not the columns of that image',
  },
  { op: 'col2im', attrs: { ...w(3, 3, 1, 1, 0, 0), imageShape: [1, 1, 2, 2] }, inputs: [[1, 9, 1]], why: 'the window is larger than the image' },
];
