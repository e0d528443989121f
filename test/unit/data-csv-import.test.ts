/** The CSV import's keys (docs/format-extensions.md, "CSV data"): types, encodings, missing values, malformed rows. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { csvDataset } from './csv-text';
import { CHUNK_BYTES, memoryChunks, readRecords } from '../../engine/data/csv-source';
import { loadDataset } from '../../engine/data/load';
import { CsvEncoder, expandFeatureNames, planOf, scanRules, type CsvLoadSpec } from '../../engine/data/csv-encode';
import { CsvScan, inferType } from '../../engine/data/csv-scan';
import { splitRows } from '../../engine/data/split';
import type { Where } from '../../engine/util/errors';

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

const rowsOf = (features: Float32Array, width: number) =>
  Array.from({ length: features.length / width }, (_, r) => Array.from(features.subarray(r * width, (r + 1) * width)));

describe('inferType', () => {
  // nonNumbers, distinct, rows -> type
  test.each([
    [0, 5000, 5000, 'numeric'],
    [1, 20, 20, 'categorical'],
    [1, 21, 100, 'text'],
    [1, 50, 1000, 'categorical'],
    [1, 51, 1000, 'text'],
    [1, 1000, 100_000, 'categorical'],
    [1, 1001, 100_000, 'text'],
  ] as const)('%i non-numbers, %i distinct, %i rows: %s', (nonNumbers, distinct, rows, type) => {
    expect(inferType({ nonNumbers, distinct }, rows)).toBe(type);
  });
});

describe('types and encodings', () => {
  const shop = 'size,color,note,price\n1,red,first,10\n2,blue,second,20\n3,red,third,30\n';

  test('a categorical column is one-hot by default (categories in order of first appearance); text is not a feature', () => {
    const notes = Array.from({ length: 25 }, (_, i) => `${i},${['red', 'blue'][i % 2]},note ${i},${i}`).join('\n');
    const d = csvDataset(`size,color,note,price\n${notes}\n`, { label: 'price', columns: {} }, 'f.csv');
    expect(d.featureNames).toEqual(['size', 'color=red', 'color=blue']);
    expect(d.featureGroups).toEqual({ color: ['color=red', 'color=blue'] });
    expect(rowsOf(d.features, 3).slice(0, 2)).toEqual([
      [0, 1, 0],
      [1, 0, 1],
    ]);
    expect(d.dropped).toEqual({ missing: 0, malformed: 0 });
  });

  test('index encoding, given categories, and a numeric column read as categorical', () => {
    const spec: CsvLoadSpec = {
      label: 'price',
      features: ['color', 'size'],
      columns: { color: { type: 'categorical', encoding: 'index', categories: ['blue', 'red'] }, size: { type: 'categorical' } },
    };
    const d = csvDataset(shop, spec, 'f.csv');
    expect(d.featureNames).toEqual(['color', 'size=1', 'size=2', 'size=3']);
    expect(rowsOf(d.features, 4)).toEqual([
      [1, 1, 0, 0],
      [0, 0, 1, 0],
      [1, 0, 0, 1],
    ]);
  });

  test('a value outside the given categories names its line and column', () => {
    const spec: CsvLoadSpec = { label: 'price', features: ['color'], columns: { color: { type: 'categorical', categories: ['red'] } } };
    expect(() => csvDataset(shop, spec, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 3, column: 'color' }, /"blue" is not one of the categories of column "color" \(red\)/));
  });

  test.each([
    ['a text column as a feature', { features: ['note'], columns: {} }, /column "note" holds text/, { column: 'note', path: 'data.features' }],
    ['an override of a column that is not there', { columns: { nope: { type: 'numeric' } } }, /no column "nope"/, { column: 'nope', path: 'data.columns.nope' }],
    ['a feature listed twice', { features: ['size', 'color', 'size'], columns: {} }, /data.features lists column "size" twice/, { column: 'size', path: 'data.features' }],
    ['categories given twice', { features: ['color'], columns: { color: { type: 'categorical', categories: ['red', 'red'] } } }, /twice/, { column: 'color', path: 'data.columns.color.categories' }],
  ] as [string, CsvLoadSpec, RegExp, Where][])('%s is an error', (_, spec, message, where) => {
    const notes = Array.from({ length: 30 }, (_, i) => `${i},red,note ${i},${i}`).join('\n');
    expect(() => csvDataset(`size,color,note,price\n${notes}\n`, { label: 'price', ...spec }, 'f.csv')).toThrow(studioError({ file: 'f.csv', ...where }, message));
  });

  test('a label column typed categorical is a class label even when it holds numbers', () => {
    const d = csvDataset('x,y\n1,3\n2,1\n3,3\n', { label: 'y', columns: { y: { type: 'categorical' } } }, 'f.csv');
    expect(d.label).toEqual({ name: 'y', kind: 'class', values: Float32Array.of(0, 1, 0), classes: ['3', '1'] });
  });

  test('an input naming a one-hot source column stands for all its features', () => {
    const ds = { featureGroups: { color: ['color=red', 'color=blue'] } };
    expect(expandFeatureNames(['size', 'color'], ds)).toEqual(['size', 'color=red', 'color=blue']);
    expect(expandFeatureNames(['color=blue'], ds)).toEqual(['color=blue']);
    expect(expandFeatureNames(['a'], {})).toEqual(['a']);
  });
});

describe('missing values', () => {
  // x: numeric with a gap on line 3 ("NA"); c: categorical with a gap on line 5 (empty); y the label.
  const text = 'x,c,y\n1,a,0\nNA,b,1\n3,a,0\n5,,1\n7,b,0\n';

  test('error (the default) names line and column', () => {
    expect(() => csvDataset(text, { label: 'y', missing: { policy: 'error' } }, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 3, column: 'x' }, /"NA" is not a number but a missing value/));
  });

  test('drop: the rows go, and are counted', () => {
    const d = csvDataset(text, { label: 'y', missing: { policy: 'drop' } }, 'f.csv');
    expect(d.rows).toBe(3);
    expect(rowsOf(d.features, 3)).toEqual([
      [1, 1, 0],
      [3, 1, 0],
      [7, 0, 1],
    ]);
    expect(d.dropped).toEqual({ missing: 2, malformed: 0 });
  });

  test('constant: the value, and a "(missing)" category', () => {
    const d = csvDataset(text, { label: 'y', missing: { policy: 'constant', value: -1 } }, 'f.csv');
    expect(d.featureNames).toEqual(['x', 'c=a', 'c=b', 'c=(missing)']);
    expect(rowsOf(d.features, 4)[1]).toEqual([-1, 0, 1, 0]);
    expect(rowsOf(d.features, 4)[3]).toEqual([5, 0, 0, 1]);
  });

  test('mean: the mean (numeric) or most frequent category (categorical) of the training rows only', () => {
    const spec: CsvLoadSpec = { label: 'y', missing: { policy: 'mean' }, validation: 0.4, shuffle: false };
    const { train } = splitRows(5, spec, 1);
    expect(Array.from(train)).toEqual([0, 1, 2]);
    const d = csvDataset(text, spec, 'f.csv');
    const rows = rowsOf(d.features, 3);
    expect(rows[1][0]).toBe(2); // (1 + 3) / 2, not counting 5 and 7 of the validation rows
    expect(rows[3]).toEqual([5, 1, 0]); // a: twice in the training rows, b once
    // With the shuffle, the training rows (and so the mean) follow the seed, as training's split does.
    const shuffled = { ...spec, shuffle: true };
    const s3 = splitRows(5, shuffled, 3).train;
    const xs = [1, NaN, 3, 5, 7].filter((v, r) => Array.from(s3).includes(r) && !Number.isNaN(v));
    expect(rowsOf(csvDataset(text, shuffled, 'f.csv', 3).features, 3)[1][0]).toBeCloseTo(xs.reduce((a, v) => a + v, 0) / xs.length, 5);
  });

  test('a missing label is an error unless the policy is drop', () => {
    const t = 'x,y\n1,a\n2,NA\n3,b\n';
    expect(() => csvDataset(t, { label: 'y', missing: { policy: 'mean' } }, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 3, column: 'y' }, /the label "NA" is a missing value/));
    expect(csvDataset(t, { label: 'y', missing: { policy: 'drop' } }, 'f.csv').label?.classes).toEqual(['a', 'b']);
  });

  test('without the import keys, NA is a class of a label and not a number in a feature (as before)', () => {
    expect(csvDataset('x,y\n1,NA\n2,b\n', { label: 'y' }, 'f.csv').label?.classes).toEqual(['NA', 'b']);
    expect(() => csvDataset('x,y\nNA,a\n', { label: 'y' }, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 2, column: 'x' }, /"NA" is not a number/));
  });

  test('constant without a value, where a numeric feature has a gap', () => {
    expect(() => csvDataset(text, { label: 'y', missing: { policy: 'constant' } }, 'f.csv')).toThrow(studioError({ file: 'f.csv', path: 'data.missing.value' }, /needs a value/));
  });
});

describe('malformed rows', () => {
  // line 3: one cell short; line 4: text after a closing quote; line 6: text in the numeric column x.
  const text = 'x,c,y\n1,a,0\n2,b\n"3"z,a,1\n4,b,0\nfour,a,1\n5,b,1\n';
  const spec: CsvLoadSpec = { label: 'y', columns: { x: { type: 'numeric' } } };

  test('error (the default) names the first by line', () => {
    expect(() => csvDataset(text, spec, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 3 }, /2 cells where the header has 3/));
    expect(() => csvDataset(text.replace('2,b\n', '2,b,1\n'), spec, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 4, column: 'x' }, /after a closing quote/));
  });

  test('skip: the rows go, and are counted', () => {
    const d = csvDataset(text, { ...spec, malformed: 'skip' }, 'f.csv');
    expect(d.rows).toBe(3);
    expect(rowsOf(d.features, 3).map((r) => r[0])).toEqual([1, 4, 5]);
    expect(d.dropped).toEqual({ missing: 0, malformed: 3 });
  });

  test('text in a column typed numeric names line and column', () => {
    const clean = 'x,c,y\n1,a,0\nfour,a,1\n';
    expect(() => csvDataset(clean, spec, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 3, column: 'x' }, /"four" is not a number/));
  });

  test('every row dropped is an error that says why', () => {
    expect(() => csvDataset('x,y\n1\n2\n', { label: 'y', malformed: 'skip' }, 'f.csv')).toThrow(studioError({ file: 'f.csv' }, /all 2 data rows were dropped \(0 with missing values, 2 malformed\)/));
  });
});

test('a file of several chunks, with quoted line breaks across their edges, loads streamed row for row', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpstudio-csv-chunks-'));
  try {
    const rows: string[] = [];
    for (let i = 0, bytes = 0; bytes < 3 * CHUNK_BYTES; i++) {
      const row = `${i},"line ${i}\nand ""more""",${['a', 'b', 'c'][i % 3]}`;
      rows.push(row);
      bytes += row.length + 1;
    }
    writeFileSync(join(dir, 'big.csv'), `i,note,y\n${rows.join('\n')}\n`);
    const d = loadDataset({ kind: 'csv', path: 'big.csv', label: 'y', features: ['i'] }, { baseDir: dir, seed: 1 });
    expect(d.rows).toBe(rows.length);
    expect(d.features.every((v, r) => v === r)).toBe(true);
    expect(d.label!.values.every((v, r) => v === r % 3)).toBe(true);
    // a bad cell far into the file still names its line: each record takes two lines, after the header's one
    const bad = rows.map((r, i) => (i === rows.length - 5 ? r.replace(/^\d+/, 'x') : r));
    writeFileSync(join(dir, 'bad.csv'), `i,note,y\n${bad.join('\n')}\n`);
    expect(() => loadDataset({ kind: 'csv', path: 'bad.csv', label: 'y', features: ['i'] }, { baseDir: dir, seed: 1 })).toThrow(
      studioError({ file: 'bad.csv', row: 2 + 2 * (rows.length - 5), column: 'i' }, /"x" is not a number/),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('a file that changes between the two reads', () => {
  test('more rows on the second read than on the first is an error naming the file, not a dataset with rows it lacks', () => {
    const spec: CsvLoadSpec = { label: 'y', validation: 0 };
    const where = { file: 'f.csv' };
    const bytes = (text: string) => new TextEncoder().encode(text);
    const scan = new CsvScan(where, scanRules(spec));
    readRecords(memoryChunks(bytes('x,y\n1,0\n2,1\n')), where, scan.add);
    const encoder = new CsvEncoder(planOf(spec, scan, 'f.csv'), 'f.csv');
    expect(() => readRecords(memoryChunks(bytes('x,y\n1,0\n2,1\n3,0\n')), where, encoder.add)).toThrow(
      studioError({ file: 'f.csv', row: 4 }, /changed while it was read/),
    );
  });
});
