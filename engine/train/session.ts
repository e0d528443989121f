import type { Backend, Executable } from '../backends/backend';
import { CpuBackend } from '../backends/cpu/cpu-backend';
import { loadDataset } from '../data/load';
import { applyStandardize, epochOrder, splitRows, standardizeStats, type Split, type Standardize } from '../data/split';
import type { Dataset } from '../data/types';
import { expandGraph, type GraphNode, type ParamInfo } from '../graph/expand';
import { initTensor } from '../graph/init';
import type { Project, ResolvedTraining } from '../io/project';
import { withDataDefaults, withTrainingDefaults } from '../io/project';
import type { Tensor } from '../io/safetensors';
import { StudioError } from '../util/errors';
import { Feeder } from './feed';
import { evalProgram, layersOf, resolveTargets, throwGraphErrors, trainProgram, type Targets } from './program';

export interface StepResult {
  /** 1-based optimizer step. */
  step: number;
  epoch: number;
  loss: number;
  /** Examples of the batch predicted right (when the targets have an accuracy). */
  correct?: number;
  count: number;
  /** L2 norm of the gradient of each layer (or parameter node), over all its trainable tensors. */
  layerNorms: Record<string, number>;
  /** L2 norm of each trainable tensor's gradient. */
  tensorNorms: Record<string, number>;
}

export interface EpochResult {
  /** 1-based. */
  epoch: number;
  step: number;
  /** Mean training objective over the epoch's examples. */
  loss: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Each layer's gradient norm, averaged over the epoch's steps. */
  gradNorms: Record<string, number>;
}

export interface EvalResult {
  objective?: number;
  accuracy?: number;
  rows: number;
}

export interface SessionOptions {
  /** The project file's folder, for relative data paths. */
  baseDir: string;
  backend?: Backend;
  /** Overrides training.seed. */
  seed?: number;
  /** Start from these tensors instead of the seeded initialisation (standardisation statistics included). */
  weights?: Record<string, Tensor>;
  /** A dataset already loaded (the app's data panel); else the project's `data` is loaded. */
  dataset?: Dataset;
}

/** Size of the batches used to evaluate and predict (no gradients, so larger than training's). */
const EVAL_BATCH = 256;

/**
 * A project ready to train: data loaded, split and standardised, tensors initialised, plans compiled per batch
 * size on first use. The CLI, the engine host and the tests all train through this.
 */
export class Session {
  readonly nodes: readonly GraphNode[];
  readonly training: ResolvedTraining;
  readonly targets: Targets;
  readonly params: readonly ParamInfo[];
  /** Layer (or parameter node) id -> its trainable tensors, in graph order. */
  readonly layers: ReadonlyMap<string, string[]>;
  readonly dataset: Dataset;
  readonly split: Split;
  readonly standardize: ReadonlyMap<string, Standardize> | undefined;
  readonly backend: Backend;
  private readonly feeder: Feeder;
  private readonly trainPlans = new Map<number, Executable>();
  private readonly evalPlans = new Map<string, Executable>();
  private readonly shuffle: boolean;
  private stepCount = 0;
  private epochCount = 0;

  constructor(
    readonly project: Project,
    opts: SessionOptions,
  ) {
    this.nodes = project.graph.nodes;
    this.training = withTrainingDefaults(project.training);
    if (opts.seed !== undefined) this.training = { ...this.training, seed: opts.seed };
    const seed = this.training.seed;
    const analysis = expandGraph(this.nodes, { batch: null, mode: 'train' });
    throwGraphErrors(analysis.errors);
    this.params = analysis.params;
    this.layers = layersOf(analysis.params);
    this.targets = resolveTargets(this.nodes, this.training);
    if (!project.data) throw new StudioError('the project has no data section: choose a dataset', { path: 'data' });
    const data = withDataDefaults(project.data);
    this.shuffle = data.shuffle;
    this.dataset = opts.dataset ?? loadDataset(data, { baseDir: opts.baseDir, seed });
    this.split = splitRows(this.dataset.rows, data, seed);
    const width = this.dataset.featureNames.length;
    let features = this.dataset.features;
    let perColumn: Standardize | undefined;
    if (data.standardize) {
      perColumn = savedStandardize(opts.weights, this.dataset, this.nodes) ?? standardizeStats(features, width, this.split.train);
      features = applyStandardize(features, width, perColumn);
    }
    this.feeder = new Feeder(this.nodes, this.dataset, features);
    this.standardize = perColumn && new Map(this.feeder.inputIds().map((id) => [id, pick(perColumn!, this.feeder.columnsOf(id)!)]));
    this.backend = opts.backend ?? new CpuBackend();
    this.initTensors(opts.weights);
  }

  get step(): number {
    return this.stepCount;
  }
  get epoch(): number {
    return this.epochCount;
  }
  get batchSize(): number {
    return Math.min(this.training.batchSize, this.split.train.length);
  }
  get stepsPerEpoch(): number {
    return Math.ceil(this.split.train.length / this.batchSize);
  }

  private initTensors(weights: Record<string, Tensor> | undefined): void {
    const missing: string[] = [];
    for (const p of this.params) {
      const w = weights?.[p.name];
      if (weights && !w) missing.push(p.name);
      if (w) {
        if (w.shape.join() !== p.shape.join()) {
          throw new StudioError(`tensor ${p.name} has shape [${w.shape.join(', ')}] in the weights file, the graph needs [${p.shape.join(', ')}]`, { node: p.node });
        }
        this.backend.writeTensor(p.name, w.data);
      } else this.backend.writeTensor(p.name, initTensor(p.name, p.shape, p.init, this.training.seed));
    }
    if (missing.length) throw new StudioError(`the weights file lacks ${missing.length > 1 ? 'tensors' : 'tensor'} ${missing.join(', ')}`);
  }

  private trainExecutable(batch: number): Executable {
    let exe = this.trainPlans.get(batch);
    if (!exe) {
      const opt = this.training.optimizer;
      exe = this.backend.load(trainProgram(this.nodes, this.targets, opt, batch).plan);
      this.trainPlans.set(batch, exe);
    }
    return exe;
  }

  private evalExecutable(batch: number, scored: boolean): Executable {
    const key = `${batch}:${scored}`;
    let exe = this.evalPlans.get(key);
    if (!exe) {
      exe = this.backend.load(evalProgram(this.nodes, this.targets, batch, { scored }).plan);
      this.evalPlans.set(key, exe);
    }
    return exe;
  }

  /** One optimizer step on these training rows. Stops with an error naming the node when a value turns NaN/Inf. */
  async trainStep(rows: ArrayLike<number>): Promise<StepResult> {
    const exe = this.trainExecutable(rows.length);
    for (const [id, t] of this.feeder.batch(rows)) exe.setInput(id, t);
    const ctx = { seed: this.training.seed, step: this.stepCount + 1 };
    exe.run(ctx, 'compute');
    const loss = (await exe.read('objective'))[0];
    if (!Number.isFinite(loss)) {
      const bad = await exe.findNonFinite(ctx);
      const origin = bad?.node?.origin;
      throw new StudioError(
        `training stopped at step ${ctx.step}: the objective is ${loss}` +
          (origin ? `; the first non-finite value came from node "${origin}" (${bad!.node!.op})` : ''),
        origin ? { node: origin } : {},
      );
    }
    exe.run(ctx, 'update');
    this.stepCount++;
    const tensorNorms: Record<string, number> = {};
    const layerNorms: Record<string, number> = {};
    for (const [layer, tensors] of this.layers) {
      let sq = 0;
      for (const t of tensors) {
        const s = (await exe.read(`gradsq:${t}`))[0];
        tensorNorms[t] = Math.sqrt(s);
        sq += s;
      }
      layerNorms[layer] = Math.sqrt(sq);
    }
    const correct = exe.plan.outputs.has('correct') ? (await exe.read('correct'))[0] : undefined;
    return { step: this.stepCount, epoch: this.epochCount + 1, loss, correct, count: rows.length, layerNorms, tensorNorms };
  }

  /** The batches of the next epoch, in training order. */
  epochBatches(): Int32Array[] {
    const order = epochOrder(this.split.train, this.epochCount, this.training.seed, this.shuffle);
    const out: Int32Array[] = [];
    for (let i = 0; i < order.length; i += this.batchSize) out.push(order.subarray(i, i + this.batchSize));
    return out;
  }

  /**
   * Trains until `epochs` epochs (default: the project's) or `steps` optimizer steps are done, or `shouldStop`
   * says so. Epoch results include validation metrics when there is a validation part.
   */
  async train(opts: {
    epochs?: number;
    steps?: number;
    onStep?: (r: StepResult) => void;
    onEpoch?: (r: EpochResult) => void;
    shouldStop?: () => boolean;
  } = {}): Promise<void> {
    const epochs = opts.epochs ?? this.training.epochs;
    while (this.epochCount < epochs) {
      let lossSum = 0;
      let correct = 0;
      let count = 0;
      let steps = 0;
      const normSums: Record<string, number> = {};
      let scored = false;
      for (const rows of this.epochBatches()) {
        if ((opts.steps !== undefined && this.stepCount >= opts.steps) || opts.shouldStop?.()) break;
        const r = await this.trainStep(rows);
        opts.onStep?.(r);
        lossSum += r.loss * r.count;
        count += r.count;
        steps++;
        if (r.correct !== undefined) {
          correct += r.correct;
          scored = true;
        }
        for (const [k, v] of Object.entries(r.layerNorms)) normSums[k] = (normSums[k] ?? 0) + v;
      }
      if (steps === 0) return;
      this.epochCount++;
      const result: EpochResult = {
        epoch: this.epochCount,
        step: this.stepCount,
        loss: lossSum / count,
        gradNorms: Object.fromEntries(Object.entries(normSums).map(([k, v]) => [k, v / steps])),
      };
      if (scored) result.accuracy = correct / count;
      if (this.split.validation.length && this.feeder.labelled) {
        const v = await this.evaluate(this.split.validation);
        result.valLoss = v.objective;
        if (v.accuracy !== undefined) result.valAccuracy = v.accuracy;
      }
      opts.onEpoch?.(result);
      if (opts.steps !== undefined && this.stepCount >= opts.steps) return;
    }
  }

  /** Objective (batch-weighted mean) and accuracy over these rows, in inference mode. */
  async evaluate(rows: ArrayLike<number>): Promise<EvalResult> {
    if (!this.feeder.labelled && this.nodes.some((n) => n.op === 'label')) {
      throw new StudioError(`${this.dataset.name} has no label column, so the objective cannot be computed`);
    }
    let objective = 0;
    let correct = 0;
    let hasAccuracy = false;
    for (let i = 0; i < rows.length; i += EVAL_BATCH) {
      const chunk = Array.from({ length: Math.min(EVAL_BATCH, rows.length - i) }, (_, k) => rows[i + k]);
      const exe = this.evalExecutable(chunk.length, true);
      for (const [id, t] of this.feeder.batch(chunk)) exe.setInput(id, t);
      exe.run({ seed: this.training.seed, step: this.stepCount });
      objective += (await exe.read('objective'))[0] * chunk.length;
      if (exe.plan.outputs.has('correct')) {
        hasAccuracy = true;
        correct += (await exe.read('correct'))[0];
      }
    }
    const n = rows.length;
    return { objective: objective / n, accuracy: hasAccuracy ? correct / n : undefined, rows: n };
  }

  /** The prediction node's output for each row (flat, row-major per row). */
  async predict(rows: ArrayLike<number>): Promise<Float32Array[]> {
    if (!this.targets.prediction) throw new StudioError('the project has no prediction node: set training.prediction');
    const out: Float32Array[] = [];
    for (let i = 0; i < rows.length; i += EVAL_BATCH) {
      const chunk = Array.from({ length: Math.min(EVAL_BATCH, rows.length - i) }, (_, k) => rows[i + k]);
      const exe = this.evalExecutable(chunk.length, false);
      for (const [id, t] of this.feeder.batch(chunk)) exe.setInput(id, t);
      exe.run({ seed: this.training.seed, step: this.stepCount });
      const p = await exe.read('prediction');
      const per = p.length / chunk.length;
      for (let k = 0; k < chunk.length; k++) out.push(p.slice(k * per, (k + 1) * per));
    }
    return out;
  }

  /** The batch tensors of these rows by node id (for grad and gradcheck, which build their own plans). */
  batch(rows: ArrayLike<number>): Map<string, Float32Array> {
    return this.feeder.batch(rows);
  }

  /**
   * Every tensor of the model by its project-format.md name, plus the standardisation statistics
   * (`data.INPUT_ID.mean`, `data.INPUT_ID.std`) when the data is standardised.
   */
  async weights(): Promise<Record<string, Tensor>> {
    const out: Record<string, Tensor> = {};
    for (const p of this.params) out[p.name] = { shape: p.shape, data: await this.backend.readTensor(p.name) };
    for (const [id, s] of this.standardize ?? []) {
      const shape = inputShape(this.nodes, id);
      out[`data.${id}.mean`] = { shape, data: s.mean };
      out[`data.${id}.std`] = { shape, data: s.std };
    }
    return out;
  }
}

function inputShape(nodes: readonly GraphNode[], id: string): number[] {
  return ((nodes.find((n) => n.id === id)?.attrs?.shape as number[] | undefined) ?? []).slice();
}

function pick(s: Standardize, columns: Int32Array): Standardize {
  return { mean: Float32Array.from(columns, (c) => s.mean[c]), std: Float32Array.from(columns, (c) => s.std[c]) };
}

/** Per-column statistics from a weights file's `data.ID.mean/std` tensors, when it has them for every input. */
function savedStandardize(weights: Record<string, Tensor> | undefined, ds: Dataset, nodes: readonly GraphNode[]): Standardize | undefined {
  if (!weights) return undefined;
  const width = ds.featureNames.length;
  const mean = new Float32Array(width);
  const std = new Float32Array(width).fill(1);
  let found = false;
  for (const n of nodes.filter((m) => m.op === 'input')) {
    const m = weights[`data.${n.id}.mean`];
    const s = weights[`data.${n.id}.std`];
    if (!m || !s) return undefined;
    const a = n.attrs ?? {};
    const names = typeof a.feature === 'string' ? [a.feature] : Array.isArray(a.features) ? (a.features as string[]) : ds.featureNames;
    names.forEach((name, k) => {
      const c = ds.featureNames.indexOf(name);
      if (c >= 0) {
        mean[c] = m.data[k];
        std[c] = s.data[k];
      }
    });
    found = true;
  }
  return found ? { mean, std } : undefined;
}
