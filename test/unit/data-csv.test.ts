import { describe, expect, test } from 'vitest';
import { asClassIndices } from '../../engine/data/csv';
import { csvDataset, parseCsv } from './csv-text';
import type { Where } from '../../engine/util/errors';

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

describe('parseCsv', () => {
  test.each([
    ['plain', 'a,b\n1,2\n', [['a', 'b'], ['1', '2']]],
    ['no final line break', 'a,b\n1,2', [['a', 'b'], ['1', '2']]],
    ['CRLF', 'a,b\r\n1,2\r\n3,4\r\n', [['a', 'b'], ['1', '2'], ['3', '4']]],
    ['lone CR', 'a,b\r1,2\r', [['a', 'b'], ['1', '2']]],
    ['BOM', '\uFEFFa,b\n1,2\n', [['a', 'b'], ['1', '2']]],
    ['comma in quotes', 'a,b\n"1,5",2\n', [['a', 'b'], ['1,5', '2']]],
    ['escaped quote', 'a\n"say ""hi"""\n', [['a'], ['say "hi"']]],
    ['LF in quotes', 'a,b\n"x\ny",2\n', [['a', 'b'], ['x\ny', '2']]],
    ['CRLF in quotes', 'a,b\r\n"x\r\ny",2\r\n', [['a', 'b'], ['x\r\ny', '2']]],
    ['empty quoted field', 'a,b\n"",2\n', [['a', 'b'], ['', '2']]],
    ['empty fields', 'a,b,c\n,,\n', [['a', 'b', 'c'], ['', '', '']]],
    ['quote inside an unquoted field is literal', 'a\nx"y\n', [['a'], ['x"y']]],
    ['blank lines are skipped', 'a\n\n1\n\n\n2\n\n', [['a'], ['1'], ['2']]],
    ['a quoted empty line is a record', 'a\n""\n', [['a'], ['']]],
  ])('%s', (_, text, expected) => {
    const t = parseCsv(text);
    expect([t.header, ...t.rows]).toEqual(expected);
  });

  test('line numbers: records start where they start, blank lines and quoted breaks counted', () => {
    const t = parseCsv('a,b\n1,"x\ny"\n\n2,z\r\n3,w');
    expect(t.lines).toEqual([2, 5, 6]);
  });

  test.each([
    ['', /empty/, {}],
    ['\uFEFF', /empty/, {}],
    ['\n\n', /empty/, {}],
    ['a,b\n1,"oops\n2,3\n', /never closed/, { row: 2 }],
    ['a,b\n1,2\n"x"y,3\n', /after a closing quote/, { row: 3 }],
  ])('malformed %j', (text, message, where) => {
    expect(() => parseCsv(text, 'f.csv')).toThrow(studioError({ file: 'f.csv', ...where }, message));
  });
});

describe('csvDataset', () => {
  const iris = 'sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n4.9,1.5,setosa\n6.3,6.0,virginica\n';

  test('features default to every column but the label; classes in order of first appearance', () => {
    const d = csvDataset(iris, { label: 'species' }, 'iris.csv');
    expect(d.name).toBe('iris.csv');
    expect(d.rows).toBe(4);
    expect(d.featureNames).toEqual(['sepal', 'petal']);
    expect(Array.from(d.features)).toEqual(Array.from(Float32Array.of(5.1, 1.4, 7.0, 4.7, 4.9, 1.5, 6.3, 6.0)));
    expect(d.label).toEqual({ name: 'species', kind: 'class', values: Float32Array.of(0, 1, 0, 2), classes: ['setosa', 'versicolor', 'virginica'] });
  });

  test('spec.classes sets the class order', () => {
    const d = csvDataset(iris, { label: 'species', classes: ['virginica', 'versicolor', 'setosa'] }, 'iris.csv');
    expect(Array.from(d.label!.values)).toEqual([2, 1, 2, 0]);
    expect(d.label!.classes).toEqual(['virginica', 'versicolor', 'setosa']);
  });

  test('spec.classes: a value not listed names its line and column', () => {
    expect(() => csvDataset(iris, { label: 'species', classes: ['setosa', 'versicolor'] }, 'iris.csv')).toThrow(
      studioError({ file: 'iris.csv', row: 5, column: 'species' }, /"virginica" is not one of the classes setosa, versicolor/),
    );
  });

  test('explicit features, in the order given', () => {
    const d = csvDataset(iris, { label: 'species', features: ['petal', 'sepal'] }, 'iris.csv');
    expect(d.featureNames).toEqual(['petal', 'sepal']);
    expect(d.features[0]).toBeCloseTo(1.4);
  });

  test('no label: every column is a feature', () => {
    const d = csvDataset('x,y\n1,2\n3,4\n', {}, 'f.csv');
    expect(d.featureNames).toEqual(['x', 'y']);
    expect(d.label).toBeUndefined();
  });

  test('a numeric label is real, trimmed header names and cells', () => {
    const d = csvDataset(' x , y \n 1 ,2.5\n-3e2, 0 \n', { label: 'y' }, 'f.csv');
    expect(d.featureNames).toEqual(['x']);
    expect(Array.from(d.features)).toEqual([1, -300]);
    expect(d.label).toEqual({ name: 'y', kind: 'real', values: Float32Array.of(2.5, 0) });
  });

  test.each(['1', '-1', '+2.5', '.5', '3.', '1e3', '1E-3', '-2.5e+2'])('number %j is accepted', (cell) => {
    expect(csvDataset(`x\n${cell}\n`, {}, 'f.csv').features[0]).toBe(Math.fround(Number(cell)));
  });

  test.each([
    ['abc', /"abc" is not a number/],
    ['"1,2"', /"1,2" is not a number/],
    ['0x10', /not a number/],
    ['NaN', /not a number/],
    ['Infinity', /not a number/],
    ['1e999', /not a number/],
    ['1.2.3', /not a number/],
    ['""', /the cell is empty/],
  ])('feature cell %s is an error naming line and column', (cell, message) => {
    const text = `a,b,label\n1,2,x\n3,${cell},y\n`;
    expect(() => csvDataset(text, { label: 'label' }, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 3, column: 'b' }, message));
  });

  test('the reported line counts lines, not records', () => {
    const text = 'note,x\n"two\nlines",1\n"ok",oops\n';
    expect(() => csvDataset(text, { features: ['x'] }, 'f.csv')).toThrow(studioError({ file: 'f.csv', row: 4, column: 'x' }));
  });

  test.each([
    ['empty file', '', {}, /empty/, {}],
    ['header only', 'a,b\n', {}, /no data rows/, { row: 1 }],
    ['ragged row', 'a,b\n1,2\n3\n4,5\n', {}, /1 cell where the header has 2/, { row: 3 }],
    ['too many cells', 'a,b\n1,2,3\n', {}, /3 cells where the header has 2/, { row: 2 }],
    ['unknown label', 'a,b\n1,2\n', { label: 'c' }, /no column "c" for the label; the columns are a, b/, { column: 'c', path: 'data.label' }],
    ['unknown feature', 'a,b\n1,2\n', { features: ['a', 'z'] }, /no column "z".*a, b/, { column: 'z', path: 'data.features' }],
    ['label as a feature', 'a,b\n1,2\n', { label: 'b', features: ['a', 'b'] }, /is the label/, { path: 'data.features' }],
    ['no features', 'a\n1\n', { label: 'a' }, /no feature columns/, { path: 'data.features' }],
    ['duplicate column', 'a,a\n1,2\n', {}, /twice/, { row: 1, column: 'a' }],
    ['empty label cell', 'a,b\n1,x\n2,\n', { label: 'b' }, /label is empty/, { row: 3, column: 'b' }],
    ['duplicate in classes', 'a,b\n1,x\n', { label: 'b', classes: ['x', 'x'] }, /twice/, { path: 'data.classes' }],
  ])('%s', (_, text, spec, message, where) => {
    expect(() => csvDataset(text, spec, 'f.csv')).toThrow(studioError({ file: 'f.csv', ...where }, message));
  });
});

describe('asClassIndices', () => {
  const real = (...values: number[]) => ({ name: 'digit', kind: 'real' as const, values: Float32Array.from(values) });

  test('integers 0..K-1 become classes "0".."K-1", K = max + 1', () => {
    expect(asClassIndices(real(2, 0, 1, 2))).toEqual({ name: 'digit', kind: 'class', values: Float32Array.of(2, 0, 1, 2), classes: ['0', '1', '2'] });
  });

  test('classCount sets K', () => {
    expect(asClassIndices(real(0, 1), {}, 4).classes).toEqual(['0', '1', '2', '3']);
  });

  test('a class label is returned unchanged', () => {
    const label = { name: 'y', kind: 'class' as const, values: Float32Array.of(0), classes: ['a'] };
    expect(asClassIndices(label)).toBe(label);
  });

  test.each([
    [[0, 1.5, -1], {}, undefined, { row: 2 }, /1.5 is not a class index/],
    [[0, 1, -1], {}, undefined, { row: 3 }, /-1 is not a class index/],
    [[0, 1, 3], { file: 'd.csv', row: 2 }, 3, { file: 'd.csv', row: 4 }, /3 is not a class index \(a whole number from 0 to 2\)/],
  ])('%j is refused, naming the first bad row', (values, where, classCount, expected, message) => {
    expect(() => asClassIndices(real(...values), where, classCount)).toThrow(studioError({ ...expected, column: 'digit' }, message));
  });
});
