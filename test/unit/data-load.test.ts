import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { asClassIndices } from '../../engine/data/csv';
import { inlineDataset } from '../../engine/data/inline';
import { loadDataset } from '../../engine/data/load';
import type { DataSpec } from '../../engine/data/types';
import type { Where } from '../../engine/util/errors';

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

describe('inlineDataset', () => {
  test('columns in written order, the label apart', () => {
    expect(inlineDataset({ columns: { x1: [2, 3], y: [1, 0], x2: [5, 6] }, label: 'y' })).toEqual({
      name: 'inline data',
      rows: 2,
      featureNames: ['x1', 'x2'],
      features: Float32Array.of(2, 5, 3, 6),
      label: { name: 'y', kind: 'real', values: Float32Array.of(1, 0) },
    });
  });

  test('no label', () => {
    const d = inlineDataset({ columns: { x1: [2], x2: [5] } });
    expect(d.label).toBeUndefined();
    expect(Array.from(d.features)).toEqual([2, 5]);
  });

  test.each([
    [{ columns: { a: [1, 2], b: [1, 2, 3] } }, /column has 3 values, column "a" has 2/, { column: 'b', path: 'data.columns.b' }],
    [{ columns: { a: [1, 'x'] } }, /"x" is not a number/, { column: 'a', row: 2, path: 'data.columns.a' }],
    [{ columns: { a: [1, null] } }, /null is not a number/, { column: 'a', row: 2, path: 'data.columns.a' }],
    [{ columns: { a: 3 } }, /array of numbers/, { column: 'a', path: 'data.columns.a' }],
    [{ columns: {} }, /no columns/, { path: 'data.columns' }],
    [{ columns: [] }, /object/, { path: 'data.columns' }],
    [{ columns: { a: [] } }, /empty/, { path: 'data.columns' }],
    [{ columns: { a: [1] }, label: 'b' }, /no column "b" for the label; the columns are a/, { column: 'b', path: 'data.label' }],
    [{ columns: { a: [1] }, label: 'a' }, /no feature columns/, { path: 'data.columns' }],
  ])('%j is refused', (spec, message, where) => {
    expect(() => inlineDataset(spec as never)).toThrow(studioError(where, message));
  });
});

describe('loadDataset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpstudio-load-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'small.csv'), 'a,b,c\n1,2,x\n3,4,y\n');

  test('dispatches on kind', () => {
    const opts = { baseDir: dir, seed: 1 };
    expect(loadDataset({ kind: 'builtin', name: 'moons', samples: 10 }, opts).rows).toBe(10);
    expect(loadDataset({ kind: 'inline', columns: { x: [1, 2, 3] } }, opts).rows).toBe(3);
    const csv = loadDataset({ kind: 'csv', path: 'small.csv', label: 'c' }, opts);
    expect(csv.name).toBe('small.csv');
    expect(csv.label!.classes).toEqual(['x', 'y']);
  });

  test('builtins take the seed from the options', () => {
    const spec: DataSpec = { kind: 'builtin', name: 'spiral' };
    expect(loadDataset(spec, { baseDir: dir, seed: 1 })).toEqual(loadDataset(spec, { baseDir: '/elsewhere', seed: 1 }));
    expect(loadDataset(spec, { baseDir: dir, seed: 1 }).features).not.toEqual(loadDataset(spec, { baseDir: dir, seed: 2 }).features);
  });

  test('paths resolve against baseDir; absolute paths stay; readFile can be replaced', () => {
    const seen: string[] = [];
    const readFile = (path: string) => {
      seen.push(path);
      return new TextEncoder().encode('x\n1\n');
    };
    loadDataset({ kind: 'csv', path: 'sub/f.csv' }, { baseDir: '/proj', seed: 1, readFile });
    loadDataset({ kind: 'csv', path: '/abs/g.csv' }, { baseDir: '/proj', seed: 1, readFile });
    expect(seen).toEqual([resolve('/proj/sub/f.csv'), resolve('/abs/g.csv')]);
  });

  test('idx images and labels', () => {
    const files: Record<string, Uint8Array> = {
      [resolve('/p/img')]: Uint8Array.of(0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 7, 9),
      [resolve('/p/lab')]: Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 2, 1, 0),
    };
    const d = loadDataset({ kind: 'idx', images: 'img', labels: 'lab' }, { baseDir: '/p', seed: 1, readFile: (p) => files[p] });
    expect(d.rows).toBe(2);
    expect(Array.from(d.label!.values)).toEqual([1, 0]);
  });

  test.each([
    [{ kind: 'csv', path: 'missing.csv' }, /file not found: .*missing\.csv/, { file: 'missing.csv', path: 'data.path' }],
    [{ kind: 'idx', images: 'small.csv', labels: 'nope' }, /file not found/, { file: 'nope', path: 'data.labels' }],
    [{ kind: 'csv', path: '.' }, /cannot read the file/, { file: '.', path: 'data.path' }],
    [{ kind: 'csv', path: 7 }, /path must be a file path/, { path: 'data.path' }],
    [{ kind: 'parquet' }, /unknown data kind "parquet"; the kinds are builtin, csv, idx, inline/, { path: 'data.kind' }],
  ])('%j is refused', (spec, message, where) => {
    expect(() => loadDataset(spec as never, { baseDir: dir, seed: 1 })).toThrow(studioError(where, message));
  });

  test('a file that is not UTF-8 text', () => {
    const readFile = () => Uint8Array.of(0x61, 0x0a, 0xff, 0xfe);
    expect(() => loadDataset({ kind: 'csv', path: 'bin.csv' }, { baseDir: dir, seed: 1, readFile })).toThrow(
      studioError({ file: 'bin.csv' }, /not UTF-8/),
    );
  });
});

describe('the example datasets', () => {
  const baseDir = fileURLToPath(new URL('../../examples/data', import.meta.url));
  // file, label, rows, features, classes (undefined: read as class indices)
  test.each([
    ['digits.csv', 'digit', 1797, 64, undefined],
    ['iris.csv', 'species', 150, 4, ['setosa', 'versicolor', 'virginica']],
    ['breast_cancer.csv', 'diagnosis', 569, 30, ['malignant', 'benign']],
    ['wine.csv', 'cultivar', 178, 13, ['class_0', 'class_1', 'class_2']],
  ])('%s', (path, label, rows, featureCount, classes) => {
    const d = loadDataset({ kind: 'csv', path, label }, { baseDir, seed: 1 });
    expect(d.rows).toBe(rows);
    expect(d.featureNames).toHaveLength(featureCount);
    expect(d.features).toHaveLength(rows * featureCount);
    expect(d.features.every(Number.isFinite)).toBe(true);
    const classLabel = classes ? d.label! : asClassIndices(d.label!, { file: path, row: 2 });
    expect(classLabel.kind).toBe('class');
    expect(classLabel.classes).toEqual(classes ?? ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});
