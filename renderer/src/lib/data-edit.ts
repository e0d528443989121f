/**
 * Pure edits of a project's data section (and of the input nodes' columns), for the data panel. Every function
 * takes a Project and returns a new one, sharing what it did not touch and never mutating its argument (the undo
 * history keeps old documents by reference); an edit that changes nothing returns its argument itself, so that
 * `doc.apply` records nothing. Unknown keys of the data section are kept.
 */
import { DEFAULT_DATA, type DataSpec, type Project, type ProjectNode } from '../../../engine/io/project';

export type DataKind = DataSpec['kind'];
export type BuiltinSpec = Extract<DataSpec, { kind: 'builtin' }>;
export type CsvSpec = Extract<DataSpec, { kind: 'csv' }>;
export type IdxSpec = Extract<DataSpec, { kind: 'idx' }>;
export type ImagesSpec = Extract<DataSpec, { kind: 'images' }>;
export type BuiltinParam = 'samples' | 'classes' | 'noise';

/**
 * The builtin generators (engine/data/builtin.ts) as the panel offers them: a fixed class count (0: regression)
 * or null when `classes` is a parameter, and the default noise. A unit test holds this to the engine's.
 */
export const BUILTIN_INFO: Readonly<Record<string, { classes: number | null; noise: number; doc: string }>> = Object.freeze({
  spiral: { classes: null, noise: 0.1, doc: 'K interleaved spiral arms' },
  circles: { classes: 2, noise: 0.1, doc: 'a circle inside a circle' },
  xor: { classes: 2, noise: 0.1, doc: 'opposite quadrants share a class' },
  moons: { classes: 2, noise: 0.1, doc: 'two interleaved half circles' },
  gaussians: { classes: null, noise: 0.3, doc: 'K round blobs on a circle' },
  sine: { classes: 0, noise: 0.1, doc: 'regression: y = sin(x) + noise' },
});
export const BUILTIN_NAMES = Object.keys(BUILTIN_INFO);

/** What the engine's generators accept (engine/data/builtin.ts) and use when a parameter is absent. */
export const BUILTIN_LIMITS = Object.freeze({ maxSamples: 1_000_000, defaultSamples: 600, defaultClasses: 3 });
/** The validation fraction the panel accepts (the file format allows 0 <= v < 1). */
export const MAX_VALIDATION = 0.9;

/** A new builtin section's settings. */
export const DEFAULT_BUILTIN: Readonly<BuiltinSpec> = Object.freeze({ kind: 'builtin', name: 'spiral', samples: 600, classes: 3, noise: 0.1 });

/** Keys every data kind shares. */
const COMMON_KEYS = ['validation', 'shuffle', 'standardize', 'standardizeLabel'] as const;

function withData(p: Project, data: DataSpec | undefined): Project {
  if (data === p.data) return p;
  const next: Project = { ...p, data };
  if (data === undefined) delete next.data;
  return next;
}

/** A copy of `o` with `key` set, or removed when `value` is undefined; `o` itself when nothing changes. */
function setKey<T extends object>(o: T, key: string, value: unknown): T {
  const rec = o as Record<string, unknown>;
  if (value === undefined ? !Object.hasOwn(rec, key) : sameValue(rec[key], value)) return o;
  const next = { ...rec };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next as T;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return Object.is(a, b);
}

/** Edits the data section when it is of `kind` (else returns `p`). */
function editKind<K extends DataKind>(p: Project, kind: K, fn: (d: Extract<DataSpec, { kind: K }>) => DataSpec): Project {
  const d = p.data;
  if (!d || d.kind !== kind) return p;
  return withData(p, fn(d as Extract<DataSpec, { kind: K }>));
}

// ---- kind --------------------------------------------------------------------------------------------------------

/**
 * Switches the data section to another kind, keeping the split settings (validation, shuffle, standardize,
 * standardizeLabel). The
 * new kind's settings are `remembered` (what it had before, this session), or: builtin, DEFAULT_BUILTIN; csv and
 * idx, an empty path for the user to choose; images, DEFAULT_IMAGES. Inline data cannot be made here: only a remembered section switches
 * back to it.
 */
export function switchDataKind(p: Project, kind: DataKind, remembered?: DataSpec): Project {
  const cur = p.data;
  if (cur?.kind === kind) return p;
  let base: DataSpec;
  if (remembered && remembered.kind === kind) base = remembered;
  else if (kind === 'builtin') base = { ...DEFAULT_BUILTIN };
  else if (kind === 'csv') base = { kind: 'csv', path: '' };
  else if (kind === 'idx') base = { kind: 'idx', images: '' };
  else if (kind === 'images') base = { ...DEFAULT_IMAGES, size: [...DEFAULT_IMAGES.size] };
  else return p;
  const next = { ...base } as Record<string, unknown>;
  for (const k of COMMON_KEYS) {
    delete next[k];
    const v = (cur as Record<string, unknown> | undefined)?.[k];
    if (v !== undefined) next[k] = v;
  }
  return withData(p, next as unknown as DataSpec);
}

// ---- builtin -----------------------------------------------------------------------------------------------------

/**
 * Chooses another generator. A class count goes when the new one fixes its classes (circles, xor, moons: 2; sine is
 * a regression); a noise equal to the old generator's default goes too, so that the new one's default applies.
 */
export function setBuiltinName(p: Project, name: string): Project {
  return editKind(p, 'builtin', (d) => {
    if (d.name === name) return d;
    const info = BUILTIN_INFO[name];
    const old = BUILTIN_INFO[d.name];
    let next: BuiltinSpec = { ...d, name };
    if (info && info.classes !== null) next = setKey(next, 'classes', undefined);
    if (info && old && next.noise === old.noise && old.noise !== info.noise) next = setKey(next, 'noise', undefined);
    return next;
  });
}

/** Sets (or, with undefined, removes so that the default applies) samples, classes or noise. */
export function setBuiltinParam(p: Project, key: BuiltinParam, value: number | undefined): Project {
  return editKind(p, 'builtin', (d) => setKey(d, key, value));
}

/** What a generator uses for a parameter the section leaves out (classes: null for fixed-class generators). */
export function builtinDefault(name: string, key: BuiltinParam): number | null {
  const info = BUILTIN_INFO[name];
  if (key === 'samples') return BUILTIN_LIMITS.defaultSamples;
  if (key === 'noise') return info?.noise ?? 0.1;
  return info && info.classes !== null ? null : BUILTIN_LIMITS.defaultClasses;
}

/** Why a builtin parameter's value would be refused by the engine, or null (undefined: the default, fine). */
export function builtinParamProblem(spec: BuiltinSpec, key: BuiltinParam, value: number | undefined): string | null {
  if (value === undefined) return null;
  const info = BUILTIN_INFO[spec.name];
  if (key === 'samples') {
    if (!Number.isInteger(value) || value < 1 || value > BUILTIN_LIMITS.maxSamples) return `a whole number from 1 to ${BUILTIN_LIMITS.maxSamples}`;
    const K = info?.classes ?? spec.classes ?? BUILTIN_LIMITS.defaultClasses;
    if (K > value) return `at least one sample per class (${K})`;
    return null;
  }
  if (key === 'classes') {
    if (info && info.classes !== null && !(info.classes > 0 && value === info.classes)) return info.classes === 0 ? `${spec.name} is a regression dataset: no classes` : `${spec.name} always has ${info.classes} classes`;
    if (!Number.isInteger(value) || value < 2) return 'a whole number, 2 or more';
    const samples = spec.samples ?? BUILTIN_LIMITS.defaultSamples;
    if (value > samples) return `at most the number of samples (${samples})`;
    return null;
  }
  if (!Number.isFinite(value) || value < 0) return 'a number, 0 or more';
  return null;
}

// ---- csv ---------------------------------------------------------------------------------------------------------

/**
 * Another CSV file: its columns are not the old file's, so the label, the feature list, the class names and the
 * per-column types go (unless `keepColumns`: the same file moved, or another version of it).
 */
export function setCsvPath(p: Project, path: string, keepColumns = false): Project {
  return editKind(p, 'csv', (d) => {
    if (d.path === path) return d;
    let next: CsvSpec = { ...d, path };
    if (!keepColumns) for (const k of ['label', 'features', 'classes', 'columns']) next = setKey(next, k, undefined);
    return next;
  });
}

/**
 * Chooses the label column (undefined: no label). The label cannot be a feature too: it leaves the feature list,
 * and the column that was the label joins it (at its place in `columns`, the file's columns) when features are listed.
 */
export function setCsvLabel(p: Project, label: string | undefined, columns?: readonly string[]): Project {
  return editKind(p, 'csv', (d) => {
    if (d.label === label) return d;
    let next: CsvSpec = setKey(d, 'label', label);
    // Classes belong to the old label.
    next = setKey(next, 'classes', undefined);
    if (d.features) {
      let features = d.features.filter((f) => f !== label);
      if (d.label !== undefined && !features.includes(d.label)) {
        features = [...features, d.label];
        if (columns) features = orderBy(features, columns);
      }
      next = setKey(next, 'features', features);
    }
    return next;
  });
}

/** The feature columns (undefined: every column but the label). */
export function setCsvFeatures(p: Project, features: readonly string[] | undefined): Project {
  return editKind(p, 'csv', (d) => setKey(d, 'features', features === undefined ? undefined : [...features]));
}

/**
 * Checks or unchecks one feature column. `columns` are the file's columns the engine reads as features by default
 * (header order; csvFeatureChoices): an absent `features` means all of them but the label, and a list that comes
 * back to exactly that is removed again.
 */
export function toggleCsvFeature(p: Project, column: string, on: boolean, columns: readonly string[]): Project {
  const d = p.data;
  if (!d || d.kind !== 'csv' || column === d.label) return p;
  const all = columns.filter((c) => c !== d.label);
  const current = d.features ?? all;
  const has = current.includes(column);
  if (has === on) return p;
  const next = on ? orderBy([...current, column], columns) : current.filter((c) => c !== column);
  const isAll = next.length === all.length && all.every((c, i) => next[i] === c);
  return setCsvFeatures(p, isAll ? undefined : next);
}

/**
 * The columns the data panel offers as features, in header order: those the engine reads as features, known from
 * `readable`, the encoded feature names it reported (the preview's, and any seen before for the same file): a
 * column read as itself, or a source column encoded as `COLUMN=…` features (one choice that stands for all of them,
 * as an input node's `features` may name it: engine/data/csv-encode.ts expandFeatureNames). A text column, which the
 * engine refuses as a feature, is never among them unless the section's `features` lists it: the columns listed are
 * offered too, so that a name the engine refused can be unchecked. The label is not a feature.
 */
export function csvFeatureChoices(columns: readonly string[], spec: CsvSpec, readable: Iterable<string>): string[] {
  const header = new Set(columns);
  const read = new Set<string>();
  for (const f of readable) {
    if (header.has(f)) {
      read.add(f);
      continue;
    }
    // `COLUMN=VALUE`: the longest part before an `=` that is a column (a column's name may hold `=` too).
    for (let eq = f.lastIndexOf('='); eq > 0; eq = f.lastIndexOf('=', eq - 1)) {
      if (header.has(f.slice(0, eq))) {
        read.add(f.slice(0, eq));
        break;
      }
    }
  }
  for (const c of columns) if (spec.columns?.[c]?.type === 'text') read.delete(c);
  for (const f of spec.features ?? []) read.add(f);
  return columns.filter((c) => c !== spec.label && read.has(c));
}

/** `items` in the order they have in `order` (items not in it last, as they were). */
function orderBy(items: readonly string[], order: readonly string[]): string[] {
  const at = (s: string) => {
    const i = order.indexOf(s);
    return i < 0 ? order.length : i;
  };
  return items.map((s, i) => [s, i] as const).sort((a, b) => at(a[0]) - at(b[0]) || a[1] - b[1]).map(([s]) => s);
}

// ---- idx ---------------------------------------------------------------------------------------------------------

/** The images file, or the labels file (undefined: none). */
export function setIdxFile(p: Project, which: 'images' | 'labels', path: string | undefined): Project {
  return editKind(p, 'idx', (d) => setKey(d, which, which === 'images' ? (path ?? '') : path));
}

// ---- image folder ------------------------------------------------------------------------------------------------

/** The largest image height or width (engine/data/images.ts MAX_IMAGE_SIZE). */
export const MAX_IMAGE_SIZE = 1024;

/** A new image folder section: a folder still to choose, MNIST's size, grayscale. */
export const DEFAULT_IMAGES: Readonly<ImagesSpec> = Object.freeze({ kind: 'images', folder: '', size: [28, 28] as [number, number], channels: 1 as const });

/** Another image folder: its sub-folders are not the old one's, so a `classes` list goes. */
export function setImagesFolder(p: Project, folder: string): Project {
  return editKind(p, 'images', (d) => (d.folder === folder ? d : setKey({ ...d, folder }, 'classes', undefined)));
}

/**
 * The size images are resized to, [height, width]; with setImagesChannels, the input nodes that read every pixel
 * and have an image shape ([C, H, W]) follow, so that the graph keeps fitting the data (one undo step for both).
 */
export function setImagesSize(p: Project, size: readonly [number, number]): Project {
  return fitImageInputs(editKind(p, 'images', (d) => setKey(d, 'size', [size[0], size[1]])));
}

export function setImagesChannels(p: Project, channels: 1 | 3): Project {
  return fitImageInputs(editKind(p, 'images', (d) => setKey(d, 'channels', channels)));
}

/** One example's [channels, height, width] under an image folder section. */
export function imageShapeOf(d: ImagesSpec): [number, number, number] {
  return [d.channels ?? 1, d.size[0], d.size[1]];
}

/** Why an image height or width would be refused, or null. */
export function imageSizeProblem(v: number): string | null {
  return Number.isInteger(v) && v >= 1 && v <= MAX_IMAGE_SIZE ? null : `a whole number from 1 to ${MAX_IMAGE_SIZE}`;
}

/** Sets the shape of the input nodes that read every feature and have a 3-D (image) shape to the images' shape. */
function fitImageInputs(p: Project): Project {
  const d = p.data;
  if (!d || d.kind !== 'images') return p;
  const shape = imageShapeOf(d);
  let changed = false;
  const nodes = p.graph.nodes.map((n) => {
    const s = n.attrs?.shape;
    if (n.op !== 'input' || inputFeaturesOf(n) !== undefined || !Array.isArray(s) || s.length !== 3 || sameValue(s, shape)) return n;
    changed = true;
    return { ...n, attrs: { ...n.attrs, shape: [...shape] } };
  });
  return changed ? { ...p, graph: { ...p.graph, nodes } } : p;
}

/** Sets an input node's shape to the image shape (the data panel's fix for an input that does not fit its images). */
export function setInputImageShape(p: Project, nodeId: string, shape: readonly number[]): Project {
  const node = p.graph.nodes.find((n) => n.id === nodeId && n.op === 'input');
  if (!node || sameValue(node.attrs?.shape, shape)) return p;
  const next: ProjectNode = { ...node, attrs: { ...node.attrs, shape: [...shape] } };
  return { ...p, graph: { ...p.graph, nodes: p.graph.nodes.map((n) => (n === node ? next : n)) } };
}

// ---- split -------------------------------------------------------------------------------------------------------

/** The validation fraction (undefined: the default, 0.2). */
export function setValidation(p: Project, v: number | undefined): Project {
  return p.data ? withData(p, setKey(p.data, 'validation', v)) : p;
}

export function validationProblem(v: number | undefined): string | null {
  if (v === undefined) return null;
  if (!Number.isFinite(v) || v < 0 || v > MAX_VALIDATION) return `a fraction from 0 to ${MAX_VALIDATION}`;
  return null;
}

export function setShuffle(p: Project, on: boolean): Project {
  return p.data ? withData(p, setKey(p.data, 'shuffle', on)) : p;
}

export function setStandardize(p: Project, on: boolean): Project {
  return p.data ? withData(p, setKey(p.data, 'standardize', on)) : p;
}

export function setStandardizeLabel(p: Project, on: boolean): Project {
  return p.data ? withData(p, setKey(p.data, 'standardizeLabel', on)) : p;
}

/**
 * Whether the graph has a `real` label node, the kind that `standardizeLabel` standardises (the data panel offers
 * the setting then, or while the file has it on).
 */
export function hasRealLabel(p: Project): boolean {
  return p.graph.nodes.some((n) => n.op === 'label' && n.attrs?.kind === 'real');
}

/** The data section's effective split settings. */
export function splitOf(data: DataSpec | undefined): { validation: number; shuffle: boolean; standardize: boolean; standardizeLabel: boolean } {
  return {
    validation: data?.validation ?? DEFAULT_DATA.validation,
    shuffle: data?.shuffle ?? DEFAULT_DATA.shuffle,
    standardize: data?.standardize ?? false,
    standardizeLabel: data?.standardizeLabel ?? false,
  };
}

// ---- columns -> inputs -------------------------------------------------------------------------------------------

export function inputNodes(p: Project): ProjectNode[] {
  return p.graph.nodes.filter((n) => n.op === 'input');
}

/** The columns an input node names (`feature` or `features`), or undefined when it reads all features. */
export function inputFeaturesOf(node: ProjectNode): string[] | undefined {
  const a = node.attrs ?? {};
  if (typeof a.feature === 'string') return [a.feature];
  if (Array.isArray(a.features)) return a.features.filter((f): f is string => typeof f === 'string');
  return undefined;
}

/**
 * Which data columns feed an input node: its `features` attr (`feature` goes), or with undefined neither, so that it
 * reads every feature (`allCount` of them). A scalar or vector `shape` follows the count, so that the node keeps
 * fitting its data (a one-column input keeps a scalar shape); other shapes (images) are left as they are.
 */
export function setInputFeatures(p: Project, nodeId: string, features: readonly string[] | undefined, allCount?: number): Project {
  const node = p.graph.nodes.find((n) => n.id === nodeId && n.op === 'input');
  if (!node) return p;
  const attrs: Record<string, unknown> = { ...(node.attrs ?? {}) };
  delete attrs.feature;
  if (features === undefined) delete attrs.features;
  else attrs.features = [...features];
  const count = features?.length ?? allCount;
  const shape = attrs.shape;
  if (count !== undefined && count > 0 && (shape === undefined || (Array.isArray(shape) && shape.length <= 1))) {
    const scalar = shape === undefined || (Array.isArray(shape) && shape.length === 0);
    if (!(count === 1 && scalar)) attrs.shape = [count];
  }
  const before = node.attrs ?? {};
  const same =
    Object.keys(attrs).length === Object.keys(before).length && Object.entries(attrs).every(([k, v]) => Object.hasOwn(before, k) && sameValue(before[k], v));
  if (same) return p;
  const next: ProjectNode = { ...node, attrs };
  if (Object.keys(attrs).length === 0) delete next.attrs;
  return { ...p, graph: { ...p.graph, nodes: p.graph.nodes.map((n) => (n === node ? next : n)) } };
}

// ---- paths -------------------------------------------------------------------------------------------------------

const WIN_DRIVE = /^[A-Za-z]:[\\/]/;

function isAbsolutePath(path: string): boolean {
  return path.startsWith('/') || path.startsWith('\\') || WIN_DRIVE.test(path);
}

/** The folder part of a path ('' for a bare file name), in either separator. */
export function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  if (i < 0) return '';
  if (i === 0) return path.slice(0, 1);
  if (i === 2 && WIN_DRIVE.test(path)) return path.slice(0, 3);
  return path.slice(0, i);
}

/**
 * A data path as the engine reads it: a relative `path` joined to `baseDir` (`.` and `..` resolved, in `baseDir`'s
 * separator), an absolute one as it is, and any path as it is when there is no `baseDir` (a new document).
 */
export function resolveDataPath(baseDir: string | undefined, path: string): string {
  if (baseDir === undefined || isAbsolutePath(path)) return path;
  const sep = baseDir.includes('\\') && !baseDir.includes('/') ? '\\' : '/';
  const root = WIN_DRIVE.test(baseDir) ? baseDir.slice(0, 2) + sep : isAbsolutePath(baseDir) ? sep : '';
  const out: string[] = [];
  for (const seg of `${baseDir.slice(root.length)}/${path}`.split(/[\\/]+/)) {
    if (seg === '' || seg === '.') continue;
    if (seg !== '..') out.push(seg);
    else if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (root === '') out.push(seg); // above a workspace-relative folder: kept; above a root: the root
  }
  return root + out.join(sep) || '.';
}

/**
 * The project with its data paths read against `toDir` instead of `fromDir` (a Save As into another folder), so
 * that they still name the same files: relative paths are rewritten relative to `toDir` (absolute where the two
 * folders share only the root, as `relativeDataPath` does), absolute ones stay. The project itself when nothing
 * changes, or when `fromDir` is unknown (a new document's paths are as the user chose them).
 */
export function rebaseDataPaths(p: Project, fromDir: string | undefined, toDir: string): Project {
  const d = p.data;
  if (!d || fromDir === undefined || fromDir === toDir) return p;
  const move = (path: string) => (isAbsolutePath(path) ? path : relativeDataPath(toDir, resolveDataPath(fromDir, path)));
  let next: DataSpec = d;
  if (d.kind === 'csv') next = setKey(d, 'path', move(d.path));
  else if (d.kind === 'images') next = setKey(d, 'folder', move(d.folder));
  else if (d.kind === 'idx') {
    next = setKey(d, 'images', move(d.images));
    if (d.labels !== undefined) next = setKey(next, 'labels', move(d.labels));
  }
  return withData(p, next);
}

/**
 * How the project file should name a chosen data file or folder: relative to `baseDir`, the folder the engine reads
 * relative paths against (the project file's folder), with `/`, so that the project and its data move together
 * (`.` for that folder itself). The path as it is when there is no such folder yet (a new document), or when the two
 * share no folder but the file system's root (or drive). Both are absolute (Electron) or both workspace-relative (web mode, where '' is the workspace's top).
 */
export function relativeDataPath(baseDir: string | undefined, filePath: string): string {
  if (baseDir === undefined) return filePath;
  const absB = isAbsolutePath(baseDir);
  const absF = isAbsolutePath(filePath);
  if (absB !== absF) return filePath;
  const windows = WIN_DRIVE.test(baseDir) || WIN_DRIVE.test(filePath) || baseDir.includes('\\') || filePath.includes('\\');
  const segs = (s: string) => s.split(/[\\/]+/).filter((x) => x !== '' && x !== '.');
  const norm = (s: string) => (windows ? s.toLowerCase() : s);
  const from = segs(baseDir);
  const to = segs(filePath);
  if (filePath === '' || from.includes('..')) return filePath;
  // A folder (an image folder) may be `baseDir` itself or one above it; a file never is.
  let common = 0;
  while (common < from.length && common < to.length && norm(from[common]) === norm(to[common])) common++;
  // A file outside the folder whose paths share only the root (or, on Windows, only the drive): its own path.
  const rootOnly = common === 0 || (WIN_DRIVE.test(filePath) && common === 1);
  if (absF && rootOnly && common < from.length) return filePath;
  if (WIN_DRIVE.test(filePath) && common === 0) return filePath;
  return [...from.slice(common).map(() => '..'), ...to.slice(common)].join('/') || '.';
}
