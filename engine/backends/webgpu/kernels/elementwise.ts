/**
 * Elementwise kernels: one WGSL template for the unary ops and one for the binary ops, an expression per op. Sizes,
 * attributes and broadcast strides are uniform params, so each op compiles to one pipeline whatever the shapes.
 *
 * The CPU computes in float64 and rounds once; here everything is float32. Where a WGSL builtin loses the relative
 * precision (log near 1, tanh near 0: 1e-2 relative on llvmpipe at 1e-6; sin and cos anywhere: WGSL only asks for
 * 2^-11 absolute, which SwiftShader gives, 1e-4 relative), or is missing (log1p), the function is written out below as
 * a series or polynomial that keeps it.
 */
import type { KernelCall } from '../../kernel';
import { f32Bits, grid1d, packWords, perElementShader, type GpuKernel, type GpuKernelFor } from '../kernel';
import { numel } from '../../../ir/shape';

/**
 * log((1 + s) / (1 - s)) = 2 atanh(s) by its series, for |s| <= 1/3 (the first term left out is below 2e-9
 * relative). log1p(u) = atanh2(u / (2 + u)) is then accurate to a few ulps for every u in [-0.29, 1].
 */
const ATANH2 = /* wgsl */ `
fn atanh2(s: f32) -> f32 {
  let z = s * s;
  return s * (2.0 + z * (0.6666666667 + z * (0.4 + z * (0.2857142857 + z * (0.2222222222 + z * (0.1818181818
    + z * (0.1538461538 + z * 0.1333333333)))))));
}`;

/**
 * Natural log as e ln 2 + log1p(m - 1) for x = m 2^e, m in [sqrt(1/2), sqrt(2)), ln 2 split in two (Cephes) so
 * that e ln 2 loses nothing; 0, negatives, inf and NaN go to the builtin.
 */
const LOG = /* wgsl */ `${ATANH2}
fn log_(x: f32) -> f32 {
  if (!(x > 0.0 && x <= 3.4028234e38)) { return log(x); }
  let fe = frexp(x);
  var m = fe.fract;
  var e = f32(fe.exp);
  if (m < 0.70710678) { m = 2.0 * m; e = e - 1.0; }
  let f = m - 1.0;
  return e * 0.693359375 + (atanh2(f / (2.0 + f)) - e * 2.12194440e-4);
}`;

/** 1 / (1 + e^-x) without overflow, as the CPU's sigmoid. */
const SIGMOID = /* wgsl */ `
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}`;

/** log(1 + e^x) = max(x, 0) + log1p(e^-|x|), the CPU's two branches in one. */
const SOFTPLUS = /* wgsl */ `${ATANH2}
fn softplus(x: f32) -> f32 {
  let u = exp(-abs(x));
  return max(x, 0.0) + atanh2(u / (2.0 + u));
}`;

/**
 * tanh: Cephes' odd polynomial below 0.625 (the builtin loses the relative precision near 0), else
 * (1 - e^-2|x|) / (1 + e^-2|x|), which cannot overflow.
 */
const TANH = /* wgsl */ `
fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.625) {
    let z = x * x;
    return x + x * z * ((((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z + 1.33314422036e-1) * z
      - 3.33332819422e-1);
  }
  let t = exp(-2.0 * a);
  return sign(x) * (1.0 - t) / (1.0 + t);
}`;

/**
 * sin and cos as Cephes' sinf and cosf: |x| reduced by multiples of pi/4 (pi/4 split in three, so that y pi/4 is
 * exact for the octants used here), then the sine or cosine polynomial on [-pi/4, pi/4], by quadrant. Beyond
 * |x| = 8192 the reduction loses digits, and NaN and inf need the builtin's answer: those go to the builtin.
 */
const TRIG = /* wgsl */ `
fn trig_(x: f32, cosine: bool) -> f32 {
  let a = abs(x);
  if (!(a <= 8192.0)) { return select(sin(x), cos(x), cosine); }
  var j = u32(a * 1.27323954473516);
  j = j + (j & 1u);
  let y = f32(j);
  let z = ((a - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
  let zz = z * z;
  let s = ((-1.9515295891e-4 * zz + 8.3321608736e-3) * zz - 1.6666654611e-1) * zz * z + z;
  let c = ((2.443315711809948e-5 * zz - 1.388731625493765e-3) * zz + 4.166664568298827e-2) * zz * zz - 0.5 * zz + 1.0;
  // sin(a) is s, c, -s, -c in quadrants 0 to 3 (j / 2 mod 4); cos(a) = sin(a + pi/2), one quadrant on.
  let q = ((j >> 1u) + select(0u, 1u, cosine)) & 3u;
  let v = select(s, c, (q & 1u) == 1u);
  let r = select(v, -v, q >= 2u);
  return select(r, -r, !cosine && x < 0.0);
}`;

/**
 * x^e as Math.pow: x^|e| by repeated squaring when e is whole (p.k = |e|: negative bases work, x^0 = 1), else by
 * the builtin; 1 / x^|e| for e < 0, so that 0^e is +inf as on the CPU.
 */
const POW = /* wgsl */ `
fn pow_(x: f32) -> f32 {
  var r = 1.0;
  if (p.whole == 0u) {
    r = pow(x, abs(p.a));
  } else {
    var b = x;
    for (var k = p.k; k != 0u; k = k >> 1u) {
      if ((k & 1u) != 0u) { r = r * b; }
      b = b * b;
    }
  }
  return select(r, 1.0 / r, p.a < 0.0);
}`;

/** relu of the WGSL expression `x` (a name: it is read twice), of type f32, or vec4<f32> with `zero` = 'vec4<f32>()'. */
export function reluWgsl(x: string, zero = '0.0'): string {
  // relu(NaN) = 0 and relu(-0) = +0, as on the CPU.
  return `select(${zero}, ${x}, ${x} > ${zero})`;
}

/**
 * Each unary op as a WGSL expression of `x` (and `p.a`, its attribute), with the functions it calls. Exported for
 * the fused kernels (../fuse.ts), which read `p.a`, `p.k` and `p.whole` as `unaryWords` gives them.
 */
export const UNARY: Record<string, { expr: string; fns?: string }> = {
  neg: { expr: '-x' },
  exp: { expr: 'exp(x)' },
  ln: { expr: 'log_(x)', fns: LOG },
  sin: { expr: 'trig_(x, false)', fns: TRIG },
  cos: { expr: 'trig_(x, true)', fns: TRIG },
  tanh: { expr: 'tanh_(x)', fns: TANH },
  sigmoid: { expr: 'sigmoid(x)', fns: SIGMOID },
  relu: { expr: reluWgsl('x') },
  leaky_relu: { expr: 'select(x * p.a, x, x > 0.0)' },
  softplus: { expr: 'softplus(x)', fns: SOFTPLUS },
  abs: { expr: 'abs(x)' },
  sqrt: { expr: 'sqrt(x)' },
  pow: { expr: 'pow_(x)', fns: POW },
  // sign(NaN) = 0, as on the CPU (the builtin leaves it unspecified).
  sign: { expr: 'select(0.0, 1.0, x > 0.0) - select(0.0, 1.0, x < 0.0)' },
  step: { expr: 'select(0.0, 1.0, x > 0.0)' },
  stop_gradient: { expr: 'x' },
};

const unaryCode = (expr: string, fns = '') =>
  perElementShader(
    /* wgsl */ `
struct Params { n: u32, a: f32, k: u32, whole: u32 }
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
${fns}`,
    `  let x = xs[i];
  out[i] = ${expr};`,
  );

/** The uniform words of a unary op's attribute: `a` (f32 bits), and for pow of a whole exponent `k` = |a|, `whole` = 1. */
export function unaryWords(op: string, attrs: KernelCall['attrs']): { a: number; k: number; whole: number } {
  const a = (attrs.alpha ?? attrs.exponent ?? 0) as number;
  const whole = op === 'pow' && Number.isInteger(a) && Math.abs(a) < 2 ** 32;
  return { a: f32Bits(a), k: whole ? Math.abs(a) : 0, whole: whole ? 1 : 0 };
}

function unary(op: string): GpuKernelFor {
  const { expr, fns } = UNARY[op];
  const code = unaryCode(expr, fns);
  return (call) => {
    const n = numel(call.outShape);
    const w = unaryWords(op, call.attrs);
    return { code, workgroups: grid1d(n), params: packWords([n, w.a, w.k, w.whole]) };
  };
}

/** Each binary op as a WGSL expression of `a` and `b`. maximum / minimum: a on ties, b when either is NaN. */
export const BINARY: Record<string, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  maximum: 'select(b, a, a >= b)',
  minimum: 'select(b, a, a <= b)',
  greater: 'select(0.0, 1.0, a > b)',
  greater_equal: 'select(0.0, 1.0, a >= b)',
};

/** Up to this many dims after merging (the engine's tensors have rank <= 6); params hold them as 2 vec4s. */
export const MAX_RANK = 8;

/**
 * WGSL that sets `let NAME = ...` to each input's element for output element `i`, from the Params fields `rank`,
 * `shape` and each input's strides (`[name, stride field]` pairs; broadcastLayout's, packed as array<vec4<u32>, 2>).
 * The output index is split into coordinates over `shape` (innermost last) and each input's element is
 * sum(coordinate * stride), with stride 0 along the dims it is broadcast over. The outermost coordinate needs no
 * modulo, so same-shape and scalar operands (one merged dim) cost no division at all.
 */
export function broadcastIndexWgsl(inputs: readonly (readonly [name: string, strides: string])[]): string {
  return [
    '  var rest = i;',
    ...inputs.map(([name]) => `  var ${name}_ = 0u;`),
    '  for (var d = p.rank - 1u; d > 0u; d = d - 1u) {',
    '    let size = p.shape[d / 4u][d % 4u];',
    '    let c = rest % size;',
    '    rest = rest / size;',
    ...inputs.map(([name, s]) => `    ${name}_ = ${name}_ + c * p.${s}[d / 4u][d % 4u];`),
    '  }',
    ...inputs.map(([name, s]) => `  let ${name} = ${name}_ + rest * p.${s}[0].x;`),
  ].join('\n');
}

const binaryCode = (expr: string) =>
  perElementShader(
    /* wgsl */ `
struct Params { n: u32, rank: u32, pad0: u32, pad1: u32, shape: array<vec4<u32>, 2>, sa: array<vec4<u32>, 2>, sb: array<vec4<u32>, 2> }
@group(0) @binding(0) var<storage, read> xa: array<f32>;
@group(0) @binding(1) var<storage, read> xb: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;`,
    `${broadcastIndexWgsl([
      ['ia', 'sa'],
      ['ib', 'sb'],
    ])}
  let a = xa[ia];
  let b = xb[ib];
  out[i] = ${expr};`,
  );

/**
 * The output's shape and each input's strides over it (0 where the input is broadcast), with size-1 dims dropped
 * and neighbouring dims merged wherever every input walks them as one: same shapes become one dim, a bias row
 * added to a batch two.
 */
export function broadcastLayout(inShapes: readonly (readonly number[])[], outShape: readonly number[]): { shape: number[]; strides: number[][] } {
  const rank = outShape.length;
  const aligned = inShapes.map((s) => {
    const st = new Array<number>(rank).fill(0);
    for (let d = s.length - 1, acc = 1; d >= 0; d--) {
      st[rank - s.length + d] = s[d] === 1 ? 0 : acc;
      acc *= s[d];
    }
    return st;
  });
  const shape: number[] = [];
  const strides: number[][] = inShapes.map(() => []);
  for (let d = 0; d < rank; d++) {
    if (outShape[d] === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && aligned.every((st, k) => strides[k][last] === st[d] * outShape[d])) {
      shape[last] *= outShape[d];
      strides.forEach((s, k) => (s[last] = aligned[k][d]));
    } else {
      shape.push(outShape[d]);
      strides.forEach((s, k) => s.push(aligned[k][d]));
    }
  }
  if (!shape.length) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape, strides };
}

function binary(op: string): GpuKernelFor {
  const code = binaryCode(BINARY[op]);
  const slots = (v: number[]) => [...v, ...new Array<number>(MAX_RANK - v.length).fill(0)];
  return (call: KernelCall): GpuKernel => {
    const n = numel(call.outShape);
    const { shape, strides } = broadcastLayout(call.inShapes, call.outShape);
    return {
      code,
      workgroups: grid1d(n),
      params: packWords([n, shape.length, 0, 0, ...slots(shape), ...slots(strides[0]), ...slots(strides[1])]),
    };
  };
}

export const elementwiseKernels: Record<string, GpuKernelFor> = {
  ...Object.fromEntries(Object.keys(UNARY).map((op) => [op, unary(op)])),
  ...Object.fromEntries(Object.keys(BINARY).map((op) => [op, binary(op)])),
};
