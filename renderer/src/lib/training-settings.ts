/**
 * The training section's settings as data: each one's place in `project.training`, its label, its kind (the
 * catalogue's AttrKind, so the inspector's field editors and checks serve here too) and when it applies. The
 * training panel draws them; edits go through `setTrainingValue`, which writes (or, for undefined, removes) one key.
 */
import type { AttrSpec } from '../../../engine/graph/attrs';
import { DEFAULT_TRAINING, type OptimizerSpec, type Project, type ResolvedTraining, type TrainingSpec } from '../../../engine/io/project';

export type SettingPath = readonly ['optimizer', keyof OptimizerSpec] | readonly [Exclude<keyof TrainingSpec, 'optimizer'>];

export interface TrainingSetting {
  path: SettingPath;
  label: string;
  spec: AttrSpec;
  /** Whether it applies to the resolved settings (momentum only for sgd...). */
  when?: (t: ResolvedTraining) => boolean;
}

const O = DEFAULT_TRAINING.optimizer;
const sgd = (t: ResolvedTraining) => t.optimizer.type === 'sgd';
const adam = (t: ResolvedTraining) => t.optimizer.type !== 'sgd';

export const TRAINING_SETTINGS: readonly TrainingSetting[] = [
  { path: ['optimizer', 'type'], label: 'Optimizer', spec: { name: 'type', kind: { type: 'enum', options: ['sgd', 'adam', 'adamw'] }, default: O.type, doc: 'torch.optim rule' } },
  { path: ['optimizer', 'lr'], label: 'Learning rate', spec: { name: 'lr', kind: { type: 'number', min: 0, exclusiveMin: true }, default: O.lr, doc: 'step size' } },
  { path: ['optimizer', 'momentum'], label: 'Momentum', spec: { name: 'momentum', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: O.momentum, doc: 'SGD momentum' }, when: sgd },
  { path: ['optimizer', 'nesterov'], label: 'Nesterov', spec: { name: 'nesterov', kind: { type: 'bool' }, default: O.nesterov, doc: 'Nesterov momentum' }, when: sgd },
  { path: ['optimizer', 'beta1'], label: 'Beta 1', spec: { name: 'beta1', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: O.beta1, doc: 'Adam first moment decay' }, when: adam },
  { path: ['optimizer', 'beta2'], label: 'Beta 2', spec: { name: 'beta2', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: O.beta2, doc: 'Adam second moment decay' }, when: adam },
  { path: ['optimizer', 'weightDecay'], label: 'Weight decay', spec: { name: 'weightDecay', kind: { type: 'number', min: 0 }, default: O.weightDecay, doc: 'L2 (decoupled for adamw)' } },
  { path: ['batchSize'], label: 'Batch size', spec: { name: 'batchSize', kind: { type: 'int', min: 1 }, default: DEFAULT_TRAINING.batchSize, doc: 'examples per step' } },
  { path: ['epochs'], label: 'Epochs', spec: { name: 'epochs', kind: { type: 'int', min: 1 }, default: DEFAULT_TRAINING.epochs, doc: 'passes over the training part' } },
  { path: ['seed'], label: 'Seed', spec: { name: 'seed', kind: { type: 'int', min: 0 }, default: DEFAULT_TRAINING.seed, doc: 'initialisation, shuffles, dropout' } },
];

/** The setting's value as the file has it (undefined: unset, the default applies). */
export function trainingValue(project: Project, path: SettingPath): unknown {
  const t = project.training ?? {};
  if (path[0] === 'optimizer') return (t.optimizer as Record<string, unknown> | undefined)?.[path[1]];
  return (t as Record<string, unknown>)[path[0]];
}

/** The project with one training setting set (undefined removes the key); the same object when nothing changes. */
export function setTrainingValue(project: Project, path: SettingPath, value: unknown): Project {
  if (trainingValue(project, path) === value) return project;
  const t: Record<string, unknown> = { ...(project.training ?? {}) };
  if (path[0] === 'optimizer') {
    const o: Record<string, unknown> = { ...(t.optimizer ?? {}) };
    if (value === undefined) delete o[path[1]];
    else o[path[1]] = value;
    t.optimizer = o;
  } else if (value === undefined) delete t[path[0]];
  else t[path[0]] = value;
  return { ...project, training: t as TrainingSpec };
}
