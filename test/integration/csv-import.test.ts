/**
 * CSV import end to end: `bpstudio` check/train/eval on a project that uses the import's keys (types, one-hot,
 * missing values, malformed rows), the bad files of test/fixtures/bad named by line and column, and a ~100 MB file
 * inspected by the real engine host child process, streamed, with progress and while it answers other requests.
 */
import { fork } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { engineEvent, engineReply, engineResults, isEngineEvent, type CsvInspectionInfo, type EngineEvent, type EngineReply } from '../../engine/protocol/messages';
import { BAD, cli, EXAMPLES, jsonLines, jsonOut, REPO, STACK_TRACE, writeProject } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'bpstudio-csv-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Iris with a categorical `site` column, a few NA cells, a text `note` column and a malformed row: line 12 opens a
 * quote that the `"note` of line 13 closes, so the record spans both lines, with text after its closing quote.
 */
function irisWithGaps(): string {
  const [header, ...rows] = readFileSync(join(EXAMPLES, 'data', 'iris.csv'), 'utf8').trim().split('\n');
  const out = rows.map((row, i) => {
    const cells = row.split(',');
    if (i % 17 === 3) cells[1] = 'NA';
    return [...cells.slice(0, 4), ['north', 'south', 'east'][i % 3], `"note, ${i}"`, cells[4]].join(',');
  });
  out.splice(10, 0, '5.0,3.1,"1.5,0.2,north,oops,setosa');
  const cols = header.split(',');
  return [[...cols.slice(0, 4), 'site', 'note', cols[4]].join(','), ...out].join('\n') + '\n';
}

function irisProject(data: Record<string, unknown>) {
  return {
    format: 'backprop-studio/project',
    version: 1,
    name: 'Iris with gaps',
    graph: {
      nodes: [
        { id: 'm', op: 'input', attrs: { shape: [7], features: ['sepal_length_cm', 'sepal_width_cm', 'petal_length_cm', 'petal_width_cm', 'site'] } },
        { id: 'y', op: 'label', attrs: { kind: 'class' } },
        { id: 'h', op: 'dense', attrs: { units: 16, activation: 'relu' }, inputs: { x: 'm' } },
        { id: 'out', op: 'dense', attrs: { units: 3 }, inputs: { x: 'h' } },
        { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
      ],
    },
    data: { kind: 'csv', path: 'iris-gaps.csv', label: 'species', standardize: true, ...data },
    training: { optimizer: { type: 'adam', lr: 0.02 }, batchSize: 16, epochs: 40, seed: 3, backend: 'cpu' },
  };
}

describe('bpstudio on a CSV project with the import keys', () => {
  writeFileSync(join(dir, 'iris-gaps.csv'), irisWithGaps());
  const keys = { columns: { site: { type: 'categorical' } }, missing: { policy: 'mean' }, malformed: 'skip' };
  const file = writeProject(dir, 'iris-gaps', irisProject(keys));

  test('check, train, and eval on the remaining rows (the malformed record skipped), the same on a reopen', async () => {
    expect(jsonOut(await cli('check', file, '--json'))).toMatchObject({ ok: true, shapes: { m: [null, 7] } });
    const weights = join(dir, 'iris-gaps.safetensors');
    const train = await cli('train', file, '--json', '--out', weights);
    expect(train.code).toBe(0);
    const epochs = jsonLines(train.stdout).filter((l) => 'epoch' in l);
    expect(epochs.at(-1)!.accuracy).toBeGreaterThan(0.9);
    // the skipped record is said on stderr, not dropped silently
    expect(train.stderr).toContain("data: 1 of the file's rows left out (0 with missing values, 1 malformed)");
    const first = jsonOut(await cli('eval', file, '--weights', weights, '--json'));
    expect(first.rows).toBe(149);
    expect(first.accuracy).toBeGreaterThan(0.9);
    expect(jsonOut(await cli('eval', file, '--weights', weights, '--json'))).toEqual(first);
  });

  test.each([
    ['the malformed row under the default policy', { ...keys, malformed: undefined }, ['iris-gaps.csv', 'row 13', /after a closing quote \(the quoted field opened on line 12\)/]],
    ['a NA under the default missing policy', { ...keys, missing: undefined }, ['iris-gaps.csv', 'row 5', 'column "sepal_width_cm"', '"NA"']],
    ['the text column as a feature', { ...keys, features: ['note'] }, ['iris-gaps.csv', 'column "note"', /holds text/]],
  ])('%s: exit 1, naming where', async (_, data, wanted) => {
    const bad = writeProject(dir, 'iris-bad', irisProject(data));
    const r = await cli('train', bad, '--out', join(dir, 'never.safetensors'));
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    for (const w of wanted) expect(r.stderr).toMatch(w);
  });
});

const FIXTURES: [string, (string | RegExp)[]][] = [
  ['csv-broken-quote.bpstudio', ['broken-quote.csv', 'row 4, column "color"', /after a closing quote/]],
  ['csv-unclosed-quote.bpstudio', ['unclosed-quote.csv', 'row 4', /opened on line 4 is never closed/]],
  ['csv-ragged.bpstudio', ['ragged.csv', 'row 3', /2 cells where the header has 3/]],
  ['csv-missing-value.bpstudio', ['missing-value.csv', 'row 6, column "x"', /"NA" is not a number but a missing value/]],
  ['csv-unknown-category.bpstudio', ['unknown-category.csv', 'row 3, column "color"', /"green" is not one of the categories/]],
  ['csv-text-in-numeric.bpstudio', ['text-in-numeric.csv', 'row 4, column "x"', /"three" is not a number/]],
];

describe.each(FIXTURES)('test/fixtures/bad/%s', (fixture, wanted) => {
  test.each(['train', 'grad'])('%s: exit 1, names the file, line and column, no crash', async (cmd) => {
    const argv = cmd === 'train' ? ['train', join(BAD, fixture), '--out', join(dir, 'never.safetensors')] : [cmd, join(BAD, fixture)];
    const r = await cli(...argv);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    for (const w of wanted) expect(r.stderr).toMatch(w);
  });
});

/** Writes about `mb` MB of CSV rows (4 numeric columns, a categorical one, a label); returns the row count. */
async function writeBigCsv(path: string, mb: number): Promise<number> {
  const out = createWriteStream(path);
  out.write('a,b,c,d,color,y\n');
  const colors = ['red', 'green', 'blue'];
  let written = 0;
  let i = 0;
  while (written < mb * 1e6) {
    const lines: string[] = [];
    for (let k = 0; k < 20_000; k++, i++) lines.push(`${(i * 0.37) % 17},${((i * 1.13) % 5) - 2.5},${i % 1000},${(i % 7919) / 7919},${colors[i % 3]},${i % 2}`);
    const chunk = lines.join('\n') + '\n';
    written += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  return i;
}

test('a ~100 MB CSV is inspected by the host child streamed: progress events, and other requests answered meanwhile', async () => {
  const path = join(dir, 'big.csv');
  const rows = await writeBigCsv(path, 100);
  const size = statSync(path).size;
  const child = fork(join(REPO, 'engine', 'host', 'main.ts'), [], { execArgv: ['--import', 'tsx'], cwd: REPO, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  try {
    const events: EngineEvent[] = [];
    const replies = new Map<number, (r: EngineReply) => void>();
    const order: string[] = [];
    child.on('message', (raw: unknown) => {
      if (isEngineEvent(raw)) {
        events.push(engineEvent(raw));
        return;
      }
      const r = engineReply(raw);
      replies.get(r.id)?.(r);
    });
    const send = (id: number, request: Record<string, unknown>) =>
      new Promise<EngineReply>((done) => {
        replies.set(id, (r) => {
          order.push(String(request.type));
          if (r.ok) (engineResults[request.type as keyof typeof engineResults] as (v: unknown, p?: string) => unknown)(r.result, String(request.type));
          done(r);
        });
        child.send({ ...request, id });
      });

    const inspecting = send(1, { type: 'data.inspect', path });
    // once the reading is under way, another request is answered before it ends
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (events.some((e) => e.event === 'data.progress')) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    const backends = await send(2, { type: 'backends' });
    expect(backends.ok).toBe(true);
    const inspected = await inspecting;
    expect(order).toEqual(['backends', 'data.inspect']);
    const r = inspected.result as CsvInspectionInfo;
    expect(r).toMatchObject({ bytes: size, header: ['a', 'b', 'c', 'd', 'color', 'y'], malformedCount: 0 });
    expect(r.rows).toBe(rows);
    expect(r.columns.map((c) => c.type)).toEqual(['numeric', 'numeric', 'numeric', 'numeric', 'categorical', 'numeric']);
    const progress = events.filter((e): e is Extract<EngineEvent, { event: 'data.progress' }> => e.event === 'data.progress' && e.requestId === 1);
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress.every((e, i) => e.total === size && (i === 0 || e.bytes > progress[i - 1].bytes))).toBe(true);
    expect(progress.at(-1)!.bytes).toBe(size);
  } finally {
    child.kill();
    rmSync(path, { force: true });
  }
}, 60_000);
