/**
 * Weights round trips with PyTorch (test/fixtures/torch/roundtrip, made by make_fixtures.py with Debian's
 * python3-torch: `npm run fixtures`).
 *
 * from-torch: weights trained in PyTorch by hand-written modules and saved as their state_dict (batchnorm's
 * num_batches_tracked included) load into the matching project, which then predicts what PyTorch predicted.
 * to-torch: the PyTorch code the engine generates, run on the engine's exported weights, predicted and scored what
 * the engine does; and the generator still writes that code byte for byte (a change to it means regenerating).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights } from '../../engine/host/weights';
import { parseProject } from '../../engine/io/project';
import { pytorchCode } from '../../engine/io/pytorch-code';
import { readSafetensors } from '../../engine/io/safetensors';
import type { PytorchExport, TrainJobInfo, WeightsExport } from '../../engine/protocol/messages';
import { connect } from '../unit/host-harness';
import { cli, jsonOut, REPO } from './helpers';

interface RoundTrip {
  project: string;
  weights: string;
  rows: number;
  outputs: number[][];
  /** to-torch: the generated code's objective on the rows, and the code's path. */
  objective?: number;
  code?: string;
}

const DIR = join(REPO, 'test/fixtures/torch/roundtrip');
const fixtures = (kind: 'from-torch' | 'to-torch'): [string, RoundTrip][] =>
  readdirSync(join(DIR, kind))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(DIR, kind, f), 'utf8')) as RoundTrip]);

/** Within 1e-5 of the expected values, relative to the largest magnitude (at least 1), as the parity tests compare. */
function expectClose(actual: number[][], expected: number[][], what: string): void {
  expect(actual.map((r) => r.length), `${what}: shape`).toEqual(expected.map((r) => r.length));
  const scale = Math.max(1, ...expected.flat().map(Math.abs));
  const worst = Math.max(...actual.flatMap((r, i) => r.map((v, j) => Math.abs(v - expected[i][j]))));
  expect(worst / scale, `${what}: largest difference relative to ${scale}`).toBeLessThan(1e-5);
}

async function predict(f: RoundTrip, ...extra: string[]): Promise<number[][]> {
  const r = await cli('predict', join(REPO, f.project), '--weights', join(REPO, f.weights), '--rows', String(f.rows), '--json', ...extra);
  expect(r.code, r.stderr).toBe(0);
  return jsonOut(r).outputs as number[][];
}

const projectText = (f: RoundTrip) => readFileSync(join(REPO, f.project), 'utf8');

describe('weights trained in PyTorch', () => {
  it('cover the example MLPs and a conv net with batchnorm, pooling and dropout', () => {
    expect(fixtures('from-torch').map(([n]) => n)).toEqual(['digits-convnet', 'digits', 'iris']);
  });

  describe.each(fixtures('from-torch'))('%s', (_name, f) => {
    it("load by name and give PyTorch's predictions to 1e-5", async () => {
      expectClose(await predict(f), f.outputs, 'predictions');
    });

    it('fit the project exactly through the host (its error would list the problems)', async () => {
      const c = connect();
      const { tensors } = readSafetensors(readFileSync(join(REPO, f.weights)));
      const base64 = encodeWeights(tensors, 'from torch').base64;
      const info = await c.ok<TrainJobInfo>({ type: 'weights.load', project: JSON.parse(projectText(f)), baseDir: join(REPO, f.project, '..'), base64 });
      expect(info.weightsReport).toBeUndefined();
      await c.host.close();
    });
  });
});

describe('the generated PyTorch code', () => {
  it('is made for the iris example, the conv net, a graph of every primitive and a standardised real label', () => {
    expect(fixtures('to-torch').map(([n]) => n)).toEqual(['digits-convnet', 'iris', 'nucleus-area', 'primitives']);
  });

  describe.each(fixtures('to-torch'))('%s', (_name, f) => {
    it('is what the generator writes today (else regenerate: npm run fixtures)', () => {
      const project = parseProject(projectText(f), f.project);
      expect(pytorchCode(project)).toBe(readFileSync(join(REPO, f.code!), 'utf8'));
    });

    it("run by PyTorch on the engine's weights, gave the engine's predictions and objective to 1e-5", async () => {
      expectClose(await predict(f), f.outputs, 'predictions');
      const r = await cli('eval', join(REPO, f.project), '--weights', join(REPO, f.weights), '--rows', String(f.rows), '--json');
      expect(r.code, r.stderr).toBe(0);
      const objective = jsonOut(r).objective as number;
      expect(Math.abs(objective - f.objective!) / Math.max(1, Math.abs(f.objective!))).toBeLessThan(1e-5);
    });
  });
});

describe('bpstudio export --format pytorch', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'bpstudio-pytorch-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const [, iris] = fixtures('to-torch').find(([n]) => n === 'iris')!;

  it('writes the generated module', async () => {
    const out = join(tmp, 'iris.py');
    const r = await cli('export', join(REPO, iris.project), '--weights', join(REPO, iris.weights), '--format', 'pytorch', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOut(r)).toEqual({ out, format: 'pytorch' });
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(REPO, iris.code!), 'utf8'));
  });

  it('refuses weights that the generated loader would refuse, naming them', async () => {
    const [, torch] = fixtures('from-torch').find(([n]) => n === 'digits')!;
    const r = await cli('export', join(REPO, iris.project), '--weights', join(REPO, torch.weights), '--format', 'pytorch', '--out', join(tmp, 'x.py'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/h1\.weight has shape \[64, 64\] in the file, the graph needs \[16, 4\]/);
  });
});

describe('loading weights partially', () => {
  const [, digits] = fixtures('from-torch').find(([n]) => n === 'digits')!;
  /** The digits example with a wider output layer: out.weight and out.bias no longer fit. */
  const wider = () => {
    const p = JSON.parse(readFileSync(join(REPO, digits.project), 'utf8'));
    p.graph.nodes.find((n: { id: string }) => n.id === 'out').attrs.units = 12;
    return p;
  };
  const tmp = mkdtempSync(join(tmpdir(), 'bpstudio-partial-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('is an error by default that lists the mis-shaped tensors, with the report on the host reply', async () => {
    const c = connect();
    const base64 = encodeWeights(readSafetensors(readFileSync(join(REPO, digits.weights))).tensors, 'digits').base64;
    const r = await c.call({ type: 'weights.load', project: wider(), baseDir: join(REPO, 'examples'), base64 });
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/out\.weight has shape \[10, 64\] in the file, the graph needs \[12, 64\]/);
    expect(r.error?.weightsReport?.misshaped).toEqual([
      { name: 'out.weight', expected: [12, 64], found: [10, 64] },
      { name: 'out.bias', expected: [12], found: [10] },
    ]);
    await c.host.close();
  });

  it('with partial, loads what fits and keeps the seeded values of the rest (host and CLI)', async () => {
    const c = connect();
    const file = readSafetensors(readFileSync(join(REPO, digits.weights))).tensors;
    const base64 = encodeWeights(file, 'digits').base64;
    const info = await c.ok<TrainJobInfo>({ type: 'weights.load', project: wider(), baseDir: join(REPO, 'examples'), base64, partial: true });
    expect(info.weightsReport).toEqual({
      matched: ['h1.weight', 'h1.bias', 'data.pixels.mean', 'data.pixels.std'],
      missing: [],
      unexpected: [],
      misshaped: [
        { name: 'out.weight', expected: [12, 64], found: [10, 64] },
        { name: 'out.bias', expected: [12], found: [10] },
      ],
    });
    const loaded = decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64);
    expect(loaded['h1.weight'].data).toEqual(file['h1.weight'].data);
    expect(loaded['out.bias'].data).toEqual(new Float32Array(12));
    await c.host.close();

    const project = join(tmp, 'digits-wider.bpstudio');
    const p = wider();
    p.data.path = join(REPO, 'examples/data/digits.csv');
    writeFileSync(project, JSON.stringify(p));
    const strict = await cli('predict', project, '--weights', join(REPO, digits.weights), '--rows', '2');
    expect(strict.code).toBe(1);
    const partial = await cli('predict', project, '--weights', join(REPO, digits.weights), '--rows', '2', '--partial-weights', '--json');
    expect(partial.code, partial.stderr).toBe(0);
    expect((jsonOut(partial).outputs as number[][]).map((r) => r.length)).toEqual([12, 12]);
    expect(partial.stderr).toBe(
      'weights: 4 tensors loaded\n' +
        '  mis-shaped out.weight: [10, 64] in the file, [12, 64] in the graph: keeps its initial value\n' +
        '  mis-shaped out.bias: [10] in the file, [12] in the graph: keeps its initial value\n',
    );
  });

  it('needs --weights, and is not for export', async () => {
    expect((await cli('predict', join(REPO, digits.project), '--partial-weights')).code).toBe(2);
    const r = await cli('export', join(REPO, digits.project), '--weights', join(REPO, digits.weights), '--partial-weights', '--format', 'json', '--out', join(tmp, 'x.json'));
    expect(r.code).toBe(2);
  });
});

describe('export.pytorch through the host', () => {
  it('replies with the source and a file name from the project name', async () => {
    const c = connect();
    const [, iris] = fixtures('to-torch').find(([n]) => n === 'iris')!;
    const r = await c.ok<PytorchExport>({ type: 'export.pytorch', project: JSON.parse(projectText(iris)) });
    expect(r).toEqual({ text: readFileSync(join(REPO, iris.code!), 'utf8'), fileName: 'iris_species.py' });
    const bad = await c.call({ type: 'export.pytorch', project: { ...JSON.parse(projectText(iris)), training: { prediction: 'nope' } } });
    expect(bad.error?.message).toMatch(/training\.prediction names "nope"/);
    await c.host.close();
  });
});
