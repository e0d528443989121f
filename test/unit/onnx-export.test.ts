/**
 * The ONNX exporter, one catalogue op (or layer variant) at a time: the ONNX nodes it becomes, and the model's
 * output in ONNX Runtime against the engine's prediction on the same rows. Then what cannot be exported, and the
 * parity comparison itself.
 */
import { describe, expect, test } from 'vitest';
import { CATALOGUE } from '../../engine/graph/catalogue';
import { exportOnnx, hasOnnxEquivalent, onnxModel } from '../../engine/io/onnx/export';
import type { OnnxModel } from '../../engine/io/onnx/onnx-proto';
import { exportOnnxChecked, maxAbsDiff } from '../../engine/io/onnx/parity';
import type { Project, ProjectNode } from '../../engine/io/project';
import { Session } from '../../engine/train/session';
import { StudioError } from '../../engine/util/errors';

const ROWS = 7;
const FEATURES = 16;
/** Features f0..f15 (two of them positive only) and a class label c in 0..2, deterministic. */
const columns = (): Record<string, number[]> => {
  const cols: Record<string, number[]> = {};
  for (let f = 0; f < FEATURES; f++) cols[`f${f}`] = Array.from({ length: ROWS }, (_, r) => Math.sin(7 * r + 3 * f + 1) * 2 + 0.1 * f);
  cols.pos = Array.from({ length: ROWS }, (_, r) => 0.5 + r);
  cols.c = Array.from({ length: ROWS }, (_, r) => r % 3);
  return cols;
};

function project(nodes: ProjectNode[], prediction: string, data: Partial<{ standardize: boolean }> = {}): Project {
  return {
    format: 'backprop-studio/project',
    version: 1,
    name: 'onnx unit',
    graph: { nodes },
    data: { kind: 'inline', columns: columns(), label: 'c', validation: 0, shuffle: false, ...data },
    training: { objective: prediction, prediction, seed: 5 },
  };
}

const img = (shape: number[]): ProjectNode => ({ id: 'x', op: 'input', attrs: { shape, features: Array.from({ length: FEATURES }, (_, f) => `f${f}`) } });
const vec = (n: number): ProjectNode => ({ id: 'x', op: 'input', attrs: { shape: [n], features: Array.from({ length: n }, (_, f) => `f${f}`) } });
const node = (id: string, op: string, inputs: Record<string, string>, attrs?: Record<string, unknown>): ProjectNode => ({ id, op, inputs, ...(attrs ? { attrs } : {}) });
const un = (op: string, attrs?: Record<string, unknown>) => [vec(4), node('p', op, { x: 'x' }, attrs)];
const positive: ProjectNode = { id: 'x', op: 'input', attrs: { shape: [], feature: 'pos' } };

interface Case {
  name: string;
  nodes: ProjectNode[];
  ops: string[];
  check?: (m: OnnxModel) => void;
}

const attrsOf = (m: OnnxModel, op: string) => m.nodes.find((n) => n.opType === op)!.attrs;
const init = (m: OnnxModel, name: string) => m.initializers.find((t) => t.name === name)!;

const CASES: Case[] = [
  ...(
    [
      ['neg', 'Neg'],
      ['exp', 'Exp'],
      ['sin', 'Sin'],
      ['cos', 'Cos'],
      ['tanh', 'Tanh'],
      ['sigmoid', 'Sigmoid'],
      ['relu', 'Relu'],
      ['softplus', 'Softplus'],
      ['abs', 'Abs'],
    ] as const
  ).map(([op, onnx]) => ({ name: op, nodes: un(op), ops: [onnx] })),
  { name: 'ln', nodes: [positive, node('p', 'ln', { x: 'x' })], ops: ['Log'] },
  { name: 'sqrt', nodes: [positive, node('p', 'sqrt', { x: 'x' })], ops: ['Sqrt'] },
  { name: 'square', nodes: un('square'), ops: ['Mul'], check: (m) => expect(m.nodes[0].inputs).toEqual(['x', 'x']) },
  { name: 'pow', nodes: un('pow', { exponent: 3 }), ops: ['Pow'], check: (m) => expect([...(init(m, 'p/exponent').data as Float32Array)]).toEqual([3]) },
  { name: 'leaky_relu', nodes: un('leaky_relu', { alpha: 0.25 }), ops: ['LeakyRelu'], check: (m) => expect(attrsOf(m, 'LeakyRelu')).toEqual({ alpha: { float: 0.25 } }) },
  { name: 'softmax (axis -1 as 1)', nodes: un('softmax'), ops: ['Softmax'], check: (m) => expect(attrsOf(m, 'Softmax')).toEqual({ axis: { int: 1 } }) },
  { name: 'log_softmax', nodes: un('log_softmax', { axis: 1 }), ops: ['LogSoftmax'] },
  ...(
    [
      ['add', 'Add'],
      ['sub', 'Sub'],
      ['mul', 'Mul'],
      ['div', 'Div'],
      ['maximum', 'Max'],
      ['minimum', 'Min'],
    ] as const
  ).map(([op, onnx]) => ({
    name: `${op} with a parameter (broadcast)`,
    nodes: [vec(4), { id: 'w', op: 'parameter', attrs: { shape: [4], init: 'uniform', low: 0.5, high: 2 } }, node('p', op, { a: 'x', b: 'w' })],
    ops: [onnx],
    check: (m: OnnxModel) => expect(init(m, 'w').dims).toEqual([4]),
  })),
  {
    name: 'constant (scalar and nested)',
    nodes: [vec(2), { id: 'k', op: 'constant', attrs: { value: [[1, 2], [3, 4]] } }, { id: 's', op: 'constant', attrs: { value: 2 } }, node('m', 'matmul', { a: 'x', b: 'k' }), node('p', 'mul', { a: 'm', b: 's' })],
    ops: ['MatMul', 'Mul'],
    check: (m) => {
      expect(init(m, 'k').dims).toEqual([2, 2]);
      expect(init(m, 's').dims).toEqual([]);
    },
  },
  {
    name: 'transpose (default: the last two) and reshape with -1',
    nodes: [img([2, 8]), node('t', 'transpose', { x: 'x' }), node('p', 'reshape', { x: 't' }, { shape: [4, -1] })],
    ops: ['Transpose', 'Reshape'],
    check: (m) => {
      expect(attrsOf(m, 'Transpose')).toEqual({ perm: { ints: [0, 2, 1] } });
      expect([...(init(m, 'p/shape').data as BigInt64Array)]).toEqual([0n, 4n, 4n]);
    },
  },
  { name: 'transpose with perm', nodes: [img([2, 2, 4]), node('p', 'transpose', { x: 'x' }, { perm: [0, 3, 1, 2] })], ops: ['Transpose'], check: (m) => expect(attrsOf(m, 'Transpose')).toEqual({ perm: { ints: [0, 3, 1, 2] } }) },
  { name: 'flatten', nodes: [img([4, 4]), node('p', 'flatten', { x: 'x' })], ops: ['Flatten'], check: (m) => expect(attrsOf(m, 'Flatten')).toEqual({ axis: { int: 1 } }) },
  { name: 'concat', nodes: [img([4, 4]), node('s', 'sin', { x: 'x' }), node('p', 'concat', { a: 'x', b: 's' }, { axis: -2 })], ops: ['Sin', 'Concat'], check: (m) => expect(attrsOf(m, 'Concat')).toEqual({ axis: { int: 1 } }) },
  {
    name: 'sum (default axes: all but the batch; axes as an input)',
    nodes: [img([2, 8]), node('p', 'sum', { x: 'x' })],
    ops: ['ReduceSum'],
    check: (m) => {
      expect([...(init(m, 'p/axes').data as BigInt64Array)]).toEqual([1n, 2n]);
      expect(attrsOf(m, 'ReduceSum')).toEqual({ keepdims: { int: 0 } });
    },
  },
  { name: 'sum over no axis (a per-example scalar) is Identity', nodes: [positive, node('p', 'sum', { x: 'x' })], ops: ['Identity'] },
  { name: 'mean with keepdims', nodes: [img([2, 8]), node('p', 'mean', { x: 'x' }, { axes: [-1], keepdims: true })], ops: ['ReduceMean'], check: (m) => expect(attrsOf(m, 'ReduceMean')).toEqual({ axes: { ints: [2] }, keepdims: { int: 1 } }) },
  { name: 'reduce_max', nodes: [img([2, 8]), node('p', 'reduce_max', { x: 'x' }, { axes: [1] })], ops: ['ReduceMax'] },
  {
    name: 'dense with an activation: Gemm (transB), then the activation',
    nodes: [vec(4), node('p', 'dense', { x: 'x' }, { units: 3, activation: 'tanh' })],
    ops: ['Gemm', 'Tanh'],
    check: (m) => {
      expect(m.nodes[0]).toMatchObject({ inputs: ['x', 'p.weight', 'p.bias'], outputs: ['p/linear'], attrs: { transB: { int: 1 } } });
      expect(m.nodes[1]).toMatchObject({ inputs: ['p/linear'], outputs: ['p'] });
    },
  },
  { name: 'dense without bias', nodes: [vec(4), node('p', 'dense', { x: 'x' }, { units: 3, bias: false })], ops: ['Gemm'], check: (m) => expect(m.nodes[0].inputs).toEqual(['x', 'p.weight']) },
  { name: 'dense, leaky_relu', nodes: [vec(4), node('p', 'dense', { x: 'x' }, { units: 3, activation: 'leaky_relu' })], ops: ['Gemm', 'LeakyRelu'], check: (m) => expect(attrsOf(m, 'LeakyRelu')).toEqual({ alpha: { float: 0.01 } }) },
  { name: 'dense on [B, 2, 8]: MatMul, then Add', nodes: [img([2, 8]), node('p', 'dense', { x: 'x' }, { units: 3, activation: 'softplus' })], ops: ['Transpose', 'MatMul', 'Add', 'Softplus'] },
  { name: 'dense on [B, 2, 8] without bias', nodes: [img([2, 8]), node('p', 'dense', { x: 'x' }, { units: 3, bias: false })], ops: ['Transpose', 'MatMul'] },
  {
    name: 'conv2d, padding same',
    nodes: [img([1, 4, 4]), node('p', 'conv2d', { x: 'x' }, { filters: 2, kernel: 3, padding: 'same', activation: 'relu' })],
    ops: ['Conv', 'Relu'],
    check: (m) => expect(attrsOf(m, 'Conv')).toEqual({ kernel_shape: { ints: [3, 3] }, strides: { ints: [1, 1] }, pads: { ints: [1, 1, 1, 1] }, dilations: { ints: [1, 1] }, group: { int: 1 } }),
  },
  {
    name: 'conv2d, stride 2, padding [1, 0], no bias',
    nodes: [img([1, 4, 4]), node('p', 'conv2d', { x: 'x' }, { filters: 3, kernel: [3, 2], stride: 2, padding: [1, 0], bias: false })],
    ops: ['Conv'],
    check: (m) => {
      expect(m.nodes[0].inputs).toEqual(['x', 'p.weight']);
      expect(attrsOf(m, 'Conv')).toMatchObject({ kernel_shape: { ints: [3, 2] }, strides: { ints: [2, 2] }, pads: { ints: [1, 0, 1, 0] } });
    },
  },
  { name: 'maxpool2d', nodes: [img([1, 4, 4]), node('p', 'maxpool2d', { x: 'x' }, { kernel: 2 })], ops: ['MaxPool'], check: (m) => expect(attrsOf(m, 'MaxPool')).toEqual({ kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, pads: { ints: [0, 0, 0, 0] } }) },
  { name: 'avgpool2d, stride 1', nodes: [img([1, 4, 4]), node('p', 'avgpool2d', { x: 'x' }, { kernel: [2, 3], stride: 1 })], ops: ['AveragePool'] },
  { name: 'dropout is Identity', nodes: [vec(4), node('p', 'dropout', { x: 'x' }, { rate: 0.5 })], ops: ['Identity'] },
  {
    name: 'batchnorm on [B, C]',
    nodes: [vec(4), node('p', 'batchnorm', { x: 'x' }, { eps: 0.01 })],
    ops: ['BatchNormalization'],
    check: (m) => {
      expect(m.nodes[0].inputs).toEqual(['x', 'p.weight', 'p.bias', 'p.running_mean', 'p.running_var']);
      expect(attrsOf(m, 'BatchNormalization')).toEqual({ epsilon: { float: 0.01 } });
    },
  },
  { name: 'batchnorm on [B, C, H, W]', nodes: [img([4, 2, 2]), node('p', 'batchnorm', { x: 'x' })], ops: ['BatchNormalization'] },
];

describe('each op as ONNX, and ONNX Runtime against the engine', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const p = project(c.nodes, 'p');
    const weights = await new Session(p, { baseDir: '.' }).weights();
    const { model, inputs, output } = onnxModel(p, weights);
    expect(model.nodes.map((n) => n.opType)).toEqual(c.ops);
    expect(model.opset).toBe(17);
    expect(inputs).toEqual([{ id: 'x', shape: c.nodes[0].attrs!.shape }]);
    expect(model.inputs[0].shape[0]).toBe('N');
    expect(model.outputs).toEqual([{ name: 'p', shape: ['N', ...output.shape] }]);
    // the last node writes the output, named after the prediction
    expect(model.nodes.at(-1)!.outputs).toEqual(['p']);
    c.check?.(model);
    const { parity } = await exportOnnxChecked(p, { baseDir: '.', weights });
    expect(parity.rows).toBe(ROWS);
    expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
  });
});

describe('the catalogue', () => {
  test('every op has an ONNX equivalent but the label and the losses (training\'s, not the prediction\'s)', () => {
    const without = CATALOGUE.filter((s) => !hasOnnxEquivalent(s.op)).map((s) => s.op);
    expect(without).toEqual(CATALOGUE.filter((s) => s.op === 'label' || s.group === 'losses').map((s) => s.op));
  });

  test('the table above covers every op that has one', () => {
    const covered = new Set(CASES.flatMap((c) => c.nodes.map((n) => n.op)));
    expect(CATALOGUE.map((s) => s.op).filter((op) => hasOnnxEquivalent(op) && !covered.has(op))).toEqual([]);
  });
});

describe('standardisation', () => {
  test('the model takes raw features: Sub the mean, Div by the std, from the weights', async () => {
    const p = project([vec(3), node('p', 'dense', { x: 'x' }, { units: 2 })], 'p', { standardize: true });
    const weights = await new Session(p, { baseDir: '.' }).weights();
    const { model } = onnxModel(p, weights);
    expect(model.nodes.map((n) => [n.opType, ...n.inputs])).toEqual([
      ['Sub', 'x', 'data.x.mean'],
      ['Div', 'x/centred', 'data.x.std'],
      ['Gemm', 'x/standardized', 'p.weight', 'p.bias'],
    ]);
    expect(init(model, 'data.x.std').data).toEqual(weights['data.x.std'].data);
    const { parity } = await exportOnnxChecked(p, { baseDir: '.', weights });
    expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
  });

  test("a standardised real label: the prediction comes out in the label's units, times the std plus the mean", async () => {
    const nodes: ProjectNode[] = [
      vec(3),
      { id: 'y', op: 'label', attrs: { kind: 'real' } },
      node('h', 'dense', { x: 'x' }, { units: 4, activation: 'tanh' }),
      node('p', 'dense', { x: 'h' }, { units: 1 }),
      node('loss', 'mse', { pred: 'p', target: 'y' }),
    ];
    const p: Project = { ...project(nodes, 'p'), training: { seed: 5 } };
    p.data = { ...p.data!, label: 'pos', standardizeLabel: true } as Project['data'];
    const weights = await new Session(p, { baseDir: '.' }).weights();
    expect(weights['data.y.mean'].data[0]).toBeCloseTo(3.5, 6);
    const { model, output } = onnxModel(p, weights);
    expect(model.nodes.map((n) => [n.opType, ...n.inputs, '->', ...n.outputs])).toEqual([
      ['Gemm', 'x', 'h.weight', 'h.bias', '->', 'h/linear'],
      ['Tanh', 'h/linear', '->', 'h'],
      ['Gemm', 'h', 'p.weight', 'p.bias', '->', 'p/standardized'],
      ['Mul', 'p/standardized', 'data.y.std', '->', 'p/scaled'],
      ['Add', 'p/scaled', 'data.y.mean', '->', 'p'],
    ]);
    expect(output.id).toBe('p');
    const { parity } = await exportOnnxChecked(p, { baseDir: '.', weights });
    expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    // the same weights without the label's statistics: the bare prediction
    const bare = Object.fromEntries(Object.entries(weights).filter(([k]) => !k.startsWith('data.y.')));
    expect(onnxModel(p, bare).model.nodes.map((n) => n.opType)).toEqual(['Gemm', 'Tanh', 'Gemm']);
  });

  test('the project decides, as for predict: weights with statistics, exported for a project that does not standardise, leave them out', async () => {
    const nodes: ProjectNode[] = [
      vec(3),
      { id: 'y', op: 'label', attrs: { kind: 'real' } },
      node('p', 'dense', { x: 'x' }, { units: 1 }),
      node('loss', 'mse', { pred: 'p', target: 'y' }),
    ];
    const both: Project = { ...project(nodes, 'p'), training: { seed: 5 } };
    both.data = { ...both.data!, label: 'pos', standardize: true, standardizeLabel: true } as Project['data'];
    const weights = await new Session(both, { baseDir: '.' }).weights();
    expect(Object.keys(weights).filter((k) => k.startsWith('data.')).sort()).toEqual(['data.x.mean', 'data.x.std', 'data.y.mean', 'data.y.std']);
    const neither: Project = { ...both, data: { ...both.data!, standardize: false, standardizeLabel: false } as Project['data'] };
    expect(onnxModel(neither, weights).model.nodes.map((n) => n.opType)).toEqual(['Gemm']);
    const { parity } = await exportOnnxChecked(neither, { baseDir: '.', weights });
    expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(onnxModel(both, weights).model.nodes.map((n) => n.opType)).toEqual(['Sub', 'Div', 'Gemm', 'Mul', 'Add']);
  });

  test('without standardisation the input goes straight in', async () => {
    const p = project([vec(3), node('p', 'dense', { x: 'x' }, { units: 2 })], 'p');
    const { model } = onnxModel(p, await new Session(p, { baseDir: '.' }).weights());
    expect(model.nodes.map((n) => n.opType)).toEqual(['Gemm']);
  });
});

describe('what is exported', () => {
  test('only what the prediction reads: another input, the label and the loss stay out', async () => {
    const nodes: ProjectNode[] = [
      vec(4),
      { id: 'other', op: 'input', attrs: { shape: [], feature: 'pos' } },
      { id: 'y', op: 'label', attrs: { kind: 'class' } },
      node('h', 'dense', { x: 'x' }, { units: 3 }),
      node('loss', 'softmax_cross_entropy', { logits: 'h', labels: 'y' }),
      node('unused', 'exp', { x: 'other' }),
    ];
    const p = { ...project(nodes, 'h'), training: { objective: 'loss', seed: 1 } };
    const { model, inputs, output } = onnxModel(p, await new Session(p, { baseDir: '.' }).weights());
    expect(inputs.map((i) => i.id)).toEqual(['x']);
    expect(output).toEqual({ id: 'h', shape: [3] });
    expect(model.nodes.map((n) => n.name)).toEqual(['h']);
    expect(model.initializers.map((t) => t.name).sort()).toEqual(['h.bias', 'h.weight']);
  });

  test.each<[string, ProjectNode[], string | undefined, RegExp, string | undefined]>([
    ['no prediction node', [vec(2), node('f', 'sum', { x: 'x' })], undefined, /nothing to export: the project has no prediction node/, undefined],
    [
      'a prediction that reads the label',
      [vec(2), { id: 'y', op: 'label', attrs: { kind: 'real' } }, node('s', 'sum', { x: 'x' }), node('p', 'mul', { a: 'y', b: 's' })],
      'p',
      /node "y" \(label\) has no ONNX equivalent/,
      'y',
    ],
    [
      'a prediction that reads losses',
      [positive, { id: 'y', op: 'label', attrs: { kind: 'real' } }, node('l1', 'mse', { pred: 'x', target: 'y' }), node('l2', 'l2', { x: 'x' }), node('p', 'add', { a: 'l1', b: 'l2' })],
      'p',
      /nodes "y" \(label\), "l2" \(l2\), "l1" \(mse\) have no ONNX equivalent/,
      'y',
    ],
    ['a prediction without the batch dimension', [vec(2), { id: 'w', op: 'parameter', attrs: { shape: [2] } }, node('p', 'exp', { x: 'w' })], 'p', /does not depend on the data/, 'p'],
    ['an input as the prediction', [vec(2)], 'x', /is an input node itself/, 'x'],
  ])('%s is an error that says why', async (_name, nodes, prediction, message, where) => {
    const last = nodes.at(-1)!.id;
    const p = { ...project(nodes, last), training: { objective: last, ...(prediction ? { prediction } : {}) } };
    let error: unknown;
    try {
      onnxModel(p, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StudioError);
    expect((error as StudioError).message).toMatch(message);
    expect((error as StudioError).where.node).toBe(where);
  });

  test('weights that lack a tensor, or have it in another shape, are errors naming the node', async () => {
    const p = project([vec(4), node('p', 'dense', { x: 'x' }, { units: 3 })], 'p');
    const weights = await new Session(p, { baseDir: '.' }).weights();
    const { 'p.bias': _bias, ...lacking } = weights;
    expect(() => exportOnnx(p, lacking)).toThrow(/lack tensor p\.bias/);
    expect(() => exportOnnx(p, { ...weights, 'p.weight': { shape: [4, 3], data: new Float32Array(12) } })).toThrow(/p\.weight has shape \[4, 3\] in the weights, the graph needs \[3, 4\]/);
  });
});

describe('maxAbsDiff', () => {
  const rows = (...r: number[][]) => r.map((x) => Float32Array.from(x));
  test.each<[string, Float32Array[], number[], number]>([
    ['equal', rows([1, 2], [3, 4]), [1, 2, 3, 4], 0],
    ['the largest over rows and columns', rows([1, 2], [3, 4]), [1.5, 2, 3, 3.25], 0.75],
    ['NaN against NaN agrees', rows([NaN, 1]), [NaN, 1.25], 0.25],
    ['the same infinity agrees', rows([Infinity, -Infinity]), [Infinity, -Infinity], 0],
    ['no rows', [], [], 0],
  ])('%s', (_name, engine, onnx, want) => {
    expect(maxAbsDiff(engine, Float32Array.from(onnx))).toBe(want);
  });

  test.each<[string, Float32Array[], number[], RegExp]>([
    ['NaN against a number', rows([1, 2], [NaN, 4]), [1, 2, 3, 4], /gives 3 where the engine gives NaN/],
    ['an infinity against a number', rows([1, Infinity]), [1, 2], /gives 2 where the engine gives Infinity/],
    ['a different count', rows([1, 2]), [1, 2, 3], /3 values for 1 rows of 2/],
  ])('%s is an error', (_name, engine, onnx, message) => {
    expect(() => maxAbsDiff(engine, Float32Array.from(onnx))).toThrow(message);
  });

  test('the error names the (1-based) row', () => {
    try {
      maxAbsDiff(rows([1], [NaN]), Float32Array.of(1, 0));
      expect.unreachable();
    } catch (e) {
      expect((e as StudioError).where).toEqual({ row: 2 });
    }
  });
});
