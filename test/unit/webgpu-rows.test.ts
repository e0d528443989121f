/**
 * Row groups on the WebGPU backend (engine/backends/webgpu/rows.ts): which steps a group takes and how the plan is
 * reordered around it (pure, no device), and groups run on the device against the CPU: a softmax cross-entropy with
 * its backward and accuracy over rows with ties, NaNs, infinities and labels out of range, rows of rank 3, attributes
 * of the elementwise ops, more reads than a stage binds.
 */
import { describe, expect, test } from 'vitest';
import { reverseMode } from '../../engine/autodiff/reverse';
import { dataflow } from '../../engine/backends/webgpu/fuse';
import { elideCopies } from '../../engine/backends/webgpu/elide';
import { MAX_LEN, planRows, type RowOptions } from '../../engine/backends/webgpu/rows';
import { ownBuffers } from '../../engine/backends/webgpu/share-buffers';
import { WebGpuExecutable } from '../../engine/backends/webgpu/webgpu-backend';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan, type Plan } from '../../engine/plan/plan';
import { resolveTargets, trainProgram } from '../../engine/train/program';
import { Rng } from '../../engine/util/rng';
import { MLP, MLP_OPTIMIZER, mlpGraph } from '../../bench/mlp';
import { useGpuBackend } from '../conformance/gpu';
import { disagreement, runOnBoth } from './gpu-against-cpu';

/** The plan as the backend takes it to planRows: a buffer per value, copies elided. */
const prepared = (plan: Plan) => elideCopies(ownBuffers(plan));

/** The row groups of a plan, as op lists of the reordered plan. */
function rowGroups(plan: Plan, options: RowOptions = {}) {
  const p = prepared(plan);
  const rows = planRows(p, options);
  return { ...rows, ops: rows.groups.map((g) => g.steps.map((s) => rows.plan.steps[s].call.op)) };
}

/** log_softmax along the last axis as the catalogue builds it: x - max - ln(sum(exp(x - max))), the max held. */
function logSoftmax(b: Builder, x: IRNode): IRNode {
  const last = [x.shape.length - 1];
  const shifted = b.sub(x, b.stopGradient(b.max(x, last, true)));
  return b.sub(shifted, b.ln(b.sum(b.exp(shifted), last, true)));
}

/**
 * A classifier's loss over logits [..., classes] and labels [...] as training builds it, with the logits' gradient,
 * its sum over the rows (as a bias's gradient is), and the count of rows whose argmax is the label.
 */
function crossEntropy(shape: number[]) {
  const b = new Builder();
  const z = b.input('z', shape);
  const classes = shape[shape.length - 1];
  const onehot = b.oneHot(b.input('y', shape.slice(0, -1)), classes);
  const rowAxes = shape.slice(0, -1).map((_, k) => k);
  const loss = b.neg(b.mean(b.sum(b.mul(onehot, logSoftmax(b, z)), [shape.length - 1]), rowAxes));
  const grad = reverseMode(b, loss, [z]).get(z)!;
  const correct = b.sum(b.mul(b.maxMask(z, [shape.length - 1]), onehot), shape.map((_, k) => k));
  return { loss, grad, correct, perClass: b.sum(grad, rowAxes, true) };
}

/** sum(matmul(x - max(x), w) * max(x)) over rows: a matmul of a row group's value, read with the group's max. */
function throughMatmul() {
  const b = new Builder();
  const x = b.input('x', [4, 6]);
  const m = b.max(x, [1], true);
  const z = b.matmul(b.sub(x, m), b.input('w', [6, 6]));
  return { y: b.sum(b.mul(z, m), [1], true) };
}

/** Whether every step reads only values written before it, and the plan holds the same steps as `before`. */
function isReordering(after: Plan, before: Plan): boolean {
  const steps = (p: Plan) => p.steps.map((s) => `${s.call.op} ${s.inputs.join()} ${s.output}`).sort();
  if (steps(after).join('\n') !== steps(before).join('\n')) return false;
  const written = new Set<number>();
  return after.steps.every((s, i) => {
    if (i < after.updateStart && s.inputs.some((b) => after.buffers[b].role === 'pool' && !written.has(b))) return false;
    written.add(s.output);
    return true;
  });
}

describe('which steps a row group takes', () => {
  test("the MLP training step: the output layer's bias, the loss and accuracy (totals), the backward, the bias gradient", () => {
    const nodes = mlpGraph();
    const plan = trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, MLP.batch).plan;
    const { plan: reordered, groups, ops } = rowGroups(plan);
    expect(ops).toEqual([
      // The bias add of the logits, the labels' one-hot, the log-softmax, the picked log-probabilities summed a row
      // and over the batch (its mean's scale and sign after), the argmax mask's agreement with the labels summed,
      // the logits' gradient: (softmax - onehot) / batch, as reverse mode builds it, and its sum over the batch (the
      // output bias's gradient).
      ['add', 'one_hot', 'max', 'sub', 'exp', 'sum', 'ln', 'sub', 'mul', 'sum', 'sum', 'mul', 'neg', 'max_mask', 'mul', 'sum', 'mul', 'neg', 'sum', 'div', 'mul', 'broadcast_to', 'mul', 'add', 'sum'],
    ]);
    const [g] = groups;
    expect([g.rows, g.len]).toEqual([MLP.batch, 10]);
    // The matmul's logits per element, the bias per column, the labels per row; 1 / batch, -1 / batch and 1, the
    // constants, held by the params.
    expect(g.inputs.map((x) => `${x.kind}${x.value === undefined ? '' : ` ${x.value}`}`).sort()).toEqual(['col', 'full', 'row', 'scalar -0.0078125', 'scalar 0.0078125', 'scalar 1']);
    // Written: the objective and the count of correct rows (totals: the batch fits a workgroup), the gradient (which
    // the matmuls after read) and its sums per column.
    expect(g.outputs.map((j) => ops[0][j])).toEqual(['neg', 'sum', 'add', 'sum']);
    expect(g.outputs.map((j) => g.kinds[j])).toEqual(['total', 'total', 'full', 'columns']);
    expect(g.outputs.map((j) => reordered.steps[g.steps[j]].output).slice(0, 2)).toEqual(['objective', 'correct'].map((o) => reordered.outputs.get(o)!.buffer));
    // Consecutive, and the backward's matmuls after it.
    expect(g.steps).toEqual(g.steps.map((_, k) => g.steps[0] + k));
    expect(isReordering(reordered, prepared(plan))).toBe(true);
    expect(reordered.steps.slice(g.steps[g.steps.length - 1] + 1).find((s) => s.call.op !== 'transpose')?.call.op).toBe('matmul');
    expect(() => dataflow(reordered)).not.toThrow();
  });

  test('totals and sums per column only where the rows fit one workgroup: a batch of 1024 leaves them to the reductions', () => {
    const nodes = mlpGraph();
    const { ops, groups } = rowGroups(trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, 8 * MLP.batch).plan);
    expect(ops).toHaveLength(1);
    expect(ops[0].filter((op) => op === 'sum')).toHaveLength(3);
    expect(groups[0].kinds).not.toContain('columns');
  });

  test.each([
    ['a softmax over rows of 8', [4, 8], [['max', 'sub', 'exp', 'sum', 'div']]],
    [`rows longer than ${MAX_LEN} stay with the reduction kernels`, [4, MAX_LEN + 1], []],
    ['one row is not a batch of rows', [1, 8], []],
    ['rows of a batch of matrices', [2, 3, 5], [['max', 'sub', 'exp', 'sum', 'div']]],
  ] as const)('%s', (_, shape, want) => {
    const b = new Builder();
    const x = b.input('x', [...shape]);
    const last = [shape.length - 1];
    const e = b.exp(b.sub(x, b.max(x, last, true)));
    expect(rowGroups(compilePlan({ y: b.div(e, b.sum(e, last, true)) })).ops).toEqual(want);
  });

  test('a sum over the first axis anchors nothing; a one-hot does', () => {
    let b = new Builder();
    const x = b.input('x', [8, 4]);
    expect(rowGroups(compilePlan({ y: b.mul(x, b.sum(x, [0], true)) })).ops).toEqual([]);
    b = new Builder();
    const h = b.oneHot(b.input('y', [6]), 5);
    expect(rowGroups(compilePlan({ y: b.mul(b.exp(b.input('x', [6, 5])), h) })).ops).toEqual([['one_hot', 'exp', 'mul']]);
  });

  test('a step that reads a value computed from the group outside it stays out (closed); it may start a group of its own', () => {
    const { ops, plan, groups } = rowGroups(compilePlan(throughMatmul()));
    // mul(z, m) reads the max's row and the matmul of the group's value: it cannot join the max's group.
    expect(ops).toEqual([
      ['max', 'sub'],
      ['mul', 'sum'],
    ]);
    expect(groups[0].outputs.map((j) => ops[0][j])).toEqual(['max', 'sub']);
    expect(plan.steps.map((s) => s.call.op)).toEqual(['max', 'sub', 'matmul', 'mul', 'sum']);
  });

  test('more values read than a stage binds: the group stops where it fits', () => {
    const b = new Builder();
    const xs = Array.from({ length: 9 }, (_, k) => b.input(`x${k}`, [4, 6]));
    const y = b.sum(
      xs.reduce((acc, x) => b.mul(acc, x)),
      [1],
      true,
    );
    const all = rowGroups(compilePlan({ y }), { maxStorageBuffers: 16 });
    expect(all.ops).toEqual([[...new Array(8).fill('mul'), 'sum']]);
    const fit = rowGroups(compilePlan({ y }), { maxStorageBuffers: 8 });
    expect(fit.groups).toHaveLength(1);
    const [g] = fit.groups;
    expect(g.inputs.length + g.outputs.length).toBe(8);
    expect(fit.ops[0].at(-1)).toBe('sum');
  });

  test("a dense layer's bias add joins the group that reads it: row groups are planned before the matmuls' epilogues", () => {
    const b = new Builder();
    const z = b.add(b.matmul(b.input('x', [4, 3]), b.input('w', [3, 6])), b.input('bias', [6]));
    expect(rowGroups(compilePlan({ y: b.sum(b.exp(z), [1], true) })).ops).toEqual([['add', 'exp', 'sum']]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// on the device, against the CPU

const gpu = useGpuBackend();

const normals = (n: number, seed: number) => {
  const rng = new Rng(seed, 5);
  return Float32Array.from({ length: n }, () => rng.normal() * 3);
};

/** Runs the outputs on both backends; every output must agree (1e-5 of its largest value); returns the executable. */
async function expectAgree(outputs: Record<string, IRNode>, feeds: Record<string, Float32Array>): Promise<WebGpuExecutable> {
  const plan = compilePlan(outputs);
  expect(rowGroups(plan).groups.length).toBeGreaterThan(0);
  const { outputs: results, exe } = await runOnBoth(gpu(), plan, feeds);
  for (const { name, want, got } of results) {
    const bad = disagreement(got, want);
    expect(bad, `${name}: [${bad}] ${got[bad]} for ${want[bad]}`).toBe(-1);
  }
  return exe;
}

describe('row groups compute what the steps do', () => {
  test('a softmax cross-entropy, its gradient and the accuracy: ties, NaN, infinities, labels out of range', async () => {
    const shape = [7, 10];
    const z = normals(70, 1);
    z.fill(0.5, 10, 20); // a row of ties: the first is the argmax
    z[23] = NaN; // a NaN: the loss and gradient of its row are NaN
    z[31] = Infinity;
    z[42] = -Infinity;
    z[55] = z[57] = 9; // two maxima
    const y = Float32Array.of(3, 0, 9, 10, -1, 2.5, NaN); // in range, beyond it, fractional, NaN: no class
    const { loss, grad, correct, perClass } = crossEntropy(shape);
    const exe = await expectAgree({ loss, grad, correct, perClass }, { z, y });
    // Against the same plan step by step: the group saves dispatches.
    expect(exe.dispatches()).toBeLessThan(new WebGpuExecutable(gpu(), compilePlan({ loss, grad, correct, perClass }), { fuse: false }).dispatches() - 10);
  });

  test('a group, a matmul of its value, and a group that reads both', async () => {
    await expectAgree(throughMatmul(), { x: normals(24, 5), w: normals(36, 6) });
  });

  test('a reduction whose operand no group takes (broadcast over a middle axis) heads a group, without a prologue', async () => {
    const b = new Builder();
    const x = b.input('x', [2, 3, 5]);
    const s = b.sum(b.add(x, b.input('c', [2, 1, 5])), [2], true);
    const outputs = { y: b.mul(b.div(x, s), b.exp(s)) };
    expect(rowGroups(compilePlan(outputs)).ops).toEqual([['sum', 'div', 'exp', 'mul']]);
    const exe = await expectAgree(outputs, { x: normals(30, 7), c: normals(10, 8) });
    // The add, then the group.
    expect(exe.dispatches()).toBe(2);
  });

  test.each([
    [200, true],
    [256, true],
    [300, false],
  ])('a loss and accuracy over %i rows: totals in the group %s (the threads past the rows take no part)', async (rows, totals) => {
    const { loss, grad, correct, perClass } = crossEntropy([rows, 5]);
    const plan = compilePlan({ loss, grad, correct, perClass });
    expect(rowGroups(plan).groups[0].kinds.includes('total')).toBe(totals);
    expect(rowGroups(plan).groups[0].kinds.includes('columns')).toBe(totals);
    const y = Float32Array.from({ length: rows }, (_, k) => (k * 7) % 5);
    await expectAgree({ loss, grad, correct, perClass }, { z: normals(rows * 5, 9), y });
  });

  test('rows of a batch of matrices, and labels all in range', async () => {
    const shape = [2, 3, 5];
    const y = Float32Array.of(0, 4, 2, 1, 3, 4);
    const { loss, grad, correct, perClass } = crossEntropy(shape);
    await expectAgree({ loss, grad, correct, perClass }, { z: normals(30, 2), y });
  });

  test('elementwise ops of attributes of their own in one group (two leaky_relus, a pow), and a row of columns', async () => {
    const b = new Builder();
    const x = b.input('x', [9, 7]);
    const c = b.input('c', [7]);
    const mix = b.mul(b.leakyRelu(x, 0.1), b.leakyRelu(b.add(x, c), 0.3));
    const y = b.sub(mix, b.sum(mix, [1], true));
    await expectAgree({ y, m: b.max(b.pow(y, 3), [1], false) }, { x: normals(63, 3), c: normals(7, 4) });
  });

  test('more values read than a stage binds', async () => {
    const b = new Builder();
    const n = gpu().device.limits.maxStorageBuffersPerShaderStage + 2;
    const cols = (k: number) => (k % 3 ? 6 : 1);
    const xs = Array.from({ length: n }, (_, k) => b.input(`x${k}`, [5, cols(k)]));
    const prod = xs.reduce((acc, x) => b.mul(acc, x));
    const y = b.div(prod, b.sum(b.abs(prod), [1], true));
    await expectAgree({ y }, Object.fromEntries(xs.map((_, k) => [`x${k}`, normals(5 * cols(k), 10 + k)])));
  });
});
