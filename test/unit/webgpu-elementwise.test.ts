/**
 * The WebGPU elementwise kernels and in-place updates against the float32 CPU backend, op by op, over wide value
 * ranges (tails, values near 0 and 1, ties, non-finite results) and broadcast shapes, and the optimizer updates over
 * several steps. 1e-5 relative everywhere; the absolute floor is a few float32 ulps of 1, for results that cross
 * zero (sin, ln near 1).
 */
import { describe, expect, test } from 'vitest';
import type { Backend } from '../../engine/backends/backend';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { broadcastLayout } from '../../engine/backends/webgpu/kernels/elementwise';
import { useGpuBackend } from '../conformance/gpu';
import { Builder } from '../../engine/ir/builder';
import type { Attrs, IRNode } from '../../engine/ir/node';
import { compilePlan, type Update } from '../../engine/plan/plan';
import { Rng } from '../../engine/util/rng';

const RTOL = 1e-5;
const ATOL = 2.5e-7;
/** Updates subtract nearly equal float32 values (p - lr g, beta m + (1 - beta) g): a floor scaled to the tensor. */
const ATOL_OF_MAX = 1e-6;

const backend = useGpuBackend();

const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
const maxAbs = (xs: Float32Array) => xs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** The worst element as a message, or '' when all agree (equal non-finite values agree). */
function mismatch(got: Float32Array, want: Float32Array, atol = ATOL): string {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  let worst = 1;
  let msg = '';
  for (let i = 0; i < want.length; i++) {
    if (Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue;
    const r = Math.abs(got[i] - want[i]) / (RTOL * Math.abs(want[i]) + atol);
    if (!(r <= worst)) [worst, msg] = [Number.isNaN(r) ? Infinity : r, `[${i}]: webgpu ${got[i]}, cpu ${want[i]} (${r.toFixed(1)}x the tolerance)`];
  }
  return msg;
}

/** Runs `y` of the graph on both backends, the inputs fed by name; [webgpu, cpu]. */
async function both(y: IRNode, feeds: Record<string, Float32Array>): Promise<[Float32Array, Float32Array]> {
  const plan = compilePlan({ y });
  const run = async (backend: Backend) => {
    const exe = backend.load(plan);
    for (const [name, v] of Object.entries(feeds)) exe.setInput(name, v);
    exe.run({ seed: 1, step: 1 });
    return exe.read('y');
  };
  return [await run(backend()), await run(new CpuBackend('f32'))];
}

const linspace = (lo: number, hi: number, n: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
const geomspace = (lo: number, hi: number, n: number) => linspace(Math.log(lo), Math.log(hi), n).map(Math.exp);
const symmetric = (xs: number[]) => [...xs, ...xs.map((x) => -x)];
const normals = (n: number, seed: number, scale = 1) => {
  const rng = new Rng(seed, 7);
  return Array.from({ length: n }, () => rng.normal() * scale);
};

const SIGNED = [...linspace(-5, 5, 401), 0, -0, 1e-30, -1e-30];
const POSITIVE_WIDE = geomspace(1e-6, 1e6, 101);
/** sin and cos reduce their argument by multiples of pi/4 up to 8192, and leave the rest (and non-finite values) to the builtin. */
const TRIG_WIDE = [...symmetric(geomspace(20, 8192, 400)), 8192.001, 1e5, Infinity, NaN];
const TAILS = [...linspace(-100, 100, 801), ...symmetric(geomspace(1e-6, 1, 200))];

/** Each unary case: its op, attributes and the inputs it is run on. */
const UNARY: { op: string; attrs?: Attrs; xs: number[] }[] = [
  { op: 'neg', xs: SIGNED },
  { op: 'exp', xs: [...linspace(-87, 88, 1001), 89, 100, -104, -200] },
  { op: 'ln', xs: [...geomspace(1e-30, 1e30, 1001), ...linspace(0.99, 1.01, 401), 1, 0, Infinity] },
  { op: 'sin', xs: [...linspace(-20, 20, 1001), ...symmetric(geomspace(1e-6, 1, 100)), ...TRIG_WIDE] },
  { op: 'cos', xs: [...linspace(-20, 20, 1001), ...TRIG_WIDE] },
  { op: 'tanh', xs: [...TAILS, 0.6249, 0.625, 0.6251, -0.625] },
  { op: 'sigmoid', xs: TAILS },
  { op: 'softplus', xs: TAILS },
  { op: 'relu', xs: SIGNED },
  { op: 'leaky_relu', attrs: { alpha: 0.01 }, xs: SIGNED },
  { op: 'leaky_relu', attrs: { alpha: 0.2 }, xs: SIGNED },
  { op: 'abs', xs: SIGNED },
  { op: 'sqrt', xs: [...linspace(0, 100, 1001), ...geomspace(1e-30, 1e30, 101)] },
  { op: 'sign', xs: SIGNED },
  { op: 'step', xs: SIGNED },
  { op: 'stop_gradient', xs: SIGNED },
  ...[2, 3, -1, -2, 0, 1, 7].map((exponent) => ({ op: 'pow', attrs: { exponent }, xs: SIGNED })),
  ...[0.5, -1.5, 1 / 3, 1.5, -0.5, 2.5].map((exponent) => ({ op: 'pow', attrs: { exponent }, xs: [...linspace(0, 5, 501), ...POSITIVE_WIDE] })),
];

/** The binary ops, with the divisor kept away from zero for div and operands on a coarse lattice (ties) for the rest. */
const BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'greater', 'greater_equal'];
const SHAPES: [number[], number[]][] = [
  [[3, 1, 5], [4, 5]],
  [[4, 5], [3, 1, 5]],
  [[7], []],
  [[], [7]],
  [[], []],
  [[2, 3], [2, 3]],
  [[300, 257], [257]],
  [[300, 1], [1, 257]],
  [[2, 3, 4], [3, 1]],
  [[1, 4], [3, 1]],
  [[2, 1, 3, 1, 2, 3], [3, 2, 1]],
  [[2, 1, 4, 1, 2, 3], [1, 3, 1, 5, 1, 1]],
];

function operands(op: string, sa: number[], sb: number[], seed: number): [Float32Array, Float32Array] {
  const lattice = (xs: number[]) => xs.map((x) => Math.round(x * 2) / 2);
  const a = normals(numel(sa), seed, 2);
  const b = normals(numel(sb), seed + 1, 2);
  if (op === 'div') return [Float32Array.from(a), Float32Array.from(b, (x) => x + Math.sign(x) * 0.1)];
  if (op === 'add' || op === 'sub' || op === 'mul') return [Float32Array.from(a), Float32Array.from(b)];
  return [Float32Array.from(lattice(a)), Float32Array.from(lattice(b))];
}

describe('WebGPU elementwise kernels match the CPU backend', () => {
  test.each(UNARY.map((c) => [`${c.op}${c.attrs ? ' ' + JSON.stringify(c.attrs) : ''}`, c] as const))('%s', async (_name, c) => {
    const b = new Builder();
    const y = b.emit(c.op, [b.input('x', [c.xs.length])], c.attrs);
    const [got, want] = await both(y, { x: Float32Array.from(c.xs) });
    expect(mismatch(got, want)).toBe('');
  });

  test.each(BINARY.flatMap((op) => SHAPES.map(([sa, sb], k) => [`${op} [${sa}] [${sb}]`, op, sa, sb, k] as const)))(
    '%s',
    async (_name, op, sa, sb, k) => {
      const b = new Builder();
      const y = b.emit(op, [b.input('a', sa), b.input('b', sb)]);
      const [a, bv] = operands(op, sa, sb, k);
      const [got, want] = await both(y, { a, b: bv });
      expect(mismatch(got, want)).toBe('');
    },
  );

  test('NaN rules: maximum / minimum take b when either is NaN; relu and sign of NaN are 0', async () => {
    const b = new Builder();
    const a = b.input('a', [4]);
    const c = b.input('c', [4]);
    const y = b.concat(b.concat(b.maximum(a, c), b.minimum(a, c), 0), b.concat(b.relu(a), b.sign(a), 0), 0);
    const [got, want] = await both(y, { a: Float32Array.of(NaN, 1, NaN, 2), c: Float32Array.of(1, NaN, NaN, 2) });
    expect(mismatch(got, want)).toBe('');
  });

  test('a grid wider than 65535 workgroups (spread over y)', async () => {
    const n = 65535 * 256 + 3;
    const b = new Builder();
    const y = b.add(b.input('a', [n]), b.input('b', [1]));
    const a = new Float32Array(n).map((_, i) => i);
    const [got, want] = await both(y, { a, b: Float32Array.of(0.5) });
    expect(mismatch(got, want)).toBe('');
  }, 60_000);
});

describe('broadcast layout', () => {
  test('merges the dims each input walks as one', () => {
    expect(broadcastLayout([[2, 3], [2, 3]], [2, 3])).toEqual({ shape: [6], strides: [[1], [1]] });
    expect(broadcastLayout([[7], []], [7])).toEqual({ shape: [7], strides: [[1], [0]] });
    expect(broadcastLayout([[], []], [])).toEqual({ shape: [1], strides: [[0], [0]] });
    expect(broadcastLayout([[8, 4, 5], [5]], [8, 4, 5])).toEqual({ shape: [32, 5], strides: [[5, 1], [0, 1]] });
    expect(broadcastLayout([[3, 1, 5], [4, 5]], [3, 4, 5])).toEqual({ shape: [3, 4, 5], strides: [[5, 0, 1], [0, 5, 1]] });
    expect(broadcastLayout([[2, 1, 3], [1, 1, 3]], [2, 1, 3])).toEqual({ shape: [2, 3], strides: [[3, 1], [0, 1]] });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// in-place updates

interface UpdateCase {
  name: string;
  op: Update['op'];
  attrs?: Attrs;
  state?: number;
  /** The target's starting value: random, or zero so that it is exactly the sum of the steps taken. */
  zeroStart?: boolean;
  /** The optimizer steps run (ctx.step of each). */
  steps?: number[];
  /** The schedule's factor on lr at each step (ctx.lrScale; absent: 1). */
  lrScales?: number[];
}

/** A schedule's factors over 10 steps: a warm-up, then a decay. */
const SCHEDULED = [0.25, 0.5, 0.75, 1, 0.9, 0.7, 0.5, 0.3, 0.1, 0.05];

const UPDATES: UpdateCase[] = [
  { name: 'assign', op: 'assign' },
  { name: 'sgd', op: 'sgd_update', attrs: { lr: 0.1 } },
  { name: 'sgd with weight decay', op: 'sgd_update', attrs: { lr: 0.05, weightDecay: 0.01 } },
  { name: 'sgd momentum', op: 'sgd_update', attrs: { lr: 0.1, momentum: 0.9 }, state: 1 },
  { name: 'sgd nesterov, weight decay', op: 'sgd_update', attrs: { lr: 0.1, momentum: 0.8, nesterov: true, weightDecay: 1e-3 }, state: 1 },
  { name: 'adam from zero', op: 'adam_update', attrs: { lr: 1e-3 }, state: 2, zeroStart: true },
  { name: 'adam', op: 'adam_update', attrs: { lr: 1e-2, weightDecay: 1e-2 }, state: 2 },
  { name: 'adamw', op: 'adam_update', attrs: { lr: 1e-2, weightDecay: 0.1, decoupled: true, beta1: 0.8, beta2: 0.99, eps: 1e-6 }, state: 2 },
  { name: 'adam with beta1 = 0 (ln beta1 = -inf)', op: 'adam_update', attrs: { lr: 1e-2, beta1: 0 }, state: 2, zeroStart: true },
  { name: 'adam at late steps', op: 'adam_update', attrs: { lr: 1e-3 }, state: 2, zeroStart: true, steps: [700, 701, 5000, 100000] },
  { name: 'sgd, scheduled', op: 'sgd_update', attrs: { lr: 0.1, weightDecay: 0.01 }, lrScales: SCHEDULED },
  { name: 'sgd momentum, scheduled', op: 'sgd_update', attrs: { lr: 0.1, momentum: 0.9, nesterov: true }, state: 1, lrScales: SCHEDULED },
  { name: 'adamw, scheduled', op: 'adam_update', attrs: { lr: 1e-2, weightDecay: 0.1, decoupled: true }, state: 2, lrScales: SCHEDULED },
];

describe('WebGPU in-place updates match the CPU backend step by step', () => {
  test.each(UPDATES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const shape = [5, 67];
    const n = numel(shape);
    const b = new Builder();
    const state = Array.from({ length: c.state ?? 0 }, (_, k) => `${c.name}/state${k}`);
    const plan = compilePlan({}, [{ op: c.op, target: `${c.name}/p`, source: b.input('g', shape), state, attrs: c.attrs }]);
    const start = c.zeroStart ? new Float32Array(n) : Float32Array.from(normals(n, 3));
    const cpu = new CpuBackend('f32');
    const exes = [backend(), cpu].map((backend) => {
      backend.writeTensor(`${c.name}/p`, start);
      for (const s of state) backend.writeTensor(s, new Float32Array(n));
      return backend.load(plan);
    });
    const steps = c.steps ?? Array.from({ length: 10 }, (_, k) => k + 1);
    for (const [k, step] of steps.entries()) {
      const g = Float32Array.from(normals(n, 100 + k));
      for (const exe of exes) {
        exe.setInput('g', g);
        exe.run({ seed: 1, step, ...(c.lrScales ? { lrScale: c.lrScales[k] } : {}) });
      }
      for (const name of [`${c.name}/p`, ...state]) {
        const want = await cpu.readTensor(name);
        // The first step from zero cancels nothing (Adam's is lr * m / sqrt(v) scaled by the bias corrections): no floor.
        const atol = c.zeroStart && k === 0 ? 0 : ATOL_OF_MAX * maxAbs(want);
        expect(mismatch(await backend().readTensor(name), want, atol), `${name} after step ${step}`).toBe('');
      }
    }
  });
});
