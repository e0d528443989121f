/**
 * Elementwise fusion on the WebGPU backend (engine/backends/webgpu/fuse.ts): which steps of a plan fuse and why the
 * others do not (pure, no device), and fused plans against the same plans bound step by step on the device: every
 * output within 1e-6 relative (NaN where NaN), the MLP training step included; findNonFinite still names the step.
 */
import { describe, expect, test } from 'vitest';
import { WebGpuBackend, WebGpuExecutable } from '../../engine/backends/webgpu/webgpu-backend';
import { planFusion, regrouped, type FusionOptions } from '../../engine/backends/webgpu/fuse';
import { planFolds } from '../../engine/backends/webgpu/fold';
import { elideCopies } from '../../engine/backends/webgpu/elide';
import { ownBuffers } from '../../engine/backends/webgpu/share-buffers';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan, type BufferRole, type Plan, type Update } from '../../engine/plan/plan';
import { handmadePlan } from './handmade-plan';
import { initTensor } from '../../engine/graph/init';
import { resolveTargets, trainProgram, evalProgram } from '../../engine/train/program';
import { Rng } from '../../engine/util/rng';
import { MLP, MLP_OPTIMIZER, mlpBatch, mlpGraph } from '../../bench/mlp';
import { useGpuBackend } from '../conformance/gpu';

const RTOL = 1e-6;

/**
 * The plan's ops, its fused groups as op lists, and the break after each compute step; the plan as the backend fuses
 * it, with every value in a buffer of its own.
 */
function fuse(outputs: Record<string, IRNode>, updates: Update[] = [], options?: FusionOptions) {
  const plan = ownBuffers(compilePlan(outputs, updates));
  const f = planFusion(plan, options);
  const ops = plan.steps.map((s) => s.call.op);
  return { plan, fusion: f, ops, groups: f.groups.map((g) => g.steps.map((i) => ops[i])), breaks: f.breaks };
}

function mlpTrainPlan(batch: number = MLP.batch) {
  const nodes = mlpGraph();
  return trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, batch);
}

describe('which steps fuse', () => {
  test('a chain: sigmoid(x * w + b), the bias broadcast', () => {
    const b = new Builder();
    const x = b.input('x', [4, 3]);
    const y = b.sigmoid(b.add(b.mul(x, b.input('w', [4, 3])), b.input('b', [3])));
    const { plan, fusion, groups, breaks } = fuse({ y });
    expect(groups).toEqual([['mul', 'add', 'sigmoid']]);
    expect(breaks).toEqual([null, null, 'update']);
    const g = fusion.groups[0];
    const buf = (name: string) => plan.inputs.get(name)!.buffer;
    expect(g.inputs).toEqual([
      { buffer: buf('x'), shape: [4, 3] },
      { buffer: buf('w'), shape: [4, 3] },
      { buffer: buf('b'), shape: [3] },
    ]);
    expect(g.operands).toEqual([[{ input: 0 }, { input: 1 }], [{ step: 0 }, { input: 2 }], [{ step: 1 }]]);
    expect(g.output).toBe(plan.outputs.get('y')!.buffer);
    expect(g.shape).toEqual([4, 3]);
  });

  test('a small DAG: a value read twice inside the group', () => {
    const b = new Builder();
    const t = b.exp(b.input('x', [5]));
    const { fusion, groups } = fuse({ y: b.mul(t, b.sin(t)) });
    expect(groups).toEqual([['exp', 'sin', 'mul']]);
    expect(fusion.groups[0].operands[2]).toEqual([{ step: 0 }, { step: 1 }]);
  });

  test('broadcasting inside the group: (a - ln(m))^2 with m [4, 1] and a [4, 5]', () => {
    const b = new Builder();
    const y = b.pow(b.sub(b.input('a', [4, 5]), b.ln(b.input('m', [4, 1]))), 2);
    const { groups, fusion } = fuse({ y });
    expect(groups).toEqual([['ln', 'sub', 'pow']]);
    expect(fusion.groups[0].inputs.map((i) => i.shape)).toEqual([[4, 1], [4, 5]]);
  });

  test('a value also read after the group is not fused into it (uses)', () => {
    const b = new Builder();
    const t = b.add(b.input('x', [4, 3]), b.input('b', [3]));
    const s = b.sum(b.relu(t), [0, 1]);
    const { groups, breaks, ops } = fuse({ y: b.mul(t, s) });
    expect(ops).toEqual(['add', 'relu', 'sum', 'mul']);
    expect(groups).toEqual([]);
    expect(breaks).toEqual(['uses', 'op', 'op', 'update']);
  });

  test('a plan output ends its group (output)', () => {
    const b = new Builder();
    const t = b.add(b.input('x', [4, 3]), b.input('b', [3]));
    const { groups, breaks } = fuse({ t, y: b.relu(t) });
    expect(groups).toEqual([]);
    expect(breaks).toEqual(['output', 'update']);
  });

  test('matmul, reductions and layout ops break chains (op)', () => {
    const b = new Builder();
    const h = b.relu(b.add(b.matmul(b.input('x', [4, 3]), b.input('w', [3, 2])), b.input('b', [2])));
    const y = b.exp(b.reshape(b.neg(b.transpose(h, [1, 0])), [8]));
    const z = b.abs(b.sum(y, [0], true));
    const { groups, breaks, ops } = fuse({ z });
    expect(ops).toEqual(['matmul', 'add', 'relu', 'transpose', 'neg', 'reshape', 'exp', 'sum', 'abs']);
    expect(groups).toEqual([['add', 'relu']]);
    expect(breaks).toEqual(['op', null, 'op', 'op', 'op', 'op', 'op', 'op', 'update']);
  });

  test('the number of external inputs is capped by the storage buffers of a shader stage (inputs)', () => {
    const b = new Builder();
    const xs = Array.from({ length: 9 }, (_, k) => b.input(`x${k}`, [6]));
    const y = xs.slice(1).reduce((acc, x) => b.add(acc, x), xs[0]);
    // 8 buffers: 7 externals and the output.
    let f = fuse({ y });
    expect(f.groups.map((g) => g.length)).toEqual([6, 2]);
    expect(f.breaks).toEqual([null, null, null, null, null, 'inputs', null, 'update']);
    expect(Math.max(...f.fusion.groups.map((g) => g.inputs.length))).toBe(7);
    f = fuse({ y }, [], { maxStorageBuffers: 4 });
    expect(f.groups.map((g) => g.length)).toEqual([2, 2, 2, 2]);
    expect(f.breaks).toEqual([null, 'inputs', null, 'inputs', null, 'inputs', null, 'update']);
  });

  test('at most maxSteps steps a group (length)', () => {
    const b = new Builder();
    let y = b.input('x', [3]);
    for (let i = 0; i < 40; i++) y = b.neg(y);
    const f = fuse({ y });
    expect(f.groups.map((g) => g.length)).toEqual([16, 16, 8]);
    expect(f.breaks[15]).toBe('length');
    expect(fuse({ y }, [], { maxSteps: 5 }).groups.map((g) => g.length)).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
  });

  test('the update phase is never fused, and a value an update reads is not an intermediate (update, uses)', () => {
    const b = new Builder();
    const t = b.neg(b.input('x', [3]));
    const g = b.exp(b.neg(t));
    const f = fuse({}, [
      { op: 'assign', target: 'a', source: t },
      { op: 'sgd_update', target: 'w', source: g, attrs: { lr: 0.1 } },
    ]);
    expect(f.ops).toEqual(['neg', 'neg', 'exp', 'assign', 'sgd_update']);
    expect(f.plan.updateStart).toBe(3);
    expect(f.groups).toEqual([['neg', 'exp']]);
    expect(f.breaks).toEqual(['uses', null, 'update']);
  });

  test('steps without elements are not fused (empty)', () => {
    const b = new Builder();
    const f = fuse({ y: b.neg(b.neg(b.input('x', [0, 3]))) });
    expect(f.groups).toEqual([]);
    expect(f.breaks).toEqual(['empty', 'update']);
  });

  test('the plan passes take plans with a buffer per value, and refuse others', () => {
    // sin's value in the buffer of the transpose's, which neg read last: compilePlan shares buffers so.
    const b = new Builder();
    const plan = compilePlan({ y: b.sin(b.neg(b.transpose(b.input('a', [5, 4]), [1, 0]))) });
    expect(plan.steps[2].output).toBe(plan.steps[0].output);
    for (const pass of [planFusion, planFolds, elideCopies]) expect(() => pass(plan)).toThrow(/step 2 \(sin\): .* a buffer per value/);
    expect(planFusion(ownBuffers(plan)).groups.map((g) => g.steps)).toEqual([[1, 2]]);
    // Hand-made: a step that writes what it reads, a buffer written twice, a pooled buffer read before any step
    // writes it, a value in a buffer that is not pooled.
    const refused: [BufferRole[], [string, number[], number][]][] = [
      [['input', 'pool'], [['exp', [0], 1], ['neg', [1], 1]]],
      [['input', 'pool', 'pool'], [['exp', [0], 1], ['neg', [1], 2], ['sin', [2], 1]]],
      [['input', 'pool', 'pool'], [['neg', [1], 2]]],
      [['input', 'persistent'], [['exp', [0], 1]]],
    ];
    for (const [roles, steps] of refused) expect(() => planFusion(handmadePlan(roles, steps, {}))).toThrow(/a buffer per value/);
    expect(planFusion(handmadePlan(['input', 'pool', 'pool'], [['exp', [0], 1], ['neg', [1], 2]], { y: 2 })).groups).toHaveLength(1);
  });

  test('the MLP 784-256-256-10 training step: 76 steps, 38 dispatches, 35 with the copies elided', () => {
    // As the backend plans it: every value in a buffer of its own; the groups that matmuls compute as they store
    // (fold.ts's epilogues) marked *. (Row groups, rows.ts, come first in the backend: left out here.)
    const plan = ownBuffers(mlpTrainPlan().plan);
    const f = planFusion(plan);
    const ops = plan.steps.map((s) => s.call.op);
    const folds = planFolds(plan, [...f.groups, ...f.singles]);
    const taken = new Set(folds.epilogues);
    expect(f.groups.map((g) => `${taken.has(g) ? '*' : ''}${g.steps.map((i) => ops[i]).join(' ')}`)).toEqual([
      // dense + relu: relu's derivative reads its output, so the sum is read by the relu alone.
      '*add relu',
      '*add relu',
      // The softmax's max-shift.
      'stop_gradient sub',
      // The softmax's backward, its [128, 1] factor broadcast in the loads of the product.
      'div mul broadcast_to mul add',
      // relu's backward: the input gradient times step(y).
      '*step mul',
      '*step mul',
    ]);
    // The output layer's bias add, alone.
    expect(f.singles.filter((g) => taken.has(g)).map((g) => ops[g.steps[0]])).toEqual(['add']);
    // The loss: the batch's sum, then its mean's scale (1 / 128, a scalar constant) and sign, which the sum computes
    // as it writes.
    expect(f.epilogues.map((e) => [e.step, ...e.group.steps].map((i) => ops[i]).join(' '))).toEqual(['sum mul neg']);
    // The log-sum-exp's cross-entropy, the accuracy count, the backward of the softmax's normaliser, and the six
    // gradient norms.
    expect(f.prologues.map((p) => [...p.group.steps, p.reduce].map((i) => ops[i]).join(' '))).toEqual([
      'ln sub mul sum',
      'mul sum',
      'neg sum',
      ...new Array(6).fill('mul sum'),
    ]);
    // Folded into matmuls: the 11 transposes and the 9 steps of the 5 epilogues.
    expect(folds.skipped.length).toBe(20);
    const away = (fusion: typeof f, skipped: number) =>
      fusion.groups.reduce((s, g) => s + (taken.has(g) ? 0 : g.steps.length - 1), 0) +
      [...fusion.prologues, ...fusion.epilogues].reduce((s, p) => s + p.group.steps.length, 0) +
      skipped;
    // 76: the labels' one-hot, which the loss and the accuracy both build, is computed once (compilePlan).
    expect(plan.steps.length).toBe(76);
    expect(plan.steps.length - away(f, folds.skipped.length)).toBe(38);
    // Elided: all four copies (the bias gradients' reshapes, the softmax's stop_gradient), whose inputs nothing else
    // reads.
    const elided = elideCopies(plan);
    expect(elided.steps.length).toBe(72);
    expect(elided.steps.filter((s) => s.call.op === 'reshape' || s.call.op === 'stop_gradient')).toEqual([]);
    const f2 = planFusion(elided);
    const folds2 = planFolds(elided, [...f2.groups, ...f2.singles]);
    folds2.epilogues.forEach((g) => taken.add(g));
    expect(elided.steps.length - away(f2, folds2.skipped.length)).toBe(35);
    for (const g of f.groups) expect(g.steps[g.steps.length - 1]).toBeLessThan(plan.updateStart);
  });

  test('what only a reduction reads is computed in its loads (prologues)', () => {
    let b = new Builder();
    const g = b.input('g', [4, 3]);
    let f = fuse({ n: b.sum(b.mul(g, g), [0, 1]) });
    expect(f.groups).toEqual([]);
    expect(f.fusion.prologues.map((p) => [p.group.steps, p.reduce])).toEqual([[[0], 1]]);

    b = new Builder();
    f = fuse({ m: b.max(b.exp(b.add(b.input('x', [4, 3]), b.input('c', [3]))), [1], true) });
    expect(f.groups).toEqual([]);
    expect(f.fusion.prologues.map((p) => [p.group.steps, p.reduce])).toEqual([[[0, 1], 2]]);

    // Read again after the reduction: the value is written, and the reduction reads it.
    b = new Builder();
    const t = b.mul(b.input('h', [4, 3]), b.input('k', [4, 3]));
    f = fuse({ n: b.sum(t, [1]), y: b.neg(t) });
    expect(f.fusion.prologues).toEqual([]);
  });
  test('the MLP evaluation plan fuses dense + relu', () => {
    const nodes = mlpGraph();
    const plan = ownBuffers(evalProgram(nodes, resolveTargets(nodes), 16, { scored: true }).plan);
    const ops = plan.steps.map((s) => s.call.op);
    const groups = planFusion(plan).groups.map((g) => g.steps.map((i) => ops[i]));
    expect(groups.filter((g) => g.join() === 'add,relu')).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// fused against unfused on the device

const gpu = useGpuBackend();

/** '' when every value agrees within RTOL (equal non-finite values agree), else the worst element. */
/** The first element of `got` off `want` by more than RTOL of it, or `ofMax` of the largest of `want`; '' if none. */
function mismatch(got: Float32Array, want: Float32Array, ofMax = 0): string {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  const floor = ofMax * want.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
  for (let i = 0; i < want.length; i++) {
    if (Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue;
    if (!(Math.abs(got[i] - want[i]) <= RTOL * Math.abs(want[i]) + floor)) return `[${i}]: fused ${got[i]}, unfused ${want[i]}`;
  }
  return '';
}

const normals = (n: number, seed: number, scale = 1) => {
  const rng = new Rng(seed, 3);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
};

/** Runs the plan fused and unfused on the device (same inputs); every output of both, by name. */
async function bothWays(plan: Plan, feeds: Record<string, Float32Array>) {
  const exes = [new WebGpuExecutable(gpu(), plan), new WebGpuExecutable(gpu(), plan, { fuse: false })];
  const results: Map<string, Float32Array>[] = [];
  for (const exe of exes) {
    for (const [name, v] of Object.entries(feeds)) exe.setInput(name, v);
    exe.run({ seed: 1, step: 1 });
    const out = new Map<string, Float32Array>();
    for (const name of plan.outputs.keys()) out.set(name, await exe.read(name));
    results.push(out);
  }
  return results;
}

async function expectSame(outputs: Record<string, IRNode>, feeds: Record<string, Float32Array>, fusedSteps: number) {
  const plan = compilePlan(outputs);
  const f = planFusion(ownBuffers(plan), { maxStorageBuffers: gpu().device.limits.maxStorageBuffersPerShaderStage });
  const covered = new Set([...f.groups, ...f.prologues.map((p) => p.group), ...f.epilogues.map((e) => e.group)].flatMap((g) => g.steps));
  for (const at of [...f.prologues.map((p) => p.reduce), ...f.epilogues.map((e) => e.step)]) covered.add(at);
  expect(covered.size).toBe(fusedSteps);
  const [fused, unfused] = await bothWays(plan, feeds);
  for (const [name, want] of unfused) expect(mismatch(fused.get(name)!, want), name).toBe('');
}

describe('fused kernels compute what the steps do', () => {
  test('sigmoid(x * w + b) and softplus(x * w + b)', async () => {
    const b = new Builder();
    const x = b.input('x', [300, 257]);
    const z = (w: IRNode) => b.add(b.mul(x, w), b.input('b', [257]));
    const w = b.input('w', [300, 257]);
    const feeds = { x: normals(300 * 257, 1, 3), w: normals(300 * 257, 2), b: normals(257, 3) };
    await expectSame({ y: b.sigmoid(z(w)) }, feeds, 3);
    await expectSame({ y: b.softplus(z(w)) }, feeds, 3);
  });

  test('broadcast_to and reshapes that add or drop leading ones are read through; other reshapes end a group', async () => {
    const b = new Builder();
    const col = b.input('col', [3, 1]);
    const w = b.input('w', [2, 3, 4]);
    const row = b.input('row', [4]);
    const feeds = { col: normals(3, 6), w: normals(24, 7), row: normals(4, 8) };
    // exp(col) broadcast to [2, 3, 4], times w; row as [1, 1, 4], plus that: one kernel.
    const y = b.add(b.mul(b.broadcastTo(b.exp(col), [2, 3, 4]), w), b.reshape(b.neg(row), [1, 1, 4]));
    await expectSame({ y }, feeds, 6);
    // A reshape of [4] to [4, 1] moves the axis that broadcasting aligns: not a view the group can read through.
    const { groups, breaks } = fuse({ y: b.mul(b.reshape(b.neg(row), [4, 1]), b.input('m', [4, 5])) });
    expect(groups).toEqual([]);
    expect(breaks).toEqual(['op', 'op', 'update']);
  });

  test('(a - b)^2 with broadcasting, as pow and as a product', async () => {
    const b = new Builder();
    const a = b.input('a', [3, 1, 5]);
    const c = b.input('c', [4, 5]);
    const feeds = { a: normals(15, 4), c: normals(20, 5) };
    await expectSame({ y: b.pow(b.sub(a, c), 2) }, feeds, 2);
    const d = b.sub(a, c);
    await expectSame({ y: b.mul(d, d) }, feeds, 2);
    await expectSame({ y: b.div(b.mul(b.sub(a, c), b.input('s', [])), b.input('t', [3, 4, 1])) }, { ...feeds, s: Float32Array.of(0.5), t: normals(12, 6) }, 3);
  });

  test('attributes per step (two slopes, two exponents), shared helpers (ln and softplus), NaN and inf', async () => {
    const b = new Builder();
    const x = b.input('x', [1000]);
    const y = b.add(b.leakyRelu(b.pow(x, 3), 0.01), b.leakyRelu(b.pow(b.abs(x), 0.5), 0.2));
    const z = b.sub(b.softplus(b.ln(b.abs(x))), b.tanh(b.exp(x)));
    const xs = Float32Array.from({ length: 1000 }, (_, i) => (i - 500) / 25);
    xs[3] = NaN;
    xs[4] = Infinity;
    xs[5] = -Infinity;
    xs[500] = 0;
    await expectSame({ y }, { x: xs }, 6);
    await expectSame({ z }, { x: xs }, 6);
  });

  test('reductions with prologues: long and short, over some axes or all, broadcast externals, NaN', async () => {
    const b = new Builder();
    const a = b.input('a', [40, 300]);
    const c = b.input('c', [1, 300]);
    const feeds = { a: normals(12000, 11), c: normals(300, 12) };
    await expectSame({ y: b.sum(b.mul(a, a), [0, 1]) }, feeds, 2);
    await expectSame({ y: b.sum(b.mul(a, c), [1], true) }, feeds, 2);
    await expectSame({ y: b.sum(b.mul(a, c), [0]) }, feeds, 2);
    await expectSame({ y: b.max(b.exp(b.sub(a, c)), [1], true) }, feeds, 3);
    await expectSame({ y: b.maxMask(b.neg(b.mul(a, c)), [0]) }, feeds, 3);
    const withNaN = Float32Array.from(feeds.a);
    withNaN[7] = NaN;
    withNaN[305] = Infinity;
    await expectSame({ y: b.max(b.abs(a), [1], true), z: b.sum(b.neg(b.input('d', [40, 300])), [1]) }, { a: withNaN, d: withNaN }, 4);
  });

  test('reductions with epilogues: a scale, an activation, values per result and one value; with a prologue; split', async () => {
    const b = new Builder();
    const x = b.input('x', [40, 300]);
    const perRow = b.input('c', [40]);
    const s = b.input('s', []);
    const feeds = { x: normals(12000, 13), c: normals(40, 14), s: Float32Array.of(0.25) };
    // The mean's scale, a bias per result, a sigmoid: three steps after the sum.
    await expectSame({ y: b.sigmoid(b.add(b.mul(b.sum(x, [1]), s), perRow)) }, feeds, 4);
    // A max, then exp(-max): a long reduction (a workgroup a row).
    await expectSame({ y: b.exp(b.neg(b.max(x, [1]))) }, feeds, 3);
    // Both sides: leaky_relus of their own slopes before and after the sum (fields of both in one kernel), and a
    // product on each side (one function for both).
    const sq = b.sum(b.mul(b.leakyRelu(x, 0.1), x), [0, 1]);
    await expectSame({ y: b.mul(b.leakyRelu(sq, 0.3), s) }, feeds, 5);
    // Split over workgroups: the join computes the epilogue.
    const long = b.input('l', [1, 20000]);
    await expectSame({ y: b.sqrt(b.mul(b.sum(long, [1]), s)) }, { l: normals(20000, 15), s: Float32Array.of(0.5) }, 3);
    // Of two sums of squares that would run as one (./group-norms.ts), the second has an epilogue: each runs alone.
    const [g1, g2] = [b.input('g1', [30, 7]), b.input('g2', [5, 9])];
    const norm = (g: IRNode) => b.sum(b.mul(g, g), [0, 1]);
    const norms = { n1: norm(g1), n2: b.sqrt(norm(g2)) };
    await expectSame(norms, { g1: normals(210, 16), g2: normals(45, 17) }, 5);
    expect(new WebGpuExecutable(gpu(), compilePlan(norms)).dispatches()).toBe(2);
  });

  /** Expects the plan of `outputs` to run as one dispatch, and the same values as unfused. */
  async function expectOneDispatch(outputs: Record<string, IRNode>, feeds: Record<string, Float32Array>) {
    const plan = compilePlan(outputs);
    expect(new WebGpuExecutable(gpu(), plan).dispatches()).toBe(1);
    await expectSame(outputs, feeds, plan.steps.length);
  }

  test("a max_mask's epilogue: the gradient it routes, read per slot, and values per element; in each mode", async () => {
    const b = new Builder();
    // Integers, so that windows have ties (the first one wins), and a NaN (which wins only first).
    const ints = (n: number, seed: number) => normals(n, seed, 2).map(Math.round);
    // [x's shape, the axes, the slots' shape]: a thread a slot; a workgroup per 8 adjacent slots; a workgroup a slot;
    // two axes, the slots' ones dropped in front.
    const cases: [number[], number[], number[]][] = [
      [[6, 5], [1], [6, 1]],
      [[4, 70, 3], [1], [4, 1, 3]],
      [[2, 3, 100], [2], [2, 3, 1]],
      [[5, 4, 6], [0, 2], [4, 1]],
    ];
    for (const [i, [shape, axes, slots]] of cases.entries()) {
      const n = shape.reduce((p, d) => p * d, 1);
      const x = ints(n, 30 + i);
      x[1] = NaN;
      const [xs, g, f] = [b.input('x', shape), b.input('g', slots), b.input('f', shape)];
      const feeds = { x, g: normals(slots.reduce((p, d) => p * d, 1), 40 + i), f: normals(n, 50 + i) };
      await expectOneDispatch({ y: b.add(b.mul(b.maxMask(xs, axes), g), f) }, feeds);
    }
  });

  test("a window op's epilogue: col2im's sums times a derivative and one value, im2col's columns through relu", async () => {
    const b = new Builder();
    const overlapping = { kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 };
    const cols = b.input('cols', [2, 27, 16]);
    const [a, s] = [b.input('a', [2, 3, 4, 4]), b.input('s', [])];
    const feeds = { cols: normals(2 * 27 * 16, 60), a: normals(96, 61), s: Float32Array.of(0.5) };
    await expectOneDispatch({ y: b.mul(b.mul(b.col2im(cols, overlapping, [2, 3, 4, 4]), b.step(a)), s) }, feeds);
    const pooling = { kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0 };
    await expectOneDispatch({ y: b.relu(b.im2col(b.input('x', [2, 3, 5, 5]), pooling)) }, { x: normals(150, 62) });
  });

  test('no epilogue: of a value read twice, of a value broadcast wider, of a mask times a value per column', () => {
    const b = new Builder();
    const x = b.input('x', [6, 5]);
    const m = b.sum(x, [1], true);
    const cases: Record<string, IRNode>[] = [
      { y: b.exp(m), z: b.neg(m) },
      { y: b.add(m, b.input('c', [5])) },
      { y: b.mul(b.maxMask(x, [1]), b.input('c', [5])) },
    ];
    for (const outputs of cases) expect(planFusion(ownBuffers(compilePlan(outputs))).epilogues).toEqual([]);
  });

  test('a transpose read through by a matmul and as the row of a folded bias add (../../engine/backends/webgpu/fold.ts)', async () => {
    const b = new Builder();
    const row = b.transposeLast2(b.input('c', [5, 1]));
    const outputs = { z: b.matmul(row, b.input('v', [5, 5])), y: b.add(b.matmul(b.input('x', [4, 3]), b.input('w', [3, 5])), row) };
    await expectSame(outputs, { c: normals(5, 21), v: normals(25, 22), x: normals(12, 23), w: normals(15, 24) }, 0);
  });

  test("through an elided reshape that splits dims: a convolution's bias add and activation, [16, 8, 256] read as [16, 8, 16, 16]", async () => {
    const b = new Builder();
    const z = b.add(b.exp(b.input('x', [3, 4, 6])), b.input('bias', [4, 1]));
    const plan = compilePlan({ y: b.mul(b.tanh(b.reshape(z, [3, 4, 2, 3])), b.input('m', [2, 1])) });
    const elided = elideCopies(ownBuffers(plan));
    expect(elided.steps.map((s) => s.call.op)).toEqual(['exp', 'add', 'tanh', 'mul']);
    const f = planFusion(elided);
    expect(f.groups.map((g) => g.steps)).toEqual([[0, 1, 2, 3]]);
    // The bias read over the sink's dims; m as it is.
    expect(f.groups[0].inputs.map((x) => x.shape)).toEqual([[3, 4, 2, 3], [1, 4, 1, 1], [2, 1]]);
    const [fused, unfused] = await bothWays(plan, { x: normals(72, 33), bias: normals(4, 34), m: normals(2, 35) });
    expect(mismatch(fused.get('y')!, unfused.get('y')!)).toBe('');
  });

  test('not through a reshape that regroups dims a value is broadcast along ([6, 4] read as [4, 6])', () => {
    const b = new Builder();
    const z = b.add(b.input('x', [6, 4]), b.input('row', [4]));
    const elided = elideCopies(ownBuffers(compilePlan({ y: b.neg(b.reshape(z, [4, 6])) })));
    expect(elided.steps.map((s) => s.call.op)).toEqual(['add', 'neg']);
    expect(planFusion(elided).breaks[0]).toBe('shape');
    // A value read whole, though, regroups freely.
    const c = new Builder();
    const w = c.add(c.input('x', [6, 4]), c.input('y', [6, 4]));
    const whole = elideCopies(ownBuffers(compilePlan({ y: c.neg(c.reshape(w, [4, 6])) })));
    expect(planFusion(whole).groups.map((g) => g.steps)).toEqual([[0, 1]]);
  });

  test.each([
    // x over `from`, as a shape over `to`: split, merged, the same block, one along a block, or not expressible.
    [[8, 1], [16, 8, 256], [16, 8, 16, 16], [1, 8, 1, 1]],
    [[1, 8, 1, 1], [16, 8, 16, 16], [16, 8, 256], [1, 8, 1]],
    [[1, 1, 1, 16], [16, 8, 16, 16], [16, 8, 256], null],
    [[6, 4], [6, 4], [4, 6], [4, 6]],
    [[1, 4], [6, 4], [4, 6], null],
    [[4], [2, 2, 4], [4, 4], [1, 4]],
    [[2, 1, 4], [2, 2, 4], [4, 4], null],
    [[1], [3, 1, 5], [15], [1]],
    [[3, 1, 5], [3, 1, 5], [1, 15, 1], [1, 15, 1]],
  ])('regrouped(%j over %j, to %j) = %j', (x, from, to, want) => {
    expect(regrouped(x, from, to)).toEqual(want);
  });

  test('a value that an elided reshape gave another shape ([4] read as [4, 1]) is not read broadcast in a group (shape)', async () => {
    const b = new Builder();
    const v = b.exp(b.input('v', [4]));
    const plan = compilePlan({ y: b.mul(b.broadcastTo(b.reshape(v, [4, 1]), [4, 4]), b.input('m', [4, 4])) });
    const elided = elideCopies(ownBuffers(plan));
    expect(elided.steps.map((s) => s.call.op)).toEqual(['exp', 'broadcast_to', 'mul']);
    const f = planFusion(elided);
    expect(f.groups.map((g) => g.steps)).toEqual([[1, 2]]);
    expect(f.breaks[0]).toBe('shape');
    const [fused, unfused] = await bothWays(plan, { v: normals(4, 31), m: normals(16, 32) });
    expect(mismatch(fused.get('y')!, unfused.get('y')!)).toBe('');
  });

  test('more externals than a stage has storage buffers: split at the limit', async () => {
    const b = new Builder();
    const n = gpu().device.limits.maxStorageBuffersPerShaderStage + 3;
    const xs = Array.from({ length: n }, (_, k) => b.input(`x${k}`, [k % 2 ? 7 : 1, 6]));
    const y = xs.slice(1).reduce((acc, x, k) => (k % 2 ? b.add(acc, x) : b.mul(acc, x)), xs[0]);
    const feeds = Object.fromEntries(xs.map((_, k) => [`x${k}`, normals(k % 2 ? 42 : 6, 10 + k)]));
    await expectSame({ y }, feeds, n - 1);
  });

  test('the MLP training step: outputs and every tensor after 3 steps', async () => {
    const { plan, expansion } = mlpTrainPlan();
    const { x, labels } = mlpBatch();
    const results: Map<string, Float32Array>[] = [];
    const pooled: number[] = [];
    for (const fuse of [true, false]) {
      const backend = await WebGpuBackend.create();
      for (const p of expansion.params) backend.writeTensor(p.name, initTensor(p.name, p.shape, p.init, MLP.seed));
      const exe = new WebGpuExecutable(backend, plan, { fuse });
      // 35 as above, less 5 (the six SGD updates are one dispatch: ../../engine/backends/webgpu/group-updates.ts),
      // less 4 (the six gradient norms are the two dispatches of one grouped sum of squares: group-norms.ts), plus 1
      // (the first layer's forward, 8 tiles over k = 784, is a split-K matmul: kernels/matmul.ts), less 9 (the loss,
      // the accuracy and the softmax's backward, 10 dispatches over [128, 10], are one row group: rows.ts), less 2 (the
      // loss's and the accuracy's sums over the batch are in it too: the batch fits one workgroup), less 1 (so is the
      // output layer's bias gradient, the logits' gradient summed per column over the batch), less 2 (the hidden
      // layers' bias gradients are summed by their weight gradients' matmuls: fold.ts), less 2 (the two upper
      // layers' input and weight gradients are one dispatch each: pair-matmuls.ts).
      expect(exe.dispatches()).toBe(fuse ? 11 : 79);
      // The values that fused kernels never write take no memory: the intermediates need 1.36 MB instead of 2.29.
      pooled.push(exe.pooledBytes);
      exe.setInput('x', x);
      exe.setInput('y', Float32Array.from(labels));
      const out = new Map<string, Float32Array>();
      for (let step = 1; step <= 3; step++) {
        exe.run({ seed: MLP.seed, step });
        for (const name of plan.outputs.keys()) out.set(`${name}@${step}`, await exe.read(name));
      }
      for (const name of backend.tensorNames()) out.set(name, await backend.readTensor(name));
      results.push(out);
      backend.dispose();
    }
    const [fused, unfused] = results;
    expect(pooled[0]).toBeLessThan(0.65 * pooled[1]);
    expect([...fused.keys()].sort()).toEqual([...unfused.keys()].sort());
    // The hidden layers' bias gradients are summed by matmuls, in float32 along the batch, not by the compensated
    // reduction: from the first update on, the tensors differ in the last bits of their largest values.
    for (const [name, want] of unfused) expect(mismatch(fused.get(name)!, want, 1e-6), name).toBe('');
  }, 60_000);

  test('findNonFinite runs the steps of a group one by one and names the first non-finite one', async () => {
    const b = new Builder();
    // relu(NaN) = 0: the output is finite, the ln inside the group is not.
    const y = b.relu(b.mul(b.ln(b.input('x', [6])), b.input('w', [6])));
    const plan = compilePlan({ y });
    expect(planFusion(ownBuffers(plan)).groups.map((g) => g.steps.length)).toEqual([3]);
    const exe = new WebGpuExecutable(gpu(), plan);
    exe.setInput('x', Float32Array.of(1, 2, -1, 3, 4, 5));
    exe.setInput('w', Float32Array.of(1, 1, 1, 1, 1, 1));
    exe.run({ seed: 1, step: 1 });
    expect([...(await exe.read('y'))].every(Number.isFinite)).toBe(true);
    const bad = await exe.findNonFinite({ seed: 1, step: 1 });
    expect(bad?.call.op).toBe('ln');
    exe.setInput('x', Float32Array.of(1, 2, 1, 3, 4, 5));
    expect(await exe.findNonFinite({ seed: 1, step: 1 })).toBeNull();
  });
});
