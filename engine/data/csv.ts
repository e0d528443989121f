/**
 * CSV files (project-format.md, "Data", kind `csv`, and docs/format-extensions.md, "CSV data"): the whole-text
 * entry points over the streamed reader (csv-records.ts, csv-scan.ts, csv-encode.ts, csv-load.ts). Error locations
 * use `row` for the 1-based line number in the file (the header is line 1); a record that spans lines (a quoted
 * newline) is reported at the line where it starts, broken quoting at the line where the reader finds it.
 */
import { StudioError, type Where } from '../util/errors';
import type { CsvLoadSpec } from './csv-encode';
import { csvDatasetOf } from './csv-load';
import { CsvRecordReader } from './csv-records';
import type { Dataset, DatasetLabel } from './types';

export interface CsvTable {
  header: string[];
  rows: string[][];
  /** lines[i]: the line number in the file where rows[i] starts. */
  lines: number[];
}

/** The records of a whole text (csv-records.ts says how it reads); broken quoting is an error naming its line. */
export function parseCsv(text: string, fileName?: string): CsvTable {
  const records: string[][] = [];
  const lines: number[] = [];
  const reader = new CsvRecordReader(({ cells, line, problem }) => {
    if (problem) throw new StudioError(problem.message, { file: fileName, row: problem.line });
    records.push(cells);
    lines.push(line);
  });
  reader.push(text);
  reader.end();
  if (records.length === 0) throw new StudioError('the file is empty', { file: fileName });
  return { header: records[0], rows: records.slice(1), lines: lines.slice(1) };
}

/**
 * The Dataset of a CSV text. `features` defaults to every column but the label (and text columns). A label column
 * whose cells are all numbers is a `real` label (see asClassIndices for class indices); any other is a `class` label,
 * its classes in order of first appearance, or `spec.classes` when given (then every cell must be one of them).
 * Header names and cells are trimmed of surrounding spaces. `seed` is training's, for `missing: mean`.
 */
export function csvDataset(text: string, spec: CsvLoadSpec, fileName: string, seed = 1): Dataset {
  return csvDatasetOf(new TextEncoder().encode(text), spec, fileName, seed);
}

/**
 * A numeric label read as class indices (project-format.md: a numeric column under a label of kind `class` holds
 * class indices 0..K-1). K is `classCount` when given, else the largest value + 1; the classes are named "0".."K-1".
 * A `class` label is returned as it is. `where` says where the dataset's first row is: row i is reported as
 * `where.row + i`, or i + 1 without `where.row`. For a CSV pass `{ file, row: 2 }` (exact unless blank lines or
 * quoted line breaks come before the bad row).
 */
export function asClassIndices(label: DatasetLabel, where: Where = {}, classCount?: number): DatasetLabel {
  if (label.kind === 'class') return label;
  let max = -1;
  label.values.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || (classCount !== undefined && v >= classCount)) {
      const range = classCount === undefined ? 'a whole number >= 0' : `a whole number from 0 to ${classCount - 1}`;
      throw new StudioError(`label ${v} is not a class index (${range})`, { ...where, row: (where.row ?? 1) + i, column: label.name });
    }
    max = Math.max(max, v);
  });
  const K = classCount ?? max + 1;
  return { name: label.name, kind: 'class', values: label.values, classes: Array.from({ length: K }, (_, k) => String(k)) };
}
