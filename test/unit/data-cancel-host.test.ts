/**
 * `cancel` through the engine host's protocol (in this process): a data.inspect or data.preview of a big CSV file
 * stops reading between two chunks with a `canceled` reply, and the host reads the same file correctly afterwards;
 * a preview whose read another request shares stops waiting, and the read goes on for the other.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES } from '../../engine/data/csv-source';
import { DataLoads } from '../../engine/host/inspect';
import { CanceledError } from '../../engine/util/cancel';
import type { CsvInspectionInfo, DataPreview, EngineEvent, EngineReply } from '../../engine/protocol/messages';
import { connect, type Connection } from './host-harness';

const dir = mkdtempSync(join(tmpdir(), 'bpstudio-cancel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// About 8 MB: eight chunks or more, each one a progress event when nothing stops the read.
const ROWS = 140_000;
const header = `${Array.from({ length: 10 }, (_, c) => `f${c}`).join(',')},label\n`;
const row = Array.from({ length: 10 }, (_, c) => (c * 1.125).toFixed(3)).join(',');
writeFileSync(join(dir, 'big.csv'), header + `${row},a\n${row},b\n`.repeat(ROWS / 2));
const SIZE = statSync(join(dir, 'big.csv')).size;

const project = {
  format: 'backprop-studio/project',
  version: 1,
  name: 'big',
  graph: { nodes: [{ id: 'in', op: 'input', attrs: { shape: [10] } }] },
  data: { kind: 'csv' as const, path: 'big.csv', label: 'label' },
};

type Progress = Extract<EngineEvent, { event: 'data.progress' }>;
const progressOf = (c: Connection, requestId: number): Progress[] =>
  c.of('data.progress').filter((e) => e.requestId === requestId);

/** Sends `request` (the connection's first), and `cancel` for it at its first progress: its reply, and the cancel's. */
async function canceledOnProgress(c: Connection, request: Record<string, unknown>): Promise<{ reply: EngineReply; canceled: unknown }> {
  const pending = c.call(request);
  const requestId = (await c.waitFor('data.progress')).requestId;
  const canceled = await c.ok({ type: 'cancel', request: requestId });
  return { reply: await pending, canceled };
}

describe('cancel', () => {
  it('stops a data.inspect between chunks, and the host inspects the same file in full afterwards', async () => {
    expect(SIZE).toBeGreaterThan(7 * CHUNK_BYTES);
    const c = connect();
    const { reply, canceled } = await canceledOnProgress(c, { type: 'data.inspect', path: 'big.csv', baseDir: dir });
    expect(canceled).toEqual({ canceled: true });
    expect(reply).toMatchObject({ ok: false, error: { message: 'canceled', where: { file: 'big.csv' } } });
    const stopped = progressOf(c, reply.id);
    expect(stopped.length).toBeLessThan(3);
    expect(stopped.at(-1)!.bytes).toBeLessThan(SIZE);

    const again = await c.call({ type: 'data.inspect', path: 'big.csv', baseDir: dir });
    expect(again.ok).toBe(true);
    expect(again.result as CsvInspectionInfo).toMatchObject({ bytes: SIZE, rows: ROWS, malformedCount: 0 });
    expect(progressOf(c, again.id).at(-1)).toMatchObject({ bytes: SIZE, total: SIZE });
  });

  it('stops a data.preview that no other request waits for, and the next preview reads the file afresh', async () => {
    const c = connect();
    const { reply, canceled } = await canceledOnProgress(c, { type: 'data.preview', project, baseDir: dir });
    expect(canceled).toEqual({ canceled: true });
    expect(reply).toMatchObject({ ok: false, error: { message: 'canceled', where: { file: 'big.csv' } } });
    expect(progressOf(c, reply.id).length).toBeLessThan(3);

    const again = await c.call({ type: 'data.preview', project, baseDir: dir });
    expect(again.ok).toBe(true);
    expect((again.result as DataPreview).rows).toBe(ROWS);
    expect(progressOf(c, again.id)[0].bytes).toBeLessThanOrEqual(CHUNK_BYTES);
    expect(progressOf(c, again.id).at(-1)).toMatchObject({ bytes: 2 * SIZE, total: 2 * SIZE });
  });

  it('a preview that shares its read with another stops waiting; the read goes on for the other', async () => {
    const c = connect();
    const shared = { ...project, data: { ...project.data, validation: 0.1 } };
    const first = c.call({ type: 'data.preview', project: shared, baseDir: dir });
    const progress = await c.waitFor('data.progress');
    const second = c.call({ type: 'data.preview', project: shared, baseDir: dir });
    expect(await c.ok({ type: 'cancel', request: progress.requestId })).toEqual({ canceled: true });
    expect(await first).toMatchObject({ ok: false, error: { message: 'canceled' } });
    const other = await second;
    expect(other.ok).toBe(true);
    expect((other.result as DataPreview).rows).toBe(ROWS);
    expect(progressOf(c, other.id).at(-1)).toMatchObject({ bytes: 2 * SIZE, total: 2 * SIZE });
  });

  it("DataLoads: a canceled preview's own read stops; one that another request waits for goes on", async () => {
    const loads = new DataLoads();
    const read = () => (loads as unknown as { last: { dataset: Promise<unknown> } }).last.dataset;
    const alone = new AbortController();
    const heard: number[] = [];
    const canceled = loads.load(project.data, dir, 1, (bytes) => {
      heard.push(bytes);
      alone.abort();
    }, alone.signal);
    const first = read();
    await expect(canceled).rejects.toThrow(CanceledError);
    await expect(first).rejects.toThrow(CanceledError);
    expect(heard).toHaveLength(1);

    const stop = new AbortController();
    const waits = loads.load(project.data, dir, 1, () => stop.abort(), stop.signal);
    const other = loads.load(project.data, dir, 1, () => {});
    await expect(waits).rejects.toThrow(CanceledError);
    expect((await other).rows).toBe(ROWS);
  });

  it('leaves alone a request that is answered already, or one that it cannot stop', async () => {
    const c = connect();
    const done = await c.call({ type: 'data.inspect', path: 'big.csv', baseDir: dir });
    expect(done.ok).toBe(true);
    expect(await c.ok({ type: 'cancel', request: done.id })).toEqual({ canceled: false });
    expect(await c.ok({ type: 'cancel', request: 999 })).toEqual({ canceled: false });
  });
});
