/**
 * A CSV file as a Dataset (project-format.md "Data", and docs/format-extensions.md "CSV data"): what the first
 * read (csv-scan.ts) found decides each column's type and categories; the second read encodes the rows. Numeric
 * columns are one feature each; categorical ones one feature per category (`COLUMN=VALUE`, one-hot) or one holding
 * the category's index; text columns cannot be features. Missing cells follow `missing`, malformed rows `malformed`;
 * dropped rows are not rows of the dataset.
 *
 * A `data` without `columns`, `missing` and `malformed` reads as it always has: every feature column must hold
 * numbers, only an empty cell is missing, and both are errors naming line and column.
 */
import { StudioError } from '../util/errors';
import { isMissing, isNumber, missingWhat } from './csv-cells';
import type { CsvRecord } from './csv-records';
import { CsvScan, malformation, type ScanRules } from './csv-scan';
import { splitRows } from './split';
import type { CsvMissingSpec, DataSpec, Dataset, DatasetLabel } from './types';

export type CsvSpec = Extract<DataSpec, { kind: 'csv' }>;
export type CsvLoadSpec = Pick<CsvSpec, 'label' | 'features' | 'classes' | 'columns' | 'missing' | 'malformed' | 'validation' | 'shuffle'>;

/** The category that `missing: constant` gives a missing categorical cell. */
export const MISSING_CATEGORY = '(missing)';

/** Whether the spec uses the CSV import's keys (else the file reads as before them). */
export function isExtended(spec: CsvLoadSpec): boolean {
  return spec.columns !== undefined || spec.missing !== undefined || spec.malformed !== undefined;
}

/**
 * How the first read checks the rows: which columns must hold numbers (those read and typed numeric by `columns`),
 * and whether a malformed row is an error. Without the import's keys, text in a feature is found by the second
 * read, after the label and features are checked, as before.
 */
export function scanRules(spec: CsvLoadSpec): ScanRules {
  return {
    tokens: isExtended(spec),
    stopAtMalformed: (spec.malformed ?? 'error') === 'error',
    numeric: (header) =>
      header.map((name) => (name === spec.label || (spec.features?.includes(name) ?? true)) && spec.columns?.[name]?.type === 'numeric'),
  };
}

interface NumericFeature {
  kind: 'numeric';
  column: number;
  name: string;
  /** Its first feature's index. */
  offset: number;
}

interface CategoricalFeature {
  kind: 'categorical';
  column: number;
  name: string;
  offset: number;
  onehot: boolean;
  categories: string[];
  index: Map<string, number>;
  /** Whether `categories` came from the project (then another value is an error). */
  fixed: boolean;
}

type Feature = NumericFeature | CategoricalFeature;

interface LabelPlan {
  column: number;
  name: string;
  kind: 'real' | 'class';
  classes: string[];
  index: Map<string, number>;
  fixed: boolean;
}

/** What the second read does with each row, from the spec and the first read. */
interface Plan {
  header: string[];
  numeric: boolean[];
  tokens: boolean;
  features: Feature[];
  featureNames: string[];
  featureGroups: Record<string, string[]>;
  label: LabelPlan | undefined;
  missing: CsvMissingSpec;
  rows: number;
}

export function planOf(spec: CsvLoadSpec, scan: CsvScan, file: string): Plan {
  const inspection = scan.result(0);
  const { header } = inspection;
  const extended = isExtended(spec);
  const missing: CsvMissingSpec = spec.missing ?? { policy: 'error' };
  const rules = scanRules(spec);

  for (const name of Object.keys(spec.columns ?? {})) {
    if (!header.includes(name)) throw noColumn(name, 'columns', `data.columns.${name}`, header, file);
  }
  const column = (name: string, what: string, path: string): number => {
    const c = header.indexOf(name);
    if (c < 0) throw noColumn(name, what, path, header, file);
    return c;
  };
  const typeOf = (c: number) => spec.columns?.[header[c]]?.type ?? (extended ? inspection.columns[c].type : 'numeric');

  const labelColumn = spec.label === undefined ? -1 : column(spec.label, 'label', 'data.label');
  const featureColumns = spec.features
    ? spec.features.map((name) => column(name, 'features', 'data.features'))
    : header.map((_, c) => c).filter((c) => c !== labelColumn && typeOf(c) !== 'text');
  const twice = featureColumns.find((c, i) => featureColumns.indexOf(c) !== i);
  if (twice !== undefined) throw new StudioError(`data.features lists column ${JSON.stringify(header[twice])} twice`, { file, column: header[twice], path: 'data.features' });
  if (featureColumns.includes(labelColumn)) {
    throw new StudioError(`column ${JSON.stringify(spec.label)} is the label; it cannot be a feature too`, { file, path: 'data.features' });
  }
  if (featureColumns.length === 0) throw new StudioError('there are no feature columns', { file, path: 'data.features' });

  const features: Feature[] = [];
  const featureNames: string[] = [];
  const featureGroups: Record<string, string[]> = {};
  for (const c of featureColumns) {
    const name = header[c];
    const type = typeOf(c);
    if (type === 'text') {
      throw new StudioError(
        `column ${JSON.stringify(name)} holds text (${inspection.columns[c].distinct} distinct values): it cannot be a feature; type it categorical, or leave it out`,
        { file, column: name, path: 'data.features' },
      );
    }
    const offset = featureNames.length;
    if (type === 'numeric') {
      features.push({ kind: 'numeric', column: c, name, offset });
      featureNames.push(name);
      continue;
    }
    const override = spec.columns?.[name];
    const categories = categoriesOf(override?.categories, scan.distinctValues(c), name, file);
    if (missing.policy === 'constant' && inspection.columns[c].missing > 0 && !categories.includes(MISSING_CATEGORY)) categories.push(MISSING_CATEGORY);
    const onehot = (override?.encoding ?? 'onehot') === 'onehot';
    features.push({ kind: 'categorical', column: c, name, offset, onehot, categories, index: indexOf(categories), fixed: override?.categories !== undefined });
    if (onehot) {
      const names = categories.map((k) => `${name}=${k}`);
      featureNames.push(...names);
      featureGroups[name] = names;
    } else featureNames.push(name);
  }

  if (missing.policy === 'constant' && missing.value === undefined) {
    const gap = features.find((f) => f.kind === 'numeric' && inspection.columns[f.column].missing > 0);
    if (gap) throw new StudioError(`missing.policy "constant" needs a value for the missing cells of column ${JSON.stringify(gap.name)}`, { file, path: 'data.missing.value' });
  }

  let label: LabelPlan | undefined;
  if (labelColumn >= 0) {
    const given = spec.classes ?? spec.columns?.[header[labelColumn]]?.categories;
    const type = spec.columns?.[header[labelColumn]]?.type ?? inspection.columns[labelColumn].type;
    const classes = given ? given.slice() : [];
    const index = indexOf(classes);
    if (index.size !== classes.length) throw new StudioError('data.classes lists a class twice', { file, path: spec.classes ? 'data.classes' : `data.columns.${header[labelColumn]}.categories` });
    label = { column: labelColumn, name: header[labelColumn], kind: !given && type === 'numeric' ? 'real' : 'class', classes, index, fixed: given !== undefined };
  }
  return { header, numeric: rules.numeric(header), tokens: rules.tokens, features, featureNames, featureGroups, label, missing, rows: inspection.rows };
}

function noColumn(name: string, what: string, path: string, header: string[], file: string): StudioError {
  return new StudioError(`no column ${JSON.stringify(name)} for the ${what}; the columns are ${header.join(', ')}`, { file, column: name, path });
}

function indexOf(names: string[]): Map<string, number> {
  return new Map(names.map((n, k) => [n, k]));
}

function categoriesOf(given: string[] | undefined, found: string[] | undefined, name: string, file: string): string[] {
  const path = `data.columns.${name}.categories`;
  if (given) {
    if (new Set(given).size !== given.length) throw new StudioError(`the categories of column ${JSON.stringify(name)} list a value twice`, { file, column: name, path });
    return given.slice();
  }
  if (!found) throw new StudioError(`column ${JSON.stringify(name)} has too many distinct values to be categorical`, { file, column: name, path: `data.columns.${name}` });
  return found;
}

/** The second read: takes the records (the first is the header) and encodes the rows that stay. */
export class CsvEncoder {
  private seenHeader = false;
  private rows = 0;
  private readonly width: number;
  private features: Float32Array;
  private labels: Float32Array;
  /** Per feature (by index in plan.features), the rows whose cell is missing under `missing: mean`. */
  private readonly gaps: number[][];
  /** Per categorical feature under `missing: mean`, each row's category (-1: missing). */
  private readonly codes: (Int32Array | undefined)[];
  private droppedMissing = 0;
  private droppedMalformed = 0;

  constructor(
    private readonly plan: Plan,
    private readonly file: string,
  ) {
    this.width = plan.featureNames.length;
    this.features = new Float32Array(plan.rows * this.width);
    this.labels = new Float32Array(plan.label ? plan.rows : 0);
    this.gaps = plan.features.map(() => []);
    this.codes = plan.features.map((f) => (f.kind === 'categorical' && plan.missing.policy === 'mean' ? new Int32Array(plan.rows) : undefined));
  }

  readonly add = (record: CsvRecord): void => {
    const plan = this.plan;
    if (!this.seenHeader) {
      this.seenHeader = true;
      return;
    }
    if (malformation(record, plan.header, plan.numeric, plan.tokens)) {
      this.droppedMalformed++;
      return;
    }
    const { cells, line } = record;
    if (plan.missing.policy === 'drop' && this.hasMissing(cells)) {
      this.droppedMissing++;
      return;
    }
    const r = this.rows;
    // The arrays are sized by the first read: a row more means the file was written to since (a row fewer is fine).
    if (r >= plan.rows) throw new StudioError('the file changed while it was read (it has more rows than a moment ago): load it again', { file: this.file, row: line });
    const base = r * this.width;
    plan.features.forEach((f, i) => {
      const cell = cells[f.column].trim();
      const missing = isMissing(cell, plan.tokens);
      if (missing && plan.missing.policy === 'error') {
        throw new StudioError(`${missingWhat(cell)}; a feature must have a value (data.missing says what to do with missing ones)`, { file: this.file, row: line, column: f.name });
      }
      if (f.kind === 'numeric') {
        if (!missing && !isNumber(cell)) {
          throw new StudioError(`${JSON.stringify(cell)} is not a number; a feature must be a number`, { file: this.file, row: line, column: f.name });
        }
        if (!missing) this.features[base + f.offset] = Number(cell);
        else if (plan.missing.policy === 'mean') {
          this.features[base + f.offset] = NaN;
          this.gaps[i].push(r);
        } else this.features[base + f.offset] = plan.missing.value!;
        return;
      }
      if (missing && plan.missing.policy === 'mean') {
        this.codes[i]![r] = -1;
        this.gaps[i].push(r);
        return;
      }
      const k = f.index.get(missing ? MISSING_CATEGORY : cell);
      if (k === undefined) {
        throw new StudioError(`${JSON.stringify(cell)} is not one of the categories of column ${JSON.stringify(f.name)} (${f.categories.join(', ')})`, { file: this.file, row: line, column: f.name });
      }
      if (this.codes[i]) this.codes[i][r] = k;
      setCategory(this.features, base, f, k);
    });
    if (plan.label) this.labels[r] = this.labelValue(plan.label, cells[plan.label.column].trim(), line);
    this.rows++;
  };

  private hasMissing(cells: string[]): boolean {
    const { features, label, tokens } = this.plan;
    return features.some((f) => isMissing(cells[f.column].trim(), tokens)) || (label !== undefined && isMissing(cells[label.column].trim(), tokens));
  }

  private labelValue(label: LabelPlan, cell: string, line: number): number {
    const where = { file: this.file, row: line, column: label.name };
    if (isMissing(cell, this.plan.tokens)) throw new StudioError(cell === '' ? 'the label is empty' : `the label ${JSON.stringify(cell)} is a missing value`, where);
    if (label.kind === 'real') return Number(cell);
    let k = label.index.get(cell);
    if (k === undefined) {
      if (label.fixed) throw new StudioError(`${JSON.stringify(cell)} is not one of the classes ${label.classes.join(', ')}`, where);
      k = label.classes.push(cell) - 1;
      label.index.set(cell, k);
    }
    return k;
  }

  /** The dataset (the file is over); `mean` imputation uses the training part of the split that training will use. */
  result(spec: CsvLoadSpec, seed: number): Dataset {
    const { plan, file } = this;
    const rows = this.rows;
    if (rows === 0) {
      const dropped = this.droppedMissing + this.droppedMalformed;
      if (dropped === 0) throw new StudioError('the file has a header but no data rows', { file, row: 1 });
      throw new StudioError(`all ${dropped} data rows were dropped (${this.droppedMissing} with missing values, ${this.droppedMalformed} malformed)`, { file });
    }
    // views, not copies: copying a file's worth of features held the event loop for a third of a second per 60 MB
    const features = this.features.subarray(0, rows * this.width);
    if (this.gaps.some((g) => g.length > 0)) this.impute(features, splitRows(rows, spec, seed).train);
    const ds: Dataset = { name: file, rows, featureNames: plan.featureNames, features };
    if (plan.label) {
      const l = plan.label;
      const values = this.labels.subarray(0, rows);
      ds.label = (l.kind === 'real' ? { name: l.name, kind: 'real', values } : { name: l.name, kind: 'class', values, classes: l.classes }) satisfies DatasetLabel;
    }
    if (Object.keys(plan.featureGroups).length > 0) ds.featureGroups = plan.featureGroups;
    if (isExtended(spec)) ds.dropped = { missing: this.droppedMissing, malformed: this.droppedMalformed };
    return ds;
  }

  /**
   * `missing: mean`: the training rows' mean of a numeric column, or their most frequent category (the first on a
   * tie). One pass over the training rows sums every numeric column with gaps (each in row order, as a column's own
   * pass would).
   */
  private impute(features: Float32Array, train: Int32Array): void {
    const width = this.width;
    const none = (f: Feature) => new StudioError(`column ${JSON.stringify(f.name)} has no value in the training rows to take the mean of`, { file: this.file, column: f.name, path: 'data.missing' });
    const gapped = this.plan.features.map((f, i) => ({ f, i })).filter(({ i }) => this.gaps[i].length > 0);
    const numeric = gapped.filter(({ f }) => f.kind === 'numeric');
    const offsets = Int32Array.from(numeric, ({ f }) => f.offset);
    const sums = new Float64Array(numeric.length);
    const counts = new Float64Array(numeric.length);
    for (let t = 0; t < train.length; t++) {
      const base = train[t] * width;
      for (let j = 0; j < offsets.length; j++) {
        const v = features[base + offsets[j]];
        if (!Number.isNaN(v)) {
          sums[j] += v;
          counts[j]++;
        }
      }
    }
    numeric.forEach(({ f, i }, j) => {
      if (counts[j] === 0) throw none(f);
      for (const r of this.gaps[i]) features[r * width + f.offset] = sums[j] / counts[j];
    });
    for (const { f, i } of gapped) {
      if (f.kind !== 'categorical') continue;
      const codes = this.codes[i]!;
      const tally = new Array<number>(f.categories.length).fill(0);
      for (let t = 0; t < train.length; t++) if (codes[train[t]] >= 0) tally[codes[train[t]]]++;
      const best = tally.indexOf(Math.max(...tally));
      if (tally[best] === 0) throw none(f);
      for (const r of this.gaps[i]) setCategory(features, r * width, f, best);
    }
  }
}

function setCategory(features: Float32Array, base: number, f: CategoricalFeature, k: number): void {
  if (f.onehot) features[base + f.offset + k] = 1;
  else features[base + f.offset] = k;
}

/**
 * The feature names that an input node's `features` stand for: a source column encoded as several features (a
 * one-hot CSV column) stands for all of them, in order; any other name for itself.
 */
export function expandFeatureNames(wanted: readonly string[], ds: Pick<Dataset, 'featureGroups'>): string[] {
  const groups = ds.featureGroups;
  if (!groups) return wanted.slice();
  return wanted.flatMap((w) => (Object.hasOwn(groups, w) ? groups[w] : [w]));
}
