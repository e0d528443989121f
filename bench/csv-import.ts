/**
 * Reading a 100 MB CSV in the engine host (issue 6: big files load with progress and without freezing): the import
 * wizard's inspection (one streamed pass) and the training load (two passes: types, then values), in MB/s, with the
 * longest the event loop was held while they ran (what decides whether the host answers other requests) and the
 * load's peak memory. The peer is the plain way to load a CSV in Node: the whole file read as one string, split into
 * lines and cells, every cell through Number().
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvFile, inspectCsv, loadCsv } from '../engine/data/csv-load';
import { Rng } from '../engine/util/rng';
import type { Bench } from './context';
import { emit, emitAgainst, note } from './report';

const TARGET_BYTES = 100e6;
const FEATURES = 12;

/** About 100 MB: twelve numeric columns (some cells missing), a categorical one, and a class label. */
function writeFile(path: string): number {
  const rng = new Rng(5, 3);
  const header = [...Array.from({ length: FEATURES }, (_, c) => `f${c}`), 'colour', 'label'].join(',');
  const rows: string[] = [];
  let bytes = header.length + 1;
  while (bytes < TARGET_BYTES) {
    const cells = Array.from({ length: FEATURES }, () => (rng.uniform() < 0.001 ? '' : rng.range(-100, 100).toFixed(4)));
    const row = `${cells.join(',')},${['red', 'green', 'blue'][rng.int(3)]},${rng.uniform() < 0.5 ? 'a' : 'b'}`;
    rows.push(row);
    bytes += row.length + 1;
  }
  writeFileSync(path, `${header}\n${rows.join('\n')}\n`);
  return rows.length;
}

/** The JavaScript heap and the ArrayBuffers: what a load allocates (rss lags and keeps what the allocator holds). */
const memory = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** Runs `work` while a 1 ms timer measures the longest gap between its ticks: how long the event loop was held. */
async function withStallMeter<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; maxStallMs: number; peakBytes: number }> {
  let last = performance.now();
  let maxStall = 0;
  global.gc?.();
  const base = memory();
  let peak = base;
  const timer = setInterval(() => {
    const now = performance.now();
    maxStall = Math.max(maxStall, now - last);
    last = now;
    peak = Math.max(peak, memory());
  }, 1);
  const t0 = performance.now();
  try {
    const result = await work();
    // a synchronous `work` holds the timer off: its memory is sampled once more at its end
    return { result, seconds: (performance.now() - t0) / 1000, maxStallMs: Math.max(maxStall, performance.now() - last), peakBytes: Math.max(peak, memory()) - base };
  } finally {
    clearInterval(timer);
  }
}

/** The peer: readFileSync, split, Number() (missing cells become NaN; no quoting, no checks). */
function naiveLoad(path: string): Float32Array {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  const out = new Float32Array((lines.length - 1) * FEATURES);
  for (let r = 1; r < lines.length; r++) {
    const cells = lines[r].split(',');
    for (let c = 0; c < FEATURES; c++) out[(r - 1) * FEATURES + c] = cells[c] === '' ? NaN : Number(cells[c]);
  }
  return out;
}

export const csvImport: Bench = {
  name: 'csv_import',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'bpstudio-bench-csv-'));
    try {
      const path = join(dir, 'big.csv');
      const rows = writeFile(path);
      const mb = statSync(path).size / 1e6;
      note(`csv_import: ${mb.toFixed(1)} MB, ${rows} rows`);
      const file = csvFile(path, dir);
      const spec = { kind: 'csv' as const, path, label: 'label', columns: { colour: { type: 'categorical' as const } }, missing: { policy: 'mean' as const } };

      const peer = await withStallMeter(async () => naiveLoad(path));
      const peerRate = mb / peer.seconds;
      const inspect = await withStallMeter(() => inspectCsv(file));
      emitAgainst({ bench: 'csv_inspect', value: mb / inspect.seconds, unit: 'MB/s', mb: Number(mb.toFixed(1)) }, [{ name: 'naive-split', value: peerRate }]);
      emit({ bench: 'csv_inspect_max_stall', value: inspect.maxStallMs, unit: 'ms', peer: 'naive-split', peerValue: peer.maxStallMs, ratio: inspect.maxStallMs / peer.maxStallMs });
      const load = await withStallMeter(() => loadCsv(file, spec, 1));
      emitAgainst({ bench: 'csv_load', value: mb / load.seconds, unit: 'MB/s', mb: Number(mb.toFixed(1)), rows: load.result.rows }, [{ name: 'naive-split', value: peerRate }]);
      emit({ bench: 'csv_load_max_stall', value: load.maxStallMs, unit: 'ms', peer: 'naive-split', peerValue: peer.maxStallMs, ratio: load.maxStallMs / peer.maxStallMs });
      emit({ bench: 'csv_load_peak_memory', value: load.peakBytes / 1e6, unit: 'MB', peer: 'naive-split', peerValue: peer.peakBytes / 1e6, ratio: load.peakBytes / peer.peakBytes });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
