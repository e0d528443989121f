import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TRAINING,
  MIGRATIONS,
  migrateProject,
  parseProject,
  serializeProject,
  withDataDefaults,
  withTrainingDefaults,
  type Project,
} from '../../engine/io/project';
import { StudioError } from '../../engine/util/errors';

const minimal = (): Project => ({ format: 'backprop-studio/project', version: 1, graph: { nodes: [] } });

describe('serializeProject', () => {
  it('writes 2-space JSON with a trailing newline, canonical keys first, unknown ones after in their order', () => {
    const p: Project = {
      zeta: 1,
      editor: { viewport: { x: 0, y: 0, zoom: 2 } },
      graph: { nodes: [{ id: 'in', op: 'input', attrs: { shape: [2] } }] },
      alpha: { kept: [true, null] },
      training: { epochs: 3 },
      version: 1,
      data: { kind: 'inline', columns: { x: [1, 2] } },
      name: 'n',
      format: 'backprop-studio/project',
    };
    const text = serializeProject(p);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.startsWith('{\n  "format": "backprop-studio/project",\n  "version": 1,\n')).toBe(true);
    expect(Object.keys(JSON.parse(text))).toEqual(['format', 'version', 'name', 'graph', 'data', 'training', 'editor', 'zeta', 'alpha']);
    expect(parseProject(text)).toEqual(p);
  });

  it('keeps unknown keys through a load and a save, at the top level and inside', () => {
    const text =
      '{"format": "backprop-studio/project", "version": 1, "future": {"a": [1, {"b": "c"}]}, "__proto__": {"x": 1},\n' +
      ' "graph": {"nodes": [{"id": "a", "op": "input", "note": "mine", "attrs": {"shape": []}}]},\n' +
      ' "data": {"kind": "builtin", "name": "xor", "seedOffset": 3}, "training": {"clip": 1}, "editor": {"grid": true}}';
    const p = parseProject(text);
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    const saved = serializeProject(p);
    expect(JSON.parse(saved)).toEqual(JSON.parse(text));
    expect(Object.keys(JSON.parse(saved)).slice(-2)).toEqual(['future', '__proto__']);
    expect(parseProject(saved)).toEqual(p);
    expect(serializeProject(parseProject(saved))).toBe(saved);
  });

  it('is stable: saving what it loaded gives the same text', () => {
    const text = serializeProject({ ...minimal(), name: 'x', extra: [1.5, -0, 1e308, 5e-324] });
    expect(serializeProject(parseProject(text))).toBe(text);
  });
});

describe('huge and deep values', () => {
  it('loads and saves a 10,000-deep array in an unknown key', () => {
    const deep = '['.repeat(10_000) + '1' + ']'.repeat(10_000);
    const saved = serializeProject(parseProject(`{"format": "backprop-studio/project", "version": 1, "graph": {"nodes": []}, "deep": ${deep}}`));
    let v: unknown = JSON.parse(saved).deep;
    for (let depth = 0; Array.isArray(v); depth++) {
      expect(v.length, `depth ${depth}`).toBe(1);
      v = v[0];
    }
    expect(v).toBe(1);
    // Pretty-printing makes the text quadratic in the depth: the indents alone are 2 * (2 + 4 + ... + 20,000).
    expect(saved.length).toBeGreaterThan(2e8);
  });

  it('refuses a value nested deeper than 64 levels inside the graph, naming where', () => {
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const text = `{"format": "backprop-studio/project", "version": 1, "graph": {"nodes": [{"id": "c", "op": "constant", "attrs": {"value": ${deep}}}]}}`;
    expect(() => parseProject(text)).toThrow(/nested more than 64 levels/);
    try {
      parseProject(text);
    } catch (e) {
      expect((e as StudioError).where.path).toMatch(/^\/graph\/nodes\/0\/attrs\/value(\/a)+$/);
    }
  });

  it('locates the error in a 10,000-deep array that is cut short', () => {
    const text = `{"format": "backprop-studio/project", "version": 1, "graph": {"nodes": []}, "deep": ${'[{"a":'.repeat(10_000)}`;
    expect(() => parseProject(text)).toThrow(/ends too early/);
  });

  it('finds an overflowing number deep down', () => {
    const text = `{"format": "backprop-studio/project", "version": 1, "graph": {"nodes": []}, "deep": ${'['.repeat(5000)}1e999${']'.repeat(5000)}}`;
    expect(() => parseProject(text)).toThrow(StudioError);
    try {
      parseProject(text);
    } catch (e) {
      expect((e as StudioError).where.path).toBe('/deep' + '/0'.repeat(5000));
    }
  });

  it('accepts large finite numbers and long strings', () => {
    const p = parseProject(
      JSON.stringify({ ...minimal(), training: { seed: 2 ** 53, epochs: 1e9, optimizer: { lr: 1e300 } }, name: 'x'.repeat(1e6) }),
    );
    expect(p.training?.optimizer?.lr).toBe(1e300);
  });
});

describe('defaults', () => {
  it('fills in every documented training default', () => {
    expect(withTrainingDefaults()).toEqual({
      optimizer: { type: 'adam', lr: 0.01, momentum: 0, nesterov: false, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
      schedule: { type: 'constant', every: 10, gamma: 0.1, min: 0, warmup: 0 },
      batchSize: 32,
      epochs: 50,
      seed: 1,
      backend: 'auto',
    });
    expect(withTrainingDefaults({})).toEqual(DEFAULT_TRAINING);
  });

  it('keeps what the file says and ignores keys set to undefined', () => {
    const t = withTrainingDefaults({ objective: 'loss', optimizer: { type: 'sgd', momentum: 0.9, lr: undefined }, epochs: undefined, seed: 7 });
    expect(t).toMatchObject({ objective: 'loss', epochs: 50, seed: 7 });
    expect(t.optimizer).toMatchObject({ type: 'sgd', momentum: 0.9, lr: 0.01, nesterov: false });
    expect(Object.isFrozen(DEFAULT_TRAINING) && Object.isFrozen(DEFAULT_TRAINING.optimizer)).toBe(true);
    expect(DEFAULT_TRAINING.optimizer.momentum).toBe(0);
  });

  it('fills in the data split defaults', () => {
    expect(withDataDefaults({ kind: 'builtin', name: 'spiral' })).toEqual({ kind: 'builtin', name: 'spiral', validation: 0.2, shuffle: true });
    expect(withDataDefaults({ kind: 'csv', path: 'a.csv', validation: 0, shuffle: false })).toMatchObject({ validation: 0, shuffle: false });
  });
});

describe('migrations', () => {
  it('has none yet, and parsing a current file changes nothing', () => {
    expect(Object.keys(MIGRATIONS)).toEqual([]);
    expect(migrateProject({ ...minimal() })).toEqual(minimal());
  });

  it('applies a table of migrations in order up to the target version', () => {
    const calls: number[] = [];
    const table = {
      1: (p: Record<string, unknown>) => (calls.push(1), { ...p, graph: { nodes: [{ id: 'a', op: 'dense' }] } }),
      2: (p: Record<string, unknown>) => (calls.push(2), { ...p, name: `from ${p.version}` }),
    };
    expect(migrateProject({ ...minimal() }, table, 3)).toEqual({ ...minimal(), version: 3, name: 'from 2', graph: { nodes: [{ id: 'a', op: 'dense' }] } });
    expect(calls).toEqual([1, 2]);
    expect(() => migrateProject({ ...minimal() }, { 1: (p) => p }, 3)).toThrow(/no migration from project format version 2 to 3/);
  });
});

describe('serializeProject writes what JSON.stringify would', () => {
  it.each([
    { a: [] },
    { a: {}, b: [[], {}], c: '' },
    { s: 'quote " backslash \\ newline \n tab \t nul \u0000 emoji 😀 lone \ud800', n: [0, -0, 1.5, -2e-7, 1e21, 123456789012345680000] },
    { u: undefined, f: () => 1, arr: [undefined, () => 1, NaN, Infinity, null, true, false] },
    { nested: { deeper: { list: [{ x: 1 }, [2, [3, { y: [] }]]] } }, '': 'empty key', 'a"b': 1 },
  ])('%j', (extra) => {
    const p = { ...minimal(), ...extra };
    expect(serializeProject(p)).toBe(JSON.stringify(p, null, 2) + '\n');
  });
});
