/**
 * CSV files (project-format.md, "Data", kind `csv`): an RFC 4180 parser and the conversion to a Dataset. Error
 * locations use `row` for the 1-based line number in the file (the header is line 1); a record that spans lines
 * (a quoted newline) is reported at the line where it starts.
 */
import { StudioError, type Where } from '../util/errors';
import type { DataSpec, Dataset, DatasetLabel } from './types';

export type CsvSpec = Extract<DataSpec, { kind: 'csv' }>;

export interface CsvTable {
  header: string[];
  rows: string[][];
  /** lines[i]: the line number in the file where rows[i] starts. */
  lines: number[];
}

/**
 * RFC 4180: fields separated by commas, records by CRLF or LF (or a lone CR); a field in double quotes may hold
 * commas, line breaks and `""` for a quote. A leading BOM and a final line break are dropped, and so are blank lines
 * (as pandas does). A quote inside an unquoted field is taken literally; text after a closing quote is an error.
 */
export function parseCsv(text: string, fileName?: string): CsvTable {
  const records: string[][] = [];
  const lines: number[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let record: string[] = [];
  let recordLine = 1;

  while (true) {
    let field = '';
    const quoted = text[i] === '"';
    if (quoted) {
      const openLine = line;
      i++;
      while (true) {
        if (i >= n) throw new StudioError('a quoted field is never closed', { file: fileName, row: openLine });
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          field += '"';
          i += 2;
          continue;
        }
        if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] !== '\n')) line++;
        field += text[i++];
      }
      i++;
      if (i < n && text[i] !== ',' && !isBreak(text, i)) {
        throw new StudioError(`unexpected ${JSON.stringify(text[i])} after a closing quote`, { file: fileName, row: line });
      }
    } else {
      const start = i;
      while (i < n && text[i] !== ',' && !isBreak(text, i)) i++;
      field = text.slice(start, i);
    }
    record.push(field);
    if (text[i] === ',') {
      i++;
      continue;
    }

    // A line break or the end of the text ends the record; a blank line is a record of one empty unquoted field.
    if (record.length > 1 || field !== '' || quoted) {
      records.push(record);
      lines.push(recordLine);
    }
    if (i >= n) break;
    i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
    line++;
    record = [];
    recordLine = line;
  }

  if (records.length === 0) throw new StudioError('the file is empty', { file: fileName });
  return { header: records[0], rows: records.slice(1), lines: lines.slice(1) };
}

function isBreak(text: string, i: number): boolean {
  return text[i] === '\n' || text[i] === '\r';
}

/**
 * The Dataset of a CSV file. `features` defaults to every column but the label. A label column whose cells are all
 * numbers is a `real` label (see asClassIndices for class indices); any other is a `class` label, its classes in
 * order of first appearance, or `spec.classes` when given (then every cell must be one of them). Header names and
 * cells are trimmed of surrounding spaces.
 */
export function csvDataset(text: string, spec: Pick<CsvSpec, 'label' | 'features' | 'classes'>, fileName: string): Dataset {
  const table = parseCsv(text, fileName);
  const header = table.header.map((h) => h.trim());
  header.forEach((name, c) => {
    if (header.indexOf(name) !== c) throw new StudioError(`the header names column ${JSON.stringify(name)} twice`, { file: fileName, row: 1, column: name });
  });
  if (table.rows.length === 0) throw new StudioError('the file has a header but no data rows', { file: fileName, row: 1 });
  table.rows.forEach((cells, r) => {
    if (cells.length !== header.length) {
      throw new StudioError(`line ${table.lines[r]} has ${cells.length} cells, the header has ${header.length}`, { file: fileName, row: table.lines[r] });
    }
  });

  const column = (name: string, what: string, path: string): number => {
    const c = header.indexOf(name);
    if (c < 0) {
      throw new StudioError(`no column ${JSON.stringify(name)} for the ${what}; the columns are ${header.join(', ')}`, { file: fileName, column: name, path });
    }
    return c;
  };
  const labelColumn = spec.label === undefined ? -1 : column(spec.label, 'label', 'data.label');
  const featureColumns = spec.features
    ? spec.features.map((name) => column(name, 'features', 'data.features'))
    : header.map((_, c) => c).filter((c) => c !== labelColumn);
  if (featureColumns.includes(labelColumn)) {
    throw new StudioError(`column ${JSON.stringify(spec.label)} is the label; it cannot be a feature too`, { file: fileName, path: 'data.features' });
  }
  if (featureColumns.length === 0) throw new StudioError('there are no feature columns', { file: fileName, path: 'data.features' });

  const F = featureColumns.length;
  const features = new Float32Array(table.rows.length * F);
  table.rows.forEach((cells, r) => {
    featureColumns.forEach((c, f) => {
      features[r * F + f] = parseNumber(cells[c], { file: fileName, row: table.lines[r], column: header[c] });
    });
  });
  return {
    name: fileName,
    rows: table.rows.length,
    featureNames: featureColumns.map((c) => header[c]),
    features,
    label: labelColumn < 0 ? undefined : readLabel(table, labelColumn, header[labelColumn], spec.classes, fileName),
  };
}

function readLabel(table: CsvTable, c: number, name: string, classes: string[] | undefined, fileName: string): DatasetLabel {
  const cells = table.rows.map((cells) => cells[c].trim());
  const at = (r: number): Where => ({ file: fileName, row: table.lines[r], column: name });
  const empty = cells.indexOf('');
  if (empty >= 0) throw new StudioError('the label is empty', at(empty));
  if (!classes && cells.every(isNumber)) {
    return { name, kind: 'real', values: Float32Array.from(cells, Number) };
  }

  const names = classes ? classes.slice() : [];
  const index = new Map(names.map((n, k) => [n, k]));
  if (index.size !== names.length) throw new StudioError('data.classes lists a class twice', { file: fileName, path: 'data.classes' });
  const values = new Float32Array(cells.length);
  cells.forEach((cell, r) => {
    let k = index.get(cell);
    if (k === undefined) {
      if (classes) throw new StudioError(`${JSON.stringify(cell)} is not one of the classes ${classes.join(', ')}`, at(r));
      k = names.push(cell) - 1;
      index.set(cell, k);
    }
    values[r] = k;
  });
  return { name, kind: 'class', values, classes: names };
}

/** Plain decimal numbers with an optional exponent: `1`, `-2.5`, `.5`, `3.`, `1e-3`. Not `0x10`, `Infinity`, `1,2`. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isNumber(cell: string): boolean {
  return NUMBER.test(cell.trim()) && Number.isFinite(Math.fround(Number(cell)));
}

function parseNumber(cell: string, where: Where): number {
  if (isNumber(cell)) return Number(cell);
  const what = cell.trim() === '' ? 'the cell is empty' : `${JSON.stringify(cell)} is not a number`;
  throw new StudioError(`${what}; a feature must be a number`, where);
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
