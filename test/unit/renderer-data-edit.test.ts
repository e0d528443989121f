/**
 * The data panel's logic: the pure edits of the data section and of the input nodes' columns
 * (renderer/src/lib/data-edit.ts), held to what the engine accepts; the preview's debounced, sequenced requests and
 * the CSV column probe (PreviewLoader in renderer/src/lib/data.svelte.ts, against the real engine's preview); and
 * choosing a file in Electron and in web mode.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUILTIN_NAMES as ENGINE_BUILTINS, generateBuiltin } from '../../engine/data/builtin';
import { csvDataset } from './csv-text';
import { previewData } from './preview-sync';
import { parseProject, validateProject, type DataSpec, type Project } from '../../engine/io/project';
import type { DataPreview } from '../../engine/protocol/messages';
import { StudioError } from '../../engine/util/errors';
import {
  BUILTIN_INFO,
  BUILTIN_NAMES,
  builtinDefault,
  builtinParamProblem,
  csvFeatureChoices,
  dirOf,
  hasRealLabel,
  inputFeaturesOf,
  rebaseDataPaths,
  relativeDataPath,
  resolveDataPath,
  setBuiltinName,
  setBuiltinParam,
  setCsvFeatures,
  setCsvLabel,
  setCsvPath,
  setIdxFile,
  setInputFeatures,
  setShuffle,
  setStandardize,
  setStandardizeLabel,
  setValidation,
  splitOf,
  switchDataKind,
  toggleCsvFeature,
  validationProblem,
  type BuiltinSpec,
  type CsvSpec,
} from '../../renderer/src/lib/data-edit';
import {
  PICK_FILTERS,
  PreviewLoader,
  chooseDataPath,
  chooseFile,
  columnsFromProbeError,
  previewRequest,
  type FileChooserHost,
  type PreviewSnapshot,
} from '../../renderer/src/lib/data.svelte';
import { fakeFileChooser } from './fake-file-chooser';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const load = (name: string): Project => parseProject(readFileSync(join(EXAMPLES, name), 'utf8'), name);

/** Freezes a document all the way down, so that an edit that mutates it throws. */
function frozen<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) frozen(v);
  }
  return o;
}

function withData(data: DataSpec | undefined, nodes: Project['graph']['nodes'] = []): Project {
  const p: Project = { format: 'backprop-studio/project', version: 1, name: 't', graph: { nodes } };
  if (data) p.data = data;
  return frozen(p);
}

const valid = (p: Project) => expect(validateProject(p)).toEqual([]);

describe('builtin generators, as the panel knows them', () => {
  it('are the engine\'s, with its class counts and default noise', () => {
    expect([...BUILTIN_NAMES].sort()).toEqual([...ENGINE_BUILTINS].sort());
    for (const name of BUILTIN_NAMES) {
      const info = BUILTIN_INFO[name];
      const ds = generateBuiltin({ kind: 'builtin', name, samples: 24 }, 1);
      if (info.classes === 0) expect(ds.label?.kind).toBe('real');
      else if (info.classes !== null) expect(ds.label?.classes).toHaveLength(info.classes);
      else expect(generateBuiltin({ kind: 'builtin', name, samples: 24, classes: 4 }, 1).label?.classes).toHaveLength(4);
      // the default noise is the one the panel shows
      expect(generateBuiltin({ kind: 'builtin', name, samples: 24, noise: info.noise }, 1).features).toEqual(ds.features);
      expect(builtinDefault(name, 'noise')).toBe(info.noise);
    }
  });

  it('refuse exactly the parameters the engine refuses', () => {
    const cases: [string, 'samples' | 'classes' | 'noise', number][] = [];
    for (const name of BUILTIN_NAMES) {
      for (const v of [0, 1, 2, 3, 4.5, 600, 1_000_000, 1_000_001, -1]) cases.push([name, 'samples', v]);
      for (const v of [0, 1, 2, 3, 7, 2.5, 700]) cases.push([name, 'classes', v]);
      for (const v of [0, 0.2, -0.1, Infinity, NaN]) cases.push([name, 'noise', v]);
    }
    for (const [name, key, v] of cases) {
      const spec: BuiltinSpec = { kind: 'builtin', name, samples: 600, ...(BUILTIN_INFO[name].classes === null ? { classes: 3 } : {}) };
      const edited: BuiltinSpec = { ...spec, [key]: v };
      let engineOk = true;
      try {
        if (key !== 'samples' || v <= 2000) generateBuiltin(edited, 1);
        else if (!Number.isInteger(v) || v > 1_000_000) engineOk = false;
      } catch {
        engineOk = false;
      }
      // ... and the file format's schema (classes >= 1)
      if (key === 'classes' && v < 1) engineOk = false;
      expect([name, key, v, builtinParamProblem(spec, key, v) === null]).toEqual([name, key, v, engineOk]);
    }
    expect(builtinParamProblem({ kind: 'builtin', name: 'spiral' }, 'samples', undefined)).toBeNull();
    expect(builtinParamProblem({ kind: 'builtin', name: 'spiral', classes: 5 }, 'samples', 4)).toMatch(/per class/);
    expect(builtinParamProblem({ kind: 'builtin', name: 'moons' }, 'classes', 3)).toMatch(/always has 2/);
    expect(builtinParamProblem({ kind: 'builtin', name: 'sine' }, 'classes', 2)).toMatch(/regression/);
  });
});

describe('switching the data kind', () => {
  it('keeps the split settings and starts each kind from sensible defaults', () => {
    const p = withData({ kind: 'builtin', name: 'moons', samples: 100, validation: 0.3, shuffle: false, standardize: true });
    const csv = switchDataKind(p, 'csv');
    expect(csv.data).toEqual({ kind: 'csv', path: '', validation: 0.3, shuffle: false, standardize: true });
    expect(switchDataKind(setStandardizeLabel(p, true), 'csv').data).toEqual({ kind: 'csv', path: '', validation: 0.3, shuffle: false, standardize: true, standardizeLabel: true });
    const idx = switchDataKind(p, 'idx');
    expect(idx.data).toEqual({ kind: 'idx', images: '', validation: 0.3, shuffle: false, standardize: true });
    const back = switchDataKind(csv, 'builtin');
    expect(back.data).toEqual({ kind: 'builtin', name: 'spiral', samples: 600, classes: 3, noise: 0.1, validation: 0.3, shuffle: false, standardize: true });
    valid(back);
    expect(p.data).toEqual({ kind: 'builtin', name: 'moons', samples: 100, validation: 0.3, shuffle: false, standardize: true });
  });

  it('restores what a kind had, with the current split settings; inline only when remembered', () => {
    const inline: DataSpec = { kind: 'inline', columns: { x: [1, 2] }, label: 'x', validation: 0.5 };
    const p = withData(inline);
    const csv = switchDataKind(p, 'csv', { kind: 'csv', path: 'a.csv', label: 'y', validation: 0.1 });
    expect(csv.data).toEqual({ kind: 'csv', path: 'a.csv', label: 'y', validation: 0.5 });
    expect(switchDataKind(csv, 'inline')).toBe(csv);
    expect(switchDataKind(csv, 'inline', inline).data).toEqual(inline);
    expect(switchDataKind(csv, 'csv')).toBe(csv);
  });

  it('makes a data section where there was none', () => {
    const p = switchDataKind(withData(undefined), 'builtin');
    expect(p.data?.kind).toBe('builtin');
    valid(p);
  });
});

describe('builtin edits', () => {
  it('sets and clears parameters, and an unchanged value is no edit', () => {
    const p = withData({ kind: 'builtin', name: 'spiral', samples: 600, classes: 3 });
    const q = setBuiltinParam(p, 'samples', 200);
    expect(q.data).toEqual({ kind: 'builtin', name: 'spiral', samples: 200, classes: 3 });
    expect(setBuiltinParam(q, 'samples', 200)).toBe(q);
    expect(setBuiltinParam(q, 'classes', undefined).data).toEqual({ kind: 'builtin', name: 'spiral', samples: 200 });
    expect(setBuiltinParam(q, 'noise', undefined)).toBe(q);
    expect(setBuiltinParam(withData({ kind: 'csv', path: 'a.csv' }), 'samples', 3).data).toEqual({ kind: 'csv', path: 'a.csv' });
  });

  it('choosing a generator with fixed classes drops the class count; a default noise follows the generator', () => {
    const p = withData({ kind: 'builtin', name: 'spiral', samples: 600, classes: 3, noise: 0.1 });
    const moons = setBuiltinName(p, 'moons');
    expect(moons.data).toEqual({ kind: 'builtin', name: 'moons', samples: 600, noise: 0.1 });
    valid(moons);
    generateBuiltin(moons.data as BuiltinSpec, 1);
    // spiral's default noise 0.1 is not gaussians' (0.3): the default applies
    expect(setBuiltinName(p, 'gaussians').data).toEqual({ kind: 'builtin', name: 'gaussians', samples: 600, classes: 3 });
    // a noise the user chose stays
    expect(setBuiltinName(setBuiltinParam(p, 'noise', 0.05), 'gaussians').data).toMatchObject({ noise: 0.05 });
    expect(setBuiltinName(p, 'spiral')).toBe(p);
    for (const name of BUILTIN_NAMES) generateBuiltin(setBuiltinName(p, name).data as BuiltinSpec, 1);
  });
});

describe('CSV edits', () => {
  const columns = ['a', 'b', 'c', 'y'];

  it('another file drops the old one\'s columns, unless told to keep them', () => {
    const p = withData({ kind: 'csv', path: 'a.csv', label: 'y', features: ['a'], classes: ['u'], standardize: true });
    expect(setCsvPath(p, 'data/x.csv').data).toEqual({ kind: 'csv', path: 'data/x.csv', standardize: true });
    expect(setCsvPath(p, 'moved/a.csv', true).data).toEqual({ ...p.data, path: 'moved/a.csv' });
    expect(setCsvPath(p, 'a.csv')).toBe(p);
    // The import wizard's per-column types and categories name the old file's columns (another file's would be an
    // error); its policies for missing cells and malformed rows stay.
    const imported = withData({
      kind: 'csv',
      path: 'pets.csv',
      label: 'kind',
      columns: { colour: { type: 'categorical', encoding: 'onehot', categories: ['red', 'blue'] } },
      missing: { policy: 'mean' },
      malformed: 'skip',
    });
    const other = setCsvPath(imported, 'data/iris.csv');
    expect(other.data).toEqual({ kind: 'csv', path: 'data/iris.csv', missing: { policy: 'mean' }, malformed: 'skip' });
    valid(other);
    expect(setCsvPath(imported, 'moved/pets.csv', true).data).toEqual({ ...imported.data, path: 'moved/pets.csv' });
  });

  it('the label leaves the feature list, and the old label joins it in file order', () => {
    const p = withData({ kind: 'csv', path: 'x.csv', label: 'y', features: ['a', 'c'], classes: ['u', 'v'] });
    const q = setCsvLabel(p, 'c', columns);
    expect(q.data).toEqual({ kind: 'csv', path: 'x.csv', label: 'c', features: ['a', 'y'] });
    expect(setCsvLabel(p, 'a', columns).data).toEqual({ kind: 'csv', path: 'x.csv', label: 'a', features: ['c', 'y'] });
    expect(setCsvLabel(p, undefined, columns).data).toEqual({ kind: 'csv', path: 'x.csv', features: ['a', 'c', 'y'] });
    // without a feature list, features stay "all but the label"
    expect(setCsvLabel(withData({ kind: 'csv', path: 'x.csv' }), 'y').data).toEqual({ kind: 'csv', path: 'x.csv', label: 'y' });
    expect(setCsvLabel(p, 'y', columns)).toBe(p);
  });

  it('feature toggles keep file order, and all of them again is no list', () => {
    const p = withData({ kind: 'csv', path: 'x.csv', label: 'y' });
    const noB = toggleCsvFeature(p, 'b', false, columns);
    expect(noB.data).toEqual({ kind: 'csv', path: 'x.csv', label: 'y', features: ['a', 'c'] });
    expect(toggleCsvFeature(noB, 'b', false, columns)).toBe(noB);
    expect(toggleCsvFeature(noB, 'b', true, columns).data).toEqual({ kind: 'csv', path: 'x.csv', label: 'y' });
    // the label is not a feature to toggle
    expect(toggleCsvFeature(p, 'y', true, columns)).toBe(p);
    expect(setCsvFeatures(noB, undefined).data).toEqual({ kind: 'csv', path: 'x.csv', label: 'y' });
    valid(noB);
  });

  // pets.csv: `name` is text (the engine reads no feature from it), `colour` one-hot (`colour=red`, ...).
  const pets = ['age', 'colour', 'name', 'kind'];
  const read = ['age', 'colour=red', 'colour=blue'];
  it.each<[string, Partial<CsvSpec>, readonly string[], string[]]>([
    ['the columns the engine reads, a one-hot column once', { label: 'kind' }, read, ['age', 'colour']],
    ['never the label', { label: 'age' }, ['age', 'colour=red'], ['colour']],
    ['a column listed in features, to be unchecked', { label: 'kind', features: ['age', 'name'] }, ['age'], ['age', 'name']],
    ['none typed text, unless listed', { label: 'kind', columns: { colour: { type: 'text' } } }, read, ['age']],
    ['a column whose name holds `=`', { label: 'kind' }, ['a=b=c', 'a=b=d'], ['a=b']],
    ['nothing read yet: only the listed ones', { features: ['age'] }, [], ['age']],
  ])('offers as features %s', (_what, spec, readable, want) => {
    expect(csvFeatureChoices([...pets, 'a=b'], { kind: 'csv', path: 'pets.csv', ...spec }, readable)).toEqual(want);
  });

  it('unchecking one of all features lists the others, never a text column', () => {
    const columns = { colour: { type: 'categorical' as const } };
    const p = withData({ kind: 'csv', path: 'pets.csv', label: 'kind', columns });
    const choices = csvFeatureChoices(pets, p.data as CsvSpec, read);
    const noAge = toggleCsvFeature(p, 'age', false, choices);
    expect(noAge.data).toEqual({ kind: 'csv', path: 'pets.csv', label: 'kind', columns, features: ['colour'] });
    expect(toggleCsvFeature(noAge, 'age', true, choices)).toEqual(p);
    // 24 names, each once: too many distinct values for a category, so `name` is text.
    const text = ['age,colour,name,kind', ...Array.from({ length: 24 }, (_, i) => `${i},${i % 2 ? 'blue' : 'red'},pet${i},${i % 3 ? 'dog' : 'cat'}`)].join('\n');
    expect(csvDataset(text, noAge.data as CsvSpec, 'pets.csv').featureNames).toEqual(['colour=red', 'colour=blue']);
    expect(csvDataset(text, p.data as CsvSpec, 'pets.csv').featureNames).toEqual(read);
  });

  it('matches what the engine reads', () => {
    const text = 'a,b,c,y\n1,2,3,u\n4,5,6,v\n';
    const p = toggleCsvFeature(setCsvLabel(withData({ kind: 'csv', path: 'x.csv' }), 'y', columns), 'a', false, columns);
    const ds = csvDataset(text, p.data as Extract<DataSpec, { kind: 'csv' }>, 'x.csv');
    expect(ds.featureNames).toEqual(['b', 'c']);
    expect(ds.label?.classes).toEqual(['u', 'v']);
  });
});

describe('IDX and split edits', () => {
  it('images and labels files', () => {
    const p = withData({ kind: 'idx', images: '' });
    const q = setIdxFile(setIdxFile(p, 'images', 'img'), 'labels', 'lab');
    expect(q.data).toEqual({ kind: 'idx', images: 'img', labels: 'lab' });
    expect(setIdxFile(q, 'labels', undefined).data).toEqual({ kind: 'idx', images: 'img' });
    valid(q);
  });

  it('validation, shuffle and standardise', () => {
    const p = withData({ kind: 'builtin', name: 'xor' });
    expect(splitOf(p.data)).toEqual({ validation: 0.2, shuffle: true, standardize: false, standardizeLabel: false });
    const q = setStandardize(setShuffle(setValidation(p, 0.25), false), true);
    expect(q.data).toEqual({ kind: 'builtin', name: 'xor', validation: 0.25, shuffle: false, standardize: true });
    expect(splitOf(q.data)).toEqual({ validation: 0.25, shuffle: false, standardize: true, standardizeLabel: false });
    const l = setStandardizeLabel(q, true);
    expect(l.data).toEqual({ ...q.data, standardizeLabel: true });
    expect(splitOf(l.data).standardizeLabel).toBe(true);
    expect(setStandardizeLabel(l, true)).toBe(l);
    valid(l);
    expect(setValidation(q, 0.25)).toBe(q);
    expect(setValidation(q, undefined).data).toEqual({ kind: 'builtin', name: 'xor', shuffle: false, standardize: true });
    const none = withData(undefined);
    expect(setShuffle(none, false)).toBe(none);
    valid(q);
  });

  it.each([
    ['a real label', [{ id: 'y', op: 'label', attrs: { kind: 'real' } }], true],
    ['a class label', [{ id: 'y', op: 'label', attrs: { kind: 'class' } }], false],
    ['a label of the default kind (class)', [{ id: 'y', op: 'label' }], false],
    ['no label', [{ id: 'x', op: 'input' }], false],
  ])('offers to standardise the label for %s', (_what, nodes, offered) => {
    expect(hasRealLabel(withData({ kind: 'builtin', name: 'sine' }, nodes))).toBe(offered);
  });

  it('validation fractions from 0 to 0.9', () => {
    for (const v of [0, 0.2, 0.9, undefined]) expect(validationProblem(v)).toBeNull();
    for (const v of [-0.1, 0.95, 1, NaN]) expect(validationProblem(v)).toMatch(/0 to 0.9/);
  });
});

describe('columns -> inputs', () => {
  const node = (attrs?: Record<string, unknown>) => ({ id: 'x', op: 'input', ...(attrs ? { attrs } : {}) });

  it('sets `features`, drops `feature`, and a vector shape follows the count', () => {
    const p = withData({ kind: 'builtin', name: 'spiral' }, [node({ shape: [2] }), { id: 'd', op: 'dense', inputs: { x: 'x' } }]);
    const one = setInputFeatures(p, 'x', ['x1']);
    expect(one.graph.nodes[0]).toEqual(node({ shape: [1], features: ['x1'] }));
    expect(one.graph.nodes[1]).toBe(p.graph.nodes[1]);
    expect(setInputFeatures(one, 'x', ['x1'])).toBe(one);
    const all = setInputFeatures(one, 'x', undefined, 2);
    expect(all.graph.nodes[0]).toEqual(node({ shape: [2] }));
    // a scalar input keeps its scalar shape for one column; `feature` goes
    expect(setInputFeatures(withData(undefined, [node({ feature: 'a' })]), 'x', ['b']).graph.nodes[0]).toEqual(node({ features: ['b'] }));
    expect(setInputFeatures(withData(undefined, [node({ shape: [], feature: 'a' })]), 'x', ['a', 'b']).graph.nodes[0]).toEqual(node({ shape: [2], features: ['a', 'b'] }));
    // an image input's shape is left alone
    expect(setInputFeatures(withData(undefined, [node({ shape: [1, 8, 8] })]), 'x', ['a']).graph.nodes[0]).toEqual(node({ shape: [1, 8, 8], features: ['a'] }));
    // not an input: nothing
    expect(setInputFeatures(p, 'd', ['x1'])).toBe(p);
    expect(inputFeaturesOf(node({ feature: 'a' }))).toEqual(['a']);
    expect(inputFeaturesOf(node({ features: ['a', 'b'] }))).toEqual(['a', 'b']);
    expect(inputFeaturesOf(node())).toBeUndefined();
    valid(one);
  });

  it('what the engine\'s preview then says each input reads', () => {
    const iris = load('iris.bpstudio');
    const q = setInputFeatures(iris, 'measurements', ['petal_length_cm', 'petal_width_cm']);
    const preview = previewData(q, EXAMPLES);
    expect(preview.inputs).toEqual([{ id: 'measurements', features: ['petal_length_cm', 'petal_width_cm'] }]);
    // two columns read: the scatter plot shows them
    expect(preview.points?.features).toEqual(['petal_length_cm', 'petal_width_cm']);
    expect(q.graph.nodes.find((n) => n.id === 'measurements')?.attrs?.shape).toEqual([2]);
  });
});

describe('relative data paths', () => {
  it.each([
    ['/home/u/proj', '/home/u/proj/data/a.csv', 'data/a.csv'],
    ['/home/u/proj', '/home/u/data/a.csv', '../data/a.csv'],
    ['/home/u/proj/deep', '/home/u/a.csv', '../../a.csv'],
    ['/home/u/proj', '/srv/a.csv', '/srv/a.csv'],
    ['/', '/a.csv', 'a.csv'],
    [undefined, '/home/u/a.csv', '/home/u/a.csv'],
    ['C:\\Users\\u\\proj', 'C:\\Users\\u\\proj\\data\\a.csv', 'data/a.csv'],
    ['C:\\Users\\u\\proj', 'c:\\users\\u\\DATA\\a.csv', '../DATA/a.csv'],
    ['C:\\Users\\u\\proj', 'D:\\a.csv', 'D:\\a.csv'],
    ['C:\\Users\\u\\proj', 'C:\\a.csv', 'C:\\a.csv'],
    // web mode: workspace paths ('' is the workspace's top)
    ['', 'data/a.csv', 'data/a.csv'],
    ['sub', 'data/a.csv', '../data/a.csv'],
    ['sub', 'sub/a.csv', 'a.csv'],
    [undefined, 'data/a.csv', 'data/a.csv'],
    // mixed kinds: as they are
    ['/home/u', 'data/a.csv', 'data/a.csv'],
    // folders (an image folder): the project's own folder, one above it, its parent's
    ['/home/u/proj', '/home/u/proj', '.'],
    ['/home/u/proj/', '/home/u/proj', '.'],
    ['/home/u/proj', '/home/u', '..'],
    ['/home/u/proj', '/home/u/proj/images', 'images'],
    ['C:\\Users\\u\\proj', 'c:\\users\\u\\proj', '.'],
    ['C:\\Users\\u\\proj', 'C:\\', 'C:\\'],
    ['/home/u/proj', '/', '/'],
    ['sub', 'sub', '.'],
    ['', '.', '.'],
    ['sub', '.', '..'],
  ])('from %s to %s', (base, file, want) => {
    expect(relativeDataPath(base, file)).toBe(want);
  });

  it.each([
    ['/home/u/proj', 'data/a.csv', '/home/u/proj/data/a.csv'],
    ['/home/u/proj', '../data/./a.csv', '/home/u/data/a.csv'],
    ['/home/u/proj', '/srv/a.csv', '/srv/a.csv'],
    ['/', '../a.csv', '/a.csv'],
    ['/home/u/proj', '.', '/home/u/proj'],
    ['C:\\Users\\u\\proj', 'data\\a.csv', 'C:\\Users\\u\\proj\\data\\a.csv'],
    ['C:\\Users\\u\\proj', '../../a.csv', 'C:\\Users\\a.csv'],
    ['C:\\Users\\u\\proj', 'D:\\a.csv', 'D:\\a.csv'],
    // web mode: workspace paths
    ['', 'data/a.csv', 'data/a.csv'],
    ['sub', '../data/a.csv', 'data/a.csv'],
    ['', '.', '.'],
    [undefined, 'data/a.csv', 'data/a.csv'],
  ])('resolves %s + %s', (base, path, want) => {
    expect(resolveDataPath(base, path)).toBe(want);
  });

  describe('rebaseDataPaths (a Save As into another folder)', () => {
    const iris = load('iris.bpstudio');
    const withSpec = (data: Project['data']): Project => ({ ...iris, data });
    it.each([
      // web mode: an example (read against the workspace's top) saved into a sub-folder, and back
      ['', 'mine', 'data/iris.csv', '../data/iris.csv'],
      ['mine', '', '../data/iris.csv', 'data/iris.csv'],
      ['a/b', 'c', 'x.csv', '../a/b/x.csv'],
      // Electron: next to the old folder, below it; and an example in the app's files saved at home (absolute)
      ['/home/u/proj', '/home/u/other', 'data/a.csv', '../proj/data/a.csv'],
      ['/home/u/proj', '/home/u/proj/sub', 'data/a.csv', '../data/a.csv'],
      ['/opt/Backprop Studio/resources/examples', '/home/u', 'data/iris.csv', '/opt/Backprop Studio/resources/examples/data/iris.csv'],
      ['C:\\Users\\u\\proj', 'C:\\Users\\u\\new', 'data\\a.csv', '../proj/data/a.csv'],
      // absolute paths stay
      ['/home/u/proj', '/tmp', '/srv/a.csv', '/srv/a.csv'],
    ])('from %s to %s: %s becomes %s', (from, to, path, want) => {
      const moved = rebaseDataPaths(withSpec({ kind: 'csv', path, label: 'species' }), from, to);
      expect(moved.data).toEqual({ kind: 'csv', path: want, label: 'species' });
      // and read against the new folder it names the same file
      expect(resolveDataPath(to, want)).toBe(resolveDataPath(from, path).replaceAll('\\', to.includes('\\') ? '\\' : '/'));
    });

    it('rewrites every path of idx and image data, and nothing else', () => {
      const idx = rebaseDataPaths(withSpec({ kind: 'idx', images: 'mnist/images', labels: 'mnist/labels', validation: 0.1 }), '', 'sub');
      expect(idx.data).toEqual({ kind: 'idx', images: '../mnist/images', labels: '../mnist/labels', validation: 0.1 });
      const images = rebaseDataPaths(withSpec({ kind: 'images', folder: 'data/digit-images', size: [8, 8] }), '/p', '/p/q');
      expect(images.data).toEqual({ kind: 'images', folder: '../data/digit-images', size: [8, 8] });
      expect(idx.graph).toBe(iris.graph);
    });

    it('is the project itself where nothing moves: same folder, a new document, builtin data', () => {
      expect(rebaseDataPaths(iris, '/p', '/p')).toBe(iris);
      expect(rebaseDataPaths(iris, undefined, '/p')).toBe(iris);
      const spiral = load('spiral.bpstudio');
      expect(rebaseDataPaths(spiral, '/p', '/q')).toBe(spiral);
      const abs = withSpec({ kind: 'csv', path: '/srv/a.csv' });
      expect(rebaseDataPaths(abs, '/p', '/q')).toBe(abs);
    });
  });

  it('dirOf', () => {
    expect(dirOf('/a/b.bpstudio')).toBe('/a');
    expect(dirOf('/b.bpstudio')).toBe('/');
    expect(dirOf('b.bpstudio')).toBe('');
    expect(dirOf('C:\\b.bpstudio')).toBe('C:\\');
    expect(dirOf('sub/b.bpstudio')).toBe('sub');
  });
});

// ---- the preview's requests --------------------------------------------------------------------------------------

describe('previewRequest', () => {
  it('sends the data, the input nodes and the seed; other edits do not change it', () => {
    const spiral = load('spiral.bpstudio');
    const r = previewRequest(spiral, '/p');
    expect(r.project.graph.nodes).toEqual([{ id: 'x', op: 'input', attrs: { shape: [2] } }]);
    expect(r.project.data).toBe(spiral.data);
    expect(r.project.training).toEqual({ seed: spiral.training?.seed });
    expect(validateProject(r.project)).toEqual([]);
    const otherEdit: Project = { ...spiral, graph: { nodes: spiral.graph.nodes.map((n) => (n.op === 'dense' ? { ...n, attrs: { ...n.attrs, units: 99 } } : n)) } };
    expect(previewRequest(otherEdit, '/p').key).toBe(r.key);
    expect(previewRequest(spiral, '/q').key).not.toBe(r.key);
    expect(previewRequest(setValidation(spiral, 0.3), '/p').key).not.toBe(r.key);
    expect(previewRequest(setInputFeatures(spiral, 'x', ['x1']), '/p').key).not.toBe(r.key);
    expect(previewRequest({ ...spiral, training: { ...spiral.training, seed: 7 } }, '/p').key).not.toBe(r.key);
  });

  it('says what is missing', () => {
    expect(previewRequest(withData(undefined), undefined).missing).toBe('no-data');
    expect(previewRequest(withData({ kind: 'csv', path: '' }), undefined).missing).toBe('no-file');
    expect(previewRequest(withData({ kind: 'idx', images: '' }), undefined).missing).toBe('no-file');
    expect(previewRequest(withData({ kind: 'csv', path: 'a.csv' }), undefined).missing).toBeNull();
  });
});

describe('PreviewLoader', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const fakePreview = (name: string): DataPreview => ({ name, rows: 1, features: ['a'], columns: ['a'], head: [[1]], inputs: [] });

  /** A loader whose requests answer when the test says so. */
  function setup() {
    const asked: { project: Project; baseDir?: string; signal: AbortSignal; resolve: (p: DataPreview) => void; reject: (e: unknown) => void }[] = [];
    const states: PreviewSnapshot[] = [];
    const loader = new PreviewLoader(
      (project, baseDir, signal) => new Promise((resolve, reject) => asked.push({ project, baseDir, signal, resolve, reject })),
      (s) => states.push(s),
      200,
    );
    return { loader, asked, states, last: () => states[states.length - 1] };
  }

  const builtin = (samples: number) => withData({ kind: 'builtin', name: 'spiral', samples });

  it('debounces: a burst of edits makes one request, of the latest document', async () => {
    const { loader, asked, last } = setup();
    loader.refresh(builtin(10));
    loader.refresh(builtin(20));
    loader.refresh(builtin(30));
    expect(last().loading).toBe(true);
    expect(asked).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(asked).toHaveLength(1);
    expect(asked[0].project.data).toMatchObject({ samples: 30 });
    asked[0].resolve(fakePreview('30'));
    await vi.runAllTimersAsync();
    expect(last()).toMatchObject({ loading: false, error: null, preview: { name: '30' } });
  });

  it('a request that a newer refresh supersedes is canceled (the engine stops reading for it), and so is one in flight at dispose', async () => {
    const { loader, asked } = setup();
    loader.refresh(builtin(10));
    await vi.advanceTimersByTimeAsync(200);
    expect(asked[0].signal.aborted).toBe(false);
    loader.refresh(builtin(20));
    expect(asked[0].signal.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(asked[1].signal.aborted).toBe(false);
    asked[1].resolve(fakePreview('20'));
    await vi.runAllTimersAsync();
    // an answered request is not canceled later
    loader.refresh(builtin(30));
    expect(asked[1].signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    loader.dispose();
    expect(asked[2].signal.aborted).toBe(true);
  });

  it('the latest request wins: an older answer that comes later is dropped', async () => {
    const { loader, asked, last } = setup();
    loader.refresh(builtin(10));
    await vi.advanceTimersByTimeAsync(200);
    loader.refresh(builtin(20));
    await vi.advanceTimersByTimeAsync(200);
    expect(asked).toHaveLength(2);
    asked[1].resolve(fakePreview('20'));
    await vi.runAllTimersAsync();
    asked[0].resolve(fakePreview('10'));
    await vi.runAllTimersAsync();
    expect(last().preview?.name).toBe('20');
    // and an older failure too
    loader.refresh(builtin(30));
    await vi.advanceTimersByTimeAsync(200);
    loader.refresh(builtin(40));
    await vi.advanceTimersByTimeAsync(200);
    asked[3].resolve(fakePreview('40'));
    asked[2].reject(new StudioError('old'));
    await vi.runAllTimersAsync();
    expect(last()).toMatchObject({ preview: { name: '40' }, error: null });
  });

  it('asks nothing for what it asked last, unless forced', async () => {
    const { loader, asked } = setup();
    loader.refresh(builtin(10), '/p');
    await vi.advanceTimersByTimeAsync(200);
    loader.refresh(builtin(10), '/p');
    await vi.advanceTimersByTimeAsync(200);
    expect(asked).toHaveLength(1);
    expect(asked[0].baseDir).toBe('/p');
    loader.refresh(builtin(10), '/p', { force: true, immediate: true });
    expect(asked).toHaveLength(2);
  });

  it('a failure is the error with where, in words, and no preview', async () => {
    const { loader, asked, last } = setup();
    loader.refresh(builtin(10));
    await vi.advanceTimersByTimeAsync(200);
    asked[0].resolve(fakePreview('10'));
    await vi.runAllTimersAsync();
    loader.refresh(builtin(11));
    await vi.advanceTimersByTimeAsync(200);
    asked[1].reject(new StudioError('"abc" is not a number; a feature must be a number', { file: 'x.csv', row: 3, column: 'b' }));
    await vi.runAllTimersAsync();
    expect(last()).toMatchObject({
      preview: null,
      loading: false,
      error: { message: '"abc" is not a number; a feature must be a number', where: { file: 'x.csv', row: 3, column: 'b' }, at: 'x.csv: row 3, column "b"' },
    });
    loader.refresh(builtin(12));
    await vi.advanceTimersByTimeAsync(200);
    asked[2].reject(new Error('the engine is restarting'));
    await vi.runAllTimersAsync();
    expect(last().error).toEqual({ message: 'the engine is restarting', at: '' });
  });

  it('nothing to ask without data or a file', async () => {
    const { loader, asked, last } = setup();
    loader.refresh(withData(undefined));
    expect(last()).toMatchObject({ missing: 'no-data', loading: false, preview: null });
    loader.refresh(withData({ kind: 'csv', path: '' }));
    expect(last()).toMatchObject({ missing: 'no-file', loading: false });
    await vi.runAllTimersAsync();
    expect(asked).toHaveLength(0);
  });

  it('dispose drops what is pending', async () => {
    const { loader, asked, states } = setup();
    loader.refresh(builtin(10));
    loader.dispose();
    await vi.runAllTimersAsync();
    expect(asked).toHaveLength(0);
    expect(states).toHaveLength(1);
  });
});

describe('CSV columns, from the real engine', () => {
  /** A loader over the engine's own preview, answering at once. */
  function engineLoader() {
    const states: PreviewSnapshot[] = [];
    let asks = 0;
    const loader = new PreviewLoader(
      async (project, baseDir) => {
        asks++;
        return previewData(JSON.parse(JSON.stringify(project)) as Project, baseDir);
      },
      (s) => states.push(s),
      0,
    );
    return { loader, last: () => states[states.length - 1], asks: () => asks };
  }
  const settle = () => new Promise((r) => setTimeout(r, 0));

  it('the probe\'s error lists the header', () => {
    let message = '';
    try {
      csvDataset('a,b b,c\n1,x,3\n', { label: '\u0000' }, 'x.csv');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(columnsFromProbeError(message)).toEqual(['a', 'b b', 'c']);
    expect(columnsFromProbeError('the file is empty')).toBeNull();
  });

  it('come in header order, also when the preview fails (no label for a text column yet)', async () => {
    const { loader, last, asks } = engineLoader();
    const iris = load('iris.bpstudio');
    const noLabel = setCsvLabel(iris, undefined);
    loader.refresh(noLabel, EXAMPLES);
    await settle();
    await settle();
    expect(last().error?.where).toMatchObject({ column: 'species' });
    expect(last().columns).toEqual(['sepal_length_cm', 'sepal_width_cm', 'petal_length_cm', 'petal_width_cm', 'species']);
    const n = asks();
    // the same file: the columns are remembered, not asked again
    loader.refresh(iris, EXAMPLES);
    await settle();
    await settle();
    expect(asks()).toBe(n + 1);
    expect(last().preview?.label).toEqual({ name: 'species', kind: 'class' });
    expect(last().preview?.classes?.map((c) => c.count)).toEqual([50, 50, 50]);
    expect(last().columns).toHaveLength(5);
    // a file that is not there: the error names it, no columns
    loader.refresh(setCsvPath(iris, 'data/nope.csv'), EXAMPLES);
    await settle();
    await settle();
    expect(last().error?.where?.file).toBe('data/nope.csv');
    expect(last().columns).toBeNull();
  });

  it('come from the header of a file with malformed rows too (the import wizard skips them)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bps-probe-'));
    try {
      // Line 4 has a cell too few, line 5 text after a closing quote: the one-hot colour's features are not columns.
      writeFileSync(join(dir, 'pets.csv'), 'age,colour,kind\n3,red,dog\n7,green,cat\n1,blue\n4,"red"x,dog\n5,blue,cat\n');
      const { loader, last } = engineLoader();
      const data: DataSpec = { kind: 'csv', path: 'pets.csv', label: 'kind', columns: { colour: { type: 'categorical', encoding: 'onehot' } }, malformed: 'skip' };
      loader.refresh(withData(data), dir);
      await settle();
      await settle();
      expect(last().preview?.features).toEqual(['age', 'colour=red', 'colour=green', 'colour=blue']);
      expect(last().columns).toEqual(['age', 'colour', 'kind']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('chooseFile', () => {

  it('Electron: the native dialog, starting in the project\'s folder', async () => {
    const { h, requests, picks } = fakeFileChooser('electron', { shell: { path: '/p/data/a.csv' }, baseDir: '/p' });
    expect(await chooseFile(h, 'data')).toBe('/p/data/a.csv');
    expect(requests).toEqual([{ type: 'chooseFile', purpose: 'data', path: '/p' }]);
    expect(picks).toEqual([]);
    const none = fakeFileChooser('electron', { shell: null });
    expect(await chooseFile(none.h, 'weights')).toBeNull();
    expect(none.requests).toEqual([{ type: 'chooseFile', purpose: 'weights' }]);
  });

  it('web mode: the picker, filtered, in the project\'s folder; then the shell checks the file', async () => {
    const { h, requests, picks } = fakeFileChooser('web', { pick: 'sub/w.safetensors', shell: { path: 'sub/w.safetensors' }, baseDir: 'sub' });
    expect(await chooseFile(h, 'weights')).toBe('sub/w.safetensors');
    expect(picks).toEqual([{ mode: 'open', name: '', filter: { ...PICK_FILTERS.weights, dir: 'sub' } }]);
    expect(PICK_FILTERS.weights.extensions).toEqual(['safetensors']);
    expect(requests).toEqual([{ type: 'chooseFile', purpose: 'weights', path: 'sub/w.safetensors' }]);
    const canceled = fakeFileChooser('web', { pick: null });
    expect(await chooseFile(canceled.h, 'data')).toBeNull();
    expect(canceled.requests).toEqual([]);
    expect(canceled.picks).toEqual([{ mode: 'open', name: '', filter: PICK_FILTERS.data }]);
  });

  it('chooseDataPath: the path as the data section writes it, null when canceled, and a refused choice shown', async () => {
    const shown: [string, unknown][] = [];
    const withErrors = (h: FileChooserHost) => Object.assign(h, { showError: (title: string, e: unknown) => void shown.push([title, e]) });
    expect(await chooseDataPath(withErrors(fakeFileChooser('electron', { shell: { path: '/p/data/a.csv' }, baseDir: '/p' }).h), 'data')).toBe('data/a.csv');
    expect(await chooseDataPath(withErrors(fakeFileChooser('electron', { shell: null, baseDir: '/p' }).h), 'images')).toBeNull();
    const refused = new StudioError('cannot read the folder', { file: 'x' });
    expect(await chooseDataPath(withErrors(fakeFileChooser('electron', { shell: refused }).h), 'images')).toBeNull();
    expect(shown).toEqual([['This folder cannot be used', refused]]);
  });
});
