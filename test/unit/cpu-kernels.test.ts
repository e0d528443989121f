import { describe, expect, it } from 'vitest';
import { cpuKernelFor, cpuKernels } from '../../engine/backends/cpu/kernels';
import { broadcastIndex, reduceIndex, transposeIndex } from '../../engine/backends/cpu/index-maps';
import { updateKernels } from '../../engine/backends/cpu/update-kernels';
import type { FloatArray, KernelCall } from '../../engine/backends/kernel';
import { Rng } from '../../engine/util/rng';

/**
 * The specialised CPU kernels (a loop per op, broadcasts as runs, split reductions, blocked transposes) against the
 * plain definitions they replace, element by element through index maps: results must be bit-identical, NaN,
 * infinities and signed zeros included, in float32 and float64.
 */

const ctx = { seed: 0, step: 0 };
const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
const PRECISIONS = [
  ['f32', (n: number): FloatArray => new Float32Array(n)],
  ['f64', (n: number): FloatArray => new Float64Array(n)],
] as const;

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -2.5, 1e-45, -1e-45, 3e38, -3e38, 88.5, -88.5, 1e-7];

/** Special values first, then seeded values of mixed sign and scale. */
function values(n: number, seed: number, make: (n: number) => FloatArray): FloatArray {
  const rng = new Rng(seed, 9);
  const out = make(n);
  for (let i = 0; i < n; i++) out[i] = i < SPECIAL.length && seed % 2 ? SPECIAL[(i + seed) % SPECIAL.length] : (rng.uniform() * 2 - 1) * 4 ** Math.floor(rng.uniform() * 4 - 1);
  return out;
}

function expectIdentical(got: FloatArray, want: FloatArray): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const ok = Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!ok) expect({ at: i, got: got[i] }).toEqual({ at: i, got: want[i] });
  }
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** The scalar definitions, as the shared-loop kernels had them. */
const UNARY: Record<string, (x: number, attrs: Record<string, number>) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  ln: Math.log,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid,
  relu: (x) => (x > 0 ? x : 0),
  leaky_relu: (x, a) => (x > 0 ? x : x * a.alpha),
  softplus,
  abs: Math.abs,
  sqrt: Math.sqrt,
  pow: (x, a) => Math.pow(x, a.exponent),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  step: (x) => (x > 0 ? 1 : 0),
};

const BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => (a >= b ? a : b),
  minimum: (a, b) => (a <= b ? a : b),
  greater: (a, b) => (a > b ? 1 : 0),
  greater_equal: (a, b) => (a >= b ? 1 : 0),
};

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const pa = [...new Array<number>(r - a.length).fill(1), ...a];
  const pb = [...new Array<number>(r - b.length).fill(1), ...b];
  return pa.map((d, i) => (d === 1 ? pb[i] : d));
}

const BROADCASTS: [number[], number[]][] = [
  [[], []],
  [[7], [7]],
  [[300], [300]],
  [[5, 4], []],
  [[], [5, 4]],
  [[1], [6]],
  [[128, 10], [10]],
  [[128, 10], [128, 1]],
  [[128, 1], [128, 10]],
  [[6, 1], [1, 5]],
  [[2, 1, 3], [4, 1]],
  [[3, 4, 5], [4, 1]],
  [[3, 1, 5], [3, 4, 5]],
  [[2, 3, 1, 1], [1, 3, 4, 2]],
  [[1, 1], [3, 1]],
  [[0, 3], [3]],
  [[16, 64], [1, 64]],
];

describe('elementwise kernels', () => {
  for (const [precision, make] of PRECISIONS) {
    it.each(Object.keys(UNARY))(`${precision} %s matches its scalar definition`, (op) => {
      const attrs = { alpha: 0.1, exponent: op === 'pow' ? 1.5 : 2 };
      for (const n of [1, 5, 300, 1000]) {
        const x = values(n, n + 1, make);
        const out = make(n);
        const c: KernelCall = { op, attrs, inShapes: [[n]], outShape: [n] };
        cpuKernelFor(c)!([x], out, c, ctx);
        const want = make(n);
        for (let i = 0; i < n; i++) want[i] = UNARY[op](x[i], attrs);
        expectIdentical(out, want);
      }
    });

    it.each(Object.keys(BINARY))(`${precision} %s broadcasts as its definition through index maps`, (op) => {
      for (const [sa, sb] of BROADCASTS) {
        const so = broadcastShape(sa, sb);
        const a = values(numel(sa), 3, make);
        const b = values(numel(sb), 5, make);
        const c: KernelCall = { op, attrs: {}, inShapes: [sa, sb], outShape: so };
        const want = make(numel(so));
        const ia = broadcastIndex(sa, so);
        const ib = broadcastIndex(sb, so);
        for (let i = 0; i < want.length; i++) want[i] = BINARY[op](a[ia[i]], b[ib[i]]);
        for (const kernel of [cpuKernelFor(c)!, cpuKernels[op]]) {
          const out = make(numel(so));
          kernel([a, b], out, c, ctx);
          expectIdentical(out, want);
        }
      }
    });
  }
});

describe('layout and reduction kernels', () => {
  for (const [precision, make] of PRECISIONS) {
    it(`${precision} sum over any axes equals float64 accumulation in input order`, () => {
      const cases: [number[], number[]][] = [
        [[256, 784], [0, 1]],
        [[128, 256], [0]],
        [[128, 10], [1]],
        [[128], [0]],
        [[4, 5, 6], [1]],
        [[4, 5, 6], [0, 2]],
        [[4, 5, 6], [1, 2]],
        [[4, 1, 6], [0, 2]],
        [[3, 1, 4], [1]],
        [[2, 3, 4, 5], [1, 2]],
        [[0, 3], [0]],
        [[], []],
      ];
      for (const [shape, axes] of cases) {
        const x = values(numel(shape), 7, make);
        const outShape = shape.filter((_d, i) => !axes.includes(i));
        const c: KernelCall = { op: 'sum', attrs: { axes, keepdims: false }, inShapes: [shape], outShape };
        const out = make(numel(outShape));
        cpuKernels.sum([x], out, c, ctx);
        const idx = reduceIndex(shape, axes);
        const acc = new Float64Array(out.length);
        for (let i = 0; i < x.length; i++) acc[idx[i]] += x[i];
        const want = make(out.length);
        want.set(acc);
        expectIdentical(out, want);
      }
    });

    it(`${precision} transpose equals its index map for every kind of permutation`, () => {
      const cases: [number[], number[]][] = [
        [[256, 784], [1, 0]],
        [[37, 53], [1, 0]],
        [[3, 3], [1, 0]],
        [[1, 9], [1, 0]],
        [[9, 1], [1, 0]],
        [[5, 6, 7], [0, 2, 1]],
        [[5, 6, 7], [2, 0, 1]],
        [[5, 6, 7], [1, 2, 0]],
        [[5, 6, 7], [2, 1, 0]],
        [[2, 3, 4, 5], [0, 1, 3, 2]],
        [[2, 3, 4, 5], [0, 2, 1, 3]],
        [[2, 1, 4, 5], [1, 0, 3, 2]],
        [[6, 1, 8], [2, 1, 0]],
        [[4, 5], [0, 1]],
      ];
      for (const [shape, perm] of cases) {
        const x = values(numel(shape), 9, make);
        const outShape = perm.map((p) => shape[p]);
        const c: KernelCall = { op: 'transpose', attrs: { perm }, inShapes: [shape], outShape };
        const out = make(numel(shape));
        cpuKernels.transpose([x], out, c, ctx);
        const ix = transposeIndex(shape, perm);
        const want = make(out.length);
        for (let i = 0; i < want.length; i++) want[i] = x[ix[i]];
        expectIdentical(out, want);
      }
    });

    it(`${precision} broadcast_to equals its index map`, () => {
      const cases: [number[], number[]][] = [
        [[1], [128]],
        [[128, 1], [128, 10]],
        [[10], [128, 10]],
        [[1, 100], [7, 100]],
        [[3, 1, 2], [4, 3, 5, 2]],
        [[], [2, 3]],
        [[2, 3], [2, 3]],
      ];
      for (const [shape, outShape] of cases) {
        const x = values(numel(shape), 11, make);
        const c: KernelCall = { op: 'broadcast_to', attrs: { shape: outShape }, inShapes: [shape], outShape };
        const out = make(numel(outShape));
        cpuKernels.broadcast_to([x], out, c, ctx);
        const ix = broadcastIndex(shape, outShape);
        const want = make(out.length);
        for (let i = 0; i < want.length; i++) want[i] = x[ix[i]];
        expectIdentical(out, want);
      }
    });

    it(`${precision} sgd_update without momentum is the same arithmetic as with its branch`, () => {
      for (const weightDecay of [0, 0.01]) {
        const p = values(500, 13, make);
        const g = values(500, 15, make);
        const want = p.slice();
        const lr = 0.05;
        for (let i = 0; i < want.length; i++) want[i] -= lr * (g[i] + weightDecay * want[i]);
        const c: KernelCall = { op: 'sgd_update', attrs: { lr, momentum: 0, weightDecay }, inShapes: [], outShape: [500] };
        updateKernels.sgd_update([p, g, make(500)], p, c, ctx);
        expectIdentical(p, want);
      }
    });
  }
});
