/**
 * `data.standardizeLabel` (docs/format-extensions.md, "Standardised labels"): a `real` label fed standardised with
 * the training part's statistics, the prediction given back in the label's units, the statistics saved with the
 * weights and taken from them.
 */
import { describe, expect, it } from 'vitest';
import { matchWeights } from '../../engine/io/weights-match';
import type { Project, ProjectNode } from '../../engine/io/project';
import { Session } from '../../engine/train/session';

/** y = 100 x + 1000 (and 3 more), rows in file order: training is the first six, validation the last two. */
const X = [0, 1, 2, 3, 4, 5, 6, 7];
const Y = [1000, 1100, 1200, 1300, 1400, 1500, 5000, 9000];

const regression = (label: ProjectNode['attrs'] = { kind: 'real' }): ProjectNode[] => [
  { id: 'x', op: 'input', attrs: { feature: 'x' } },
  { id: 'y', op: 'label', attrs: label },
  { id: 'out', op: 'dense', attrs: { units: 1 }, inputs: { x: 'x' } },
  { id: 'loss', op: 'mse', inputs: { pred: 'out', target: 'y' } },
];

function project(nodes: ProjectNode[], data: Record<string, unknown> = {}): Project {
  return {
    format: 'backprop-studio/project',
    version: 1,
    name: 'label standardisation',
    graph: { nodes: nodes.map((n) => (n.id === 'x' ? { ...n, attrs: { ...n.attrs, shape: [1] } } : n)) },
    data: { kind: 'inline', columns: { x: X, y: Y }, label: 'y', validation: 0.25, shuffle: false, standardizeLabel: true, ...data } as Project['data'],
    training: { batchSize: 8, epochs: 2, seed: 2 },
  };
}

// the training part's mean and population standard deviation, by hand
const MEAN = 1250;
const STD = Math.sqrt((250 ** 2 + 150 ** 2 + 50 ** 2) * 2 / 6);

describe('a standardised real label', () => {
  it('is fed (y - mean) / std with the training part statistics (not the validation rows)', () => {
    const s = new Session(project(regression()), { baseDir: '.' });
    expect(s.labelScale!.id).toBe('y');
    expect(s.labelScale!.mean).toBeCloseTo(MEAN, 3);
    expect(s.labelScale!.std).toBeCloseTo(STD, 3);
    const fed = s.batch([0, 5, 7]).get('y')!;
    expect([...fed].map((v) => +v.toFixed(4))).toEqual([(1000 - MEAN) / STD, (1500 - MEAN) / STD, (9000 - MEAN) / STD].map((v) => +v.toFixed(4)));
    // the inputs are not touched by it
    expect([...s.batch([7]).get('x')!]).toEqual([7]);
  });

  it('gives predictions back in the label units: the same weights predict std * p + mean', async () => {
    const on = new Session(project(regression()), { baseDir: '.' });
    const off = new Session(project(regression(), { standardizeLabel: false }), { baseDir: '.' });
    expect(off.labelScale).toBeUndefined();
    const rows = [0, 3, 7];
    const raw = (await off.predict(rows)).map((r) => r[0]);
    const scaled = (await on.predict(rows)).map((r) => r[0]);
    scaled.forEach((v, i) => expect(v).toBeCloseTo(raw[i] * STD + MEAN, 2));
    const features = Float32Array.from([0, 3, 7]);
    const curve = await on.predictFeatures(features, 3);
    [...curve].forEach((v, i) => expect(v).toBeCloseTo(scaled[i], 3));
  });

  it('is what the objective is computed on', async () => {
    const on = new Session(project(regression()), { baseDir: '.' });
    const off = new Session(project(regression(), { standardizeLabel: false }), { baseDir: '.' });
    const rows = [0, 1, 2, 3, 4, 5];
    const p = (await off.predict(rows)).map((r) => r[0]);
    const mse = (ys: number[]) => ys.reduce((a, y, i) => a + (p[i] - y) ** 2, 0) / ys.length;
    expect((await off.evaluate(rows)).objective).toBeCloseTo(mse(Y.slice(0, 6)), 0);
    expect((await on.evaluate(rows)).objective).toBeCloseTo(mse(Y.slice(0, 6).map((y) => (y - MEAN) / STD)), 4);
  });

  it("reports a regression's RMSE in the label's units, the same with and without the standardisation", async () => {
    const on = new Session(project(regression()), { baseDir: '.' });
    const off = new Session(project(regression(), { standardizeLabel: false }), { baseDir: '.', weights: await on.weights() });
    expect([on.hasRmse, off.hasRmse]).toEqual([true, true]);
    const rows = [0, 1, 2, 3, 4, 5, 6, 7];
    const p = (await on.predict(rows)).map((r) => r[0]);
    const rmse = Math.sqrt(Y.reduce((a, y, i) => a + (p[i] - y) ** 2, 0) / Y.length);
    expect((await on.evaluate(rows)).rmse).toBeCloseTo(rmse, 2);
    // the same weights without the standardisation predict in other units: their error is their own
    const q = (await off.predict(rows)).map((r) => r[0]);
    expect((await off.evaluate(rows)).rmse).toBeCloseTo(Math.sqrt(Y.reduce((a, y, i) => a + (q[i] - y) ** 2, 0) / Y.length), 2);
    // a step's squared error, and an epoch's RMSE over its examples
    const step = await on.trainStep([0, 1, 2]);
    const want = [0, 1, 2].reduce((a, i) => a + (p[i] - Y[i]) ** 2, 0);
    expect(Math.abs(step.sqerr! - want) / want).toBeLessThan(1e-5);
    const epochs: number[] = [];
    await new Session(project(regression()), { baseDir: '.' }).train({ epochs: 1, onEpoch: (e) => epochs.push(e.rmse!, e.valRmse!) });
    expect(epochs.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  });

  it('saves its statistics with the weights, in the label shape, and a run from them uses them', async () => {
    const nodes = regression({ kind: 'real', shape: [1] });
    const trained = new Session(project(nodes), { baseDir: '.' });
    await trained.train();
    const w = await trained.weights();
    expect(w['data.y.mean'].shape).toEqual([1]);
    expect(w['data.y.mean'].data[0]).toBe(Math.fround(trained.labelScale!.mean));
    expect(w['data.y.std'].data[0]).toBe(Math.fround(trained.labelScale!.std));
    expect(matchWeights(project(nodes).graph.nodes, w).matched).toEqual(['out.weight', 'out.bias', 'data.y.mean', 'data.y.std']);
    // another split would give other statistics; the weights' are the ones the network learnt with
    const again = new Session(project(nodes, { validation: 0 }), { baseDir: '.', weights: w });
    expect(again.labelScale).toEqual(trained.labelScale);
    expect(await again.predict([7])).toEqual(await trained.predict([7]));
    const fresh = new Session(project(nodes, { validation: 0 }), { baseDir: '.' });
    expect(fresh.labelScale!.mean).toBeCloseTo(Y.reduce((a, y) => a + y) / 8, 3);
  });

  it("notes weights whose statistics the project leaves unused (their predictions will be off), and only those", async () => {
    const nodes = regression();
    const w = await new Session(project(nodes, { standardize: true }), { baseDir: '.' }).weights();
    expect(Object.keys(w).filter((k) => k.startsWith('data.')).sort()).toEqual(['data.x.mean', 'data.x.std', 'data.y.mean', 'data.y.std']);
    const notes = (data: Record<string, unknown>) => new Session(project(nodes, data), { baseDir: '.', weights: w }).notes;
    expect(notes({ standardize: true })).toEqual([]);
    expect(notes({ standardize: false })).toEqual([expect.stringMatching(/statistics for x \(the features were standardised.*Standardise features/)]);
    expect(notes({ standardize: true, standardizeLabel: false })).toEqual([expect.stringMatching(/statistics for the label y .*Standardise label/)]);
    expect(notes({ standardize: false, standardizeLabel: false })).toHaveLength(2);
    // no weights, nothing to note
    expect(new Session(project(nodes, { standardize: false, standardizeLabel: false }), { baseDir: '.' }).notes).toEqual([]);
  });

  it.each([
    ['a class label', { kind: 'class' }, { y: [0, 1, 0, 1, 0, 1, 0, 1] }],
    ['a sign label', { kind: 'sign' }, { y: [-1, 1, -1, 1, -1, 1, -1, 1] }],
  ])('leaves %s as it is, and saves no statistics for it', async (_what, label, columns) => {
    const nodes: ProjectNode[] = [
      { id: 'x', op: 'input', attrs: { feature: 'x' } },
      { id: 'y', op: 'label', attrs: label },
      { id: 'out', op: 'dense', attrs: { units: 1 }, inputs: { x: 'x' } },
      { id: 'loss', op: label.kind === 'sign' ? 'hinge' : 'sigmoid_cross_entropy', inputs: label.kind === 'sign' ? { scores: 'out', labels: 'y' } : { logits: 'out', labels: 'y' } },
    ];
    const s = new Session(project(nodes, { columns: { x: X, ...columns } }), { baseDir: '.' });
    expect(s.labelScale).toBeUndefined();
    expect(s.hasRmse).toBe(false);
    expect([...s.batch([0, 1]).get('y')!]).toEqual(columns.y.slice(0, 2));
    expect(Object.keys(await s.weights())).toEqual(['out.weight', 'out.bias']);
  });
});
