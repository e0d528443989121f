/**
 * The CSV import wizard's logic, without Svelte: from the engine's inspection of a file (`data.inspect`) and the
 * user's choices to the project's `data` section (format-extensions.md: `columns`, `missing`, `malformed`) and the
 * input nodes' features and shape. Everything here is a pure function of its arguments; `importCsv` returns a new
 * project and never mutates the one it gets (the undo history keeps old documents by reference).
 */
import type { LabelKind } from '../../../engine/graph/catalogue';
import type { DataSpec, Project, ProjectNode } from '../../../engine/io/project';
import type { CsvInspectionInfo as CsvInspection } from '../../../engine/protocol/messages';
import { inputFeaturesOf, inputNodes, validationProblem } from './data-edit';
import { trainingTargets } from './training-settings';

export type { CsvInspection };
export type ColumnType = CsvInspection['columns'][number]['type'];
export type Encoding = 'onehot' | 'index';
export type MissingPolicy = 'error' | 'drop' | 'mean' | 'constant';
export type ColumnInfo = CsvInspection['columns'][number];

export const COLUMN_TYPES: readonly ColumnType[] = ['numeric', 'categorical', 'text'];
export const MISSING_POLICIES: readonly MissingPolicy[] = ['error', 'drop', 'mean', 'constant'];
/** The category a `constant` policy gives a categorical column's missing cells (the contract's name). */
export const MISSING_CATEGORY = '(missing)';

/** What the user chose in the wizard. Texts are kept as typed; `importProblems` says what does not parse. */
export interface WizardChoices {
  /** Each column's type, by name: the inferred one unless the user changed it. */
  types: Record<string, ColumnType>;
  label: string | null;
  /** The feature columns, in header order. */
  features: string[];
  /** Categorical features' encoding (absent: one-hot). */
  encodings: Record<string, Encoding>;
  missing: MissingPolicy;
  /** The `constant` policy's value, as typed. */
  constant: string;
  standardize: boolean;
  /** Standardise the label where it is `real` (written only then, true or false: labelIsReal). */
  standardizeLabel: boolean;
  /** The validation fraction, as typed. */
  validation: string;
  skipMalformed: boolean;
}

/** The keys of a csv data section that the wizard writes (the rest of a section it replaces is kept). */
const WIZARD_KEYS = ['path', 'label', 'features', 'classes', 'columns', 'missing', 'malformed', 'standardize', 'standardizeLabel', 'validation'] as const;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(text: string): number | null {
  const t = text.trim();
  return NUMBER.test(t) ? Number(t) : null;
}

/** The label the wizard proposes for a new file: the last categorical column, else the last column. */
export function proposedLabel(inspection: CsvInspection): string | null {
  const cats = inspection.columns.filter((c) => c.type === 'categorical');
  const last = cats.length ? cats[cats.length - 1] : inspection.columns[inspection.columns.length - 1];
  return last?.name ?? null;
}

/**
 * The wizard's first proposal. When `current` is a csv section of the same file (the wizard opened again), its
 * choices where they still fit the file; otherwise the inferred types, `proposedLabel`, every column but the label
 * and the text columns as features, standardised (and a real label too), the current validation fraction (or 0.2).
 */
export function proposeChoices(inspection: CsvInspection, path: string, current?: DataSpec): WizardChoices {
  const header = inspection.columns.map((c) => c.name);
  const same = current?.kind === 'csv' && current.path === path ? current : undefined;
  const overrides = same?.columns ?? {};
  const types: Record<string, ColumnType> = {};
  const encodings: Record<string, Encoding> = {};
  for (const c of inspection.columns) {
    const o = overrides[c.name];
    types[c.name] = o?.type ?? c.type;
    if (o?.encoding === 'index') encodings[c.name] = 'index';
  }
  const label = same ? (same.label !== undefined && header.includes(same.label) ? same.label : null) : proposedLabel(inspection);
  const usable = (c: string) => c !== label && types[c] !== 'text';
  const features = same?.features ? header.filter((c) => same.features!.includes(c) && usable(c)) : header.filter(usable);
  const m = same?.missing;
  const validation = current?.validation ?? 0.2;
  return {
    types,
    label,
    features,
    encodings,
    missing: m?.policy ?? 'error',
    constant: typeof m?.value === 'number' ? String(m.value) : '0',
    standardize: same ? same.standardize === true : true,
    standardizeLabel: same?.standardizeLabel ?? true,
    validation: String(validation),
    skipMalformed: same?.malformed === 'skip',
  };
}

// ---- edits of the choices ----------------------------------------------------------------------------------------

/** `names` in header order. */
function inHeaderOrder(inspection: CsvInspection, names: Iterable<string>): string[] {
  const set = new Set(names);
  return inspection.columns.map((c) => c.name).filter((c) => set.has(c));
}

/**
 * Another label column: it leaves the features, and the column that was the label becomes a feature again (unless
 * it is text). null: no label.
 */
export function chooseLabel(inspection: CsvInspection, ch: WizardChoices, label: string | null): WizardChoices {
  if (label === ch.label) return ch;
  const features = new Set(ch.features.filter((f) => f !== label));
  if (ch.label !== null && ch.types[ch.label] !== 'text') features.add(ch.label);
  return { ...ch, label, features: inHeaderOrder(inspection, features) };
}

export function chooseFeature(inspection: CsvInspection, ch: WizardChoices, column: string, on: boolean): WizardChoices {
  if (on && (column === ch.label || ch.types[column] === 'text')) return ch;
  const features = new Set(ch.features);
  if (on) features.add(column);
  else features.delete(column);
  return { ...ch, features: inHeaderOrder(inspection, features) };
}

/** A column's type: a text column cannot be a feature, so it leaves them. */
export function chooseType(ch: WizardChoices, column: string, type: ColumnType): WizardChoices {
  return {
    ...ch,
    types: { ...ch.types, [column]: type },
    features: type === 'text' ? ch.features.filter((f) => f !== column) : ch.features,
  };
}

/** Why a column cannot be checked as a feature, or null. */
export function featureBlocked(ch: WizardChoices, column: string): string | null {
  if (column === ch.label) return 'the label';
  if (ch.types[column] === 'text') return 'text: too many distinct values to encode';
  return null;
}

// ---- what the choices mean -------------------------------------------------------------------------------------

function columnOf(inspection: CsvInspection, name: string): ColumnInfo | undefined {
  return inspection.columns.find((c) => c.name === name);
}

/** The inspection's categories for a column, when it inferred the column categorical (else unknown). */
function categoriesOf(col: ColumnInfo): string[] | undefined {
  return col.type === 'categorical' ? col.categories : undefined;
}

/** Whether a column's missing cells become a category of their own (the `constant` policy). */
function missingCategory(ch: WizardChoices, col: ColumnInfo): boolean {
  return ch.missing === 'constant' && col.missing > 0;
}

/**
 * How many input values a feature column gives: 1 for numeric and index-encoded columns; one per category for
 * one-hot ones (plus one for missing cells under the `constant` policy).
 */
export function featureWidth(inspection: CsvInspection, ch: WizardChoices, column: string): number {
  const col = columnOf(inspection, column);
  if (!col || ch.types[column] !== 'categorical' || ch.encodings[column] === 'index') return 1;
  const k = categoriesOf(col)?.length ?? col.distinct;
  return k + (missingCategory(ch, col) ? 1 : 0);
}

/**
 * The encoded feature names, in order: a numeric or index-encoded column by its name, a one-hot column as
 * `COLUMN=VALUE` per category (when the categories are known: for a column the user made categorical, the engine
 * finds them, and its names stand as `COLUMN=…`).
 */
export function encodedFeatures(inspection: CsvInspection, ch: WizardChoices): string[] {
  const out: string[] = [];
  for (const f of ch.features) {
    const col = columnOf(inspection, f);
    if (!col || ch.types[f] !== 'categorical' || ch.encodings[f] === 'index') {
      out.push(f);
      continue;
    }
    const cats = categoriesOf(col);
    if (!cats) {
      out.push(`${f}=…`);
      continue;
    }
    for (const c of cats) out.push(`${f}=${c}`);
    if (missingCategory(ch, col)) out.push(`${f}=${MISSING_CATEGORY}`);
  }
  return out;
}

/** How many values one example holds: the sum of the features' widths. */
export function inputWidth(inspection: CsvInspection, ch: WizardChoices): number {
  return ch.features.reduce((n, f) => n + featureWidth(inspection, ch, f), 0);
}

/** The missing cells the policy acts on: in the feature columns (by column) and in the label. */
export interface MissingCounts {
  /** Feature columns with missing cells, and how many each. */
  columns: { name: string; missing: number }[];
  /** Missing cells over all feature columns. */
  cells: number;
  /** Missing labels. */
  label: number;
  /** The rows `drop` removes at most (a row may miss several cells), never more than the file's rows. */
  dropAtMost: number;
}

export function missingCounts(inspection: CsvInspection, ch: WizardChoices): MissingCounts {
  const columns = ch.features.map((name) => ({ name, missing: columnOf(inspection, name)?.missing ?? 0 })).filter((c) => c.missing > 0);
  const cells = columns.reduce((n, c) => n + c.missing, 0);
  const label = ch.label === null ? 0 : (columnOf(inspection, ch.label)?.missing ?? 0);
  return { columns, cells, label, dropAtMost: Math.min(inspection.rows, cells + label) };
}

/**
 * The features (and the label) typed numeric whose cells are not all numbers (the inspection inferred another type):
 * the rows where they hold text are malformed.
 */
export function forcedNumeric(inspection: CsvInspection, ch: WizardChoices): string[] {
  const used = ch.label === null ? ch.features : [...ch.features, ch.label];
  return used.filter((f) => ch.types[f] === 'numeric' && columnOf(inspection, f)?.type !== 'numeric');
}

/** Why Apply is refused now (empty: it may apply). */
export function importProblems(inspection: CsvInspection, ch: WizardChoices): string[] {
  const out: string[] = [];
  if (ch.features.length === 0) out.push('Choose at least one feature column.');
  for (const f of ch.features) if (ch.types[f] === 'text') out.push(`“${f}” is text: it cannot be a feature.`);
  if (inspection.malformedCount > 0 && !ch.skipMalformed) {
    const n = inspection.malformedCount;
    out.push(`${plural(n, 'malformed row')} in the file: skip ${n === 1 ? 'it' : 'them'}, or fix the file.`);
  }
  const forced = forcedNumeric(inspection, ch);
  if (forced.length && !ch.skipMalformed) {
    out.push(`Not all cells of ${forced.map((f) => `“${f}”`).join(', ')} are numbers: as numeric, those rows are malformed (skip them, or choose another type).`);
  }
  const m = missingCounts(inspection, ch);
  if (m.cells > 0 && ch.missing === 'error') out.push(`${plural(m.cells, 'missing cell')} in the features: choose what to do with them.`);
  if (m.label > 0 && ch.missing !== 'drop') out.push(`The label has ${plural(m.label, 'missing cell')}: only dropping those rows works.`);
  if (ch.missing === 'constant' && parseNumber(ch.constant) === null) out.push('The constant for missing cells must be a number.');
  const v = parseNumber(ch.validation);
  const vp = v === null ? 'not a number' : validationProblem(v);
  if (vp) out.push(`Validation fraction: ${vp}.`);
  return out;
}

export function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

// ---- the edit ------------------------------------------------------------------------------------------------------

/**
 * The data section the choices make. A csv section of the same kind keeps its other keys (shuffle, unknown ones);
 * another kind's section gives only its shuffle. Written so that a reopen reproduces the same tensors: the types
 * the user changed, each categorical feature's type, encoding and categories, and a categorical label's classes.
 * `features` is left out when it is every column but the label (the format's default). `standardizeLabel` is
 * written, as the user left it, where the label is `real` (`realLabel`), so that a reopen shows it again.
 */
export function importedData(current: DataSpec | undefined, path: string, inspection: CsvInspection, ch: WizardChoices, realLabel: boolean): DataSpec {
  const kept: Record<string, unknown> = {};
  if (current?.kind === 'csv') {
    for (const [k, v] of Object.entries(current)) if (k !== 'kind' && !(WIZARD_KEYS as readonly string[]).includes(k)) kept[k] = v;
  } else if (current?.shuffle !== undefined) kept.shuffle = current.shuffle;
  const next: Record<string, unknown> = { kind: 'csv', path };
  if (ch.label !== null) next.label = ch.label;
  const header = inspection.columns.map((c) => c.name);
  const all = header.filter((c) => c !== ch.label);
  if (!(all.length === ch.features.length && all.every((c, i) => ch.features[i] === c))) next.features = [...ch.features];
  const label = ch.label === null ? undefined : columnOf(inspection, ch.label);
  if (label && ch.types[label.name] === 'categorical' && categoriesOf(label)) next.classes = [...categoriesOf(label)!];
  const columns: Record<string, Record<string, unknown>> = {};
  for (const c of inspection.columns) {
    const type = ch.types[c.name] ?? c.type;
    const feature = ch.features.includes(c.name);
    if (type !== c.type) columns[c.name] = { type };
    if (feature && type === 'categorical') {
      const cats = categoriesOf(c);
      columns[c.name] = { type, encoding: ch.encodings[c.name] ?? 'onehot', ...(cats ? { categories: [...cats] } : {}) };
    }
  }
  if (Object.keys(columns).length) next.columns = columns;
  if (ch.missing !== 'error') next.missing = ch.missing === 'constant' ? { policy: 'constant', value: parseNumber(ch.constant) ?? 0 } : { policy: ch.missing };
  if (ch.skipMalformed && inspection.malformedCount + forcedNumeric(inspection, ch).length > 0) next.malformed = 'skip';
  if (ch.standardize) next.standardize = true;
  if (realLabel) next.standardizeLabel = ch.standardizeLabel;
  next.validation = parseNumber(ch.validation) ?? 0.2;
  return { ...next, ...kept } as unknown as DataSpec;
}

/**
 * An input node after the import: one that reads every feature stays so; one that names features keeps those still
 * fed (a chosen column, or one of its encoded features) and reads every feature when none is left. A scalar or
 * vector `shape` follows the width of what it reads (a one-value input keeps a scalar shape); other shapes stay.
 */
function fittedInput(node: ProjectNode, inspection: CsvInspection, ch: WizardChoices): ProjectNode {
  const encoded = new Set(encodedFeatures(inspection, ch));
  const named = inputFeaturesOf(node)?.filter((f) => ch.features.includes(f) || encoded.has(f));
  const reads = named?.length ? named : undefined;
  const width = reads ? reads.reduce((n, f) => n + (ch.features.includes(f) ? featureWidth(inspection, ch, f) : 1), 0) : inputWidth(inspection, ch);
  const attrs: Record<string, unknown> = { ...(node.attrs ?? {}) };
  // A single `feature` still fed stays as it is written (rewriting it as `features` would be an edit of nothing).
  const kept = reads?.length === 1 && attrs.feature === reads[0];
  if (!kept) {
    delete attrs.feature;
    delete attrs.features;
    if (reads) attrs.features = reads;
  }
  const shape = attrs.shape;
  if (width > 0 && (shape === undefined || (Array.isArray(shape) && shape.length <= 1))) {
    const scalar = shape === undefined || (Array.isArray(shape) && shape.length === 0);
    if (!(width === 1 && scalar)) attrs.shape = [width];
  }
  const next: ProjectNode = { ...node, attrs };
  if (Object.keys(attrs).length === 0) delete next.attrs;
  return next;
}

// ---- the graph's other end: the label and the prediction ---------------------------------------------------------

/** Whether a numeric label column can hold class indices 0..K-1 (whole numbers from 0, as far as the inspection says). */
function classIndices(col: ColumnInfo): boolean {
  const whole = (v: number | undefined) => v !== undefined && Number.isInteger(v);
  return whole(col.min) && whole(col.max) && col.min! >= 0 && col.examples.every((e) => Number.isInteger(Number(e)));
}

/** Whether a label column fits a `sign` label (engine/train/feed.ts): two classes, or the numbers -1/+1 or 0/1. */
function signValues(col: ColumnInfo, type: ColumnType, classes: number | undefined): boolean {
  if (type !== 'numeric') return classes === 2;
  return col.distinct <= 2 && ((col.min === -1 && col.max === 1) || (col.min === 0 && col.max === 1));
}

/**
 * The kind a label node gets for the label column, from its current kind: a `sign` label stays where the column
 * fits it; a categorical or text column is `class`; a numeric one `class` where the node already reads classes and
 * the column holds class indices (the user's choice: digits' 0..9), else `real`.
 */
function labelKindFor(current: LabelKind, col: ColumnInfo, type: ColumnType): LabelKind {
  if (current === 'sign' && signValues(col, type, labelClassCount(col, type))) return 'sign';
  if (type !== 'numeric') return 'class';
  return current === 'class' && classIndices(col) ? 'class' : 'real';
}

/**
 * How many classes a label column has when read as classes: a categorical (or text) column's categories (the
 * inspection's, else its distinct values); a numeric one's largest index + 1 (engine/data/csv.ts asClassIndices).
 */
function labelClassCount(col: ColumnInfo, type: ColumnType): number | undefined {
  if (type !== 'numeric') return categoriesOf(col)?.length ?? col.distinct;
  return classIndices(col) ? col.max! + 1 : undefined;
}

/** What Apply changes in the graph besides the inputs, so that it trains on the new label. */
export interface GraphFit {
  /** Label nodes whose kind changes. */
  labels: { id: string; kind: LabelKind }[];
  /** The class count of the label, when a label node reads it as classes. */
  classes?: number;
  /** The prediction, a dense layer, when its units change to the class count (or to one, for a real label). */
  units?: { id: string; units: number };
  /** The objective, a classification loss that reads a label now real, when it becomes the mean squared error. */
  loss?: { id: string; from: string };
}

/** The classification losses: their score and label ports (the mean squared error's are pred and target). */
const CLASS_LOSSES: Readonly<Record<string, { score: string; labels: string }>> = {
  softmax_cross_entropy: { score: 'logits', labels: 'labels' },
  sigmoid_cross_entropy: { score: 'logits', labels: 'labels' },
  hinge: { score: 'scores', labels: 'labels' },
};

/**
 * The graph's fit to the label column: each label node's kind (labelKindFor), and when a label node reads classes
 * and the prediction is a `dense` layer with another number of units, one unit per class; except under a
 * `sigmoid_cross_entropy` objective, whose logits are one score per example. When the objective is a classification
 * loss reading a label that is real, it becomes the mean squared error of the same score against that label, and a
 * `dense` prediction gets one unit. Nothing without a label column.
 */
export function graphFit(p: Project, inspection: CsvInspection, ch: WizardChoices): GraphFit {
  const col = ch.label === null ? undefined : columnOf(inspection, ch.label);
  if (!col) return { labels: [] };
  const kinds = labelKinds(p, col, ch);
  const fit: GraphFit = { labels: kinds.filter((k) => k.kind !== k.current).map(({ id, kind }) => ({ id, kind })) };
  const { objective, prediction } = trainingTargets(p);
  const out = p.graph.nodes.find((n) => n.id === prediction);
  const ports = objective ? CLASS_LOSSES[objective.op] : undefined;
  const read = ports ? objective!.inputs?.[ports.labels] : undefined;
  if (kinds.some((k) => k.kind === 'real' && k.id === read)) {
    fit.loss = { id: objective!.id, from: objective!.op };
    if (out?.op === 'dense' && out.attrs?.units !== 1) fit.units = { id: out.id, units: 1 };
    return fit;
  }
  const classes = kinds.some((k) => k.kind === 'class') ? labelClassCount(col, ch.types[col.name] ?? col.type) : undefined;
  if (classes === undefined) return fit;
  fit.classes = classes;
  if (out?.op === 'dense' && objective?.op !== 'sigmoid_cross_entropy' && out.attrs?.units !== classes) fit.units = { id: out.id, units: classes };
  return fit;
}

/** Each label node's kind now, and after the import (labelKindFor). */
function labelKinds(p: Project, col: ColumnInfo, ch: WizardChoices): { id: string; current: LabelKind; kind: LabelKind }[] {
  const type = ch.types[col.name] ?? col.type;
  return p.graph.nodes
    .filter((n) => n.op === 'label')
    .map((n) => {
      const current = (n.attrs?.kind as LabelKind | undefined) ?? 'class';
      return { id: n.id, current, kind: labelKindFor(current, col, type) };
    });
}

/** Whether a label node reads the label column as `real` after the import: the wizard offers to standardise it then. */
export function labelIsReal(p: Project, inspection: CsvInspection, ch: WizardChoices): boolean {
  const col = ch.label === null ? undefined : columnOf(inspection, ch.label);
  return col !== undefined && labelKinds(p, col, ch).some((k) => k.kind === 'real');
}

/** What a GraphFit changes, in words for the wizard (empty when nothing). */
export function describeGraphFit(fit: GraphFit): string[] {
  const classes = (n: number) => `${n} class${n === 1 ? '' : 'es'}`;
  const out = fit.labels.map((l) => `the label ${l.id} becomes ${l.kind}${l.kind === 'class' && fit.classes !== undefined ? ` (${classes(fit.classes)})` : ''}`);
  if (fit.loss) out.push(`the loss ${fit.loss.id} becomes mse (${fit.loss.from} needs a class or sign label)`);
  if (fit.units) out.push(`the output layer ${fit.units.id} gets ${plural(fit.units.units, 'unit')}`);
  return out;
}

function withGraphFit(nodes: ProjectNode[], fit: GraphFit): ProjectNode[] {
  const kinds = new Map(fit.labels.map((l) => [l.id, l.kind]));
  return nodes.map((n) => {
    const kind = kinds.get(n.id);
    if (kind !== undefined) return { ...n, attrs: { ...n.attrs, kind } };
    if (n.id === fit.units?.id) return { ...n, attrs: { ...n.attrs, units: fit.units.units } };
    const ports = n.id === fit.loss?.id ? CLASS_LOSSES[n.op] : undefined;
    if (ports) return { ...n, op: 'mse', inputs: { pred: n.inputs![ports.score], target: n.inputs![ports.labels] } };
    return n;
  });
}

/**
 * The import as one edit: the data section (standardizeLabel for a real label), every input node's features
 * and shape, and the graph's fit to the label (graphFit): `p` itself when all stay.
 */
export function importCsv(p: Project, path: string, inspection: CsvInspection, ch: WizardChoices): Project {
  const inputs = new Set(inputNodes(p));
  const data = importedData(p.data, path, inspection, ch, labelIsReal(p, inspection, ch));
  const fitted = p.graph.nodes.map((n) => (inputs.has(n) ? fittedInput(n, inspection, ch) : n));
  const nodes = withGraphFit(fitted, graphFit(p, inspection, ch));
  const same = sameValue(data, p.data) && nodes.every((n, i) => sameValue(n, p.graph.nodes[i]));
  return same ? p : { ...p, data, graph: { ...p.graph, nodes } };
}

/** Deep equality of JSON values, whatever the order of object keys. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra);
  return keys.length === Object.keys(rb).length && keys.every((k) => Object.hasOwn(rb, k) && sameValue(ra[k], rb[k]));
}
