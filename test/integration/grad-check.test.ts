/** `grad`, `gradcheck` and `check` on the examples, through the CLI (cli.md). */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, EXAMPLES, jsonOut } from './helpers';

const example = (name: string) => join(EXAMPLES, `${name}.bpstudio`);
const EXAMPLE_NAMES = ['seed-function', 'logistic-regression', 'spiral', 'deep-sigmoid', 'deep-relu', 'digits', 'iris'];

interface Packed {
  shape: number[];
  values: number[];
}

function closeRel(actual: number, expected: number, tol: number): void {
  expect(Math.abs(actual - expected) / Math.abs(expected), `${actual} vs ${expected}`).toBeLessThan(tol);
}

describe('grad examples/seed-function.bpstudio --nodes --json', () => {
  test('objective, every node value and the adjoints of the inputs match calculus', async () => {
    const r = await cli('grad', example('seed-function'), '--nodes', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut(r) as { objective: number; gradients: Record<string, Packed>; values: Record<string, Packed>; adjoints: Record<string, Packed> };
    const x1 = 2;
    const x2 = 5;
    closeRel(out.objective, Math.log(x1) + x1 * x2 - Math.sin(x2), 1e-6);
    expect(out.gradients).toEqual({}); // no parameters

    const ids = ['x1', 'x2', 'ln_x1', 'x1_x2', 'sin_x2', 'sum', 'f'];
    expect(Object.keys(out.values).sort()).toEqual([...ids].sort());
    expect(Object.keys(out.adjoints).sort()).toEqual([...ids].sort());
    const expectedValues: Record<string, number> = {
      x1,
      x2,
      ln_x1: Math.log(x1),
      x1_x2: x1 * x2,
      sin_x2: Math.sin(x2),
      sum: Math.log(x1) + x1 * x2,
      f: Math.log(x1) + x1 * x2 - Math.sin(x2),
    };
    for (const id of ids) {
      expect(out.values[id].shape, id).toEqual([1]); // batch first: one row
      closeRel(out.values[id].values[0], expectedValues[id], 1e-6);
    }
    closeRel(out.adjoints.x1.values[0], 1 / x1 + x2, 1e-6); // 5.5
    closeRel(out.adjoints.x2.values[0], x1 - Math.cos(x2), 1e-6);
    expect(out.adjoints.f.values).toEqual([1]);
    expect(out.adjoints.sin_x2.values).toEqual([-1]);
  });
});

describe('gradcheck', () => {
  // Gradient elements that are tiny (digits' first 8 rows: out.bias[0] = 5.3e-6) or exactly 0 (balanced classes:
  // d/db of the logistic regression) compare absolutely, so correct gradients pass.
  test.each([
    ['digits', '8'],
    ['logistic-regression', 'all'],
  ])('%s --rows %s --json: ok true', async (name, rows) => {
    const r = await cli('gradcheck', example(name), '--rows', rows, '--json');
    const out = jsonOut(r) as { ok: boolean };
    expect(out.ok).toBe(true);
    expect(r.code).toBe(0);
  });

  test('digits --rows 8 --json: every tensor is checked and agrees to 1e-4 (the gradients are right)', async () => {
    const r = await cli('gradcheck', example('digits'), '--rows', '8', '--json');
    const out = jsonOut(r) as { ok: boolean; maxRelError: number; tensors: Record<string, { reverseVsNumeric: number; forwardVsReverse: number }> };
    expect(Object.keys(out.tensors).sort()).toEqual(['h1.bias', 'h1.weight', 'out.bias', 'out.weight']);
    for (const [name, t] of Object.entries(out.tensors)) {
      expect(t.reverseVsNumeric, name).toBeLessThan(1e-4);
      expect(t.forwardVsReverse, name).toBeLessThan(1e-5);
    }
    expect(out.maxRelError).toBeLessThan(1e-4);
  });

  test.each([
    ['spiral', '10', ['h1.bias', 'h1.weight', 'h2.bias', 'h2.weight', 'out.bias', 'out.weight']],
    ['digits', '20', ['h1.bias', 'h1.weight', 'out.bias', 'out.weight']],
    ['logistic-regression', '100', ['b', 'w']],
  ])('%s --rows %s --json: ok true, every trainable tensor reported', async (name, rows, tensors) => {
    const r = await cli('gradcheck', example(name), '--rows', rows, '--json');
    const out = jsonOut(r) as { ok: boolean; maxRelError: number; tensors: Record<string, { reverseVsNumeric: number; forwardVsReverse: number }> };
    expect(out.ok, JSON.stringify(out)).toBe(true);
    expect(r.code).toBe(0);
    expect(Object.keys(out.tensors).sort()).toEqual(tensors);
    expect(out.maxRelError).toBeGreaterThanOrEqual(0);
    expect(out.maxRelError).toBeLessThan(1e-5);
    for (const t of Object.values(out.tensors)) expect(Math.max(t.reverseVsNumeric, t.forwardVsReverse)).toBeLessThanOrEqual(out.maxRelError);
  });
});

describe('check --json on every example', () => {
  const expectedShapes: Record<string, Record<string, (number | null)[]>> = {
    spiral: { x: [null, 2], y: [null], h1: [null, 32], h2: [null, 32], out: [null, 3], loss: [] },
    'seed-function': { x1: [null], x2: [null], ln_x1: [null], x1_x2: [null], sin_x2: [null], sum: [null], f: [null] },
    digits: { pixels: [null, 64], y: [null], h1: [null, 64], out: [null, 10], loss: [] },
    iris: { measurements: [null, 4], y: [null], h1: [null, 16], out: [null, 3], loss: [] },
  };
  const expectedParameters: Record<string, Record<string, number[]>> = {
    spiral: { 'h1.weight': [32, 2], 'h1.bias': [32], 'h2.weight': [32, 32], 'h2.bias': [32], 'out.weight': [3, 32], 'out.bias': [3] },
    'seed-function': {},
    'logistic-regression': { w: [2], b: [] },
    digits: { 'h1.weight': [64, 64], 'h1.bias': [64], 'out.weight': [10, 64], 'out.bias': [10] },
    iris: { 'h1.weight': [16, 4], 'h1.bias': [16], 'out.weight': [3, 16], 'out.bias': [3] },
  };

  test.each(EXAMPLE_NAMES)('%s', async (name) => {
    const r = await cli('check', example(name), '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut(r) as { ok: boolean; errors: unknown[]; shapes: Record<string, (number | null)[]>; parameters: Record<string, number[]>; parameterCount: number };
    expect(out.ok).toBe(true);
    expect(out.errors).toEqual([]);
    // A shape for every node; data-derived ones carry the batch first, as null.
    const nodes = (JSON.parse(readFileSync(example(name), 'utf8')) as { graph: { nodes: { id: string; op: string }[] } }).graph.nodes;
    expect(Object.keys(out.shapes).sort()).toEqual(nodes.map((n) => n.id).sort());
    for (const n of nodes) if (n.op === 'input' || n.op === 'label') expect(out.shapes[n.id][0], n.id).toBeNull();
    for (const s of Object.values(out.shapes)) for (const d of s.slice(1)) expect(Number.isInteger(d)).toBe(true);
    if (expectedShapes[name]) expect(out.shapes).toEqual(expectedShapes[name]);
    if (expectedParameters[name]) expect(out.parameters).toEqual(expectedParameters[name]);
    const sum = Object.values(out.parameters).reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0);
    expect(out.parameterCount).toBe(sum);
  });

  test('deep-sigmoid: ten dense layers of PyTorch layout', async () => {
    const out = jsonOut(await cli('check', example('deep-sigmoid'), '--json')) as { parameters: Record<string, number[]>; parameterCount: number };
    expect(out.parameters['h1.weight']).toEqual([16, 2]);
    expect(out.parameters['h5.weight']).toEqual([16, 16]);
    expect(out.parameters['out.weight']).toEqual([2, 16]);
    expect(out.parameterCount).toBe(16 * 2 + 16 + 8 * (16 * 16 + 16) + 2 * 16 + 2);
  });
});

describe('jacobian (forward mode, a column per element)', () => {
  interface Jac {
    of: string;
    wrt: string;
    rows: number;
    shape: number[];
    values: number[];
  }
  const jac = async (...args: string[]) => {
    const r = await cli('jacobian', ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return jsonOut(r) as unknown as Jac;
  };

  test('seed-function: df/dx1 = 1/x1 + x2 and df/dx2 = x1 - cos(x2), as calculus and grad --nodes say', async () => {
    const [x1, x2] = [2, 5];
    const d1 = await jac(example('seed-function'), '--wrt', 'x1');
    expect([d1.of, d1.wrt, d1.rows, d1.shape]).toEqual(['f', 'x1', 1, [1, 1]]);
    closeRel(d1.values[0], 1 / x1 + x2, 1e-12);
    closeRel((await jac(example('seed-function'), '--wrt', 'x2')).values[0], x1 - Math.cos(x2), 1e-12);
    // an inner node: d(x1 x2)/d x2 = x1
    expect((await jac(example('seed-function'), '--of', 'x1_x2', '--wrt', 'x2')).values).toEqual([x1]);
    // a node with respect to itself, and to what it does not depend on
    expect((await jac(example('seed-function'), '--of', 'x1', '--wrt', 'x1')).values).toEqual([1]);
    expect((await jac(example('seed-function'), '--of', 'x1', '--wrt', 'x2')).values).toEqual([0]);
    const both = await cli('jacobian', example('seed-function'));
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/"f" reads 2 input nodes \(x1, x2\): name one with --wrt/);
  });

  test("with respect to a parameter: d score / d w of the logistic regression is each row's features", async () => {
    const j = await jac(example('logistic-regression'), '--wrt', 'w', '--rows', '3');
    expect([j.of, j.shape]).toEqual(['score', [3, 2]]);
    const g = jsonOut(await cli('grad', example('logistic-regression'), '--nodes', '--rows', '3', '--json')) as { values: Record<string, Packed> };
    j.values.forEach((v, k) => closeRel(v, g.values.x.values[k], 1e-7));
  });

  test('over rows: zero across examples, the network\'s own derivative within each (the spiral, untrained)', async () => {
    const j = await jac(example('spiral'), '--rows', '3');
    expect([j.of, j.wrt, j.shape]).toEqual(['out', 'x', [3, 3, 3, 2]]);
    const block = (r: number, q: number) => j.values.slice((r * 3) * 6, (r * 3 + 3) * 6).filter((_, k) => Math.floor((k % 6) / 2) === q);
    for (let r = 0; r < 3; r++)
      for (let q = 0; q < 3; q++) {
        if (r !== q) expect(block(r, q).every((v) => v === 0), `${r},${q}`).toBe(true);
        // row 0 is the spiral's centre, (0, 0): every ReLU of the untrained net (zero biases) sits at its kink, where
        // the derivative taken is 0; the others are not
        else if (r > 0) expect(block(r, q).some((v) => v !== 0), `${r}`).toBe(true);
      }
  });

  test("a scalar objective's Jacobian is its gradient: the spiral's loss with respect to out.weight, as reverse mode gives it", async () => {
    const j = await jac(example('spiral'), '--of', 'loss', '--wrt', 'out.weight', '--rows', '16');
    const g = jsonOut(await cli('grad', example('spiral'), '--rows', '16', '--json')) as { gradients: Record<string, Packed> };
    expect(j.shape).toEqual(g.gradients['out.weight'].shape);
    const scale = Math.max(...g.gradients['out.weight'].values.map(Math.abs));
    j.values.forEach((v, k) => expect(Math.abs(v - g.gradients['out.weight'].values[k]) / scale).toBeLessThan(1e-5));
  });

  test('says what is wrong: an unknown node or tensor, the options elsewhere, a Jacobian too large', async () => {
    const bad = async (args: string[], code: number, message: RegExp) => {
      const r = await cli(...args);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(message);
    };
    await bad(['jacobian', example('spiral'), '--of', 'nope'], 1, /--of names "nope", which is not a node of the graph/);
    await bad(['jacobian', example('spiral'), '--wrt', 'h9.weight'], 1, /--wrt names "h9\.weight", which is neither an input node nor a parameter tensor/);
    await bad(['jacobian', example('spiral'), '--wrt', 'y'], 1, /--wrt names "y"/);
    await bad(['grad', example('spiral'), '--of', 'out'], 2, /--of goes with jacobian and program/);
    await bad(['program', example('spiral'), '--wrt', 'x'], 2, /--wrt goes with jacobian/);
    await bad(['jacobian', example('digits'), '--rows', 'all', '--wrt', 'pixels'], 1, /has \d+ values \(at most 16777216\): take fewer --rows/);
  });
});

describe("program (a training step's primitives, node by node)", () => {
  type Line = { name: string; op: string; args: string[]; attrs: string; shape: (number | null)[] };
  test("lists every node's forward and backward primitives, named across nodes, and one node's with --of", async () => {
    const all = jsonOut(await cli('program', example('spiral'), '--json')) as { batch: number; nodes: { node: string; forward: Line[]; backward: Line[] }[] };
    expect(all.batch).toBe(32);
    expect(all.nodes.map((n) => n.node)).toEqual(['h1', 'h2', 'out', 'loss']);
    const byNode = Object.fromEntries(all.nodes.map((n) => [n.node, n]));
    // each gradient is written once, where it is finished: the tensors' in their layers, a node's by the node reading it
    const written = (id: string) => byNode[id].backward.map((l) => l.name).filter((n) => n.startsWith('∇'));
    expect(written('loss')).toEqual(['∇out']);
    expect(written('out')).toEqual(['∇out.bias', '∇h2', '∇out.weight']);
    expect(written('h2')).toEqual(['∇h2.bias', '∇h1', '∇h2.weight']);
    expect(written('h1')).toEqual(['∇h1.bias', '∇x', '∇h1.weight']);
    // and read by the node it comes back to
    expect(byNode.h2.backward.some((l) => l.args.includes('∇h2'))).toBe(true);
    expect(byNode.out.forward.at(-1)).toEqual({ name: 'out', op: 'add', args: [expect.stringMatching(/^%\d+$/), 'out.bias'], attrs: '', shape: [null, 3] });
    const one = await cli('program', example('spiral'), '--of', 'h2');
    expect(one.code).toBe(0);
    expect(one.stdout.split('\n').slice(0, 4)).toEqual(['a training step of spiral.bpstudio, batch B = 32', '', 'h2 (dense)', '  forward']);
    expect(one.stdout).toMatch(/^ {4}∇h1 = matmul\(%\d+, %\d+\) {2}\[B, 32\]$/m);
    expect(one.stdout).not.toMatch(/^h1 /m);
    const unknown = await cli('program', example('spiral'), '--of', 'nope');
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringMatching(/"nope" is not a node of the graph/)]);
  });
});
