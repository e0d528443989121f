/**
 * The renderer's training data: the metric log (renderer/src/lib/series-log.ts), which keeps every spike while
 * bounding memory, and the training settings table and the choices of objective and prediction
 * (renderer/src/lib/training-settings.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Project } from '../../engine/io/project';
import { blankProject } from '../../renderer/src/lib/graph';
import { SeriesLog } from '../../renderer/src/lib/series-log';
import { drawsFit, predictionProblem, setTrainingValue, targetChoices, trainingValue, TRAINING_SETTINGS } from '../../renderer/src/lib/training-settings';
import { previewData } from './preview-sync';
import { analyze } from '../../renderer/src/lib/analysis';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseProject } from '../../engine/io/project';
import { checkAttr } from '../../engine/graph/attrs';
import { DEFAULT_TRAINING, withTrainingDefaults } from '../../engine/io/project';

describe('SeriesLog', () => {
  it('keeps points as they come below its capacity', () => {
    const log = new SeriesLog(8);
    log.pushSeries([1, 2, 3], { min: [1, 0.5, null], max: [2, 0.9, null], last: [1.5, 0.7, null] });
    expect(log.step).toEqual([1, 2, 3]);
    expect(log.min).toEqual([1, 0.5, null]);
    expect(log.latest).toBeNull();
    expect(log.length).toBe(3);
  });

  it('merges neighbours in pairs past its capacity: min of mins, max of maxes, the later last and step', () => {
    const log = new SeriesLog(4);
    const pts: [number, number | null, number | null, number | null][] = [
      [10, 1, 3, 2],
      [20, 0.5, 9, 8],
      [30, null, null, null],
      [40, 4, 4, 4],
      [50, 7, 7, 7],
    ];
    for (const p of pts) log.push(...p);
    expect(log.step).toEqual([20, 40, 50]);
    expect(log.min).toEqual([0.5, 4, 7]);
    expect(log.max).toEqual([9, 4, 7]);
    expect(log.last).toEqual([8, 4, 7]);
    expect(log.latest).toBe(7);
  });

  it('stays bounded over a long run and keeps the largest spike', () => {
    const log = new SeriesLog(100);
    for (let s = 1; s <= 100_000; s++) log.push(s, 1, s === 31_337 ? 1e6 : 1, 1);
    expect(log.length).toBeLessThanOrEqual(100);
    expect(Math.max(...(log.max as number[]))).toBe(1e6);
    expect(log.step[log.length - 1]).toBe(100_000);
  });
});

describe('training settings', () => {
  const p0: Project = { ...blankProject(), training: {} };

  it('sets and removes optimizer and run keys without touching the rest', () => {
    const p1 = setTrainingValue(p0, ['optimizer', 'lr'], 0.1);
    expect(p1.training).toEqual({ optimizer: { lr: 0.1 } });
    const p2 = setTrainingValue(p1, ['epochs'], 7);
    expect(p2.training).toEqual({ optimizer: { lr: 0.1 }, epochs: 7 });
    expect(trainingValue(p2, ['optimizer', 'lr'])).toBe(0.1);
    expect(trainingValue(p2, ['seed'])).toBeUndefined();
    const p3 = setTrainingValue(p2, ['optimizer', 'lr'], undefined);
    expect(p3.training).toEqual({ optimizer: {}, epochs: 7 });
    expect(p3.graph).toBe(p0.graph);
    const p4 = setTrainingValue(blankProject(), ['seed'], 3);
    expect(p4.training?.seed).toBe(3);
    expect(p4.training?.optimizer).toEqual(blankProject().training?.optimizer);
    expect(setTrainingValue(p3, ['epochs'], 7)).toBe(p3);
  });

  it("lists each setting's default as the engine resolves it, and checks values by the attribute rules", () => {
    const resolved = withTrainingDefaults({});
    for (const s of TRAINING_SETTINGS) {
      const section = (resolved as unknown as Record<string, Record<string, unknown>>)[s.path[0]];
      const d = s.path.length === 2 ? section[s.path[1]] : section;
      expect(s.spec.default, s.label).toEqual(d);
      // (an optional setting without a default is unset: clipNorm)
      if (s.spec.default !== undefined) expect(checkAttr(s.spec, s.spec.default), s.label).toBeNull();
      else expect(s.spec.optional, s.label).toBe(true);
    }
    const spec = (label: string) => TRAINING_SETTINGS.find((s) => s.label === label)!.spec;
    expect(checkAttr(spec('Learning rate'), 0)).toMatch(/greater than 0/);
    expect(checkAttr(spec('Batch size'), 2.5)).toMatch(/integer/);
    expect(checkAttr(spec('Momentum'), 1)).toMatch(/less than 1/);
    expect(DEFAULT_TRAINING.optimizer.type).toBe('adam');
  });

  it('shows momentum only for sgd and the betas only for adam and adamw', () => {
    const shown = (type: 'sgd' | 'adam' | 'adamw') =>
      TRAINING_SETTINGS.filter((s) => !s.when || s.when(withTrainingDefaults({ optimizer: { type } }))).map((s) => s.label);
    expect(shown('sgd')).toContain('Momentum');
    expect(shown('sgd')).not.toContain('Beta 1');
    expect(shown('adamw')).toContain('Beta 2');
    expect(shown('adam')).not.toContain('Nesterov');
  });

  it("shows a schedule's parameters as its type uses them, warm-up and clipping always", () => {
    const shown = (type: 'constant' | 'step' | 'cosine') =>
      TRAINING_SETTINGS.filter((s) => s.path[0] === 'schedule' || s.path[0] === 'clipNorm')
        .filter((s) => !s.when || s.when(withTrainingDefaults({ schedule: { type } })))
        .map((s) => s.label);
    expect(shown('constant')).toEqual(['LR schedule', 'Warm-up', 'Clip gradient norm']);
    expect(shown('step')).toEqual(['LR schedule', 'Every', 'Gamma', 'Warm-up', 'Clip gradient norm']);
    expect(shown('cosine')).toEqual(['LR schedule', 'Minimum', 'Warm-up', 'Clip gradient norm']);
  });

  it('writes and removes a setting of a section, leaving the section\'s other keys', () => {
    const p = parseProject(readFileSync(new URL('../../examples/spiral.bpstudio', import.meta.url), 'utf8'));
    const stepped = setTrainingValue(setTrainingValue(p, ['schedule', 'type'], 'step'), ['schedule', 'gamma'], 0.5);
    expect(stepped.training?.schedule).toEqual({ type: 'step', gamma: 0.5 });
    expect(stepped.training?.optimizer).toEqual(p.training?.optimizer);
    expect(setTrainingValue(stepped, ['schedule', 'type'], undefined).training?.schedule).toEqual({ gamma: 0.5 });
    expect(setTrainingValue(stepped, ['clipNorm'], 1).training?.clipNorm).toBe(1);
    expect(setTrainingValue(stepped, ['schedule', 'gamma'], 0.5)).toBe(stepped);
  });
});

describe('the objective and the prediction the training panel offers', () => {
  const example = (name: string) => parseProject(readFileSync(new URL(`../../examples/${name}.bpstudio`, import.meta.url), 'utf8'));
  const choices = (p: Project, which: 'objective' | 'prediction') => targetChoices(p, analyze(p.graph.nodes).shapes, which);

  it('spiral: automatic is its one loss and the dense layer feeding it; the loss is the only scalar; no source is offered', () => {
    const p = example('spiral');
    expect(choices(p, 'objective')).toEqual({ auto: 'loss', ids: ['loss'] });
    expect(choices(p, 'prediction')).toEqual({ auto: 'out', ids: ['h1', 'h2', 'out'] });
  });

  it('logistic regression: the file names both; automatic would be its one loss op (the l2 term), with no prediction', () => {
    const p = example('logistic-regression');
    const objective = choices(p, 'objective');
    expect(objective.auto).toBe('reg');
    expect(objective.ids).toEqual(expect.arrayContaining(['L', 'reg', 'nll', 'score']));
    // per-example values are objectives too (their batch mean is minimised)
    expect(objective.ids.every((id) => [[], [null]].some((s) => JSON.stringify(analyze(p.graph.nodes).shapes.get(id)) === JSON.stringify(s)))).toBe(true);
    expect(choices(p, 'prediction').auto).toBeUndefined();
  });

  it('two losses: no automatic objective, both offered', () => {
    const p = example('spiral');
    const two = { ...p, graph: { nodes: [...p.graph.nodes, { id: 'loss2', op: 'softmax_cross_entropy', inputs: { logits: 'h2', labels: 'y' } }] } };
    expect(choices(two, 'objective')).toEqual({ ids: ['loss', 'loss2'] });
    expect(choices(two, 'prediction')).toEqual({ ids: ['h1', 'h2', 'out'] });
    // the prediction's automatic choice follows the objective named
    expect(choices(setTrainingValue(two, ['objective'], 'loss2'), 'prediction').auto).toBe('h2');
  });

  it('warns of a prediction that gives another number of values per example than the loss scores', () => {
    const p = example('spiral');
    const problem = (q: Project) => predictionProblem(q, analyze(q.graph.nodes).shapes);
    expect(problem(p)).toBeUndefined();
    expect(problem(setTrainingValue(p, ['prediction'], 'out'))).toBeUndefined();
    expect(problem(setTrainingValue(p, ['prediction'], 'h1'))).toBe('h1 gives 32 values per example, the loss scores 3 (out): accuracy and the boundary would not match it');
    // a softmax of the logits has as many values as they do
    const soft = { ...p, graph: { nodes: [...p.graph.nodes, { id: 'probs', op: 'softmax', inputs: { x: 'out' } }] } };
    expect(problem(setTrainingValue(soft, ['prediction'], 'probs'))).toBeUndefined();
    // no loss to score against: nothing to compare
    expect(problem(example('logistic-regression'))).toBeUndefined();
  });
});

describe('drawsFit: the Fit tab before a run', () => {
  const EXAMPLES = new URL('../../examples/', import.meta.url);
  const example = (name: string) => parseProject(readFileSync(new URL(`${name}.bpstudio`, EXAMPLES), 'utf8'));
  /** The example with its input reading `features` alone (and `edit` applied). */
  const oneFeature = (name: string, features: string[], edit: (p: Project) => void = () => {}) => {
    const p = example(name);
    for (const n of p.graph.nodes) if (n.op === 'input') n.attrs = { shape: [features.length], features };
    edit(p);
    return p;
  };
  /** Breast cancer on mean_radius alone, through one dense unit (out) to the loss `loss`. */
  const oneLogit = (loss: Pick<Project['graph']['nodes'][number], 'op' | 'inputs'>) =>
    oneFeature('breast-cancer', ['mean_radius'], (p) => {
      p.graph.nodes = p.graph.nodes.filter((n) => n.id !== 'h1');
      const out = p.graph.nodes.find((n) => n.id === 'out')!;
      out.attrs = { units: 1 };
      out.inputs = { x: 'cells' };
      Object.assign(p.graph.nodes.find((n) => n.id === 'loss')!, loss);
    });
  it.each([
    ['a regression on one feature (sine)', example('sine'), true],
    ['a regression on real data, its label standardised (nucleus-area)', example('nucleus-area'), true],
    ['a classifier on one feature, one logit per class (iris on petal length)', oneFeature('iris', ['petal_length_cm']), true],
    ['the same, its prediction named a hidden layer of 16', oneFeature('iris', ['petal_length_cm'], (p) => (p.training = { ...p.training, prediction: 'h1' })), false],
    ['a score against a sign label on one feature', oneFeature('logistic-regression', ['x1'], (p) => (p.graph.nodes.find((n) => n.id === 'w')!.attrs = { shape: [1], init: 'zeros' })), false],
    ['two features (spiral)', example('spiral'), false],
    ['one logit that sigmoid_cross_entropy reads against two classes', oneLogit({ op: 'sigmoid_cross_entropy', inputs: { logits: 'out', labels: 'y' } }), true],
    ['the same logit under an mse objective', oneLogit({ op: 'mse', inputs: { pred: 'out', target: 'y' } }), false],
  ] as const)('%s: %s', (_, project, expected) => {
    const preview = previewData(project, fileURLToPath(EXAMPLES));
    expect(drawsFit(project, analyze(project.graph.nodes).shapes, preview)).toBe(expected);
  });
  it('no preview yet: no', () => {
    const p = example('sine');
    expect(drawsFit(p, analyze(p.graph.nodes).shapes, null)).toBe(false);
  });
});
