/** `eval`, `predict` and `export` on weights trained by `train` (spiral, 5 epochs; shared by every test here). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseProject } from '../../engine/io/project';
import { Session } from '../../engine/train/session';
import { cli, jsonOut, readWeights, tempExamples } from './helpers';

let ex: ReturnType<typeof tempExamples>;
let spiral: string;
let weights: string;

beforeAll(async () => {
  ex = tempExamples();
  spiral = ex.project('spiral');
  weights = join(ex.dir, 'out', 'spiral.safetensors');
  const r = await cli('train', spiral, '--epochs', '5', '--json', '--out', weights);
  if (r.code !== 0) throw new Error(`train exited ${r.code}: ${r.stderr}`);
});
afterAll(() => ex?.cleanup());

const argmax = (row: number[]) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

describe('eval --weights', () => {
  test('--json on all rows: objective, accuracy in [0, 1], rows 600; the accuracy is what the predictions score', async () => {
    const r = await cli('eval', spiral, '--weights', weights, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut(r) as { objective: number; accuracy: number; rows: number };
    expect(Object.keys(out).sort()).toEqual(['accuracy', 'objective', 'rows']);
    expect(out.rows).toBe(600);
    expect(Number.isFinite(out.objective) && out.objective > 0).toBe(true);
    expect(out.accuracy).toBeGreaterThanOrEqual(0);
    expect(out.accuracy).toBeLessThanOrEqual(1);
    expect(out.accuracy).toBeGreaterThan(1 / 3); // five epochs beat chance on three classes

    // The app's computation: a session opened on the same weights, evaluated on the dataset's rows in file order.
    const session = new Session(parseProject(readFileSync(spiral, 'utf8'), spiral), {
      baseDir: dirname(spiral),
      weights: readWeights(weights).tensors,
    });
    const all = Int32Array.from({ length: session.dataset.rows }, (_, i) => i);
    const app = await session.evaluate(all);
    expect(out.accuracy).toBe(app.accuracy);
    expect(out.objective).toBeCloseTo(app.objective!, 6);

    // And independently: argmax of `predict` against the dataset's labels.
    const p = jsonOut(await cli('predict', spiral, '--weights', weights, '--json')) as { outputs: number[][] };
    expect(p.outputs).toHaveLength(600);
    const labels = session.dataset.label!.values;
    const correct = p.outputs.filter((row, i) => argmax(row) === labels[i]).length;
    expect(out.accuracy).toBeCloseTo(correct / 600, 12);
  });

  test.each([
    ['10', 10],
    ['1', 1],
    ['all', 600],
    ['100000', 600],
  ])('--rows %s gives rows %i', async (rows, n) => {
    const out = jsonOut(await cli('eval', spiral, '--weights', weights, '--rows', rows, '--json'));
    expect(out.rows).toBe(n);
  });

  test('the human-readable form names objective, accuracy and rows', async () => {
    const r = await cli('eval', spiral, '--weights', weights, '--rows', '10');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^objective \S+, accuracy \d+\.\d\d% on 10 rows\n$/);
  });
});

describe('predict --weights', () => {
  test('--json --rows 3: three rows of three numbers (the logits), equal to the first three of all rows', async () => {
    const r = await cli('predict', spiral, '--weights', weights, '--json', '--rows', '3');
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut(r) as { outputs: number[][] };
    expect(Object.keys(out)).toEqual(['outputs']);
    expect(out.outputs).toHaveLength(3);
    for (const row of out.outputs) {
      expect(row).toHaveLength(3);
      for (const v of row) expect(Number.isFinite(v)).toBe(true);
    }
    const all = jsonOut(await cli('predict', spiral, '--weights', weights, '--json')) as { outputs: number[][] };
    expect(all.outputs.slice(0, 3)).toEqual(out.outputs);
  });

  test('without --json: one tab-separated line per row', async () => {
    const r = await cli('predict', spiral, '--weights', weights, '--rows', '2');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.split('\t')).toHaveLength(3);
  });
});

describe('export --weights', () => {
  test('--format json writes every input tensor with its shape and values', async () => {
    const out = join(ex.dir, 'out', 'spiral.json');
    const r = await cli('export', spiral, '--weights', weights, '--format', 'json', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOut(r)).toEqual({ out, format: 'json' });
    const written = JSON.parse(readFileSync(out, 'utf8')) as { format: string; name: string; tensors: Record<string, { shape: number[]; values: number[] }> };
    expect(written.format).toBe('backprop-studio/weights');
    expect(written.name).toBe('Spiral, two hidden layers');
    const input = readWeights(weights).tensors;
    expect(Object.keys(written.tensors).sort()).toEqual(Object.keys(input).sort());
    for (const [name, t] of Object.entries(input)) {
      expect(written.tensors[name].shape, name).toEqual(t.shape);
      expect(written.tensors[name].values, name).toEqual(Array.from(t.data));
    }
  });

  test('--format safetensors writes the same tensors, bit for bit, with the weights metadata', async () => {
    const out = join(ex.dir, 'out', 'spiral-export.safetensors');
    const r = await cli('export', spiral, '--weights', weights, '--format', 'safetensors', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOut(r)).toEqual({ out, format: 'safetensors' });
    const input = readWeights(weights);
    const written = readWeights(out);
    expect(written.metadata).toEqual({ format: 'backprop-studio/weights', version: '1', name: 'Spiral, two hidden layers' });
    expect(Object.keys(written.tensors).sort()).toEqual(Object.keys(input.tensors).sort());
    for (const [name, t] of Object.entries(input.tensors)) {
      expect(written.tensors[name].shape, name).toEqual(t.shape);
      expect(Buffer.from(written.tensors[name].data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
    }
    // The trained file and the export are the same bytes (same writer, same tensors, same metadata).
    expect(readFileSync(out).equals(readFileSync(weights))).toBe(true);
  });

  // More in onnx-export.test.ts.
  test('--format onnx writes the model, with the parity check in the JSON line', async () => {
    const out = join(ex.dir, 'out', 'spiral.onnx');
    const r = await cli('export', spiral, '--weights', weights, '--format', 'onnx', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOut(r)).toEqual({ out, format: 'onnx', parity: { maxAbsDiff: expect.any(Number), rows: 256, scale: expect.any(Number) } });
    expect(readFileSync(out).length).toBeGreaterThan(0);
  });
});
