/**
 * CSV texts for the tests: the records of a whole text, and its Dataset, over the engine's streamed reader
 * (engine/data/csv-records.ts) and loader (csv-load.ts). Error locations use `row` for the 1-based line number in
 * the file (the header is line 1); a record that spans lines is reported at the line where it starts, broken quoting
 * at the line where the reader finds it.
 */
import type { CsvLoadSpec } from '../../engine/data/csv-encode';
import { csvDatasetOf } from '../../engine/data/csv-load';
import { CsvRecordReader } from '../../engine/data/csv-records';
import type { Dataset } from '../../engine/data/types';
import { StudioError } from '../../engine/util/errors';

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
