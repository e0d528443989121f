/** `train --json` on every example with its saved settings: the JSON lines of cli.md and the weights file of project-format.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, jsonLines, jsonOut, readProject, readWeights, REPO, tempExamples } from './helpers';

// rmse and valRmse: a regression's, an extension (docs/format-extensions.md)
// cli.md's keys, and the extensions' (docs/format-extensions.md): rmse, valRmse, lr
const EPOCH_KEYS = ['epoch', 'step', 'loss', 'valLoss', 'accuracy', 'valAccuracy', 'rmse', 'valRmse', 'lr', 'gradNorms'];

interface EpochLine {
  epoch: number;
  step: number;
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  rmse?: number;
  valRmse?: number;
  lr: number;
  gradNorms: Record<string, number>;
}

interface DoneLine {
  done: true;
  backend: string;
  weights: string;
  steps: number;
  seconds: number;
}

interface Trained {
  epochs: EpochLine[];
  done: DoneLine;
  out: string;
}

interface Case {
  name: string;
  /** Input (and label) node ids whose standardisation statistics the weights file must hold. */
  standardized: string[];
  accuracy: boolean;
  /** A regression: epochs report the RMSE in the label's units. */
  rmse?: boolean;
  validation: boolean;
  expect: (t: Trained) => void;
}

const last = (t: Trained) => t.epochs[t.epochs.length - 1];

const CASES: Case[] = [
  {
    name: 'spiral',
    standardized: [],
    accuracy: true,
    validation: true,
    expect: (t) => expect(last(t).accuracy).toBeGreaterThanOrEqual(0.95),
  },
  {
    name: 'digits',
    standardized: ['pixels'],
    accuracy: true,
    validation: true,
    expect: (t) => expect(last(t).valAccuracy).toBeGreaterThanOrEqual(0.95),
  },
  {
    name: 'iris',
    standardized: ['measurements'],
    accuracy: true,
    validation: true,
    expect: (t) => expect(last(t).valAccuracy).toBeGreaterThanOrEqual(0.93),
  },
  {
    // batch norm (batch statistics while training, its running ones at validation) and dropout (off at validation)
    name: 'wine',
    standardized: ['chemistry'],
    accuracy: true,
    validation: true,
    expect: (t) => expect(last(t).valAccuracy).toBeGreaterThanOrEqual(0.9),
  },
  {
    name: 'logistic-regression',
    standardized: [],
    accuracy: true,
    validation: true,
    expect: (t) => expect(last(t).loss).toBeLessThan(t.epochs[0].loss),
  },
  {
    // a regression: sin(x) + noise of variance 0.01, the floor of the mean squared error (a constant scores 0.5)
    name: 'sine',
    standardized: [],
    accuracy: false,
    rmse: true,
    validation: true,
    // (the label is not standardised: the RMSE is the square root of the mean squared error)
    expect: (t) => {
      expect(last(t).valLoss).toBeLessThan(0.02);
      expect(last(t).valRmse).toBeCloseTo(Math.sqrt(last(t).valLoss!), 6);
    },
  },
  {
    // a label in the hundreds to thousands, standardised: its loss is in units of the label's variance (a constant
    // scores 1), and the prediction comes back in the label's units (below)
    name: 'nucleus-area',
    standardized: ['radius', 'area'],
    accuracy: false,
    rmse: true,
    validation: true,
    // the RMSE in square units of the label, whose spread is about 352
    expect: (t) => {
      expect(last(t).valLoss).toBeLessThan(0.01);
      expect(last(t).valRmse).toBeLessThan(35);
    },
  },
  {
    name: 'seed-function',
    standardized: [],
    accuracy: false,
    validation: false,
    expect: (t) => expect(last(t).gradNorms).toEqual({}),
  },
];

let ex: ReturnType<typeof tempExamples>;
const trained = new Map<string, Trained>();
/** Each example's parameter tensors and shapes, from `check --json`. */
const parameters = new Map<string, Record<string, number[]>>();

beforeAll(async () => {
  ex = tempExamples();
  for (const c of CASES) {
    const out = join(ex.dir, 'out', `${c.name}.safetensors`);
    const r = await cli('train', ex.project(c.name), '--json', '--out', out);
    if (r.code !== 0) throw new Error(`train ${c.name} exited ${r.code}: ${r.stderr}`);
    const lines = jsonLines(r.stdout);
    trained.set(c.name, { epochs: lines.slice(0, -1) as unknown as EpochLine[], done: lines[lines.length - 1] as unknown as DoneLine, out });
    const check = jsonOut(await cli('check', ex.project(c.name), '--json')) as { parameters: Record<string, number[]> };
    parameters.set(c.name, check.parameters);
  }
  const figures = CASES.filter((c) => c.accuracy).map((c) => {
    const l = last(trained.get(c.name)!);
    return `${c.name}: accuracy ${l.accuracy?.toFixed(4)}, valAccuracy ${l.valAccuracy?.toFixed(4)}, loss ${trained.get(c.name)!.epochs[0].loss.toFixed(4)} -> ${l.loss.toFixed(4)}`;
  });
  console.log(`trained with the examples' saved settings:\n  ${figures.join('\n  ')}`);
});

afterAll(() => ex?.cleanup());

describe.each(CASES)('train $name --json (saved settings)', (c) => {
  test('reaches its mark', () => {
    c.expect(trained.get(c.name)!);
  });

  test('one epoch line per epoch, shaped as cli.md says, then the done line', () => {
    const t = trained.get(c.name)!;
    const settings = readProject(ex.project(c.name)).training as { epochs: number; optimizer?: { lr?: number }; schedule?: unknown };
    expect(t.epochs).toHaveLength(settings.epochs);
    const layers = [...new Set(Object.keys(parameters.get(c.name)!).map((p) => p.split('.')[0]))].sort();
    let step = 0;
    t.epochs.forEach((e, i) => {
      for (const k of Object.keys(e)) expect(EPOCH_KEYS, `unexpected key ${k}`).toContain(k);
      expect(e.epoch).toBe(i + 1);
      expect(Number.isInteger(e.step) && e.step > step).toBe(true);
      step = e.step;
      expect(Number.isFinite(e.loss)).toBe(true);
      // no example has a schedule: the rate is the optimizer's throughout
      expect(settings.schedule).toBeUndefined();
      expect(e.lr).toBe(settings.optimizer?.lr ?? 0.01);
      expect('accuracy' in e).toBe(c.accuracy);
      expect('rmse' in e).toBe(c.rmse ?? false);
      expect('valLoss' in e).toBe(c.validation);
      expect('valAccuracy' in e).toBe(c.validation && c.accuracy);
      expect('valRmse' in e).toBe(c.validation && (c.rmse ?? false));
      for (const a of [e.accuracy, e.valAccuracy]) if (a !== undefined) expect(a >= 0 && a <= 1, String(a)).toBe(true);
      if (e.valLoss !== undefined) expect(Number.isFinite(e.valLoss)).toBe(true);
      expect(Object.keys(e.gradNorms).sort()).toEqual(layers);
      for (const v of Object.values(e.gradNorms)) expect(Number.isFinite(v) && v >= 0).toBe(true);
    });
    // Whole epochs: every epoch takes the same number of steps.
    expect(last(t).step).toBe(t.epochs[0].step * settings.epochs);
    // cli.md's done line, plus the backend it trained on (an added key).
    expect(Object.keys(t.done).sort()).toEqual(['backend', 'done', 'seconds', 'steps', 'weights']);
    expect(t.done.backend).toBe('cpu');
    expect(t.done.done).toBe(true);
    expect(t.done.weights).toBe(t.out);
    expect(t.done.steps).toBe(last(t).step);
    expect(t.done.seconds).toBeGreaterThanOrEqual(0);
    expect(t.done.seconds).toBeLessThan(120);
  });

  test('the weights file reads back with project-format.md names, shapes and metadata', () => {
    const t = trained.get(c.name)!;
    expect(existsSync(t.out)).toBe(true);
    const w = readWeights(t.out);
    expect(w.metadata).toEqual({ format: 'backprop-studio/weights', version: '1', name: readProject(ex.project(c.name)).name });
    const expected: Record<string, number[]> = { ...parameters.get(c.name)! };
    const project = readProject(ex.project(c.name));
    for (const id of c.standardized) {
      const shape = (project.graph.nodes.find((n) => n.id === id)!.attrs!.shape as number[] | undefined) ?? [];
      expected[`data.${id}.mean`] = shape;
      expected[`data.${id}.std`] = shape;
    }
    expect(Object.keys(w.tensors).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, shape] of Object.entries(expected)) {
      expect(w.tensors[name].shape, name).toEqual(shape);
      expect(w.tensors[name].data.every(Number.isFinite), name).toBe(true);
    }
    for (const id of c.standardized) expect(w.tensors[`data.${id}.std`].data.every((s) => s > 0)).toBe(true);
    // Dense weights are [out, in] (PyTorch's layout); a bias unless the layer has none.
    for (const n of project.graph.nodes.filter((x) => x.op === 'dense')) {
      expect(w.tensors[`${n.id}.weight`].shape[0]).toBe(n.attrs!.units);
      if (n.attrs!.bias === false) expect(w.tensors[`${n.id}.bias`]).toBeUndefined();
      else expect(w.tensors[`${n.id}.bias`].shape).toEqual([n.attrs!.units]);
    }
  });
});

test('without --out the weights go next to the project as NAME.safetensors', async () => {
  const r = await cli('train', ex.project('seed-function'), '--json');
  expect(r.code, r.stderr).toBe(0);
  const done = jsonLines(r.stdout).pop() as unknown as DoneLine;
  expect(done.weights).toBe(join(ex.dir, 'seed-function.safetensors'));
  expect(readWeights(done.weights).metadata.format).toBe('backprop-studio/weights');
});

test('the human-readable form prints one line per epoch and a done line', async () => {
  const r = await cli('train', ex.project('iris'), '--epochs', '2', '--out', join(ex.dir, 'out', 'iris-text.safetensors'));
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(4);
  expect(lines[0]).toBe('backend: cpu; set to cpu');
  expect(lines[1]).toMatch(/^epoch 1\b/);
  expect(lines[3]).toMatch(/^done: \d+ steps/);
  expect(r.stderr).toBe(''); // no progress bar off a terminal
});

test.each([
  ['digits', 0.95],
  ['iris', 0.93],
  ['wine', 0.95],
])('eval of the trained %s weights (standardised data) applies the saved statistics: accuracy >= %s on all rows', async (name, min) => {
  const t = trained.get(name)!;
  const r = await cli('eval', ex.project(name), '--weights', t.out, '--json');
  expect(r.code, r.stderr).toBe(0);
  const out = jsonOut(r) as { accuracy: number; rows: number };
  expect(out.accuracy).toBeGreaterThanOrEqual(min);
  console.log(`eval ${name} (all ${out.rows} rows) with the trained weights: accuracy ${out.accuracy.toFixed(4)}`);
});

test("nucleus-area's predictions are areas: predict gives the label's units, off by a few percent of its spread", async () => {
  const t = trained.get('nucleus-area')!;
  const r = await cli('predict', ex.project('nucleus-area'), '--weights', t.out, '--json');
  expect(r.code, r.stderr).toBe(0);
  const predicted = (jsonOut(r).outputs as number[][]).map((o) => o[0]);
  const lines = readFileSync(join(REPO, 'examples/data/breast_cancer.csv'), 'utf8').trim().split('\n');
  const column = lines[0].split(',').indexOf('mean_area');
  const areas = lines.slice(1).map((l) => Number(l.split(',')[column]));
  expect(predicted).toHaveLength(areas.length);
  const mean = areas.reduce((a, v) => a + v) / areas.length;
  const spread = Math.sqrt(areas.reduce((a, v) => a + (v - mean) ** 2, 0) / areas.length);
  const rmse = Math.sqrt(areas.reduce((a, v, i) => a + (predicted[i] - v) ** 2, 0) / areas.length);
  console.log(`nucleus-area: RMSE ${rmse.toFixed(2)} on all ${areas.length} rows; the label's mean ${mean.toFixed(1)}, spread ${spread.toFixed(1)}`);
  expect(rmse).toBeLessThan(0.1 * spread);
  expect(r.stderr).toBe('');

  // The same weights for the project with its label no longer standardised: said on stderr, not silently off.
  const p = readProject(ex.project('nucleus-area')) as { data: Record<string, unknown> };
  p.data.standardizeLabel = false;
  const unstandardised = join(ex.dir, 'nucleus-area-raw.bpstudio');
  writeFileSync(unstandardised, JSON.stringify(p));
  const raw = await cli('predict', unstandardised, '--weights', t.out, '--rows', '2', '--json');
  expect(raw.code, raw.stderr).toBe(0);
  expect(raw.stderr).toMatch(/^note: the weights carry statistics for the label area \(it was standardised when they were trained\), but the project does not standardise it/);
});
