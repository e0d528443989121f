/**
 * The CSV import wizard's logic (renderer/src/lib/csv-wizard.ts): the proposal from an inspection, the edits of the
 * choices, what they encode to, why Apply is refused, and the one edit that writes the data section and fits the
 * input nodes, read back into the same choices when the wizard opens again.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { csvFile, inspectCsv } from '../../engine/data/csv-load';
import { loadDataset } from '../../engine/data/load';
import { parseProject, serializeProject, validateProject, type Project, type ProjectNode } from '../../engine/io/project';
import { resolveTargets } from '../../engine/train/program';
import {
  chooseFeature,
  chooseLabel,
  chooseType,
  describeGraphFit,
  encodedFeatures,
  featureBlocked,
  featureWidth,
  graphFit,
  importCsv,
  importedData,
  importProblems,
  inputWidth,
  labelIsReal,
  missingCounts,
  proposeChoices,
  proposedLabel,
  type CsvInspection,
  type GraphFit,
  type WizardChoices,
} from '../../renderer/src/lib/csv-wizard';
import { trainingTargets } from '../../renderer/src/lib/training-settings';

/** A file of 50 rows: two numeric features (one with gaps), a categorical one with a gap, a text column, the label. */
const INSPECTION: CsvInspection = Object.freeze({
  file: 'pets.csv',
  bytes: 2048,
  rows: 50,
  header: ['age', 'weight', 'colour', 'name', 'kind'],
  columns: [
    { name: 'age', type: 'numeric', missing: 2, distinct: 12, min: 1, max: 14, mean: 6.5, examples: ['3', '7', '1'] },
    { name: 'weight', type: 'numeric', missing: 0, distinct: 40, min: 2, max: 40, mean: 12, examples: ['4.5', '30', '12'] },
    { name: 'colour', type: 'categorical', missing: 1, distinct: 3, categories: ['red', 'green', 'blue'], examples: ['red', 'green', 'blue'] },
    { name: 'name', type: 'text', missing: 0, distinct: 50, examples: ['Rex', 'Tom', 'Kitty'] },
    { name: 'kind', type: 'categorical', missing: 0, distinct: 2, categories: ['dog', 'cat'], examples: ['dog', 'cat'] },
  ],
  malformed: [],
  malformedCount: 0,
  head: [],
}) as CsvInspection;

const withMalformed = (n: number, base = INSPECTION): CsvInspection => ({
  ...base,
  malformed: [{ line: 7, column: 'weight', message: 'not a number: "heavy"' }],
  malformedCount: n,
});

const PROJECT: Project = {
  format: 'backprop-studio/project',
  version: 1,
  graph: {
    nodes: [
      { id: 'x', op: 'input', attrs: { shape: [2] } },
      { id: 'y', op: 'label', attrs: { kind: 'class' } },
      { id: 'h', op: 'dense', attrs: { units: 2 }, inputs: { x: 'x' } },
      { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'h', labels: 'y' } },
    ],
  },
  data: { kind: 'builtin', name: 'spiral', shuffle: false },
};

/** Freezes a document all the way down, so that an edit that mutates it throws. */
function frozen<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) frozen(v);
  }
  return o;
}

const proposal = (): WizardChoices => proposeChoices(INSPECTION, 'data/pets.csv');
const nodeOf = (p: Project, id: string) => p.graph.nodes.find((n) => n.id === id);

describe('the proposal', () => {
  it('takes the last categorical column as the label (else the last column) and every other column but text as features', () => {
    const ch = proposal();
    expect(ch.label).toBe('kind');
    expect(ch.features).toEqual(['age', 'weight', 'colour']);
    expect(ch.types).toEqual({ age: 'numeric', weight: 'numeric', colour: 'categorical', name: 'text', kind: 'categorical' });
    expect(ch).toMatchObject({ missing: 'error', standardize: true, standardizeLabel: true, validation: '0.2', skipMalformed: false, encodings: {} });
    const numericOnly: CsvInspection = { ...INSPECTION, columns: INSPECTION.columns.filter((c) => c.type === 'numeric') };
    expect(proposedLabel(numericOnly)).toBe('weight');
    expect(proposedLabel({ ...INSPECTION, columns: [] })).toBeNull();
  });

  it("keeps the current section's choices when the same file is imported again, and forgets another file's", () => {
    const ch: WizardChoices = {
      ...proposal(),
      label: 'colour',
      features: ['age', 'kind'],
      types: { ...proposal().types, age: 'categorical' },
      encodings: { kind: 'index' },
      missing: 'constant',
      constant: '-1',
      standardize: false,
      standardizeLabel: false,
      validation: '0.3',
      skipMalformed: true,
    };
    const data = importedData(undefined, 'data/pets.csv', withMalformed(1), ch, true);
    expect(data.standardizeLabel).toBe(false);
    expect(proposeChoices(withMalformed(1), 'data/pets.csv', data)).toEqual(ch);
    const other = proposeChoices(INSPECTION, 'data/other.csv', data);
    expect(other).toEqual({ ...proposal(), validation: '0.3' });
  });
});

describe('editing the choices', () => {
  it('moves the label out of the features, and the old label back in, in header order', () => {
    let ch = chooseLabel(INSPECTION, proposal(), 'age');
    expect(ch.label).toBe('age');
    expect(ch.features).toEqual(['weight', 'colour', 'kind']);
    ch = chooseLabel(INSPECTION, ch, null);
    expect(ch.features).toEqual(['age', 'weight', 'colour', 'kind']);
    // A text label does not become a feature when it leaves.
    ch = chooseLabel(INSPECTION, chooseLabel(INSPECTION, ch, 'name'), 'kind');
    expect(ch.features).toEqual(['age', 'weight', 'colour']);
  });

  it('refuses the label and text columns as features, and says why', () => {
    const ch = proposal();
    expect(chooseFeature(INSPECTION, ch, 'name', true)).toBe(ch);
    expect(chooseFeature(INSPECTION, ch, 'kind', true)).toBe(ch);
    expect(featureBlocked(ch, 'name')).toMatch(/text/);
    expect(featureBlocked(ch, 'kind')).toBe('the label');
    expect(featureBlocked(ch, 'age')).toBeNull();
    expect(chooseFeature(INSPECTION, chooseFeature(INSPECTION, ch, 'age', false), 'age', true).features).toEqual(['age', 'weight', 'colour']);
  });

  it('drops a column that becomes text from the features; one that becomes numeric again may come back', () => {
    const ch = chooseType(proposal(), 'colour', 'text');
    expect(ch.features).toEqual(['age', 'weight']);
    expect(featureBlocked(ch, 'colour')).toMatch(/text/);
    const back = chooseFeature(INSPECTION, chooseType(ch, 'name', 'categorical'), 'name', true);
    expect(back.features).toEqual(['age', 'weight', 'name']);
  });
});

describe('what the choices encode to', () => {
  const cases: { what: string; edit: (c: WizardChoices) => WizardChoices; widths: number[]; names: string[] }[] = [
    { what: 'one-hot by default', edit: (c) => c, widths: [1, 1, 3], names: ['age', 'weight', 'colour=red', 'colour=green', 'colour=blue'] },
    { what: 'index encoding', edit: (c) => ({ ...c, encodings: { colour: 'index' } }), widths: [1, 1, 1], names: ['age', 'weight', 'colour'] },
    {
      what: 'a constant for missing cells adds a category to a column that has gaps',
      edit: (c) => ({ ...c, missing: 'constant' }),
      widths: [1, 1, 4],
      names: ['age', 'weight', 'colour=red', 'colour=green', 'colour=blue', 'colour=(missing)'],
    },
    { what: 'the mean policy adds none', edit: (c) => ({ ...c, missing: 'mean' }), widths: [1, 1, 3], names: ['age', 'weight', 'colour=red', 'colour=green', 'colour=blue'] },
    {
      what: 'a numeric column made categorical: its distinct count, categories the engine finds',
      edit: (c) => ({ ...c, types: { ...c.types, age: 'categorical' } }),
      widths: [12, 1, 3],
      names: ['age=…', 'weight', 'colour=red', 'colour=green', 'colour=blue'],
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const ch = c.edit(proposal());
      expect(ch.features.map((f) => featureWidth(INSPECTION, ch, f))).toEqual(c.widths);
      expect(encodedFeatures(INSPECTION, ch)).toEqual(c.names);
      expect(inputWidth(INSPECTION, ch)).toBe(c.widths.reduce((a, b) => a + b, 0));
    });
  }

  it('counts the missing cells the policy acts on: the features, and the label', () => {
    expect(missingCounts(INSPECTION, proposal())).toEqual({ columns: [{ name: 'age', missing: 2 }, { name: 'colour', missing: 1 }], cells: 3, label: 0, dropAtMost: 3 });
    const byAge = chooseLabel(INSPECTION, proposal(), 'age');
    expect(missingCounts(INSPECTION, byAge)).toMatchObject({ cells: 1, label: 2, dropAtMost: 3 });
  });
});

describe('why Apply is refused', () => {
  const cases: { what: string; inspection?: CsvInspection; edit: (c: WizardChoices) => WizardChoices; problems: RegExp[] }[] = [
    { what: 'missing cells with the error policy', edit: (c) => c, problems: [/^3 missing cells in the features/] },
    { what: 'nothing once a policy is chosen', edit: (c) => ({ ...c, missing: 'drop' }), problems: [] },
    { what: 'no feature', edit: (c) => ({ ...c, missing: 'mean', features: [] }), problems: [/at least one feature/] },
    { what: 'a text feature', edit: (c) => ({ ...c, missing: 'mean', features: ['name'] }), problems: [/“name” is text/] },
    { what: 'malformed rows not skipped', inspection: withMalformed(4), edit: (c) => ({ ...c, missing: 'mean' }), problems: [/^4 malformed rows/] },
    { what: 'malformed rows skipped', inspection: withMalformed(4), edit: (c) => ({ ...c, missing: 'mean', skipMalformed: true }), problems: [] },
    {
      what: 'a column of words made numeric',
      edit: (c) => ({ ...c, missing: 'mean', types: { ...c.types, colour: 'numeric' } }),
      problems: [/Not all cells of “colour” are numbers/],
    },
    {
      what: 'a label of words made numeric',
      edit: (c) => ({ ...c, missing: 'mean', types: { ...c.types, kind: 'numeric' } }),
      problems: [/Not all cells of “kind” are numbers/],
    },
    { what: 'missing labels unless their rows are dropped', edit: (c) => ({ ...chooseLabel(INSPECTION, c, 'age'), missing: 'mean' }), problems: [/label has 2 missing cells/] },
    { what: 'missing labels dropped', edit: (c) => ({ ...chooseLabel(INSPECTION, c, 'age'), missing: 'drop' }), problems: [] },
    { what: 'a constant that is not a number', edit: (c) => ({ ...c, missing: 'constant', constant: 'zero' }), problems: [/constant .* must be a number/] },
    { what: 'a validation fraction out of range', edit: (c) => ({ ...c, missing: 'drop', validation: '0.95' }), problems: [/^Validation fraction: a fraction from 0 to 0.9/] },
    { what: 'a validation fraction that is not a number', edit: (c) => ({ ...c, missing: 'drop', validation: 'a fifth' }), problems: [/^Validation fraction: not a number/] },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const inspection = c.inspection ?? INSPECTION;
      const problems = importProblems(inspection, c.edit(proposeChoices(inspection, 'pets.csv')));
      expect(problems).toHaveLength(c.problems.length);
      c.problems.forEach((re, i) => expect(problems[i]).toMatch(re));
    });
  }
});

describe('the import edit', () => {
  it('writes the data section and fits the input node in one new document, leaving the old one as it was', () => {
    const before = frozen(structuredClone(PROJECT));
    const ch: WizardChoices = { ...proposal(), missing: 'mean' };
    const after = importCsv(before, 'data/pets.csv', INSPECTION, ch);
    expect(after.data).toEqual({
      kind: 'csv',
      path: 'data/pets.csv',
      label: 'kind',
      features: ['age', 'weight', 'colour'],
      classes: ['dog', 'cat'],
      columns: { colour: { type: 'categorical', encoding: 'onehot', categories: ['red', 'green', 'blue'] } },
      missing: { policy: 'mean' },
      standardize: true,
      validation: 0.2,
      shuffle: false,
    });
    expect(nodeOf(after, 'x')?.attrs).toEqual({ shape: [5] });
    expect(nodeOf(after, 'h')).toBe(nodeOf(before, 'h'));
    expect(validateProject(after)).toEqual([]);
    // The same import again changes nothing (no empty undo step).
    expect(importCsv(after, 'data/pets.csv', INSPECTION, ch)).toBe(after);
  });

  it('leaves features out when they are every column but the label, and writes what the user changed', () => {
    const noText: CsvInspection = { ...INSPECTION, columns: INSPECTION.columns.filter((c) => c.name !== 'name') };
    const ch: WizardChoices = {
      ...proposeChoices(noText, 'pets.csv'),
      types: { age: 'categorical', weight: 'numeric', colour: 'categorical', kind: 'categorical' },
      encodings: { colour: 'index' },
      missing: 'constant',
      constant: '-1',
      standardize: false,
      standardizeLabel: false,
      validation: '0.25',
      skipMalformed: true,
    };
    const data = importedData({ kind: 'csv', path: 'old.csv', label: 'gone', features: ['gone'], shuffle: true, note: 'kept' } as never, 'pets.csv', withMalformed(2, noText), ch, false);
    expect(data).toEqual({
      kind: 'csv',
      path: 'pets.csv',
      label: 'kind',
      classes: ['dog', 'cat'],
      columns: { age: { type: 'categorical', encoding: 'onehot' }, colour: { type: 'categorical', encoding: 'index', categories: ['red', 'green', 'blue'] } },
      missing: { policy: 'constant', value: -1 },
      malformed: 'skip',
      validation: 0.25,
      shuffle: true,
      note: 'kept',
    });
  });

  it('keeps the columns an input names that are still fed, reads all when none is, and leaves image shapes alone', () => {
    const p = frozen({
      ...PROJECT,
      graph: {
        nodes: [
          { id: 'a', op: 'input', attrs: { features: ['colour', 'gone'], shape: [2] } },
          { id: 'b', op: 'input', attrs: { feature: 'gone' } },
          { id: 'c', op: 'input', attrs: { features: ['weight', 'colour=red'], shape: [] } },
          { id: 'img', op: 'input', attrs: { shape: [1, 8, 8] } },
        ],
      },
    } as Project);
    const after = importCsv(p, 'pets.csv', INSPECTION, { ...proposal(), missing: 'drop' });
    expect(after.graph.nodes.map((n) => n.attrs)).toEqual([
      { features: ['colour'], shape: [3] },
      { shape: [5] },
      { features: ['weight', 'colour=red'], shape: [2] },
      { shape: [1, 8, 8] },
    ]);
  });

  it('is no edit when the wizard is opened again on the same file and applied as it proposes (nucleus-area: a single `feature`)', async () => {
    const examples = join(__dirname, '..', '..', 'examples');
    const p = frozen(parseProject(readFileSync(join(examples, 'nucleus-area.bpstudio'), 'utf8'), 'nucleus-area.bpstudio'));
    const inspection = await inspectCsv(csvFile('data/breast_cancer.csv', examples));
    expect(importCsv(p, 'data/breast_cancer.csv', inspection, proposeChoices(inspection, 'data/breast_cancer.csv', p.data))).toBe(p);
    // a feature no longer fed is still replaced
    const other = importCsv(p, 'data/breast_cancer.csv', inspection, chooseFeature(inspection, proposeChoices(inspection, 'data/breast_cancer.csv', p.data), 'mean_radius', false));
    expect(nodeOf(other, 'radius')?.attrs?.feature).toBeUndefined();
  });

  it('imports breast_cancer.csv as the example project does', () => {
    const example = parseProject(readFileSync(join(__dirname, '..', '..', 'examples', 'breast-cancer.bpstudio'), 'utf8'), 'breast-cancer.bpstudio');
    const header = readFileSync(join(__dirname, '..', '..', 'examples', 'data', 'breast_cancer.csv'), 'utf8').split(/\r?\n/)[0].split(',');
    const inspection: CsvInspection = {
      file: 'breast_cancer.csv',
      bytes: 0,
      rows: 569,
      header,
      columns: header.map((name) =>
        name === 'diagnosis'
          ? { name, type: 'categorical', missing: 0, distinct: 2, categories: ['malignant', 'benign'], examples: ['malignant', 'benign'] }
          : { name, type: 'numeric', missing: 0, distinct: 500, examples: [] },
      ),
      malformed: [],
      malformedCount: 0,
      head: [],
    };
    const ch = proposeChoices(inspection, 'data/breast_cancer.csv');
    expect(importProblems(inspection, ch)).toEqual([]);
    const imported = importCsv({ ...example, data: { kind: 'builtin', name: 'spiral' } }, 'data/breast_cancer.csv', inspection, ch);
    expect(imported.data).toEqual(example.data);
    expect(imported.graph).toEqual(example.graph);
  });
});

describe('fitting the graph to the label', () => {
  const graph = (nodes: ProjectNode[], training?: Project['training']): Project => ({ ...PROJECT, graph: { nodes }, ...(training ? { training } : {}) });
  const [x, y, h, loss] = PROJECT.graph.nodes;
  const sigmoid: ProjectNode = { id: 'loss', op: 'sigmoid_cross_entropy', inputs: { logits: 'h', labels: 'y' } };
  const mse: ProjectNode = { id: 'loss', op: 'mse', inputs: { pred: 'h', target: 'y' } };
  const two = graph([x, y, h, loss, { ...loss, id: 'loss2' }]);

  it.each<[string, Project]>([
    ['the one loss, its first port', PROJECT],
    ['training.prediction', graph(PROJECT.graph.nodes, { prediction: 'x' })],
    ['training.objective, not a loss', graph(PROJECT.graph.nodes, { objective: 'h' })],
    ['a sigmoid cross-entropy', graph([x, y, h, sigmoid])],
    ['no loss: the one node that feeds nothing', graph([x, h])],
  ])('finds the prediction as the engine does: %s', (_what, p) => {
    const t = resolveTargets(p.graph.nodes, p.training);
    expect(trainingTargets(p)).toEqual({ objective: p.graph.nodes.find((n) => n.id === t.objective), prediction: t.prediction });
  });

  it('finds no objective where the engine would refuse: two losses', () => {
    expect(() => resolveTargets(two.graph.nodes)).toThrow(/2 loss nodes/);
    expect(trainingTargets(two)).toEqual({ objective: undefined, prediction: undefined });
  });

  /** INSPECTION with its label column `kind` replaced. */
  const labelled = (kind: Partial<CsvInspection['columns'][number]>): CsvInspection => ({
    ...INSPECTION,
    columns: INSPECTION.columns.map((c) => (c.name === 'kind' ? { ...c, ...kind } : c)),
  });
  const three = labelled({ distinct: 3, categories: ['dog', 'cat', 'bird'] });
  const digits = labelled({ type: 'numeric', distinct: 10, categories: undefined, min: 0, max: 9, mean: 4.5, examples: ['0', '7', '3'] });
  const prices = labelled({ type: 'numeric', distinct: 50, categories: undefined, min: 0, max: 90, mean: 20, examples: ['4', '12.5', '80'] });
  const signs = labelled({ type: 'numeric', distinct: 2, categories: undefined, min: -1, max: 1, mean: 0, examples: ['-1', '1'] });
  const withLabel = (kind: string) => graph([x, { ...y, attrs: { kind } }, h, loss]);

  it.each<[string, Project, CsvInspection, Partial<WizardChoices>, GraphFit, string[]]>([
    ['two classes into a graph for two: nothing', PROJECT, INSPECTION, {}, { labels: [], classes: 2 }, []],
    ['three classes: the output layer follows', PROJECT, three, {}, { labels: [], classes: 3, units: { id: 'h', units: 3 } }, ['the output layer h gets 3 units']],
    ['whole numbers under a class label: indices 0..9', PROJECT, digits, {}, { labels: [], classes: 10, units: { id: 'h', units: 10 } }, ['the output layer h gets 10 units']],
    [
      'whole numbers under a real label stay real (the cross-entropy reading it becomes the mean squared error)',
      withLabel('real'),
      digits,
      {},
      { labels: [], loss: { id: 'loss', from: 'softmax_cross_entropy' }, units: { id: 'h', units: 1 } },
      ['the loss loss becomes mse (softmax_cross_entropy needs a class or sign label)', 'the output layer h gets 1 unit'],
    ],
    [
      'numbers with fractions: real, and a regression',
      PROJECT,
      prices,
      {},
      { labels: [{ id: 'y', kind: 'real' }], loss: { id: 'loss', from: 'softmax_cross_entropy' }, units: { id: 'h', units: 1 } },
      ['the label y becomes real', 'the loss loss becomes mse (softmax_cross_entropy needs a class or sign label)', 'the output layer h gets 1 unit'],
    ],
    ['a real label already under the mean squared error: nothing', graph([x, { ...y, attrs: { kind: 'real' } }, { ...h, attrs: { units: 1 } }, mse]), prices, {}, { labels: [] }, []],
    ['a categorical column under a real label: classes', withLabel('real'), three, {}, { labels: [{ id: 'y', kind: 'class' }], classes: 3, units: { id: 'h', units: 3 } }, ['the label y becomes class (3 classes)', 'the output layer h gets 3 units']],
    ['numbers typed categorical: classes', withLabel('real'), prices, { types: { ...proposal().types, kind: 'categorical' } }, { labels: [{ id: 'y', kind: 'class' }], classes: 50, units: { id: 'h', units: 50 } }, ['the label y becomes class (50 classes)', 'the output layer h gets 50 units']],
    ['a sign label stays on two classes', withLabel('sign'), INSPECTION, {}, { labels: [] }, []],
    ['a sign label stays on -1/+1', withLabel('sign'), signs, {}, { labels: [] }, []],
    ['a sign label on three classes: class', withLabel('sign'), three, {}, { labels: [{ id: 'y', kind: 'class' }], classes: 3, units: { id: 'h', units: 3 } }, ['the label y becomes class (3 classes)', 'the output layer h gets 3 units']],
    ['one score per example under a sigmoid cross-entropy', graph([x, y, { ...h, attrs: { units: 1 } }, sigmoid]), INSPECTION, {}, { labels: [], classes: 2 }, []],
    ['a prediction that is not a dense layer', graph(PROJECT.graph.nodes, { prediction: 'x' }), three, {}, { labels: [], classes: 3 }, []],
    ['no label column', PROJECT, three, { label: null }, { labels: [] }, []],
  ])('%s', (_what, p, inspection, edit, want, words) => {
    // `kind` is the label also where it is numeric (proposedLabel would take the last categorical column).
    const ch = { ...chooseLabel(inspection, proposeChoices(inspection, 'pets.csv'), 'kind'), ...edit };
    const fit = graphFit(p, inspection, ch);
    expect(fit).toEqual(want);
    expect(describeGraphFit(fit)).toEqual(words);
  });

  it.each<[string, Project, CsvInspection, Partial<WizardChoices>, boolean]>([
    ['numbers with fractions under a class label (it becomes real)', PROJECT, prices, {}, true],
    ['whole numbers under a real label', withLabel('real'), digits, {}, true],
    ['whole numbers under a class label (indices)', PROJECT, digits, {}, false],
    ['two classes', PROJECT, INSPECTION, {}, false],
    ['a categorical column under a real label (it becomes class)', withLabel('real'), three, {}, false],
    ['no label column', withLabel('real'), prices, { label: null }, false],
  ])('offers to standardise the label, and writes standardizeLabel, only where it is read as real: %s', (_what, p, inspection, edit, real) => {
    const ch = { ...chooseLabel(inspection, proposeChoices(inspection, 'pets.csv'), 'kind'), missing: 'mean' as const, ...edit };
    expect(labelIsReal(p, inspection, ch)).toBe(real);
    const on = importCsv(p, 'pets.csv', inspection, ch).data;
    expect(on?.standardizeLabel).toBe(real ? true : undefined);
    // unticked, it is written as false (a reopen shows it so) for a real label, never for another
    const off = importCsv(p, 'pets.csv', inspection, { ...ch, standardizeLabel: false }).data;
    expect(off?.standardizeLabel).toBe(real ? false : undefined);
    expect(proposeChoices(inspection, 'pets.csv', off).standardizeLabel).toBe(!real);
  });

  it('makes a classifier a regression in the import edit: mse of the same score against the label, one output', () => {
    const before = frozen(structuredClone({ ...PROJECT, graph: { nodes: [x, y, h, { ...loss, attrs: { weight: 2 } }] } }));
    const after = importCsv(before, 'pets.csv', prices, { ...chooseLabel(prices, proposeChoices(prices, 'pets.csv'), 'kind'), missing: 'mean' });
    expect(nodeOf(after, 'loss')).toEqual({ id: 'loss', op: 'mse', attrs: { weight: 2 }, inputs: { pred: 'h', target: 'y' } });
    expect(nodeOf(after, 'h')?.attrs).toEqual({ units: 1 });
    expect(nodeOf(after, 'y')?.attrs).toEqual({ kind: 'real' });
    expect(validateProject(after)).toEqual([]);
    expect(resolveTargets(after.graph.nodes, after.training)).toMatchObject({ objective: 'loss', prediction: 'h', label: { id: 'y', kind: 'real' } });
  });

  it('is part of the import edit, leaving the old document as it was', () => {
    const before = frozen(structuredClone(withLabel('real')));
    const after = importCsv(before, 'pets.csv', three, { ...proposeChoices(three, 'pets.csv'), missing: 'mean' });
    expect(nodeOf(after, 'y')?.attrs).toEqual({ kind: 'class' });
    expect(nodeOf(after, 'h')?.attrs).toEqual({ units: 3 });
    expect(nodeOf(before, 'h')?.attrs).toEqual({ units: 2 });
    expect(nodeOf(after, 'loss')).toBe(nodeOf(before, 'loss'));
    expect(validateProject(after)).toEqual([]);
  });
});

describe('against the engine: what the wizard writes loads as the features it shows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bps-csv-wizard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Line 5 has a cell too few; line 6 text after a closing quote; a weight and a colour are missing.
  const lines = ['age,weight,colour,kind', '3,4.5,red,dog', '7,,green,cat', '5,8,red,dog', '1,2.5,blue', '4,3,"red"x,dog', '2,6,,cat', '9,9,green,dog', '6,7,blue,cat'];
  writeFileSync(join(dir, 'pets.csv'), lines.join('\n') + '\n');

  const cases: { what: string; edit: (c: WizardChoices) => WizardChoices; rows: number }[] = [
    { what: 'one-hot, missing cells dropped', edit: (c) => ({ ...c, missing: 'drop' }), rows: 4 },
    { what: 'index encoding, the mean for missing cells', edit: (c) => ({ ...c, missing: 'mean', encodings: { colour: 'index' } }), rows: 6 },
    { what: 'a constant, with a category for missing colours', edit: (c) => ({ ...c, missing: 'constant', constant: '-1' }), rows: 6 },
    { what: 'a numeric column made categorical', edit: (c) => ({ ...chooseType(c, 'age', 'categorical'), missing: 'drop' }), rows: 4 },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const inspection = await inspectCsv(csvFile('pets.csv', dir));
      expect(inspection.malformed.map((m) => m.line)).toEqual([5, 6]);
      const ch = c.edit({ ...proposeChoices(inspection, 'pets.csv'), skipMalformed: true });
      expect(importProblems(inspection, ch)).toEqual([]);
      const project = parseProject(serializeProject(importCsv(PROJECT, 'pets.csv', inspection, ch)), 'p.bpstudio');
      const ds = loadDataset(project.data!, { baseDir: dir, seed: 1 });
      expect(ds.rows).toBe(c.rows);
      const names = encodedFeatures(inspection, ch);
      if (!names.some((n) => n.endsWith('=…'))) expect(ds.featureNames).toEqual(names);
      expect(nodeOf(project, 'x')?.attrs?.shape).toEqual([ds.featureNames.length]);
      expect(ds.label?.classes).toEqual(['dog', 'cat']);
      // Opened again, the wizard shows the same choices.
      expect(proposeChoices(inspection, 'pets.csv', project.data)).toEqual(ch);
    });
  }
});
