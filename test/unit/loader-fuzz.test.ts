/**
 * Fuzzes the file loader: hundreds of corrupted project files, made deterministically (seeded Rng) from the real
 * examples, each opened the way the app opens a file:
 *
 *  (a) the shell service's `open` (web mode's workspace policy) on the file in a temporary workspace: it either
 *      returns the text (the file parses structurally) or throws a StudioError with a message and a `where` naming
 *      the file; never another exception, never a hang; the file's bytes and mtime are unchanged and no other file
 *      appears in the workspace;
 *  (b) for a file that opens: the engine's graph analysis (`expandGraph`, batch null) returns its graph-level faults
 *      (cycle, dangling input, unknown op...) as errors instead of throwing; and what the editor then does with the
 *      document (auto-layout, the renderer's analysis, the canvas's nodes and edges) does not throw either.
 *
 * Every case must end in an error, except mutations that happen to leave a valid file (parseProject and the
 * analysis both say ok): those are counted separately and must be a minority.
 */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShellService, toErrorInfo, type ShellService } from '../../electron/shell-service';
import { webPolicy } from '../../electron/workspace';
import { expandGraph } from '../../engine/graph/expand';
import { shellReply } from '../../engine/protocol/messages';
import { parseProject, type Project } from '../../engine/io/project';
import { StudioError } from '../../engine/util/errors';
import { Rng } from '../../engine/util/rng';
import { analyze } from '../../renderer/src/lib/analysis';
import { withLayout } from '../../renderer/src/lib/layout';
import { buildEdges, buildNodes, type UiError } from '../../renderer/src/lib/nodes';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const EXAMPLE_FILES = readdirSync(EXAMPLES)
  .filter((n) => n.endsWith('.bpstudio'))
  .sort();
const DEEP = 10_000;
/** Valid node ids that are also names on Object.prototype. */
const PROTO_IDS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];
/** A case that takes longer than this counts as a hang. */
const SLOW_MS = 3_000;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };
type Path = (string | number)[];

/**
 * What a case must end in: `open` (the shell refuses it), `graph` (it opens, and the analysis reports an error
 * matching `graph`), or `any` (an error somewhere, or a valid file, counted separately).
 */
type Expect = { kind: 'open' } | { kind: 'graph'; message: RegExp } | { kind: 'any' };

interface Case {
  name: string;
  category: string;
  source: string;
  bytes: Buffer;
  expect: Expect;
}

// ---- generators -------------------------------------------------------------------------------------------------

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** Every path of the document except the root, in document order. */
function pathsOf(root: Json): Path[] {
  const out: Path[] = [];
  const walk = (v: Json, path: Path) => {
    if (path.length) out.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(root, []);
  return out;
}

function getAt(root: Json, path: Path): Json {
  let v: Json = root;
  for (const k of path) v = (v as Record<string | number, Json>)[k];
  return v;
}

function setAt(root: Json, path: Path, value: Json): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, Json>;
  parent[path[path.length - 1]] = value;
}

function deleteAt(root: Json, path: Path): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete (parent as JsonObject)[key as string];
}

function typeOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A value of another JSON type than `v`. */
function wrongValue(rng: Rng, v: Json): Json {
  const candidates: [string, Json][] = [
    ['string', pick(rng, ['oops', '', '12', 'relu', 'x'])],
    ['number', pick(rng, [7, 0, -1, 2.5, 1e9])],
    ['array', pick(rng, [[], [1, 'a'], [[2, 3]], [null]] as Json[])],
    ['object', pick(rng, [{}, { k: 1 }, { x: 'x' }] as Json[])],
    ['null', null],
    ['boolean', rng.int(2) === 0],
  ];
  const others = candidates.filter(([t]) => t !== typeOf(v));
  return pick(rng, others)[1];
}

const PLACEHOLDER = '"__FUZZ_PLACEHOLDER__"';

/** The document with the value at `path` replaced by raw JSON text (which JSON.stringify could not write). */
function withRawAt(doc: Json, path: Path, raw: string): string {
  const copy = structuredClone(doc);
  setAt(copy, path, PLACEHOLDER.slice(1, -1));
  return JSON.stringify(copy, null, 2).replace(PLACEHOLDER, raw);
}

function deepText(rng: Rng): string {
  switch (rng.int(3)) {
    case 0:
      return '['.repeat(DEEP) + ']'.repeat(DEEP);
    case 1:
      return '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP);
    default:
      return '[{"k":'.repeat(DEEP / 2) + '[]' + '}]'.repeat(DEEP / 2);
  }
}

interface GraphNodeJson {
  id: string;
  op: string;
  attrs?: JsonObject;
  inputs?: Record<string, string>;
  [k: string]: Json | undefined;
}

function nodesOf(doc: Json): GraphNodeJson[] {
  return (doc as { graph: { nodes: GraphNodeJson[] } }).graph.nodes;
}

/** Ids of the nodes that depend (transitively) on `id`. */
function downstream(nodes: readonly GraphNodeJson[], id: string): string[] {
  const out = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const n of nodes) {
      if (!out.has(n.id) && Object.values(n.inputs ?? {}).includes(cur)) {
        out.add(n.id);
        stack.push(n.id);
      }
    }
  }
  return [...out];
}

function makeCases(): Case[] {
  const cases: Case[] = [];
  const add = (category: string, source: string, bytes: Buffer | string, expect: Expect = { kind: 'any' }) =>
    cases.push({ name: `case${String(cases.length).padStart(4, '0')}-${category}.bpstudio`, category, source, bytes: Buffer.from(bytes), expect });

  EXAMPLE_FILES.forEach((file, fileIndex) => {
    const rng = new Rng(20_240_000 + fileIndex);
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    const raw = Buffer.from(text);
    const doc = JSON.parse(text) as Json;
    const paths = pathsOf(doc);
    const nodes = nodesOf(doc);
    const src = basename(file);
    const json = (d: Json) => JSON.stringify(d, null, 2) + '\n';

    // Truncations at random offsets (never the whole file; 0 is the empty file).
    for (let i = 0; i < 14; i++) add('truncate', src, raw.subarray(0, rng.int(raw.length)));
    // Random byte flips, deletions, insertions.
    for (let i = 0; i < 12; i++) {
      const b = Buffer.from(raw);
      for (let k = 0, n = 1 + rng.int(3); k < n; k++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      add('byte-flip', src, b);
    }
    for (let i = 0; i < 8; i++) {
      const at = rng.int(raw.length);
      add('byte-delete', src, Buffer.concat([raw.subarray(0, at), raw.subarray(at + 1 + rng.int(3))]));
    }
    for (let i = 0; i < 8; i++) {
      const at = rng.int(raw.length);
      const ins = rng.int(2) ? Buffer.from([rng.int(256)]) : Buffer.from(pick(rng, ['{', '}', '[', ']', ',', ':', '"', '\\', '\0', 'x', '-', '1e', ' ']));
      add('byte-insert', src, Buffer.concat([raw.subarray(0, at), ins, raw.subarray(at)]));
    }
    // A wrong type at a random path.
    for (let i = 0; i < 18; i++) {
      const copy = structuredClone(doc);
      const path = pick(rng, paths);
      setAt(copy, path, wrongValue(rng, getAt(copy, path)));
      add('wrong-type', src, json(copy));
    }
    // A key or array element removed.
    for (let i = 0; i < 4; i++) {
      const copy = structuredClone(doc);
      deleteAt(copy, pick(rng, paths));
      add('delete-key', src, json(copy));
    }
    // Huge, tiny and awkward numbers as literal text (1e400 is Infinity to JSON.parse).
    const literals = ['1e308', '-1e308', '1e400', '-1e400', '1e-400', '-0', '9007199254740993', '123456789012345678901234567890'];
    for (let i = 0; i < 10; i++) {
      const numberPaths = paths.filter((p) => typeof getAt(doc, p) === 'number');
      const path = rng.int(4) === 0 ? pick(rng, paths) : pick(rng, numberPaths);
      const lit = literals[i % literals.length];
      add('huge-number', src, withRawAt(doc, path, lit), /^-?1e400$/.test(lit) ? { kind: 'open' } : { kind: 'any' });
    }
    // 10,000 levels of nesting at a random path, and in a node's attrs (known and unknown attribute).
    for (let i = 0; i < 4; i++) add('deep-nesting', src, withRawAt(doc, pick(rng, paths), deepText(rng)));
    {
      const n = pick(rng, nodes);
      const idx = nodes.indexOf(n);
      const attr = Object.keys(n.attrs ?? {})[0] ?? 'shape';
      add('deep-nesting-attr', src, withRawAt(doc, ['graph', 'nodes', idx, 'attrs', ...(n.attrs ? [attr] : [])], n.attrs ? deepText(rng) : `{"x": ${deepText(rng)}}`));
      add('deep-nesting-attr', src, withRawAt(doc, ['graph', 'nodes', idx, 'label'], deepText(rng)));
    }
    // A cycle: an input rewired to a node downstream of it (or to itself).
    const wired = nodes.filter((n) => Object.keys(n.inputs ?? {}).length > 0);
    for (let i = 0; i < 3; i++) {
      const copy = structuredClone(doc);
      const cn = nodesOf(copy);
      const n = cn[nodes.indexOf(pick(rng, wired))];
      const port = pick(rng, Object.keys(n.inputs!));
      const down = downstream(cn, n.id);
      n.inputs![port] = down.length && i < 2 ? pick(rng, down) : n.id;
      add('cycle', src, json(copy), { kind: 'graph', message: /cycle/ });
    }
    // A dangling input.
    for (let i = 0; i < 2; i++) {
      const copy = structuredClone(doc);
      const n = nodesOf(copy)[nodes.indexOf(pick(rng, wired))];
      n.inputs![pick(rng, Object.keys(n.inputs!))] = `ghost${i}`;
      add('dangling', src, json(copy), { kind: 'graph', message: /not a node of the graph/ });
    }
    // Duplicate ids (a structural error: parseProject refuses them).
    for (let i = 0; i < 2; i++) {
      const copy = structuredClone(doc);
      const cn = nodesOf(copy);
      const a = rng.int(cn.length);
      const b = (a + 1 + rng.int(cn.length - 1)) % cn.length;
      cn[b].id = cn[a].id;
      add('duplicate-id', src, json(copy), { kind: 'open' });
    }
    // Unknown ops, attributes and ports.
    for (let i = 0; i < 2; i++) {
      const copy = structuredClone(doc);
      pick(rng, nodesOf(copy)).op = pick(rng, ['frobnicate', 'Dense', 'conv3d', '']);
      add('unknown-op', src, json(copy), { kind: 'graph', message: /unknown op/ });
    }
    for (let i = 0; i < 2; i++) {
      const copy = structuredClone(doc);
      const n = pick(rng, nodesOf(copy));
      n.attrs = { ...(n.attrs ?? {}), [pick(rng, ['bogus', 'Units', 'activation_fn'])]: 1 };
      add('unknown-attr', src, json(copy), { kind: 'graph', message: /has no attribute/ });
    }
    {
      const copy = structuredClone(doc);
      const n = pick(rng, nodesOf(copy));
      n.inputs = { ...(n.inputs ?? {}), extra_port: nodes[0].id === n.id ? nodes[1].id : nodes[0].id };
      add('unknown-port', src, json(copy), { kind: 'graph', message: /has no input port/ });
    }
    // A node renamed (wires too) to an id that is also a name on Object.prototype: a valid file.
    {
      const copy = structuredClone(doc);
      const cn = nodesOf(copy);
      const n = cn[nodes.indexOf(pick(rng, wired))];
      const from = n.inputs![Object.keys(n.inputs!)[0]];
      const to = PROTO_IDS[fileIndex % PROTO_IDS.length];
      for (const m of cn) {
        if (m.id === from) m.id = to;
        for (const k of Object.keys(m.inputs ?? {})) if (m.inputs![k] === from) m.inputs![k] = to;
      }
      add('prototype-id', src, json(copy));
    }
    // Invalid UTF-8: anywhere, and inside a string.
    const badUtf8 = [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80, 0x80]];
    for (let i = 0; i < 6; i++) {
      const quotes = [...text.matchAll(/"/g)].map((m) => Buffer.byteLength(text.slice(0, m.index! + 1)));
      const at = i % 2 ? pick(rng, quotes) : rng.int(raw.length);
      add('invalid-utf8', src, Buffer.concat([raw.subarray(0, at), Buffer.from(badUtf8[i % badUtf8.length]), raw.subarray(at)]));
    }
    // A byte-order mark: before the whole file (valid), before a cut file, twice, and in the middle.
    const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
    add('bom', src, Buffer.concat([BOM, raw]));
    add('bom', src, Buffer.concat([BOM, raw.subarray(0, rng.int(raw.length))]));
    add('bom', src, Buffer.concat([BOM, BOM, raw]), { kind: 'open' });
    {
      const at = rng.int(raw.length);
      add('bom', src, Buffer.concat([raw.subarray(0, at), BOM, raw.subarray(at)]));
    }
    // Format and version.
    {
      const copy = structuredClone(doc) as JsonObject;
      copy.version = 2 + rng.int(100);
      add('newer-version', src, json(copy), { kind: 'open' });
      const copy2 = structuredClone(doc) as JsonObject;
      copy2.format = 'backprop-studio/projekt';
      add('wrong-format', src, json(copy2), { kind: 'open' });
    }
  });

  // Whole-file oddities.
  const spiral = readFileSync(join(EXAMPLES, 'spiral.bpstudio'));
  const rng = new Rng(99);
  const noise = Buffer.alloc(2048);
  for (let i = 0; i < noise.length; i++) noise[i] = rng.int(256);
  const whole: [string, Buffer | string][] = [
    ['empty', ''],
    ['whitespace', ' \n\t\r\n  '],
    ['bom-only', Buffer.from([0xef, 0xbb, 0xbf])],
    ['nul-bytes', Buffer.alloc(64)],
    ['binary-noise', noise],
    ['gzip-magic', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), spiral.subarray(0, 100)])],
    ['utf16le', Buffer.from('\ufeff' + spiral.toString('utf8'), 'utf16le')],
    ['json-null', 'null'],
    ['json-array', '[]'],
    ['json-number', '42'],
    ['json-string', '"backprop-studio/project"'],
    ['json-true', 'true'],
    ['json-empty-object', '{}'],
    ['no-graph', '{"format":"backprop-studio/project","version":1}'],
    ['nodes-not-array', '{"format":"backprop-studio/project","version":1,"graph":{"nodes":{}}}'],
    ['version-float', '{"format":"backprop-studio/project","version":1.5,"graph":{"nodes":[]}}'],
    ['version-string', '{"format":"backprop-studio/project","version":"1","graph":{"nodes":[]}}'],
    ['version-huge', '{"format":"backprop-studio/project","version":1e400,"graph":{"nodes":[]}}'],
    ['version-zero', '{"format":"backprop-studio/project","version":-0,"graph":{"nodes":[]}}'],
    ['trailing-comma', '{"format":"backprop-studio/project","version":1,"graph":{"nodes":[],},}'],
    ['comments', '// a project\n{"format":"backprop-studio/project","version":1,"graph":{"nodes":[]}}'],
    ['single-quotes', "{'format':'backprop-studio/project','version':1,'graph':{'nodes':[]}}"],
    ['two-documents', '{"format":"backprop-studio/project","version":1,"graph":{"nodes":[]}}{}'],
    ['deep-top', '['.repeat(DEEP) + ']'.repeat(DEEP)],
    ['deep-unclosed', '{"a":'.repeat(DEEP)],
    ['proto-key', '{"format":"backprop-studio/project","version":1,"graph":{"nodes":[{"id":"__proto__","op":"input","attrs":{"shape":[2]}},{"id":"constructor","op":"frobnicate"}]}}'],
  ];
  for (const [category, bytes] of whole) {
    const mustFail = !['proto-key'].includes(category);
    add(category, 'none', bytes, mustFail ? { kind: 'open' } : { kind: 'any' });
  }
  return cases;
}

// ---- running a case ---------------------------------------------------------------------------------------------

type Outcome = 'open-error' | 'graph-error' | 'valid';
interface Failure {
  name: string;
  category: string;
  problem: string;
}

let tmp: string;
let ws: string;
let dataDir: string;
let service: ShellService;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bps-fuzz-'));
  ws = join(tmp, 'ws');
  dataDir = join(tmp, 'data');
  mkdirSync(ws);
  service = createShellService({ policy: webPolicy(ws), dataDir, examplesDir: EXAMPLES, version: '0.0.0-fuzz' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * What the editor does with a document it opened (app.svelte.ts: `openText` -> `load` -> `withLayout`, then the
 * document's analysis and the canvas's nodes and edges). Returns what is wrong with the result (a node without a
 * finite position).
 */
function editorOpens(project: Project): string | null {
  const nodes = project.graph.nodes;
  const placed = withLayout(project);
  const a = analyze(nodes);
  const byNode = new Map<string, UiError[]>();
  for (const e of a.errors) byNode.set(e.node, [...(byNode.get(e.node) ?? []), e]);
  const built = buildNodes(placed, a, byNode, [], null);
  buildEdges(placed, a, [], null);
  const lost = built.filter((n) => !Number.isFinite(n.position.x) || !Number.isFinite(n.position.y)).map((n) => n.id);
  return lost.length ? `nodes without a finite position on the canvas: ${JSON.stringify(lost)}` : null;
}

const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Names added to Object.prototype since the start (removed again, so that one case does not spoil the next). */
function prototypePollution(): string[] {
  const added = Object.getOwnPropertyNames(Object.prototype).filter((k) => !PROTOTYPE_NAMES.has(k));
  for (const k of added) delete (Object.prototype as Record<string, unknown>)[k];
  return added;
}

function describeThrow(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message.split('\n')[0].slice(0, 160)}` : String(e);
}

async function runCase(c: Case, failures: Failure[]): Promise<Outcome | null> {
  const fail = (problem: string) => {
    failures.push({ name: c.name, category: c.category, problem });
    return null;
  };
  const file = join(ws, c.name);
  writeFileSync(file, c.bytes);
  const old = new Date('2001-02-03T04:05:06Z');
  utimesSync(file, old, old);
  const before = statSync(file).mtimeMs;
  const t0 = performance.now();
  let opened: { path: string; text: string } | null = null;
  let openError: unknown;
  try {
    opened = await service.handle({ type: 'open', path: c.name });
  } catch (e) {
    openError = e;
  }
  const ms = performance.now() - t0;

  // Nothing on disk changed: the same bytes and mtime, and no other file in the workspace.
  const after = statSync(file);
  if (!readFileSync(file).equals(c.bytes)) fail('the file changed on disk');
  if (after.mtimeMs !== before) fail('the file\'s mtime changed');
  const listing = readdirSync(ws);
  if (listing.length !== 1 || listing[0] !== c.name) fail(`the workspace now holds ${JSON.stringify(listing)}`);
  rmSync(file);
  if (ms > SLOW_MS) fail(`open took ${ms.toFixed(0)} ms`);

  let outcome: Outcome;
  if (openError !== undefined) {
    if (!(openError instanceof StudioError)) return fail(`open threw ${describeThrow(openError)}`);
    if (!openError.message.trim()) return fail('open threw a StudioError without a message');
    const info = toErrorInfo(openError);
    if (info.where?.file !== c.name) return fail(`the error's where does not name the file: ${JSON.stringify(info)}`);
    try {
      shellReply({ ok: false, error: info }); // what crosses to the renderer passes the protocol's check
    } catch (e) {
      return fail(`the error does not cross the protocol: ${describeThrow(e)}`);
    }
    outcome = 'open-error';
  } else {
    if (!opened) return fail('open returned null');
    if (opened.text !== c.bytes.toString('utf8')) fail('open returned another text than the file holds');
    // (b) the graph: errors, never a throw.
    let project: Project;
    try {
      project = parseProject(opened.text, c.name);
    } catch (e) {
      return fail(`parseProject threw after open succeeded: ${describeThrow(e)}`);
    }
    let errors: readonly { node: string; message: string }[];
    try {
      errors = expandGraph(project.graph.nodes, { batch: null, mode: 'train' }).errors;
    } catch (e) {
      return fail(`expandGraph threw ${describeThrow(e)}`);
    }
    for (const e of errors) if (typeof e.message !== 'string' || !e.message) fail(`a graph error without a message: ${JSON.stringify(e)}`);
    try {
      const wrong = editorOpens(project);
      if (wrong) fail(wrong);
    } catch (e) {
      fail(`the editor's view of the document threw ${describeThrow(e)}`);
    }
    const polluted = prototypePollution();
    if (polluted.length) fail(`Object.prototype was polluted with ${JSON.stringify(polluted)}`);
    outcome = errors.length ? 'graph-error' : 'valid';
    if (c.expect.kind === 'graph' && !errors.some((e) => (c.expect as { message: RegExp }).message.test(e.message))) {
      fail(`expected a graph error matching ${c.expect.message}, got ${JSON.stringify(errors.map((e) => e.message))}`);
    }
  }
  if (c.expect.kind === 'open' && outcome !== 'open-error') fail(`expected open to refuse it, got ${outcome}`);
  if (c.expect.kind === 'graph' && outcome !== 'graph-error') fail(`expected it to open with a graph error, got ${outcome}`);
  return outcome;
}

// ---- the test ---------------------------------------------------------------------------------------------------

describe('loader fuzz', () => {
  const cases = makeCases();

  it('makes the same cases every run (seeded), hundreds of them', () => {
    expect(cases.length).toBeGreaterThan(400);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    const again = makeCases();
    expect(again.map((c) => c.bytes.toString('base64'))).toEqual(cases.map((c) => c.bytes.toString('base64')));
  });

  it('every corrupted file ends in an error, without a crash, a hang or a change on disk', async () => {
    const failures: Failure[] = [];
    const counts: Record<string, Record<Outcome, number>> = {};
    const totals: Record<Outcome, number> = { 'open-error': 0, 'graph-error': 0, valid: 0 };
    const t0 = performance.now();
    for (const c of cases) {
      const outcome = await runCase(c, failures);
      if (outcome === null) continue;
      counts[c.category] ??= { 'open-error': 0, 'graph-error': 0, valid: 0 };
      counts[c.category][outcome]++;
      totals[outcome]++;
    }
    const seconds = (performance.now() - t0) / 1000;
    // The counts, for the record (vitest shows them with --reporter=verbose or on failure).
    console.log(
      `loader fuzz: ${cases.length} cases in ${seconds.toFixed(1)} s: ${JSON.stringify(totals)}, ` +
        `${failures.length} failures\n` +
        Object.entries(counts)
          .map(([k, v]) => `  ${k.padEnd(18)} ${JSON.stringify(v)}`)
          .join('\n'),
    );
    expect(failures).toEqual([]);
    // Only the recent list may have been written, in the data folder (never in the workspace).
    expect(readdirSync(dataDir).filter((n) => n !== 'recent.json' && n !== 'recovery')).toEqual([]);
    // Valid files are mutations that missed (a flipped letter in a name, -0 for 0...): a minority.
    expect(totals.valid).toBeLessThan(cases.length / 4);
    expect(totals['open-error']).toBeGreaterThan(cases.length / 2);
    expect(totals['graph-error']).toBeGreaterThanOrEqual(7 * 10);
  });

  // A value nested 10,000 deep in a node's attrs is refused when the file is read (at most 64 levels inside the
  // sections the engine reads), so nothing later recurses over it.
  it('a value nested 10,000 deep in a node attribute is an error naming its path, not a stack overflow', () => {
    const deep = '['.repeat(DEEP) + ']'.repeat(DEEP);
    const nodes = ['{"id":"x","op":"input","attrs":{"shape":[2]}}', `{"id":"h","op":"dense","attrs":{"units":${deep}},"inputs":{"x":"x"}}`];
    const text = `{"format":"backprop-studio/project","version":1,"graph":{"nodes":[${nodes.join(',')}]}}`;
    expect(() => parseProject(text, 'deep.bpstudio')).toThrow(StudioError);
    try {
      parseProject(text, 'deep.bpstudio');
    } catch (e) {
      expect((e as StudioError).where.path).toMatch(/^\/graph\/nodes\/1\/attrs\/units/);
      expect((e as StudioError).message).toMatch(/nested more than 64 levels/);
    }
  });

  // Node ids that are names on Object.prototype are valid ids; positions are read as own properties and dagre gets
  // index keys, so they open and lay out like any other.
  it('node ids such as "constructor" and "__proto__" open and lay out like any other', () => {
    for (const id of PROTO_IDS) {
      const project = parseProject(
        JSON.stringify({
          format: 'backprop-studio/project',
          version: 1,
          graph: { nodes: [{ id: 'x', op: 'input', attrs: { shape: [2] } }, { id, op: 'relu', inputs: { x: 'x' } }, { id: 'y', op: 'relu', inputs: { x: id } }] },
        }),
        'proto.bpstudio',
      );
      let wrong: string | null;
      try {
        wrong = editorOpens(project);
      } finally {
        expect(prototypePollution()).toEqual([]);
      }
      expect(wrong).toBeNull();
    }
  });
});
