import { describe, expect, it } from 'vitest';
import { parseProject, validateProject, type Project } from '../../engine/io/project';
import { StudioError } from '../../engine/util/errors';

const HEAD = '"format": "backprop-studio/project", "version": 1';

/** The file in project-format.md, whole. */
const FULL: Project = {
  format: 'backprop-studio/project',
  version: 1,
  name: 'Spiral, two hidden layers',
  graph: {
    nodes: [
      { id: 'in', op: 'input', attrs: { shape: [2] } },
      { id: 'y', op: 'label', attrs: { kind: 'class' } },
      { id: 'h1', op: 'dense', attrs: { units: 16, activation: 'relu' }, inputs: { x: 'in' }, label: 'Hidden 1' },
      { id: 'logits', op: 'dense', attrs: { units: 3 }, inputs: { x: 'h1' } },
      { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'logits', labels: 'y' } },
    ],
  },
  data: { kind: 'builtin', name: 'spiral', samples: 600, classes: 3, noise: 0.1, validation: 0.2, shuffle: true },
  training: {
    objective: 'loss',
    prediction: 'logits',
    optimizer: { type: 'adam', lr: 0.01 },
    batchSize: 32,
    epochs: 50,
    seed: 1,
    backend: 'auto',
  },
  editor: { positions: { in: { x: 0, y: 0 }, h1: { x: 200, y: -40.5 } }, viewport: { x: 0, y: 0, zoom: 1 } },
};

/** What parseProject threw, checked to be a StudioError. */
function failure(text: string, file = 'net.bpstudio'): StudioError {
  try {
    parseProject(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(StudioError);
    return e as StudioError;
  }
  throw new Error('parseProject accepted ' + text);
}

/** A format-1 project text with `body` spliced into its top level. */
const project = (body: string): string => `{ ${HEAD}, ${body} }`;

describe('parseProject: valid files', () => {
  it('reads the smallest project', () => {
    expect(parseProject(project('"graph": { "nodes": [] }'))).toEqual({
      format: 'backprop-studio/project',
      version: 1,
      graph: { nodes: [] },
    });
  });

  it('reads the documented example as it is', () => {
    expect(parseProject(JSON.stringify(FULL, null, 2))).toEqual(FULL);
  });

  it.each([
    { kind: 'builtin', name: 'spiral', samples: 600, classes: 3, noise: 0.1 },
    { kind: 'csv', path: 'iris.csv', label: 'species', features: ['sepal_length_cm', 'petal_length_cm'], standardize: true },
    { kind: 'csv', path: 'iris.csv', classes: ['setosa', 'versicolor'], validation: 0, shuffle: false },
    { kind: 'idx', images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
    { kind: 'inline', columns: { x1: [2], x2: [5] } },
    { kind: 'builtin', name: 'moons', extra: 'kept' },
  ])('accepts data %j', (data) => {
    expect(parseProject(project(`"graph": { "nodes": [] }, "data": ${JSON.stringify(data)}`)).data).toEqual(data);
  });

  it('accepts a byte-order mark and any optimizer field', () => {
    const training = { optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 } };
    const text = '\ufeff' + project(`"graph": { "nodes": [] }, "training": ${JSON.stringify(training)}`);
    expect(parseProject(text).training).toEqual(training);
  });
});

describe('parseProject: JSON syntax errors name the line and column', () => {
  it.each([
    // [text, line, column, message]
    ['{\n  "graph": {\n    "nodes": [{ "id": "h', 3, 25, /ends inside a string \(is it cut short\?\)/],
    ['{\n  "graph": {\n    "nodes": [{ "id": "h1" }', 3, 29, /ends too early \(is it cut short\?\)/],
    ['{\n  "a": 1,\n}', 3, 1, /trailing comma/],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, /expected ',' or '}', found "\\""/],
    ['{ "a": [1, 2 }', 1, 14, /expected ',' or ']', found "}"/],
    ['{ "a": tru }', 1, 8, /expected a value, found "tru"/],
    ["{ 'a': 1 }", 1, 3, /property name in double quotes/],
    ['{ "a": "x\ny" }', 1, 10, /line break .* inside a string/],
    ['{ "a": "\\q" }', 1, 9, /invalid escape/],
    ['{ "a": 1 } }', 1, 12, /after the end of the JSON/],
    ['{ "a": - }', 1, 8, /invalid number/],
  ])('%j', (text, line, column, message) => {
    const e = failure(text);
    expect(e.where).toEqual({ file: 'net.bpstudio', row: line, column });
    expect(e.message).toMatch(message);
    expect(e.describe()).toContain(`net.bpstudio: row ${line}, column ${column}: `);
  });

  it('locates the error in every truncation and every one-character deletion of a file', () => {
    const text = JSON.stringify(FULL, null, 1);
    const broken = [
      ...Array.from({ length: text.length - 1 }, (_, n) => text.slice(0, n + 1)),
      ...Array.from({ length: text.length }, (_, n) => text.slice(0, n) + text.slice(n + 1)),
    ].filter((t) => {
      try {
        JSON.parse(t);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken.length).toBeGreaterThan(text.length);
    for (const t of broken) expect(failure(t).where.row, t).toBeGreaterThan(0);
  });

  it('counts lines in CRLF files and columns after a byte-order mark as an editor does', () => {
    expect(failure('\ufeff{\r\n  "a": ,\r\n}').where).toMatchObject({ row: 2, column: 8 });
  });
});

describe('parseProject: files that are not projects', () => {
  it.each([
    ['', /the file is empty/],
    [' \n\t', /the file is empty/],
    ['hello world', /not a Backprop Studio project: it is not JSON/],
    ['\x89PNG\r\n\x1a\n', /not a Backprop Studio project: it is not JSON/],
    ['[{"format": "backprop-studio/project"}]', /not a Backprop Studio project: it holds an array, not an object/],
    ['42', /not a Backprop Studio project: it holds 42/],
    ['null', /not a Backprop Studio project: it holds null/],
    ['{"graph": {"nodes": []}}', /not a Backprop Studio project \(it has no "format"/],
    ['{"format": "backprop-studio/weights", "version": 1}', /not a Backprop Studio project \(its "format" is "backprop-studio\/weights"/],
  ])('%j', (text, message) => {
    const e = failure(text);
    expect(e.message).toMatch(message);
    expect(e.where.file).toBe('net.bpstudio');
  });
});

describe('parseProject: versions', () => {
  it('refuses a file from a newer Backprop Studio, saying so', () => {
    const e = failure('{"format": "backprop-studio/project", "version": 7, "graph": {"nodes": "anything"}}');
    expect(e.message).toContain('was saved by a newer version of Backprop Studio (format version 7; this one reads up to 1)');
    expect(e.where).toEqual({ file: 'net.bpstudio', path: '/version' });
  });

  it.each(['0', '1.5', '"1"', 'null', '-3'])('refuses version %s', (v) => {
    const e = failure(`{"format": "backprop-studio/project", "version": ${v}, "graph": {"nodes": []}}`);
    expect(e.message).toMatch(/"version" must be an integer >= 1/);
    expect(e.where.path).toBe('/version');
  });

  it('refuses a file without a version', () => {
    expect(failure('{"format": "backprop-studio/project", "graph": {"nodes": []}}').message).toMatch(/"version".*missing/);
  });
});

describe('parseProject: structural errors name the place', () => {
  const nodes = (list: unknown[]): string => `"graph": { "nodes": ${JSON.stringify(list)} }`;
  it.each([
    // [top-level body, where (without file), message]
    ['"name": "x"', { path: '/graph' }, /is required but missing/],
    ['"graph": []', { path: '/graph' }, /must be an object, not an array/],
    ['"graph": {}', { path: '/graph/nodes' }, /is required but missing/],
    ['"graph": { "nodes": {} }', { path: '/graph/nodes' }, /must be an array, not an object/],
    [nodes(['dense']), { path: '/graph/nodes/0' }, /must be an object, not "dense"/],
    [nodes([{ id: 'h1' }]), { path: '/graph/nodes/0/op', node: 'h1' }, /is required but missing/],
    [nodes([{ op: 'dense' }]), { path: '/graph/nodes/0/id' }, /is required but missing/],
    [nodes([{ id: 'h1', op: 3 }]), { path: '/graph/nodes/0/op', node: 'h1' }, /must be a string, not 3/],
    [nodes([{ id: '1st', op: 'dense' }]), { path: '/graph/nodes/0/id' }, /"1st" is not a valid node id/],
    [nodes([{ id: 'a b', op: 'dense' }]), { path: '/graph/nodes/0/id' }, /"a b" is not a valid node id/],
    [nodes([{ id: 7, op: 'dense' }]), { path: '/graph/nodes/0/id' }, /must be a string, not 7/],
    [nodes([{ id: 'a', op: 'x' }, { id: 'h', op: 'x', attrs: [] }]), { path: '/graph/nodes/1/attrs', node: 'h' }, /must be an object, not an array/],
    [nodes([{ id: 'h', op: 'x', inputs: { x: 1 } }]), { path: '/graph/nodes/0/inputs/x', node: 'h' }, /must be a string, not 1/],
    [nodes([{ id: 'h', op: 'x', label: null }]), { path: '/graph/nodes/0/label', node: 'h' }, /must be a string, not null/],
    [nodes([{ id: 'a', op: 'x' }, { id: 'b', op: 'x' }, { id: 'a', op: 'y' }]), { path: '/graph/nodes/2/id', node: 'a' }, /duplicate node id "a" \(also \/graph\/nodes\/0\)/],
    ['"graph": { "nodes": [] }, "name": 3', { path: '/name' }, /must be a string, not 3/],
    ['"graph": { "nodes": [] }, "data": { "kind": "parquet" }', { path: '/data/kind' }, /unknown data kind "parquet" \(format 1 has "builtin", "csv", "idx", "inline", "images"\)/],
    ['"graph": { "nodes": [] }, "data": { "name": "spiral" }', { path: '/data/kind' }, /is required but missing/],
    ['"graph": { "nodes": [] }, "data": { "kind": "csv" }', { path: '/data/path' }, /is required but missing/],
    ['"graph": { "nodes": [] }, "data": { "kind": "builtin", "name": "xor", "samples": 10.5 }', { path: '/data/samples' }, /must be an integer, not 10.5/],
    ['"graph": { "nodes": [] }, "data": { "kind": "idx", "images": "a", "validation": 1 }', { path: '/data/validation' }, /must be < 1, not 1/],
    ['"graph": { "nodes": [] }, "data": { "kind": "inline", "columns": { "x": [1, "2"] } }', { path: '/data/columns/x/1' }, /must be a number, not "2"/],
    ['"graph": { "nodes": [] }, "training": { "optimizer": { "lr": -0.1 } }', { path: '/training/optimizer/lr' }, /must be > 0, not -0.1/],
    ['"graph": { "nodes": [] }, "training": { "optimizer": { "type": "rmsprop" } }', { path: '/training/optimizer/type' }, /must be one of "sgd", "adam", "adamw", not "rmsprop"/],
    ['"graph": { "nodes": [] }, "training": { "optimizer": { "beta2": 1 } }', { path: '/training/optimizer/beta2' }, /must be < 1/],
    ['"graph": { "nodes": [] }, "training": { "batchSize": 0 }', { path: '/training/batchSize' }, /must be >= 1, not 0/],
    ['"graph": { "nodes": [] }, "training": { "epochs": "10" }', { path: '/training/epochs' }, /must be an integer, not "10"/],
    ['"graph": { "nodes": [] }, "training": { "seed": 1.5 }', { path: '/training/seed' }, /must be an integer/],
    ['"graph": { "nodes": [] }, "training": { "backend": "cuda" }', { path: '/training/backend' }, /must be one of "cpu", "webgpu", "auto"/],
    ['"graph": { "nodes": [] }, "editor": { "viewport": { "x": 0, "y": 0 } }', { path: '/editor/viewport/zoom' }, /is required but missing/],
    ['"graph": { "nodes": [] }, "editor": { "positions": { "h1": { "x": "0", "y": 0 } } }', { path: '/editor/positions/h1/x' }, /must be a number/],
    ['"graph": { "nodes": [] }, "huge": [1e400]', { path: '/huge/0' }, /out of range/],
    ['"graph": { "nodes": [] }, "training": { "optimizer": { "lr": -1e999 } }', { path: '/training/optimizer/lr' }, /out of range/],
  ])('%s', (body, where, message) => {
    const e = failure(project(body as string));
    expect(e.where).toEqual({ file: 'net.bpstudio', ...where });
    expect(e.message).toMatch(message);
  });

  it('lists several problems, at most five', () => {
    const bad = Array.from({ length: 8 }, (_, i) => ({ id: `n${i}`, op: i }));
    const e = failure(project(`"graph": { "nodes": ${JSON.stringify(bad)} }`));
    expect(e.where).toEqual({ file: 'net.bpstudio', path: '/graph/nodes/0/op', node: 'n0' });
    expect(e.message.split('\n')).toEqual([
      'must be a string, not 0',
      'also: node "n1": /graph/nodes/1/op: must be a string, not 1',
      'also: node "n2": /graph/nodes/2/op: must be a string, not 2',
      'also: node "n3": /graph/nodes/3/op: must be a string, not 3',
      'also: node "n4": /graph/nodes/4/op: must be a string, not 4',
      'and 3 more',
    ]);
    expect(validateProject(JSON.parse(project(`"graph": { "nodes": ${JSON.stringify(bad)} }`)))).toHaveLength(8);
  });

  it('leaves out the file when none is given', () => {
    expect(() => parseProject('{')).toThrow(StudioError);
    try {
      parseProject('{');
    } catch (e) {
      expect((e as StudioError).where).toEqual({ row: 1, column: 2 });
    }
  });
});

describe('validateProject', () => {
  it('passes a valid project and reports every problem of a bad one', () => {
    expect(validateProject(FULL)).toEqual([]);
    expect(validateProject({ format: 'other', version: 0, graph: { nodes: [{ id: 'a', op: 'x' }, { id: 'a' }] } })).toEqual([
      { path: '/format', message: 'must be "backprop-studio/project", not "other"' },
      { path: '/version', message: 'must be >= 1, not 0' },
      { path: '/graph/nodes/1/op', node: 'a', message: 'is required but missing' },
      { path: '/graph/nodes/1/id', node: 'a', message: 'duplicate node id "a" (also /graph/nodes/0)' },
    ]);
    expect(validateProject([])).toEqual([{ path: '', message: 'must be an object, not an array' }]);
  });
});
