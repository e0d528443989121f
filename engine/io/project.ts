/**
 * The structural layer of a `.bpstudio` project file (docs/project-format.md): JSON syntax, format and version
 * checks, migrations, schema validation and saving. What the nodes mean (ops, attrs, ports, cycles, shapes) is the
 * graph module's business. Pure TypeScript without Node imports: the renderer uses it too.
 */
import type { DataSpec } from '../data/types';
import { StudioError, describeWhere, type Where } from '../util/errors';
import validateSchema, { type SchemaError } from './project-validate.generated';

export type { DataSpec };

export const PROJECT_FORMAT = 'backprop-studio/project';
/** The newest format version this code reads and the one it writes. */
export const PROJECT_VERSION = 1;
/** What a node id must look like (the schema's pattern). */
export const NODE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The data kinds of format 1, as the schema lists them. */
export const DATA_KINDS = ['builtin', 'csv', 'idx', 'inline', 'images'] as const;

export interface ProjectNode {
  id: string;
  op: string;
  attrs?: Record<string, unknown>;
  /** Input port name -> id of the node that feeds it. */
  inputs?: Record<string, string>;
  label?: string;
}

export interface OptimizerSpec {
  type?: 'sgd' | 'adam' | 'adamw';
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * How the learning rate changes over a run (training.schedule, a format extension: docs/format-extensions.md):
 * optimizer.lr times a factor of the step (engine/train/schedule.ts).
 */
export interface ScheduleSpec {
  type?: 'constant' | 'step' | 'cosine';
  /** step: the factor is multiplied by `gamma` every `every` epochs (torch.optim.lr_scheduler.StepLR). */
  every?: number;
  gamma?: number;
  /** cosine: the factor falls from 1 to `min` over the run's steps (CosineAnnealingLR with eta_min = min * lr). */
  min?: number;
  /** Steps over which the factor rises linearly to its value (1/warmup at the first step); 0: none. */
  warmup?: number;
}

export interface TrainingSpec {
  objective?: string;
  prediction?: string;
  optimizer?: OptimizerSpec;
  schedule?: ScheduleSpec;
  /**
   * The largest global L2 norm of the gradients (all trainable tensors together) that a step applies: a larger
   * gradient is scaled down to it (torch.nn.utils.clip_grad_norm_; a format extension). Unset: no clipping.
   */
  clipNorm?: number;
  batchSize?: number;
  epochs?: number;
  seed?: number;
  backend?: 'cpu' | 'webgpu' | 'auto';
}

export interface EditorState {
  positions?: Record<string, { x: number; y: number }>;
  viewport?: { x: number; y: number; zoom: number };
}

export interface Project {
  format: typeof PROJECT_FORMAT;
  version: number;
  name?: string;
  graph: { nodes: ProjectNode[] };
  data?: DataSpec;
  training?: TrainingSpec;
  editor?: EditorState;
  /** Top-level keys that format 1 does not define: kept as they are and written back on save. */
  [key: string]: unknown;
}

/** One structural problem: where (a JSON pointer, and the node when it is inside one) and what. */
export interface ProjectProblem {
  path: string;
  message: string;
  node?: string;
}

// ---- Defaults -------------------------------------------------------------------------------------------------

/** Training settings with every documented default filled in (objective and prediction are found from the graph). */
export interface ResolvedTraining {
  objective?: string;
  prediction?: string;
  optimizer: Required<OptimizerSpec>;
  schedule: Required<ScheduleSpec>;
  clipNorm?: number;
  batchSize: number;
  epochs: number;
  seed: number;
  backend: NonNullable<TrainingSpec['backend']>;
}

/**
 * project-format.md's defaults. Every optimizer field is filled whatever the type, so an optimizer reads what it
 * needs; weightDecay is 0 for all three (note that torch.optim.AdamW's own default is 0.01).
 */
export const DEFAULT_TRAINING: Readonly<ResolvedTraining> = Object.freeze({
  optimizer: Object.freeze({
    type: 'adam' as const,
    lr: 0.01,
    momentum: 0,
    nesterov: false,
    weightDecay: 0,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
  }),
  schedule: Object.freeze({ type: 'constant' as const, every: 10, gamma: 0.1, min: 0, warmup: 0 }),
  batchSize: 32,
  epochs: 50,
  seed: 1,
  backend: 'auto' as const,
});

export function withTrainingDefaults(training: TrainingSpec = {}): ResolvedTraining {
  return {
    ...DEFAULT_TRAINING,
    ...definedOnly(training),
    optimizer: { ...DEFAULT_TRAINING.optimizer, ...definedOnly(training.optimizer ?? {}) },
    schedule: { ...DEFAULT_TRAINING.schedule, ...definedOnly(training.schedule ?? {}) },
  };
}

/** The data split defaults. `standardize` has no documented default and is left as the file has it. */
export const DEFAULT_DATA = Object.freeze({ validation: 0.2, shuffle: true });

export type ResolvedData = DataSpec & { validation: number; shuffle: boolean };

/** The project's data section, or the error that it has none (training, previews and exports all need one). */
export function dataSectionOf(project: Pick<Project, 'data'>): DataSpec {
  if (!project.data) throw new StudioError('the project has no data section: choose a dataset', { path: 'data' });
  return project.data;
}

export function withDataDefaults(data: DataSpec): ResolvedData {
  return { ...DEFAULT_DATA, ...definedOnly(data) };
}

/** A copy without the keys whose value is undefined, so that spreading it does not overwrite defaults. */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ---- Migrations -----------------------------------------------------------------------------------------------

export type Migration = (project: Record<string, unknown>) => Record<string, unknown>;

/**
 * `MIGRATIONS[n]` turns a version-n project into a version-(n+1) one; it need not set `version`. Empty while
 * format 1 is the only format there has been.
 */
export const MIGRATIONS: Readonly<Record<number, Migration>> = Object.freeze({});

/** Applies the migrations from the project's `version` up to `target`, in order. */
export function migrateProject(
  project: Record<string, unknown> & { version: number },
  migrations: Readonly<Record<number, Migration>> = MIGRATIONS,
  target: number = PROJECT_VERSION,
): Record<string, unknown> {
  let p: Record<string, unknown> = project;
  for (let v = project.version; v < target; v++) {
    const step = migrations[v];
    if (!step) throw new Error(`no migration from project format version ${v} to ${v + 1}`);
    p = { ...step(p), version: v + 1 };
  }
  return p;
}

// ---- Parsing and validation -----------------------------------------------------------------------------------

/** How many problems a thrown error lists; validateProject returns them all. */
const LISTED_PROBLEMS = 5;

/**
 * Reads a project file's text: JSON syntax, then format, then version (migrating older ones), then structure.
 * Throws a StudioError whose `where` holds the file and either the line (`row`) and `column` of a syntax error or
 * the JSON pointer (`path`) and `node` of a structural one; when there are several problems the message lists a few.
 */
export function parseProject(text: string, file?: string): Project {
  const at = (w: Where): Where => (file === undefined ? w : { file, ...w });
  const value = parseJson(text, at);
  if (!isObject(value)) {
    throw new StudioError(`this file is not a Backprop Studio project: it holds ${describeValue(value)}, not an object`, at({}));
  }
  if (value.format !== PROJECT_FORMAT) {
    const found = 'format' in value ? `its "format" is ${describeValue(value.format)}, not` : 'it has no "format":';
    throw new StudioError(`this file is not a Backprop Studio project (${found} "${PROJECT_FORMAT}")`, at({ path: '/format' }));
  }
  const version = value.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    const found = version === undefined ? 'it is missing' : `not ${describeValue(version)}`;
    throw new StudioError(`"version" must be an integer >= 1, ${found}`, at({ path: '/version' }));
  }
  if (version > PROJECT_VERSION) {
    throw new StudioError(
      `this project was saved by a newer version of Backprop Studio (format version ${version}; ` +
        `this one reads up to ${PROJECT_VERSION})`,
      at({ path: '/version' }),
    );
  }
  const overflow = firstNonFinite(value);
  if (overflow !== undefined) {
    throw new StudioError('this number is out of range (it would be saved as null)', at({ path: overflow }));
  }
  const deep = tooDeep(value);
  if (deep !== undefined) {
    throw new StudioError(`this value is nested more than ${MAX_DEPTH} levels deep`, at({ path: deep }));
  }
  const project = migrateProject({ ...value, version });
  const problems = validateProject(project);
  if (problems.length > 0) {
    const [first, ...rest] = problems;
    const lines = rest.slice(0, LISTED_PROBLEMS - 1).map((p) => `also: ${describeWhere({ node: p.node, path: p.path })}${p.message}`);
    if (rest.length > LISTED_PROBLEMS - 1) lines.push(`and ${rest.length - (LISTED_PROBLEMS - 1)} more`);
    throw new StudioError([first.message, ...lines].join('\n'), at({ node: first.node, path: first.path }));
  }
  return project as Project;
}

/** Every structural problem of a format-1 project object (schema violations, then duplicate node ids). */
export function validateProject(value: unknown): ProjectProblem[] {
  const problems = validateSchema(value) ? [] : (validateSchema.errors ?? []).map((e) => describeSchemaError(e, value));
  return problems.concat(duplicateIds(value));
}

function describeSchemaError(e: SchemaError, root: unknown): ProjectProblem {
  let path = e.instancePath;
  const found = (): string => describeValue(valueAt(root, path));
  const p = e.params;
  let message: string;
  if (e.keyword === 'required') {
    path += '/' + escapePointer(String(p.missingProperty));
    message = 'is required but missing';
  } else if (e.keyword === 'type') {
    const type = String(p.type);
    message = `must be ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}, not ${found()}`;
  } else if (e.keyword === 'enum') {
    message = `must be one of ${listValues(p.allowedValues as unknown[])}, not ${found()}`;
  } else if (e.keyword === 'const') {
    message = `must be ${JSON.stringify(p.allowedValue)}, not ${found()}`;
  } else if (e.keyword === 'pattern' && /^\/graph\/nodes\/\d+\/id$/.test(path)) {
    message = `${found()} is not a valid node id (letters, digits and _, not starting with a digit)`;
  } else if (e.keyword === 'discriminator') {
    // The data section's `kind` selects which of the kinds' schemas applies.
    path += '/kind';
    const kinds = listValues(DATA_KINDS);
    if (p.error === 'mapping') message = `unknown data kind ${found()} (format 1 has ${kinds})`;
    else if (p.tagValue === undefined) message = `is required but missing (one of ${kinds})`;
    else message = `must be one of ${kinds}, not ${found()}`;
  } else {
    message = `${e.message ?? 'is not valid'}, not ${found()}`;
  }
  return { path, message, ...nodeAt(root, path) };
}

/** The id of the node that `path` points into, when that node has a valid one. */
function nodeAt(root: unknown, path: string): { node?: string } {
  const m = /^\/graph\/nodes\/(\d+)(?:\/|$)/.exec(path);
  const id = m ? valueAt(root, `/graph/nodes/${m[1]}/id`) : undefined;
  return typeof id === 'string' && NODE_ID_PATTERN.test(id) ? { node: id } : {};
}

function duplicateIds(root: unknown): ProjectProblem[] {
  const nodes = valueAt(root, '/graph/nodes');
  if (!Array.isArray(nodes)) return [];
  const firstIndex = new Map<string, number>();
  const problems: ProjectProblem[] = [];
  nodes.forEach((n: unknown, i) => {
    const id = isObject(n) ? n.id : undefined;
    if (typeof id !== 'string') return;
    const j = firstIndex.get(id);
    if (j === undefined) firstIndex.set(id, i);
    else {
      const path = `/graph/nodes/${i}/id`;
      problems.push({ path, message: `duplicate node id ${JSON.stringify(id)} (also /graph/nodes/${j})`, ...nodeAt(root, path) });
    }
  });
  return problems;
}

/**
 * The JSON pointer of the first number that is not finite, or undefined. JSON such as `1e400` parses to Infinity,
 * which JSON.stringify would write back as null. Walks with an explicit stack, as files may nest deeply.
 */
/** How deep values may nest inside the sections the engine reads (a tensor constant needs a handful of levels). */
const MAX_DEPTH = 64;

/**
 * The path of a value nested deeper than MAX_DEPTH inside `graph`, `data`, `training` or `editor` (unknown top-level
 * keys are kept as they are, however deep), found without recursion.
 */
function tooDeep(root: Record<string, unknown>): string | undefined {
  for (const section of ['graph', 'data', 'training', 'editor']) {
    const stack: { value: unknown; path: string; depth: number }[] = [{ value: root[section], path: '/' + section, depth: 1 }];
    while (stack.length > 0) {
      const { value, path, depth } = stack.pop()!;
      if (typeof value !== 'object' || value === null) continue;
      if (depth > MAX_DEPTH) return path;
      for (const [k, x] of Object.entries(value)) stack.push({ value: x, path: `${path}/${escapePointer(k)}`, depth: depth + 1 });
    }
  }
  return undefined;
}

function firstNonFinite(root: unknown): string | undefined {
  interface Entry { value: unknown; key: string; up?: Entry }
  const stack: Entry[] = [{ value: root, key: '' }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const v = entry.value;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      const keys: string[] = [];
      for (let e: Entry | undefined = entry; e?.up; e = e.up) keys.push(e.key);
      return keys.reverse().map((k) => '/' + escapePointer(k)).join('');
    }
    // Pushed last to first, so that document order is searched first.
    const children = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : isObject(v) ? Object.entries(v) : [];
    for (let i = children.length - 1; i >= 0; i--) stack.push({ value: children[i][1], key: children[i][0], up: entry });
  }
  return undefined;
}

// ---- JSON syntax ----------------------------------------------------------------------------------------------

function parseJson(text: string, at: (w: Where) => Where): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a byte-order mark some editors write
  if (body.trim() === '') throw new StudioError('the file is empty, not a Backprop Studio project', at({}));
  try {
    return JSON.parse(body);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    const found = findJsonError(body);
    if (!found) throw new StudioError(`not valid JSON: ${e.message}`, at({}));
    const { line, column } = lineAndColumn(body, found.offset);
    const notJson = found.offset === body.length - body.trimStart().length && !/^[{[]/.test(body.trimStart());
    const message = notJson ? `this file is not a Backprop Studio project: it is not JSON (${found.problem})` : `not valid JSON: ${found.problem}`;
    throw new StudioError(message, at({ row: line, column }));
  }
}

/**
 * Where and why JSON.parse gave up, or undefined if the text is valid. Engines word (and place) their own messages
 * differently and some give no position, so this scans the text itself, iteratively.
 */
function findJsonError(text: string): { offset: number; problem: string } | undefined {
  const closers: string[] = []; // the bracket that closes each open array or object
  let state: 'value' | 'key' | 'colon' | 'after' = 'value';
  let justOpened = false; // right after '[' or '{', where the closing bracket may come at once
  let afterComma = false;
  let i = 0;
  const fail = (problem: string) => ({ offset: i, problem });
  while (true) {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
    if (i === text.length) {
      return state === 'after' && closers.length === 0 ? undefined : fail('the file ends too early (is it cut short?)');
    }
    const c = text[i];
    const closer = closers.at(-1);
    if (justOpened && c === closer) {
      closers.pop();
      i++;
      state = 'after';
      justOpened = false;
      continue;
    }
    if (afterComma && c === closer) return fail(`a comma before '${c}' with nothing after it (JSON allows no trailing comma)`);
    justOpened = afterComma = false;
    if (state === 'value') {
      if (c === '{' || c === '[') {
        closers.push(c === '{' ? '}' : ']');
        state = c === '{' ? 'key' : 'value';
        justOpened = true;
        i++;
        continue;
      }
      const end = c === '"' ? scanString(text, i) : scanLiteral(text, i);
      if (typeof end !== 'number') return end;
      i = end;
      state = 'after';
    } else if (state === 'key') {
      if (c !== '"') return fail(`expected a property name in double quotes, found ${show(text, i)}`);
      const end = scanString(text, i);
      if (typeof end !== 'number') return end;
      i = end;
      state = 'colon';
    } else if (state === 'colon') {
      if (c !== ':') return fail(`expected ':' after the property name, found ${show(text, i)}`);
      i++;
      state = 'value';
    } else {
      if (closer === undefined) return fail(`unexpected ${show(text, i)} after the end of the JSON`);
      if (c === ',') {
        state = closer === '}' ? 'key' : 'value';
        afterComma = true;
      } else if (c === closer) closers.pop();
      else return fail(`expected ',' or '${closer}', found ${show(text, i)}`);
      i++;
    }
  }
}

type ScanResult = number | { offset: number; problem: string };

/** The offset after the string that starts at `start`, or what is wrong with it. */
function scanString(text: string, start: number): ScanResult {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c < 0x20) return { offset: i, problem: 'a line break or control character inside a string' };
    if (c === 0x5c) {
      const escape = /\\(["\\/bfnrt]|u[0-9a-fA-F]{4})/y;
      escape.lastIndex = i;
      if (!escape.test(text)) {
        if (i + 1 >= text.length) break;
        return { offset: i, problem: `invalid escape ${show(text, i, 2)} in a string` };
      }
      i = escape.lastIndex - 1;
    }
  }
  return { offset: text.length, problem: 'the file ends inside a string (is it cut short?)' };
}

/** The offset after the number, true, false or null at `start`, or what is there instead. */
function scanLiteral(text: string, start: number): ScanResult {
  const literal = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
  literal.lastIndex = start;
  if (literal.test(text)) return literal.lastIndex;
  const problem = /[-0-9]/.test(text[start]) ? 'an invalid number' : `expected a value, found ${show(text, start)}`;
  return { offset: start, problem };
}

/** A short quotation of the text at `offset`: a whole word if one starts there, else `length` characters. */
function show(text: string, offset: number, length = 1): string {
  const word = /[A-Za-z0-9_]+/y;
  word.lastIndex = offset;
  const s = word.test(text) ? text.slice(offset, Math.min(word.lastIndex, offset + 20)) : text.slice(offset, offset + length);
  // JSON.stringify escapes C0 control characters; escape C1 ones too, as binary files are full of them.
  return JSON.stringify(s).replace(/[\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** 1-based line and column (in UTF-16 code units) of an offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let nl = text.indexOf('\n'); nl !== -1 && nl < offset; nl = text.indexOf('\n', nl + 1)) {
    line++;
    lineStart = nl + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

// ---- Saving ---------------------------------------------------------------------------------------------------

const CANONICAL_KEYS = ['format', 'version', 'name', 'graph', 'data', 'training', 'editor'];

/**
 * The file text: 2-space-indented JSON with a trailing newline, top-level keys in the canonical order and the
 * unknown ones after them in their own order. (JavaScript puts integer-like keys first whatever the file said.)
 */
export function serializeProject(project: Project): string {
  const known = CANONICAL_KEYS.filter((k) => Object.hasOwn(project, k));
  const unknown = Object.keys(project).filter((k) => !CANONICAL_KEYS.includes(k));
  // fromEntries rather than assignment, so that a "__proto__" key stays an ordinary key.
  return stringify(Object.fromEntries([...known, ...unknown].map((k) => [k, project[k]]))) + '\n';
}

/**
 * `JSON.stringify(value, null, 2)` for JSON data, without recursion: V8's overflows the stack a few thousand levels
 * down, and a file that JSON.parse read (it does not recurse) must save again.
 */
function stringify(root: unknown): string {
  interface Open { entries: [string | undefined, unknown][]; next: number; indent: string; close: string }
  const parts: string[] = [];
  const open: Open[] = [];
  let value = root;
  let indent = '';
  while (true) {
    if (Array.isArray(value) || isObject(value)) {
      const entries: [string | undefined, unknown][] = Array.isArray(value)
        ? value.map((v) => [undefined, v])
        : Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
      const [start, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
      if (entries.length === 0) parts.push(start + close);
      else {
        parts.push(start);
        open.push({ entries, next: 0, indent, close });
      }
    } else if (typeof value === 'string') parts.push(JSON.stringify(value));
    else if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) parts.push(String(value));
    else parts.push('null'); // as JSON.stringify writes null, NaN, Infinity and, in arrays, undefined

    let top = open.at(-1);
    while (top && top.next === top.entries.length) {
      parts.push(`\n${top.indent}${top.close}`);
      open.pop();
      top = open.at(-1);
    }
    if (!top) return parts.join('');
    const [key, next] = top.entries[top.next];
    indent = top.indent + '  ';
    parts.push(`${top.next > 0 ? ',' : ''}\n${indent}${key === undefined ? '' : JSON.stringify(key) + ': '}`);
    top.next++;
    value = next;
  }
}

// ---- Helpers --------------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The value a JSON pointer points to, or undefined. */
function valueAt(root: unknown, pointer: string): unknown {
  let v = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(v) || isObject(v)) v = Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
    else return undefined;
  }
  return v;
}

/** A value as a message quotes it: short strings and numbers as they are, containers by kind. */
function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return String(v);
}

function listValues(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}
