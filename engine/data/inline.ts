/**
 * Data written in the project file (kind `inline`): named columns of numbers, all the same length. Every column but
 * the label is a feature, in the order the columns are written. The label is `real` (see asClassIndices in csv.ts
 * for class indices). Errors name the column and the 1-based row.
 */
import { StudioError } from '../util/errors';
import type { DataSpec, Dataset } from './types';

export type InlineSpec = Extract<DataSpec, { kind: 'inline' }>;

export function inlineDataset(spec: Pick<InlineSpec, 'columns' | 'label'>, name = 'inline data'): Dataset {
  const { columns, label } = spec;
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) {
    throw new StudioError('columns must be an object of named number arrays', { path: 'data.columns' });
  }
  const names = Object.keys(columns);
  if (names.length === 0) throw new StudioError('there are no columns', { path: 'data.columns' });
  let rows = -1;
  for (const column of names) {
    const values: unknown = columns[column];
    const path = `data.columns.${column}`;
    if (!Array.isArray(values)) throw new StudioError('a column must be an array of numbers', { column, path });
    const bad = values.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
    if (bad >= 0) throw new StudioError(`${JSON.stringify(values[bad])} is not a number`, { column, row: bad + 1, path });
    if (rows < 0) rows = values.length;
    if (values.length !== rows) {
      throw new StudioError(`column has ${values.length} values, column ${JSON.stringify(names[0])} has ${rows}`, { column, path });
    }
  }
  if (rows === 0) throw new StudioError('the columns are empty', { path: 'data.columns' });
  if (label !== undefined && !names.includes(label)) {
    throw new StudioError(`no column ${JSON.stringify(label)} for the label; the columns are ${names.join(', ')}`, { column: label, path: 'data.label' });
  }

  const featureNames = names.filter((n) => n !== label);
  if (featureNames.length === 0) throw new StudioError('there are no feature columns', { path: 'data.columns' });
  const F = featureNames.length;
  const features = new Float32Array(rows * F);
  featureNames.forEach((n, f) => columns[n].forEach((v, r) => (features[r * F + f] = v)));
  return {
    name,
    rows,
    featureNames,
    features,
    label: label === undefined ? undefined : { name: label, kind: 'real', values: Float32Array.from(columns[label]) },
  };
}
