/** data.inspect, and CSV data with the import's keys through the engine host's protocol (in this process). */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataLoads, progressEvents } from '../../engine/host/inspect';
import type { CsvInspectionInfo, DataPreview, EngineEvent, OnnxExportInfo, TrainJobInfo } from '../../engine/protocol/messages';
import { connect } from './host-harness';

const dir = mkdtempSync(join(tmpdir(), 'bpstudio-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 25 rows: x numeric (NA on line 4), color categorical, note text, y the label; line 7 has a cell too many.
const lines = Array.from({ length: 25 }, (_, i) => `${i === 2 ? 'NA' : i / 10},${['red', 'green', 'blue'][i % 3]},note ${i},${i % 2 ? 'yes' : 'no'}`);
lines.splice(5, 0, '1,red,extra,no,oops');
writeFileSync(join(dir, 'shop.csv'), `x,color,note,y\n${lines.join('\n')}\n`);

function project(data: Record<string, unknown>) {
  return {
    format: 'backprop-studio/project',
    version: 1,
    name: 'shop',
    graph: {
      nodes: [
        { id: 'in', op: 'input', attrs: { shape: [4], features: ['x', 'color'] } },
        { id: 'y', op: 'label', attrs: { kind: 'class' } },
        { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: 'in' } },
        { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
      ],
    },
    data: { kind: 'csv', path: 'shop.csv', label: 'y', validation: 0.2, ...data },
    training: { optimizer: { type: 'sgd', lr: 0.1 }, batchSize: 4, epochs: 2, seed: 1, backend: 'cpu' },
  };
}

const progressOf = (events: { event: EngineEvent }[], requestId: number) =>
  events.map((e) => e.event).filter((e): e is Extract<EngineEvent, { event: 'data.progress' }> => e.event === 'data.progress' && e.requestId === requestId);

describe('data.inspect', () => {
  it('describes the columns with their inferred types, lists the malformed rows by line, and reports progress', async () => {
    const c = connect();
    const reply = await c.call({ type: 'data.inspect', path: 'shop.csv', baseDir: dir });
    expect(reply.ok).toBe(true);
    const r = reply.result as CsvInspectionInfo;
    expect(r).toMatchObject({ file: 'shop.csv', rows: 25, header: ['x', 'color', 'note', 'y'], malformedCount: 1 });
    expect(r.malformed).toEqual([{ line: 7, message: '5 cells where the header has 4' }]);
    expect(r.columns.map((col) => [col.name, col.type, col.missing, col.distinct])).toEqual([
      ['x', 'numeric', 1, 24],
      ['color', 'categorical', 0, 3],
      ['note', 'text', 0, 25],
      ['y', 'categorical', 0, 2],
    ]);
    expect(r.columns[0]).toMatchObject({ min: 0, max: 2.4, examples: ['0', '0.1', '0.3'] });
    expect(r.columns[0].mean).toBeCloseTo((0 + 0.1 + 0.3 + 0.4 + 0.5 + 0.6 + 0.7 + 0.8 + 0.9 + 1 + 1.1 + 1.2 + 1.3 + 1.4 + 1.5 + 1.6 + 1.7 + 1.8 + 1.9 + 2 + 2.1 + 2.2 + 2.3 + 2.4) / 24, 6);
    expect(r.columns[1].categories).toEqual(['red', 'green', 'blue']);
    expect(r.columns[2].categories).toBeUndefined();
    expect(r.head).toHaveLength(20);
    expect(r.head[2]).toEqual(['NA', 'blue', 'note 2', 'no']);
    const progress = progressOf(c.events, reply.id);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ bytes: r.bytes, total: r.bytes });
  });

  it('a file that is not there, or a relative path without a folder, is an error naming it', async () => {
    const c = connect();
    const missing = await c.call({ type: 'data.inspect', path: 'nope.csv', baseDir: dir });
    expect(missing.error).toMatchObject({ message: expect.stringMatching(/file not found/), where: { file: 'nope.csv' } });
    const relative = await c.call({ type: 'data.inspect', path: 'shop.csv' });
    expect(relative.error).toMatchObject({ message: expect.stringMatching(/relative/), where: { file: 'shop.csv' } });
  });
});

describe('CSV data with the import keys', () => {
  const keys = { columns: { color: { type: 'categorical' } }, missing: { policy: 'mean' }, malformed: 'skip' };

  it('data.preview: encoded feature names, the dropped rows, and an input naming a source column', async () => {
    const c = connect();
    const p = await c.ok<DataPreview>({ type: 'data.preview', project: project(keys), baseDir: dir });
    expect(p.features).toEqual(['x', 'color=red', 'color=green', 'color=blue']);
    expect(p.dropped).toEqual({ missing: 0, malformed: 1 });
    expect(p.rows).toBe(25);
    expect(p.inputs).toEqual([{ id: 'in', features: ['x', 'color=red', 'color=green', 'color=blue'] }]);
    const dropped = await c.ok<DataPreview>({ type: 'data.preview', project: project({ ...keys, missing: { policy: 'drop' } }), baseDir: dir });
    expect(dropped.dropped).toEqual({ missing: 1, malformed: 1 });
  });

  it('train.start reads the file with progress under its request id, and trains on the encoded features', async () => {
    const c = connect();
    const reply = await c.call({ type: 'train.start', project: project(keys), baseDir: dir });
    expect(reply.ok).toBe(true);
    expect((reply.result as TrainJobInfo).trainRows).toBe(20);
    await c.waitFor('train.state', (e) => e.state === 'done');
    const progress = progressOf(c.events, reply.id);
    expect(progress.at(-1)!.bytes).toBe(progress.at(-1)!.total);
  });

  it('the last load is kept: the same data again is not read again, a changed file is', async () => {
    const path = join(dir, 'small.csv');
    writeFileSync(path, 'x,color,y\n1,red,no\n2,blue,yes\n');
    const small = { ...project(keys), data: { kind: 'csv', path: 'small.csv', label: 'y', validation: 0, ...keys } };
    const c = connect();
    const reads = async () => {
      const r = await c.call({ type: 'data.preview', project: small, baseDir: dir });
      expect(r.ok).toBe(true);
      return { preview: r.result as DataPreview, progress: progressOf(c.events, r.id).length };
    };
    const first = await reads();
    expect(first.progress).toBeGreaterThan(0);
    expect(await reads()).toEqual({ preview: first.preview, progress: 0 });
    writeFileSync(path, 'x,color,y\n1,red,no\n2,blue,yes\n3,red,no\n');
    const changed = await reads();
    expect(changed.progress).toBeGreaterThan(0);
    expect(changed.preview.rows).toBe(3);
  });

  it('export.onnx reads the data of its parity check streamed too, with progress under its request id', async () => {
    copyFileSync(join(dir, 'shop.csv'), join(dir, 'shop-copy.csv'));
    const c = connect();
    await c.ok({ type: 'train.step', project: project(keys), baseDir: dir });
    const copy = project({ ...keys, path: 'shop-copy.csv' });
    const reply = await c.call({ type: 'export.onnx', project: copy, baseDir: dir });
    expect(reply.ok, JSON.stringify(reply.error)).toBe(true);
    expect((reply.result as OnnxExportInfo).parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    const progress = progressOf(c.events, reply.id);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.bytes).toBe(progress.at(-1)!.total);
    await c.host.close();
  });

  it('a malformed row under the default policy is an error naming its line', async () => {
    const c = connect();
    const r = await c.call({ type: 'train.start', project: project({ ...keys, malformed: 'error' }), baseDir: dir });
    expect(r.error).toMatchObject({ message: '5 cells where the header has 4', where: { file: 'shop.csv', row: 7 } });
  });
});

describe('DataLoads', () => {
  it('keeps no progress listener of a request that the kept load answers', async () => {
    writeFileSync(join(dir, 'kept.csv'), 'x,y\n1,0\n2,1\n');
    const loads = new DataLoads();
    const data = { kind: 'csv' as const, path: 'kept.csv', label: 'y' };
    const heard: number[] = [];
    await loads.load(data, dir, 1, (bytes) => heard.push(bytes));
    expect(heard.length).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) await loads.load(data, dir, 1, () => {});
    expect((loads as unknown as { last: { listeners: Set<unknown> } }).last.listeners.size).toBe(0);
  });
});

describe('progressEvents', () => {
  it('the first at once, then at most one per 100 ms, and always the last', () => {
    let t = 0;
    const sent: number[] = [];
    const report = progressEvents(7, (e) => sent.push(e.event === 'data.progress' ? e.bytes : -1), () => t);
    for (const [at, bytes] of [[0, 1], [50, 2], [99, 3], [100, 4], [150, 5], [160, 10]]) {
      t = at;
      report(bytes, 10);
    }
    expect(sent).toEqual([1, 4, 10]);
  });
});
