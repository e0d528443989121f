/**
 * `bpstudio export --format onnx` on every example project (whatever examples/ holds) and on the ONNX fixtures
 * (every catalogue op with an ONNX equivalent; a conv net on digits as 1x8x8 images), each trained for 20 steps:
 * ONNX Runtime's outputs match the engine's to 1e-5, and Debian's python3-onnx checks every file (the checker with
 * full_check, strict shape inference). Then the engine host's `export.onnx` request.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CATALOGUE, opSpec } from '../../engine/graph/catalogue';
import { parseProject } from '../../engine/io/project';
import { hasOnnxEquivalent } from '../../engine/io/onnx/export';
import { runOnnx } from '../../engine/io/onnx/parity';
import { decodeWeights } from '../../engine/host/weights';
import type { OnnxExportInfo, TrainJobInfo } from '../../engine/protocol/messages';
import { analyzeProject } from '../../engine/train/analysis';
import { Feeder } from '../../engine/train/feed';
import { Session } from '../../engine/train/session';
import { connect } from '../unit/host-harness';
import { bin, cli, EXAMPLES, jsonOut, readProject, REPO, writeProject, type ProjectJson } from './helpers';

const FIXTURES = join(REPO, 'test/fixtures/onnx');
const CHECK = join(FIXTURES, 'check_onnx.py');
const TOLERANCE = 1e-5;

const bpstudioFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.bpstudio')).sort().map((f) => join(dir, f));
const PROJECTS = [...bpstudioFiles(EXAMPLES), ...bpstudioFiles(FIXTURES)];

/** project-format.md: the prediction is training.prediction, or the node feeding the loss's first port. */
const hasPrediction = (p: ProjectJson) => p.training?.prediction !== undefined || p.graph.nodes.some((n) => opSpec(n.op)?.group === 'losses');
const EXPORTABLE = PROJECTS.filter((f) => hasPrediction(readProject(f)));
const NOT_EXPORTABLE = PROJECTS.filter((f) => !EXPORTABLE.includes(f));

interface Checked {
  file: string;
  ir_version: number;
  opset: Record<string, number>;
  inputs: { name: string; elem_type: number; shape: (number | string)[] }[];
  outputs: { name: string; elem_type: number; shape: (number | string)[] }[];
  nodes: { op: string }[];
  inferred: Record<string, (number | string | null)[]>;
}

/** check_onnx.py's description of each file (it fails, and so does this, when the checker rejects one). */
function pythonCheck(files: string[]): Map<string, Checked> {
  const out = execFileSync('/usr/bin/python3', [CHECK, ...files], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return new Map(out.trim().split('\n').map((l) => JSON.parse(l) as Checked).map((c) => [c.file, c]));
}

const name = (f: string) => basename(f, '.bpstudio');

let tmp: string;
const weightsOf = (f: string) => join(tmp, `${name(f)}.safetensors`);
const onnxOf = (f: string) => join(tmp, `${name(f)}.onnx`);
const parities = new Map<string, { maxAbsDiff: number; rows: number }>();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'bpstudio-onnx-'));
  for (const f of EXPORTABLE) {
    const r = await cli('train', f, '--steps', '20', '--backend', 'cpu', '--json', '--out', weightsOf(f));
    if (r.code !== 0) throw new Error(`train ${f} exited ${r.code}: ${r.stderr}`);
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('export --format onnx, every project', () => {
  test('the exports include the spiral, digits and a conv net on images', () => {
    const names = EXPORTABLE.map(name);
    expect(names).toEqual(expect.arrayContaining(['spiral', 'digits', 'conv-digits', 'all-ops']));
  });

  test('the all-ops fixture uses every catalogue op that has an ONNX equivalent', () => {
    const used = new Set(readProject(join(FIXTURES, 'all-ops.bpstudio')).graph.nodes.map((n) => n.op));
    expect(CATALOGUE.map((s) => s.op).filter((op) => hasOnnxEquivalent(op) && !used.has(op))).toEqual([]);
  });

  test.each(EXPORTABLE.map((f) => [name(f), f]))('%s: ONNX Runtime matches the engine to 1e-5 of max(1, the largest prediction)', async (_name, f) => {
    const r = await cli('export', f, '--weights', weightsOf(f), '--format', 'onnx', '--out', onnxOf(f), '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut(r) as { out: string; format: string; parity: { maxAbsDiff: number; rows: number; scale: number } };
    expect(Object.keys(out).sort()).toEqual(['format', 'out', 'parity']);
    expect(out.out).toBe(onnxOf(f));
    expect(out.format).toBe('onnx');
    const rows = new Session(parseProject(readFileSync(f, 'utf8'), f), { baseDir: dirname(f) }).dataset.rows;
    expect(out.parity.rows).toBe(Math.min(256, rows));
    // (float32 rounding grows with the values: nucleus-area's predictions are areas in the thousands)
    expect(out.parity.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE * Math.max(1, out.parity.scale));
    parities.set(f, out.parity);
  });

  test('python3-onnx: the checker (full_check) and strict shape inference pass on every file; inputs, output and opset are as meant', () => {
    expect([...parities.keys()].sort()).toEqual([...EXPORTABLE].sort());
    const checked = pythonCheck(EXPORTABLE.map(onnxOf));
    for (const f of EXPORTABLE) {
      const c = checked.get(onnxOf(f))!;
      const p = readProject(f);
      const session = new Session(parseProject(readFileSync(f, 'utf8'), f), { baseDir: dirname(f) });
      const prediction = session.targets.prediction!;
      expect(c.ir_version, f).toBe(8);
      expect(c.opset, f).toEqual({ '': 17 });
      for (const i of c.inputs) {
        const input = p.graph.nodes.find((n) => n.id === i.name && n.op === 'input');
        expect(input, `${f}: graph input ${i.name} is an input node`).toBeDefined();
        expect(i, f).toEqual({ name: i.name, elem_type: 1, shape: ['N', ...((input!.attrs?.shape as number[] | undefined) ?? [])] });
      }
      const shape = analyzeProject(session.project).shapes[prediction].map((d) => d ?? 'N');
      expect(c.outputs, f).toEqual([{ name: prediction, elem_type: 1, shape }]);
      expect(c.inferred[prediction], f).toEqual(c.outputs[0].shape);
    }
    // the fixture that covers the catalogue uses every layer's ONNX op
    const ops = new Set(checked.get(onnxOf(join(FIXTURES, 'all-ops.bpstudio')))!.nodes.map((n) => n.op));
    for (const op of ['Conv', 'BatchNormalization', 'MaxPool', 'AveragePool', 'Gemm', 'MatMul', 'ReduceSum', 'ReduceMean', 'ReduceMax', 'Softmax', 'LogSoftmax', 'Concat', 'Reshape', 'Flatten', 'Transpose', 'Sub', 'Div']) {
      expect(ops, op).toContain(op);
    }
  });

  test.each(NOT_EXPORTABLE.map((f) => [name(f), f]))('%s has no prediction: an error that says so, and no file', async (_name, f) => {
    const w = join(tmp, `${name(f)}.init.safetensors`);
    expect((await cli('train', f, '--steps', '1', '--out', w)).code).toBe(0);
    const r = await cli('export', f, '--weights', w, '--format', 'onnx', '--out', join(tmp, 'nothing.onnx'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nothing to export: the project has no prediction node: set training\.prediction/);
    expect(readdirSync(tmp)).not.toContain('nothing.onnx');
  });
});

describe('export --format onnx, details', () => {
  test('the seed function with training.prediction set exports f(x1, x2) and matches on its one row', async () => {
    const p = readProject(join(EXAMPLES, 'seed-function.bpstudio'));
    const file = writeProject(tmp, 'seed-f', { ...p, training: { ...p.training, prediction: 'f' } });
    const w = join(tmp, 'seed-f.safetensors');
    expect((await cli('train', file, '--steps', '1', '--out', w)).code).toBe(0);
    const out = jsonOut(await cli('export', file, '--weights', w, '--format', 'onnx', '--out', join(tmp, 'seed-f.onnx'), '--json'));
    expect(out.parity).toEqual({ maxAbsDiff: expect.any(Number), rows: 1, scale: expect.any(Number) });
    expect((out.parity as { maxAbsDiff: number }).maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    const c = pythonCheck([join(tmp, 'seed-f.onnx')]).get(join(tmp, 'seed-f.onnx'))!;
    expect(c.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['x1', ['N']],
      ['x2', ['N']],
    ]);
    expect(c.nodes.map((n) => n.op)).toEqual(['Log', 'Mul', 'Sin', 'Add', 'Sub']);
  });

  test('--rows sets the parity check\'s rows; the human output says the parity', async () => {
    const iris = join(EXAMPLES, 'iris.bpstudio');
    const five = jsonOut(await cli('export', iris, '--weights', weightsOf(iris), '--format', 'onnx', '--out', join(tmp, 'iris5.onnx'), '--rows', '5', '--json'));
    expect((five.parity as { rows: number }).rows).toBe(5);
    const all = await cli('export', iris, '--weights', weightsOf(iris), '--format', 'onnx', '--out', join(tmp, 'iris-all.onnx'), '--rows', 'all');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^wrote .*iris-all\.onnx \(onnx\)\nparity: ONNX Runtime against the engine on the first 150 rows: max abs difference \d\.\d\de[-+]\d+ \(outputs up to [0-9.e+-]+\)\n$/);
    // the same model, whatever rows were checked
    expect(readFileSync(join(tmp, 'iris-all.onnx'))).toEqual(readFileSync(join(tmp, 'iris5.onnx')));
  });

  test('independently of the parity check: the digits model on raw CSV features against `bpstudio predict`', async () => {
    const digits = join(EXAMPLES, 'digits.bpstudio');
    const predicted = jsonOut(await cli('predict', digits, '--weights', weightsOf(digits), '--rows', '40', '--json')).outputs as number[][];
    const project = parseProject(readFileSync(digits, 'utf8'), digits);
    const ds = new Session(project, { baseDir: dirname(digits) }).dataset;
    const raw = new Feeder(project.graph.nodes, ds, ds.features).inputsOf(ds.features, 40);
    const model = { bytes: readFileSync(onnxOf(digits)), inputs: [{ id: 'pixels', shape: [64] }], output: { id: 'out', shape: [10] } };
    const onnx = await runOnnx(model, raw, 40);
    const diff = predicted.flat().reduce((m, v, i) => Math.max(m, Math.abs(v - onnx[i])), 0);
    expect(onnx.length).toBe(400);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  test('the real binary loads ONNX Runtime too', async () => {
    const spiral = join(EXAMPLES, 'spiral.bpstudio');
    const r = await bin(['export', spiral, '--weights', weightsOf(spiral), '--format', 'onnx', '--out', join(tmp, 'bin.onnx'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((jsonOut(r).parity as { maxAbsDiff: number }).maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('the engine host: export.onnx', () => {
  const base64Of = (path: string) => readFileSync(path).toString('base64');

  test('the current job\'s weights as the same .onnx bytes as the CLI writes, with the parity', async () => {
    const c = connect();
    const digits = join(EXAMPLES, 'digits.bpstudio');
    const project = readProject(digits);
    await c.ok<TrainJobInfo>({ type: 'weights.load', project, baseDir: EXAMPLES, base64: base64Of(weightsOf(digits)) });
    const r = await c.ok<OnnxExportInfo>({ type: 'export.onnx', project, baseDir: EXAMPLES });
    expect(Buffer.from(r.base64, 'base64')).toEqual(readFileSync(onnxOf(digits)));
    expect(r.parity).toEqual(parities.get(digits));
    const few = await c.ok<OnnxExportInfo>({ type: 'export.onnx', project, baseDir: EXAMPLES, rows: 3 });
    expect(few.parity.rows).toBe(3);
    await c.host.close();
  });

  test('errors: no job yet; a node without an ONNX equivalent (named); weights that no longer fit the graph', async () => {
    const c = connect();
    const lr = readProject(join(EXAMPLES, 'logistic-regression.bpstudio'));
    const none = await c.call({ type: 'export.onnx', project: lr });
    expect(none.ok).toBe(false);
    expect(none.error!.message).toMatch(/there is no training job/);

    await c.ok({ type: 'train.step', project: lr });
    const margin = await c.call({ type: 'export.onnx', project: { ...lr, training: { ...lr.training, prediction: 'margin' } } });
    expect(margin.ok).toBe(false);
    expect(margin.error!.message).toMatch(/node "y" \(label\) has no ONNX equivalent/);
    expect(margin.error!.where).toEqual({ node: 'y' });

    const edited = { ...lr, graph: { nodes: lr.graph.nodes.map((n) => (n.id === 'w' ? { ...n, attrs: { ...n.attrs, shape: [3] } } : n)) } };
    const misfit = await c.call({ type: 'export.onnx', project: edited });
    expect(misfit.ok).toBe(false);
    expect(misfit.error!.message).toMatch(/the weights do not fit this graph: w has shape \[2\]/);

    const fine = await c.ok<OnnxExportInfo>({ type: 'export.onnx', project: lr });
    expect(fine.parity.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    expect(decodeWeights((await c.ok<{ base64: string }>({ type: 'weights.export' })).base64).w.shape).toEqual([2]);
    await c.host.close();
  });
});
