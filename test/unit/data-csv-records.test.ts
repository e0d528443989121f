import { describe, expect, test } from 'vitest';
import { CsvRecordReader, type CsvRecord } from '../../engine/data/csv-records';
import { readRecords } from '../../engine/data/csv-source';

/** The records of `pieces` pushed one after another. */
function records(...pieces: string[]): CsvRecord[] {
  const out: CsvRecord[] = [];
  const reader = new CsvRecordReader((r) => out.push(r));
  for (const p of pieces) reader.push(p);
  reader.end();
  return out;
}

const TEXTS = [
  'a,b\r\n1,"x\r\ny"\r\n\r\n"say ""hi""",z\r\n3,w',
  '\uFEFFa,b\n"1,5",2\r3,4\r\n',
  'a,b\n1,"x"y,2\n"open\n',
  'a\n""\n\n"\r"\n',
];

describe('CsvRecordReader over chunks', () => {
  test.each(TEXTS)('%j: every split point gives the records of the whole text', (text) => {
    const whole = records(text);
    for (let at = 0; at <= text.length; at++) expect(records(text.slice(0, at), text.slice(at))).toEqual(whole);
    expect(records(...text.split(''))).toEqual(whole);
  });

  test('records, their lines, and problems kept on the record', () => {
    expect(records('a,b\n1,"x\ny"\n\n2,"q"tail\n"never\nclosed')).toEqual([
      { cells: ['a', 'b'], line: 1 },
      { cells: ['1', 'x\ny'], line: 2 },
      { cells: ['2', 'qtail'], line: 5, problem: { message: 'unexpected "t" after a closing quote', line: 5, cell: 1 } },
      { cells: ['never\nclosed'], line: 6, problem: { message: 'a quoted field opened on line 6 is never closed', line: 6, cell: 0 } },
    ]);
  });

  test('a CRLF split between chunks is one line break, in a record and in quotes', () => {
    expect(records('a\r', '\nb\r', '\n"x\r', '\ny"\r', '\nc')).toEqual([
      { cells: ['a'], line: 1 },
      { cells: ['b'], line: 2 },
      { cells: ['x\r\ny'], line: 3 },
      { cells: ['c'], line: 5 },
    ]);
  });
});

describe('readRecords', () => {
  test('a UTF-8 character split between byte chunks decodes whole', () => {
    const bytes = new TextEncoder().encode('name\nzoë\n');
    const got: string[][] = [];
    readRecords([bytes.subarray(0, 8), bytes.subarray(8)], { file: 'f.csv' }, (r) => got.push(r.cells));
    expect(got).toEqual([['name'], ['zoë']]);
  });

  test('bytes that are not UTF-8 name the file', () => {
    expect(() => readRecords([Uint8Array.of(0x61, 0x0a, 0xff)], { file: 'f.csv' }, () => {})).toThrow(
      expect.objectContaining({ name: 'StudioError', where: { file: 'f.csv' }, message: expect.stringMatching(/not UTF-8/) }),
    );
  });

  test('asynchronous chunks, with the bytes read after each', async () => {
    async function* chunks() {
      yield new TextEncoder().encode('a,b\n1,');
      yield new TextEncoder().encode('2\n');
    }
    const got: string[][] = [];
    const bytes: number[] = [];
    await readRecords(chunks(), { file: 'f.csv' }, (r) => got.push(r.cells), (n) => bytes.push(n));
    expect(got).toEqual([['a', 'b'], ['1', '2']]);
    expect(bytes).toEqual([6, 8]);
  });
});
