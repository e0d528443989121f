/**
 * The WebGPU reduction, layout and source kernels against the float32 CPU backend, one op per plan (forward only,
 * so nothing here needs another area's kernels), on odd shapes: extents either side of the workgroup reduction,
 * axes that are not adjacent, size-1 axes, rank 6, ties and non-finite values, tiled and gathered transposes,
 * windows with strides past the kernel. Sums agree within 1e-5 relative (1e-4 past 10,000 terms); everything
 * else, col2im's sums included (the same order of float32 additions), and dropout masks bit for bit.
 */
import { describe, expect, test } from 'vitest';
import type { Backend } from '../../engine/backends/backend';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import type { RunContext } from '../../engine/backends/kernel';
import { useGpuBackend } from '../conformance/gpu';
import { Builder } from '../../engine/ir/builder';
import type { Attrs, IRNode } from '../../engine/ir/node';
import { compilePlan } from '../../engine/plan/plan';
import { generate, NORMAL, rngFor } from '../conformance/tensor';
import { reductionMode, reductionParts } from '../../engine/backends/webgpu/kernels/reduce';

const backend = useGpuBackend();

const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

/** One op over inputs x0, x1... of the given shapes and values. */
interface Case {
  op: string;
  shapes: number[][];
  attrs: Attrs;
  values: Float32Array[];
}

async function runOn(backend: Backend, c: Case, ctx: RunContext = { seed: 1, step: 1 }): Promise<Float32Array> {
  const b = new Builder();
  const ins: IRNode[] = c.shapes.map((s, i) => b.input(`x${i}`, s));
  const exe = backend.load(compilePlan({ y: b.emit(c.op, ins, c.attrs) }));
  c.values.forEach((v, i) => exe.setInput(`x${i}`, v));
  exe.run(ctx);
  return exe.read('y');
}

/** Normal values, with `special` written over every `every`-th element when given. */
function values(name: string, shape: number[], special: number[] = [], every = 7): Float32Array {
  const v = Float32Array.from(generate(NORMAL, numel(shape), rngFor(name)));
  special.forEach((s, k) => {
    for (let i = k; i < v.length; i += every * special.length) v[i] = s;
  });
  return v;
}

/** Both backends; equal where `rtol` is 0, else within rtol relative plus 1e-6 of the largest magnitude. */
async function expectAgree(c: Case, rtol = 0, ctx?: RunContext): Promise<void> {
  const want = await runOn(new CpuBackend('f32'), c, ctx);
  const got = await runOn(backend(), c, ctx);
  if (rtol === 0) return expect(got).toEqual(want);
  expect(got.length).toBe(want.length);
  const atol = 1e-6 * want.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(want[i])) expect(got[i], `at ${i}`).toBe(want[i]);
    else expect(Math.abs(got[i] - want[i]), `at ${i}: webgpu ${got[i]}, cpu ${want[i]}`).toBeLessThanOrEqual(rtol * Math.abs(want[i]) + atol);
  }
}

describe('reductions', () => {
  // shape, axes: short (a thread per slot) and long (a workgroup per slot) extents, adjacent or not; columns (a
  // workgroup per 8 adjacent slots: a bias's gradient), their count a multiple of 8 or not, one kept axis or two.
  const REDUCTIONS: [number[], number[]][] = [
    [[128, 256], [0]],
    [[70, 13], [0]],
    [[3, 100, 24], [1]],
    [[90, 2, 4, 5], [0, 2]],
    [[7], [0]],
    [[3, 4], []],
    [[2, 3, 4], [0, 2]],
    [[6, 63], [1]],
    [[6, 64], [1]],
    [[3, 1000], [1]],
    [[20000], [0]],
    [[257, 5], [0]],
    [[4, 300, 3], [1]],
    [[5, 3, 17, 9], [0, 2, 3]],
    [[2, 1, 3, 1, 5, 7], [1, 3, 5]],
    [[3, 5, 2, 4, 3, 2], [0, 2, 4]],
    [[2, 70, 3, 2], [1, 3]],
    // Split (few slots, many elements: workgroups over chunks of a slot, then a join): rows, columns, a middle axis.
    [[3, 40000], [1]],
    [[40000, 3], [0]],
    [[2, 9000, 3], [1]],
  ];
  const name = (op: string, s: number[], axes: number[]) => `${op} ${s.join('x')} over [${axes.join(',')}]`;

  test.each(REDUCTIONS)('sum, max and max_mask of %j over %j', async (shape, axes) => {
    const extent = numel(axes.map((a) => shape[a]));
    const v = values(name('sum', shape, axes), shape);
    await expectAgree({ op: 'sum', shapes: [shape], attrs: { axes }, values: [v] }, extent > 10_000 ? 1e-4 : 1e-5);
    await expectAgree({ op: 'max', shapes: [shape], attrs: { axes, keepdims: true }, values: [v] });
    await expectAgree({ op: 'max_mask', shapes: [shape], attrs: { axes }, values: [v] });
  });

  test('more slots than a grid row holds (70,000 workgroups)', async () => {
    const shape = [70_000, 64];
    await expectAgree({ op: 'sum', shapes: [shape], attrs: { axes: [1] }, values: [values('many slots', shape)] }, 1e-5);
  });

  test('a sum of 300,000 terms of one sign and of cancelling ones', async () => {
    const n = 300_000;
    const ones = new Float32Array(n).map((_v, i) => 1 + (i % 1000) * 1e-3);
    await expectAgree({ op: 'sum', shapes: [[n]], attrs: { axes: [0] }, values: [ones] }, 1e-4);
    await expectAgree({ op: 'sum', shapes: [[n]], attrs: { axes: [0] }, values: [values('cancelling', [n])] }, 1e-4);
  });

  // Integers in [0, 3): every row has tied maxima, and max_mask must mark the first in row-major order.
  test.each([
    [[9, 5], [1]],
    [[9, 200], [1]],
    [[4, 6, 5], [0, 2]],
    [[130, 3, 4], [0, 2]],
    [[200, 9], [0]],
  ])('ties in %j over %j', async (shape, axes) => {
    const v = new Float32Array(numel(shape)).map((_x, i) => (i * 7919) % 3);
    await expectAgree({ op: 'max', shapes: [shape], attrs: { axes }, values: [v] });
    await expectAgree({ op: 'max_mask', shapes: [shape], attrs: { axes }, values: [v] });
  });

  // NaN and infinities: a NaN stays a max's NaN, counts for max_mask only first; an infinite sum stays infinite.
  test.each([
    [[6, 9], [1], [NaN]],
    [[6, 9], [1], [Infinity, -Infinity]],
    [[6, 300], [1], [NaN]],
    [[6, 300], [1], [Infinity]],
    [[5, 8], [0], [-Infinity, NaN]],
    [[4, 100], [1], [-Infinity]],
    [[2, 50000], [1], [NaN]],
    [[2, 50000], [1], [Infinity]],
    [[50000, 2], [0], [-Infinity, Infinity]],
    [[300, 12], [0], [NaN]],
    [[300, 12], [0], [Infinity, -Infinity]],
  ])('%j over %j holding %j', async (shape, axes, special) => {
    const v = values(`special ${shape.join('x')} ${special.join()}`, shape, special, 11);
    for (const op of ['sum', 'max', 'max_mask']) await expectAgree({ op, shapes: [shape], attrs: { axes }, values: [v] }, op === 'sum' ? 1e-5 : 0);
  });

  test('max_mask where the first element of a row is NaN, or every element is -Infinity', async () => {
    const v = Float32Array.from([NaN, 1, 5, -Infinity, -Infinity, -Infinity, 2, NaN, 2]);
    await expectAgree({ op: 'max_mask', shapes: [[3, 3]], attrs: { axes: [1] }, values: [v] });
    const long = new Float32Array(3 * 100).fill(-Infinity);
    long[0] = NaN;
    long[150] = NaN;
    long[170] = 4;
    long[270] = 4;
    await expectAgree({ op: 'max_mask', shapes: [[3, 100]], attrs: { axes: [1] }, values: [long] });
  });
});

describe('how reductions assign threads', () => {
  test.each([
    ['sum', [128, 256], [0], 'columns'],
    ['max_mask', [70, 13], [0], 'columns'],
    ['sum', [90, 2, 4, 5], [0, 2], 'columns'],
    ['sum', [70, 7], [0], 'long'],
    ['sum', [90, 8, 5], [0, 2], 'long'],
    ['sum', [63, 256], [0], 'short'],
    ['sum', [6, 64], [1], 'long'],
    ['sum', [40_000, 3], [0], 'parts'],
  ] as const)('%s of %j over %j: %s', (op, shape, axes, mode) => {
    const call = { op, attrs: { axes: [...axes] }, inShapes: [[...shape]], outShape: [] };
    expect(reductionMode(call)).toBe(mode);
  });
});

describe('which reductions are split over workgroups', () => {
  test.each([
    ['sum', [300_000], [0], 74],
    ['sum', [3, 40_000], [1], 10],
    ['max', [40_000, 3], [0], 10],
    ['sum', [2_000_000], [0], 256],
    ['sum', [16_383], [0], 1],
    ['sum', [16_384], [0], 4],
    ['sum', [127, 20_000], [1], 5],
    ['sum', [128, 20_000], [1], 1],
    ['max_mask', [300_000], [0], 1],
  ] as const)('%s of %j over %j: %d parts a slot', (op, shape, axes, parts) => {
    const call = { op, attrs: { axes: [...axes] }, inShapes: [[...shape]], outShape: [] };
    expect(reductionParts(call)).toBe(parts);
  });
});

describe('layout', () => {
  const one = (op: string, shape: number[], attrs: Attrs): Case => ({ op, shapes: [shape], attrs, values: [values(`${op} ${shape.join('x')} ${JSON.stringify(attrs)}`, shape)] });

  test.each([
    [[3, 5, 7], [105]],
    [[1], []],
    [[2, 3, 1, 4], [4, 6]],
  ])('reshape %j to %j', (from, shape) => expectAgree(one('reshape', from, { shape })));

  test.each([
    [[3, 1, 5], [2, 3, 4, 5]],
    [[], [7, 3]],
    [[1, 1], [2, 1, 3]],
    [[5, 1, 1, 2], [2, 5, 3, 4, 2]],
    [[70, 1], [70, 300]],
  ])('broadcast_to %j to %j', (from, shape) => expectAgree(one('broadcast_to', from, { shape })));

  test.each([
    [[37, 19], [1, 0]],
    [[3, 37, 19], [0, 2, 1]],
    [[70, 1000], [1, 0]],
    [[2, 17, 3, 5], [0, 2, 3, 1]],
    [[5, 33, 17], [1, 0, 2]],
    [[1, 3, 2, 2], [0, 2, 3, 1]],
    [[2, 3, 4, 5, 6, 7], [5, 3, 1, 0, 2, 4]],
    [[4, 1, 6], [1, 0, 2]],
  ])('transpose %j by %j', (shape, perm) => expectAgree(one('transpose', shape, { perm })));

  test.each([
    [[3, 5], [4, 5], 0],
    [[2, 3, 4], [2, 5, 4], 1],
    [[2, 3, 1], [2, 3, 6], -1],
    [[1, 7], [1, 9], 1],
  ])('concat %j and %j along %j', (a, b, axis) =>
    expectAgree({ op: 'concat', shapes: [a, b], attrs: { axis }, values: [values(`concat a ${axis}`, a), values(`concat b ${axis}`, b)] }),
  );

  test.each([
    [[5, 7, 3], 1, 2, 6],
    [[9], 0, 8, 9],
    [[2, 3, 4], -1, 1, 3],
    [[6, 2, 5], 0, 0, 5],
  ])('slice %j along %j from %j to %j', (shape, axis, start, end) => expectAgree(one('slice', shape, { axis, start, end })));

  test.each([
    [[5, 7, 3], 1, 2, 3],
    [[4], 0, 0, 5],
    [[2, 3, 4], -1, 3, 0],
    [[3, 2], 0, 1, 1],
  ])('pad %j along %j by %j and %j', (shape, axis, before, after) => expectAgree(one('pad', shape, { axis, before, after })));

  // image, window [kh, kw, sh, sw, ph, pw]: overlapping, strides past the kernel (skipped pixels), wide padding.
  const WINDOWS: [number[], number[]][] = [
    [[2, 3, 7, 6], [3, 2, 2, 1, 1, 0]],
    [[1, 2, 5, 5], [2, 2, 3, 3, 1, 1]],
    [[3, 1, 4, 9], [1, 4, 1, 3, 0, 2]],
    [[1, 1, 3, 3], [3, 3, 1, 1, 2, 2]],
  ];
  const win = ([kh, kw, sh, sw, ph, pw]: number[]) => ({ kh, kw, sh, sw, ph, pw });
  const out = (size: number, k: number, s: number, p: number) => Math.floor((size + 2 * p - k) / s) + 1;

  test.each(WINDOWS)('im2col and col2im of %j with window %j', async (image, w) => {
    const attrs = win(w);
    await expectAgree(one('im2col', image, attrs));
    const cols = [image[0], image[1] * w[0] * w[1], out(image[2], w[0], w[2], w[4]) * out(image[3], w[1], w[3], w[5])];
    await expectAgree(one('col2im', cols, { ...attrs, imageShape: image }));
  });
});

describe('sources', () => {
  test('full_like, whatever its input holds', () =>
    expectAgree({ op: 'full_like', shapes: [[3, 7]], attrs: { value: -1.5 }, values: [values('full_like', [3, 7], [NaN, Infinity])] }));

  test('one_hot: integers in range set their class, anything else a row of zeros', () =>
    expectAgree({ op: 'one_hot', shapes: [[3, 3]], attrs: { classes: 4 }, values: [Float32Array.from([0, 3, 1, -1, 4, 1.5, NaN, 2, 2])] }));

  test.each([
    [0.3, 2, { seed: 7, step: 3 }],
    [0.5, 0, { seed: 123456789, step: 0 }],
    [0.9, 5, { seed: 4294967295, step: 100000 }],
    [0, 1, { seed: 1, step: 1 }],
    [1, 1, { seed: 1, step: 1 }],
  ])('dropout_mask at rate %j (stream %j, %j) is the CPU mask bit for bit', (rate, stream, ctx) =>
    expectAgree({ op: 'dropout_mask', shapes: [[1000, 37]], attrs: { rate, stream }, values: [new Float32Array(37_000)] }, 0, ctx),
  );
});
