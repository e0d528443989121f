import { describe, expect, it } from 'vitest';
import type { Project } from '../../engine/io/project';
import { Session } from '../../engine/train/session';
import { StudioError } from '../../engine/util/errors';

const base = { format: 'backprop-studio/project', version: 1 } as const;

function project(nodes: Project['graph']['nodes'], data: Project['data'], training: Project['training'] = {}): Project {
  return { ...base, name: 'test', graph: { nodes }, data, training: { batchSize: 16, epochs: 3, seed: 3, ...training } };
}

const mlp = (extra: Project['graph']['nodes'], from: string) => [
  { id: 'x', op: 'input', attrs: { shape: [2] } },
  { id: 'y', op: 'label' },
  { id: 'h', op: 'dense', attrs: { units: 8, activation: 'tanh' }, inputs: { x: 'x' } },
  ...extra,
  { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: from } },
  { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
];
const moons = { kind: 'builtin', name: 'moons', samples: 200, noise: 0.1 } as const;

describe('training session', () => {
  it('stops on a NaN and names the node that produced it', async () => {
    const p = project(
      [
        { id: 'x', op: 'input', attrs: { feature: 'x' } },
        { id: 'w', op: 'parameter', attrs: { shape: [], init: 'ones' } },
        { id: 'wx', op: 'mul', inputs: { a: 'x', b: 'w' } },
        { id: 'log', op: 'ln', inputs: { x: 'wx' } },
        { id: 'obj', op: 'square', inputs: { x: 'log' } },
      ],
      { kind: 'inline', columns: { x: [2, 3, -1, 4] }, validation: 0, shuffle: false },
      { batchSize: 4, objective: 'obj' },
    );
    const s = new Session(p, { baseDir: '.' });
    const err = await s.train().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StudioError);
    expect((err as StudioError).where.node).toBe('log');
    expect((err as StudioError).message).toMatch(/step 1.*NaN.*"log" \(ln\)/);
    // the update that would have spread the NaN did not run
    expect((await s.backend.readTensor('w'))[0]).toBe(1);
  });

  it('trains the same way twice from the same seed, bit for bit, with dropout on', async () => {
    const p = project(mlp([{ id: 'drop', op: 'dropout', attrs: { rate: 0.5 }, inputs: { x: 'h' } }], 'drop'), moons);
    const weights = async () => {
      const s = new Session(p, { baseDir: '.' });
      await s.train();
      return s.weights();
    };
    const [a, b] = [await weights(), await weights()];
    for (const k of Object.keys(a)) expect([...a[k].data]).toEqual([...b[k].data]);
    const other = new Session(p, { baseDir: '.', seed: 4 });
    await other.train();
    expect([...(await other.weights())['h.weight'].data]).not.toEqual([...a['h.weight'].data]);
  });

  it('uses dropout only while training: predictions are deterministic', async () => {
    const p = project(mlp([{ id: 'drop', op: 'dropout', attrs: { rate: 0.9 }, inputs: { x: 'h' } }], 'drop'), moons);
    const s = new Session(p, { baseDir: '.' });
    const rows = [0, 1, 2, 3];
    const [p1, p2] = [await s.predict(rows), await s.predict(rows)];
    expect(p1.map((r) => [...r])).toEqual(p2.map((r) => [...r]));
    const e1 = await s.evaluate(s.split.validation);
    expect(await s.evaluate(s.split.validation)).toEqual(e1);
  });

  it('updates batchnorm running statistics while training and uses them for inference', async () => {
    const p = project(mlp([{ id: 'bn', op: 'batchnorm', inputs: { x: 'h' } }], 'bn'), moons);
    const s = new Session(p, { baseDir: '.' });
    const before = await s.weights();
    expect([...before['bn.running_mean'].data]).toEqual(new Array(8).fill(0));
    await s.train({ epochs: 1 });
    const after = await s.weights();
    expect([...after['bn.running_mean'].data].some((v) => v !== 0)).toBe(true);
    expect([...after['bn.running_var'].data].some((v) => v !== 1)).toBe(true);
    // inference reads the running statistics: one row alone predicts what it predicts within a batch
    const alone = await s.predict([5]);
    const inBatch = await s.predict([3, 4, 5]);
    [...alone[0]].forEach((v, i) => expect(inBatch[2][i]).toBeCloseTo(v, 6));
  });

  it('reports per-layer gradient norms equal to the norm over the layer tensors', async () => {
    const p = project(mlp([], 'h'), moons);
    const s = new Session(p, { baseDir: '.' });
    const r = await s.trainStep(s.split.train.subarray(0, 16));
    const expected = Math.hypot(r.tensorNorms['h.weight'], r.tensorNorms['h.bias']);
    expect(r.layerNorms.h).toBeCloseTo(expected, 6);
    expect(Object.keys(r.layerNorms)).toEqual(['h', 'out']);
    expect(r.count).toBe(16);
    expect(r.correct).toBeGreaterThanOrEqual(0);
  });
});
