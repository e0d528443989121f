/**
 * The first look at a CSV file (read once, streamed): its header, the rows that are malformed, and per column the
 * counts that type inference needs. `data.inspect` replies with it, and loading a file (csv-encode.ts) starts with
 * it, so the wizard's proposal and the loader infer the same types.
 */
import { StudioError, type Where } from '../util/errors';
import { isMissing, isNumber } from './csv-cells';
import type { CsvRecord } from './csv-records';
import type { CsvColumnType } from './types';

/** Distinct values are counted up to this many per column (a column with more reports DISTINCT_CAP + 1). */
export const DISTINCT_CAP = 10_000;
export const HEAD_ROWS = 20;
export const MALFORMED_LISTED = 100;
const EXAMPLES = 3;

export interface CsvMalformed {
  /** 1-based line of the file. */
  line: number;
  column?: string;
  message: string;
}

export interface CsvColumnInfo {
  name: string;
  type: CsvColumnType;
  /** Missing cells (empty, NA, N/A, NaN, null, ?). */
  missing: number;
  /** Distinct non-missing values (counted up to DISTINCT_CAP + 1). */
  distinct: number;
  /** Categorical columns: all the categories, in order of first appearance. */
  categories?: string[];
  /** Numeric columns with a value: the range and mean of the values. */
  min?: number;
  max?: number;
  mean?: number;
  /** Up to 3 distinct values, in order of first appearance. */
  examples: string[];
}

/** What data.inspect replies (`csvInspection` in engine/protocol/messages.ts). */
export interface CsvInspection {
  file: string;
  bytes: number;
  /** Well-formed data rows. */
  rows: number;
  header: string[];
  columns: CsvColumnInfo[];
  /** The first MALFORMED_LISTED malformed rows, in file order. */
  malformed: CsvMalformed[];
  malformedCount: number;
  /** The first HEAD_ROWS well-formed rows, their cells as read. */
  head: string[][];
}

/**
 * A categorical column has at most max(20, 5% of the rows) distinct values, and never more than 1000; a column that
 * is not numeric and has more is text.
 */
export function inferType(c: { nonNumbers: number; distinct: number }, rows: number): CsvColumnType {
  if (c.nonNumbers === 0) return 'numeric';
  return c.distinct <= Math.min(1000, Math.max(20, 0.05 * rows)) ? 'categorical' : 'text';
}

/** What a scan checks besides the file's structure. */
export interface ScanRules {
  /** Per column of the header: whether it must hold numbers (text there makes the row malformed). */
  numeric(header: string[]): boolean[];
  /** Whether NA, N/A, NaN, null and ? are missing values (csv-cells.ts isMissing). */
  tokens: boolean;
  /** Throw the first malformed row as a StudioError instead of listing it. */
  stopAtMalformed: boolean;
}

/** Why a data record is malformed (wrong cell count, broken quoting, text in a numeric column), or undefined. */
export function malformation(record: CsvRecord, header: string[], numeric: boolean[], tokens: boolean): CsvMalformed | undefined {
  const { cells, line, problem } = record;
  if (problem) return { line: problem.line, ...(problem.cell < header.length ? { column: header[problem.cell] } : {}), message: problem.message };
  if (cells.length !== header.length) return { line, message: `${cells.length} cell${cells.length === 1 ? '' : 's'} where the header has ${header.length}` };
  for (let c = 0; c < cells.length; c++) {
    if (!numeric[c]) continue;
    const cell = cells[c].trim();
    if (!isMissing(cell, tokens) && !isNumber(cell)) return { line, column: header[c], message: `${JSON.stringify(cell)} is not a number; column ${JSON.stringify(header[c])} holds numbers` };
  }
  return undefined;
}

export function malformedError(m: CsvMalformed, file: string): StudioError {
  return new StudioError(m.message, { file, row: m.line, ...(m.column !== undefined ? { column: m.column } : {}) });
}

/** The header row's names, trimmed; a broken header or a name given twice is an error. */
export function readHeader(record: CsvRecord, file: string): string[] {
  if (record.problem) throw new StudioError(record.problem.message, { file, row: record.problem.line });
  const header = record.cells.map((h) => h.trim());
  header.forEach((name, c) => {
    if (header.indexOf(name) !== c) throw new StudioError(`the header names column ${JSON.stringify(name)} twice`, { file, row: record.line, column: name });
  });
  return header;
}

class ColumnTally {
  missing = 0;
  numbers = 0;
  nonNumbers = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;
  readonly values = new Set<string>();

  add(cell: string, tokens: boolean): void {
    if (isMissing(cell, tokens)) {
      this.missing++;
      return;
    }
    if (this.nonNumbers === 0) {
      if (isNumber(cell)) {
        const v = Number(cell);
        this.numbers++;
        this.sum += v;
        if (v < this.min) this.min = v;
        if (v > this.max) this.max = v;
      } else this.nonNumbers++;
    } else this.nonNumbers++;
    if (this.values.size <= DISTINCT_CAP) this.values.add(cell);
  }
}

/** Takes a file's records one by one (the first is the header) and tallies them. */
export class CsvScan {
  private header: string[] | undefined;
  private numeric: boolean[] = [];
  private tallies: ColumnTally[] = [];
  private rows = 0;
  private readonly malformed: CsvMalformed[] = [];
  private malformedCount = 0;
  private readonly head: string[][] = [];

  constructor(
    private readonly where: Where & { file: string },
    private readonly rules: ScanRules,
  ) {}

  readonly add = (record: CsvRecord): void => {
    if (!this.header) {
      this.header = readHeader(record, this.where.file);
      this.numeric = this.rules.numeric(this.header);
      this.tallies = this.header.map(() => new ColumnTally());
      return;
    }
    const bad = malformation(record, this.header, this.numeric, this.rules.tokens);
    if (bad) {
      if (this.rules.stopAtMalformed) throw malformedError(bad, this.where.file);
      if (this.malformed.length < MALFORMED_LISTED) this.malformed.push(bad);
      this.malformedCount++;
      return;
    }
    this.rows++;
    if (this.head.length < HEAD_ROWS) this.head.push(record.cells);
    for (let c = 0; c < record.cells.length; c++) this.tallies[c].add(record.cells[c].trim(), this.rules.tokens);
  };

  /** Column c's distinct non-missing values in order of first appearance, or undefined when there are too many. */
  distinctValues(c: number): string[] | undefined {
    const values = this.tallies[c].values;
    return values.size > DISTINCT_CAP ? undefined : [...values];
  }

  /** The inspection of the records read (the file is over). */
  result(bytes: number): CsvInspection {
    if (!this.header) throw new StudioError('the file is empty', { file: this.where.file });
    const rows = this.rows;
    const columns = this.header.map((name, c): CsvColumnInfo => {
      const t = this.tallies[c];
      const distinct = t.values.size;
      const type = inferType({ nonNumbers: t.nonNumbers, distinct }, rows);
      const info: CsvColumnInfo = { name, type, missing: t.missing, distinct, examples: [...take(t.values, EXAMPLES)] };
      if (type === 'categorical') info.categories = [...t.values];
      if (type === 'numeric' && t.numbers > 0) Object.assign(info, { min: t.min, max: t.max, mean: t.sum / t.numbers });
      return info;
    });
    return { file: this.where.file, bytes, rows, header: this.header, columns, malformed: this.malformed, malformedCount: this.malformedCount, head: this.head };
  }
}

function* take<T>(items: Iterable<T>, n: number): Iterable<T> {
  if (n <= 0) return;
  for (const x of items) {
    yield x;
    if (--n === 0) return;
  }
}
