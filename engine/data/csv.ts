/**
 * Labels of CSV files (project-format.md, "Data", kind `csv`): numeric label columns read as class indices. The
 * files themselves are read by csv-records.ts, csv-scan.ts, csv-encode.ts and csv-load.ts.
 */
import { StudioError, type Where } from '../util/errors';
import type { DatasetLabel } from './types';

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
