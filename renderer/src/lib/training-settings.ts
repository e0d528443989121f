/**
 * The training section's settings as data: each one's place in `project.training`, its label, its kind (the
 * catalogue's AttrKind, so the inspector's field editors and checks serve here too) and when it applies. The
 * training panel draws them; edits go through `setTrainingValue`, which writes (or, for undefined, removes) one key.
 */
import type { AttrSpec } from '../../../engine/graph/attrs';
import { opSpec } from '../../../engine/graph/catalogue';
import { DEFAULT_TRAINING, type OptimizerSpec, type Project, type ProjectNode, type ResolvedTraining, type ScheduleSpec, type TrainingSpec } from '../../../engine/io/project';
import type { Shape } from '../../../engine/ir/shape';
import type { DataPreview } from '../../../engine/protocol/messages';
import { drawsCurves, scoreProbabilityOf } from '../../../engine/train/metrics';

/** The training sections that hold settings of their own. */
type Section = 'optimizer' | 'schedule';

export type SettingPath =
  | readonly ['optimizer', keyof OptimizerSpec]
  | readonly ['schedule', keyof ScheduleSpec]
  | readonly [Exclude<keyof TrainingSpec, Section>];

export interface TrainingSetting {
  path: SettingPath;
  label: string;
  spec: AttrSpec;
  /** Whether it applies to the resolved settings (momentum only for sgd...). */
  when?: (t: ResolvedTraining) => boolean;
}

const O = DEFAULT_TRAINING.optimizer;
const S = DEFAULT_TRAINING.schedule;
const sgd = (t: ResolvedTraining) => t.optimizer.type === 'sgd';
const adam = (t: ResolvedTraining) => t.optimizer.type !== 'sgd';
const stepped = (t: ResolvedTraining) => t.schedule.type === 'step';
const cosine = (t: ResolvedTraining) => t.schedule.type === 'cosine';

export const TRAINING_SETTINGS: readonly TrainingSetting[] = [
  { path: ['optimizer', 'type'], label: 'Optimizer', spec: { name: 'type', kind: { type: 'enum', options: ['sgd', 'adam', 'adamw'] }, default: O.type, doc: 'torch.optim rule' } },
  { path: ['optimizer', 'lr'], label: 'Learning rate', spec: { name: 'lr', kind: { type: 'number', min: 0, exclusiveMin: true }, default: O.lr, doc: 'step size' } },
  { path: ['optimizer', 'momentum'], label: 'Momentum', spec: { name: 'momentum', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: O.momentum, doc: 'SGD momentum' }, when: sgd },
  { path: ['optimizer', 'nesterov'], label: 'Nesterov', spec: { name: 'nesterov', kind: { type: 'bool' }, default: O.nesterov, doc: 'Nesterov momentum' }, when: sgd },
  { path: ['optimizer', 'beta1'], label: 'Beta 1', spec: { name: 'beta1', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: O.beta1, doc: 'Adam first moment decay' }, when: adam },
  { path: ['optimizer', 'beta2'], label: 'Beta 2', spec: { name: 'beta2', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: O.beta2, doc: 'Adam second moment decay' }, when: adam },
  { path: ['optimizer', 'weightDecay'], label: 'Weight decay', spec: { name: 'weightDecay', kind: { type: 'number', min: 0 }, default: O.weightDecay, doc: 'L2 (decoupled for adamw)' } },
  { path: ['schedule', 'type'], label: 'LR schedule', spec: { name: 'type', kind: { type: 'enum', options: ['constant', 'step', 'cosine'] }, default: S.type, doc: 'the learning rate over the run' } },
  { path: ['schedule', 'every'], label: 'Every', spec: { name: 'every', kind: { type: 'int', min: 1 }, default: S.every, doc: 'epochs between drops' }, when: stepped },
  { path: ['schedule', 'gamma'], label: 'Gamma', spec: { name: 'gamma', kind: { type: 'number', min: 0, exclusiveMin: true }, default: S.gamma, doc: 'factor at each drop' }, when: stepped },
  { path: ['schedule', 'min'], label: 'Minimum', spec: { name: 'min', kind: { type: 'number', min: 0, max: 1 }, default: S.min, doc: 'of the learning rate, at the end' }, when: cosine },
  { path: ['schedule', 'warmup'], label: 'Warm-up', spec: { name: 'warmup', kind: { type: 'int', min: 0 }, default: S.warmup, doc: 'steps rising to the rate' } },
  {
    path: ['clipNorm'],
    label: 'Clip gradient norm',
    spec: { name: 'clipNorm', kind: { type: 'number', min: 0, exclusiveMin: true }, optional: true, whenUnset: 'none', doc: 'the largest global L2 norm a step applies' },
  },
  { path: ['batchSize'], label: 'Batch size', spec: { name: 'batchSize', kind: { type: 'int', min: 1 }, default: DEFAULT_TRAINING.batchSize, doc: 'examples per step' } },
  { path: ['epochs'], label: 'Epochs', spec: { name: 'epochs', kind: { type: 'int', min: 1 }, default: DEFAULT_TRAINING.epochs, doc: 'passes over the training part' } },
  { path: ['seed'], label: 'Seed', spec: { name: 'seed', kind: { type: 'int', min: 0 }, default: DEFAULT_TRAINING.seed, doc: 'initialisation, shuffles, dropout' } },
];

/** The setting's value as the file has it (undefined: unset, the default applies). */
export function trainingValue(project: Project, path: SettingPath): unknown {
  const t = (project.training ?? {}) as Record<string, unknown>;
  if (path.length === 2) return (t[path[0]] as Record<string, unknown> | undefined)?.[path[1]];
  return t[path[0]];
}

/** The project with one training setting set (undefined removes the key); the same object when nothing changes. */
export function setTrainingValue(project: Project, path: SettingPath, value: unknown): Project {
  if (trainingValue(project, path) === value) return project;
  const t: Record<string, unknown> = { ...(project.training ?? {}) };
  const [key, field] = path;
  if (field !== undefined) {
    const section: Record<string, unknown> = { ...(t[key] ?? {}) };
    if (value === undefined) delete section[field];
    else section[field] = value;
    t[key] = section;
  } else if (value === undefined) delete t[key];
  else t[key] = value;
  return { ...project, training: t as TrainingSpec };
}

// ---- the objective and the prediction -----------------------------------------------------------------------------

/**
 * The objective and the prediction as the engine defaults them (engine/train/program.ts resolveTargets, which the
 * renderer does not bundle; a unit test holds the two together): the objective is `training.objective`, else the
 * one loss node, else (no loss at all) the one node that feeds nothing; the prediction is `training.prediction`,
 * else the node feeding the objective's first port when the objective is a loss. Undefined where the engine would
 * refuse or find none.
 */
export function trainingTargets(p: Project): { objective?: ProjectNode; prediction?: string } {
  const nodes = p.graph.nodes;
  const named = p.training?.objective;
  const losses = nodes.filter((n) => opSpec(n.op)?.group === 'losses');
  const sinks = nodes.filter((n) => !nodes.some((m) => Object.values(m.inputs ?? {}).includes(n.id)));
  const found = losses.length === 1 ? losses[0] : losses.length === 0 && sinks.length === 1 ? sinks[0] : undefined;
  const objective = named !== undefined ? nodes.find((n) => n.id === named) : found;
  const spec = objective ? opSpec(objective.op) : undefined;
  const prediction = p.training?.prediction ?? (spec?.group === 'losses' ? objective?.inputs?.[spec.inputs[0]] : undefined);
  return { objective, prediction };
}

export type Target = 'objective' | 'prediction';

/**
 * What the training panel offers for `training.objective` or `training.prediction`: what the engine picks without
 * the key (`auto`, undefined where it would find none), and the nodes that can be it (objective: a scalar or one
 * value per example, which is then averaged; prediction: any value but a loss's), sources apart, in graph order.
 */
export function targetChoices(p: Project, shapes: ReadonlyMap<string, Shape>, which: Target): { auto?: string; ids: string[] } {
  const { [which]: _dropped, ...rest } = p.training ?? {};
  const unset = trainingTargets({ ...p, training: rest });
  const auto = which === 'objective' ? unset.objective?.id : unset.prediction;
  const fits = (n: ProjectNode) => {
    const group = opSpec(n.op)?.group;
    const shape = shapes.get(n.id);
    if (!shape || group === 'sources') return false;
    return which === 'objective' ? shape.length === 0 || (shape.length === 1 && shape[0] === null) : group !== 'losses';
  };
  return { ...(auto !== undefined ? { auto } : {}), ids: p.graph.nodes.filter(fits).map((n) => n.id) };
}

/**
 * Why the prediction the file names does not fit the loss it would be scored against, if it does not: it gives
 * another number of values per example than the loss's first input (`auto`, the automatic prediction, which the
 * training panel has already), so accuracy would take the argmax over the wrong classes (a hidden layer's 32 features
 * against 3 classes).
 */
export function predictionProblem(p: Project, shapes: ReadonlyMap<string, Shape>, auto = targetChoices(p, shapes, 'prediction').auto): string | undefined {
  const named = p.training?.prediction;
  if (named === undefined || auto === undefined || named === auto) return undefined;
  const [mine, theirs] = [shapes.get(named), shapes.get(auto)];
  if (!mine || !theirs) return undefined;
  const width = (s: Shape) => (s.length > 1 ? (s[s.length - 1] ?? 1) : 1);
  if (width(mine) === width(theirs)) return undefined;
  return `${named} gives ${width(mine)} values per example, the loss scores ${width(theirs)} (${auto}): accuracy and the boundary would not match it`;
}

/**
 * Whether a run of the project would draw fitted curves (the Fit tab; the engine's trainJobInfo.line), judged before
 * one starts, from the data panel's preview and the graph's shapes: one feature drawn against the label, and a
 * prediction that the engine's rule (metrics.ts drawsCurves) draws curves of.
 */
export function drawsFit(p: Project, shapes: ReadonlyMap<string, Shape>, preview: Pick<DataPreview, 'points' | 'label' | 'classes'> | null | undefined): boolean {
  if (!preview?.points?.labelAxis) return false;
  const { objective, prediction } = trainingTargets(p);
  const shape = prediction === undefined ? undefined : shapes.get(prediction);
  // per example: [B] or [B, width]
  if (!shape || shape[0] !== null || shape.length > 2) return false;
  const width = shape.length === 2 ? (shape[1] ?? undefined) : 1;
  const label = { real: preview.label?.kind === 'real', classes: preview.classes?.length };
  return drawsCurves(width, label, () => scoreProbabilityOf(p.graph.nodes, objective?.id, prediction) !== undefined);
}
