/**
 * The gradient along each edge of the graph (flowProgram, Session.flowNorms): hand-computed values where an edge
 * fans out, the terms into a node summing (as tensors) to its adjoint, agreement with gradProgram's adjoints on
 * small MLPs (through an identity node too), and that measuring it changes nothing about training.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { reverseMode } from '../../engine/autodiff/reverse';
import type { IRNode } from '../../engine/ir/node';
import type { Project } from '../../engine/io/project';
import { compilePlan } from '../../engine/plan/plan';
import { expandOrThrow, gradProgram, objectiveNode } from '../../engine/train/program';
import { Session } from '../../engine/train/session';
import { nodeDistributions } from '../../engine/train/node-distributions';

const base = { format: 'backprop-studio/project', version: 1, name: 'flow' } as const;
type Nodes = Project['graph']['nodes'];

function seedFunction(columns: { x1: number[]; x2: number[] }): Project {
  const p = JSON.parse(readFileSync(new URL('../../examples/seed-function.bpstudio', import.meta.url), 'utf8')) as Project;
  return { ...p, data: { kind: 'inline', columns, validation: 0, shuffle: false }, training: { ...p.training, batchSize: columns.x1.length } };
}

function mlpProject(nodes: Nodes, training: Project['training'] = {}): Project {
  const data = { kind: 'builtin', name: 'moons', samples: 64, noise: 0.1 } as const;
  return { ...base, graph: { nodes }, data, training: { batchSize: 16, epochs: 2, seed: 5, optimizer: { type: 'adam', lr: 0.05 }, ...training } };
}

/** x -> h -> (a, b) -> sum -> out -> loss: h fans out into two layers. */
const fanOut: Nodes = [
  { id: 'x', op: 'input', attrs: { shape: [2] } },
  { id: 'y', op: 'label' },
  { id: 'h', op: 'dense', attrs: { units: 6, activation: 'tanh' }, inputs: { x: 'x' } },
  { id: 'a', op: 'dense', attrs: { units: 5, activation: 'sigmoid' }, inputs: { x: 'h' } },
  { id: 'b', op: 'dense', attrs: { units: 5, activation: 'relu' }, inputs: { x: 'h' } },
  { id: 'sum', op: 'add', inputs: { a: 'a', b: 'b' } },
  { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: 'sum' } },
  { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
];

const byEdge = (flow: { source: string; target: string; norm: number }[]) => Object.fromEntries(flow.map((e) => [`${e.source}>${e.target}`, e.norm]));
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/** gradProgram's adjoint of every project node (d objective / d node), on these rows with the session's weights. */
async function adjoints(s: Session, rows: ArrayLike<number>): Promise<Record<string, Float32Array>> {
  const { plan } = gradProgram(s.nodes, s.targets, rows.length, { nodes: true });
  const exe = s.backend.load(plan);
  for (const [id, t] of s.batch(rows)) exe.setInput(id, t);
  exe.run({ seed: s.training.seed, step: s.step });
  const out: Record<string, Float32Array> = {};
  for (const n of s.nodes) out[n.id] = await exe.read(`adjoint:${n.id}`);
  return out;
}

describe('the gradient along each edge', () => {
  it('splits the seed function\'s adjoints by edge: x1 fans out into ln(x1) (1/x1) and x1*x2 (x2)', async () => {
    // f = ln(x1) + x1*x2 - sin(x2) at (2, 5): df/dx1 = 1/2 + 5 = 5.5, df/dx2 = 2 - cos 5
    const s = new Session(seedFunction({ x1: [2], x2: [5] }), { baseDir: '.' });
    const flow = await s.flowNorms([0]);
    expect(flow.map((e) => `${e.source}>${e.target}`)).toEqual(['x1>ln_x1', 'x1>x1_x2', 'x2>x1_x2', 'x2>sin_x2', 'ln_x1>sum', 'x1_x2>sum', 'sum>f', 'sin_x2>f']);
    const n = byEdge(flow);
    expect(n['x1>ln_x1']).toBeCloseTo(0.5, 6);
    expect(n['x1>x1_x2']).toBeCloseTo(5, 6);
    expect(n['x2>x1_x2']).toBeCloseTo(2, 6);
    expect(n['x2>sin_x2']).toBeCloseTo(Math.abs(Math.cos(5)), 6);
    for (const k of ['ln_x1>sum', 'x1_x2>sum', 'sum>f', 'sin_x2>f']) expect(n[k]).toBeCloseTo(1, 6);
    // the parts of what `bpstudio grad --nodes` gives
    const adj = await adjoints(s, [0]);
    expect(adj.x1[0]).toBeCloseTo(n['x1>ln_x1'] + n['x1>x1_x2'], 6);
    expect(adj.x2[0]).toBeCloseTo(n['x2>x1_x2'] - n['x2>sin_x2'], 6);
  });

  it('over a batch: the norm of each edge out of x1 is the norm of that term over the examples (mean objective: / B)', async () => {
    const x1 = [2, 0.5, 4];
    const x2 = [5, -1, 3];
    const s = new Session(seedFunction({ x1, x2 }), { baseDir: '.' });
    const n = byEdge(await s.flowNorms([0, 1, 2]));
    expect(n['x1>ln_x1']).toBeCloseTo(norm(x1.map((v) => 1 / v / 3)), 6);
    expect(n['x1>x1_x2']).toBeCloseTo(norm(x2.map((v) => v / 3)), 6);
    expect(n['x2>sin_x2']).toBeCloseTo(norm(x2.map((v) => Math.cos(v) / 3)), 6);
    expect(n['sum>f']).toBeCloseTo(norm([1 / 3, 1 / 3, 1 / 3]), 6);
  });

  it('the terms reverseMode reports into a node sum, as tensors, to its adjoint', async () => {
    const s = new Session(mlpProject(fanOut), { baseDir: '.' });
    const rows = s.split.train.subarray(0, 16);
    const e = expandOrThrow(s.nodes, rows.length, 'eval');
    const b = e.builder;
    const terms = new Map<IRNode, IRNode[]>();
    const wrt = b.nodes.filter((n) => n.op === 'param' || n.op === 'input');
    const adjoint = reverseMode(b, objectiveNode(e, s.targets), wrt, { onContribution: (x, _y, dx) => terms.set(x, [...(terms.get(x) ?? []), dx]) });
    const outputs: Record<string, IRNode> = {};
    for (const [x, dxs] of terms) {
      outputs[`adjoint:${x.id}`] = adjoint.get(x)!;
      dxs.forEach((dx, k) => (outputs[`term:${x.id}:${k}`] = dx));
    }
    const exe = s.backend.load(compilePlan(outputs));
    for (const [id, t] of s.batch(rows)) exe.setInput(id, t);
    exe.run({ seed: s.training.seed, step: 0 });
    // h's value takes one term from a and one from b
    expect(terms.get(e.outputs.get('h')!)!.map((dx) => dx.origin).sort()).toEqual(['a', 'b']);
    expect(terms.size).toBeGreaterThan(10);
    for (const [x, dxs] of terms) {
      const total = await exe.read(`adjoint:${x.id}`);
      const sum = new Float64Array(total.length);
      for (let k = 0; k < dxs.length; k++) (await exe.read(`term:${x.id}:${k}`)).forEach((v, i) => (sum[i] += v));
      sum.forEach((v, i) => expect(v).toBeCloseTo(total[i], 6));
    }
  });

  it('agrees with gradProgram\'s adjoints on an MLP: one edge out of a node carries its whole adjoint', async () => {
    const s = new Session(mlpProject(fanOut), { baseDir: '.' });
    await s.train({ steps: 3 });
    const rows = s.split.train.subarray(0, 16);
    const n = byEdge(await s.flowNorms(rows));
    const adj = await adjoints(s, rows);
    for (const [edge, node] of [
      ['x>h', 'x'],
      ['a>sum', 'a'],
      ['b>sum', 'b'],
      ['sum>out', 'sum'],
      ['out>loss', 'out'],
    ]) {
      expect(n[edge]).toBeGreaterThan(0);
      expect(n[edge]).toBeCloseTo(norm(adj[node]), 6);
    }
    // no gradient flows out of the label
    expect(n['y>loss']).toBe(0);
    // h fans out: neither edge alone is its adjoint, and together they are at least as large
    const h = norm(adj.h);
    expect(n['h>a']).toBeGreaterThan(0);
    expect(n['h>b']).toBeGreaterThan(0);
    expect(Math.abs(n['h>a'] - h)).toBeGreaterThan(1e-4);
    expect(n['h>a'] + n['h>b']).toBeGreaterThanOrEqual(h * (1 - 1e-6));
  });

  it('a fanned-out edge is the adjoint of its own copy of the value: h -> a as h + 0 -> a', async () => {
    const s = new Session(mlpProject(fanOut), { baseDir: '.' });
    await s.train({ steps: 2 });
    const rows = s.split.train.subarray(16, 32);
    const n = byEdge(await s.flowNorms(rows));
    // the same weights (tensors are named by layer), with h reaching a through a node of its own
    const copied = fanOut.flatMap((node) =>
      node.id === 'a'
        ? [{ id: 'zero', op: 'constant', attrs: { value: 0 } }, { id: 'ha', op: 'add', inputs: { a: 'h', b: 'zero' } }, { ...node, inputs: { x: 'ha' } }]
        : [node],
    );
    const t = new Session(mlpProject(copied), { baseDir: '.', weights: await s.weights() });
    const adj = await adjoints(t, rows);
    expect(n['h>a']).toBeCloseTo(norm(adj.ha), 6);
    expect(n['h>b']).toBeCloseTo(byEdge(await t.flowNorms(rows))['h>b'], 6);
  });

  it('sees through a node whose value is its input\'s (a reshape to the same shape)', async () => {
    const nodes: Nodes = [
      { id: 'x', op: 'input', attrs: { shape: [2] } },
      { id: 'y', op: 'label' },
      { id: 'h', op: 'dense', attrs: { units: 4, activation: 'tanh' }, inputs: { x: 'x' } },
      { id: 'same', op: 'reshape', attrs: { shape: [4] }, inputs: { x: 'h' } },
      { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: 'same' } },
      { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
    ];
    const s = new Session(mlpProject(nodes), { baseDir: '.' });
    const rows = s.split.train.subarray(0, 16);
    const n = byEdge(await s.flowNorms(rows));
    const h = norm((await adjoints(s, rows)).h);
    expect(h).toBeGreaterThan(0);
    expect(n['h>same']).toBeCloseTo(h, 6);
    expect(n['same>out']).toBeCloseTo(h, 6);
  });

  it('changes no tensor: training with it measured between steps ends bit for bit where training without does', async () => {
    const nodes: Nodes = [
      { id: 'x', op: 'input', attrs: { shape: [2] } },
      { id: 'y', op: 'label' },
      { id: 'h', op: 'dense', attrs: { units: 8, activation: 'relu' }, inputs: { x: 'x' } },
      { id: 'bn', op: 'batchnorm', inputs: { x: 'h' } },
      { id: 'drop', op: 'dropout', attrs: { rate: 0.3 }, inputs: { x: 'bn' } },
      { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: 'drop' } },
      { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
    ];
    const plain = new Session(mlpProject(nodes), { baseDir: '.' });
    await plain.train({ steps: 6 });
    const measured = new Session(mlpProject(nodes), { baseDir: '.' });
    for (let i = 0; i < 6; i++) {
      const { step } = await measured.nextStep();
      const before = await measured.weights();
      const flow = await measured.flowNorms(step.rows);
      expect(flow.every((e) => Number.isFinite(e.norm))).toBe(true);
      // the running statistics stay as the step left them
      const after = await measured.weights();
      for (const k of Object.keys(before)) expect([...after[k].data]).toEqual([...before[k].data]);
      // the same dropout masks each time for the same step
      expect(await measured.flowNorms(step.rows)).toEqual(flow);
    }
    const a = await plain.weights();
    const b = await measured.weights();
    for (const k of Object.keys(a)) expect([...b[k].data]).toEqual([...a[k].data]);
    // the edges in and out of the dropout carry gradient: it is not an identity while training
    const n = byEdge(await measured.flowNorms(measured.split.train.subarray(0, 16)));
    expect(n['bn>drop']).toBeGreaterThan(0);
    expect(n['drop>out']).toBeGreaterThan(0);
  });
});

describe('dead units along the flow', () => {
  it("counts a node's units that are zero on every row of the batch, by hand against its values", async () => {
    const s = new Session(mlpProject(fanOut), { baseDir: '.' });
    const rows = s.split.train.subarray(0, 16);
    const { units } = await s.flow(rows);
    // only a ReLU's units can die: b's (tanh, sigmoid, the sum and the logits have no units counted)
    expect(units.map((u) => [u.node, u.units])).toEqual([['b', 5]]);
    // b's relu units, from its values: dead where the unit is 0 on all 16 rows
    const { plan } = gradProgram(s.nodes, s.targets, rows.length, { nodes: true });
    const exe = s.backend.load(plan);
    for (const [id, t] of s.batch(rows)) exe.setInput(id, t);
    exe.run({ seed: s.training.seed, step: 1 });
    const b = await exe.read('value:b');
    const dead = Array.from({ length: 5 }, (_, u) => Array.from({ length: 16 }, (_, r) => b[r * 5 + u]).every((v) => v === 0)).filter(Boolean).length;
    expect(units.find((u) => u.node === 'b')!.dead).toBe(dead);
  });

  it("counts a relu node's units (after a dense layer without an activation, which has none; not the dropout after it)", async () => {
    const s = new Session(
      mlpProject([
        { id: 'x', op: 'input', attrs: { shape: [2] } },
        { id: 'y', op: 'label' },
        { id: 'h', op: 'dense', attrs: { units: 4 }, inputs: { x: 'x' } },
        { id: 'r', op: 'relu', inputs: { x: 'h' } },
        { id: 'drop', op: 'dropout', attrs: { rate: 0.2 }, inputs: { x: 'r' } },
        { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: 'drop' } },
        { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
      ]),
      { baseDir: '.' },
    );
    s.backend.writeTensor('h.bias', new Float32Array([-100, 100, -100, 100]));
    const rows = s.split.train.subarray(0, 16);
    const { units } = await s.flow(rows);
    expect(units).toEqual([{ node: 'r', dead: 2, units: 4 }]);
    // Distributions, in eval mode, where the dropout passes r's value on as its own: the dead units are r's alone
    expect((await nodeDistributions(s, 'r', Int32Array.from(rows))).deadUnits).toEqual({ dead: 2, units: 4 });
    expect((await nodeDistributions(s, 'drop', Int32Array.from(rows))).deadUnits).toBeUndefined();
  });

  it('finds every unit of a layer dead when its bias pushes it below zero for every row', async () => {
    const s = new Session(mlpProject(fanOut), { baseDir: '.' });
    const w = await s.weights();
    s.backend.writeTensor('b.bias', new Float32Array(5).fill(-100));
    expect(w['b.bias'].shape).toEqual([5]);
    const { units } = await s.flow(s.split.train.subarray(0, 16));
    expect(units.find((u) => u.node === 'b')).toEqual({ node: 'b', dead: 5, units: 5 });
  });
});
