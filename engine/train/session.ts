import type { Backend, Executable } from '../backends/backend';
import { CpuBackend } from '../backends/cpu/cpu-backend';
import type { RunContext } from '../backends/kernel';
import { expandFeatureNames } from '../data/csv-encode';
import { loadDataset } from '../data/load';
import { applyStandardize, epochOrder, splitRows, standardizeStats, type Split, type Standardize } from '../data/split';
import type { Dataset, SplitSpec } from '../data/types';
import { expandGraph, type GraphNode, type ParamInfo } from '../graph/expand';
import { initTensor } from '../graph/init';
import type { Project, ResolvedTraining } from '../io/project';
import { dataSectionOf, withDataDefaults, withTrainingDefaults } from '../io/project';
import type { Tensor } from '../io/safetensors';
import { StudioError } from '../util/errors';
import { Feeder, type LabelScale } from './feed';
import { addToConfusion, emptyConfusion } from './metrics';
import { evalProgram, flowKey, flowProgram, unitsKey, layersOf, NO_PREDICTION, resolveTargets, standardizedLabel, throwGraphErrors, trainProgram, type Edge, type Targets } from './program';
import { lrFactor } from './schedule';

export interface StepResult {
  /** 1-based optimizer step. */
  step: number;
  epoch: number;
  loss: number;
  /** Examples of the batch predicted right (when the targets have an accuracy). */
  correct?: number;
  /** A regression's sum over the batch of the squared error, in the label's units squared (Session.hasRmse). */
  sqerr?: number;
  count: number;
  /** The batch's rows (indices into the dataset). */
  rows: ArrayLike<number>;
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
  /** A regression's root mean squared error over the epoch's examples, in the label's units (Session.hasRmse). */
  rmse?: number;
  valLoss?: number;
  valAccuracy?: number;
  valRmse?: number;
  /** The learning rate of the epoch's last step: optimizer.lr times training.schedule's factor (schedule.ts). */
  lr: number;
  /** Each layer's gradient norm, averaged over the epoch's steps. */
  gradNorms: Record<string, number>;
  /** On the validation part, when asked for (nextStep's `confusion`) and the targets have classes: see EvalResult. */
  confusion?: number[][];
}

export interface EvalResult {
  objective?: number;
  accuracy?: number;
  /** A regression's root mean squared error, in the label's units. */
  rmse?: number;
  rows: number;
  /**
   * When asked for and the targets have classes (`Session.classNames`): counts[true class][predicted class], the
   * prediction read as the accuracy reads it (argmax, or a single score against its threshold).
   */
  confusion?: number[][];
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
  /** Go on from another session's checkpoint (its tensors over the initialisation or `weights`, and its counters). */
  resume?: Checkpoint;
}

/**
 * The whole training state between two epochs: every persistent tensor (parameters, optimizer state, running
 * statistics) and the counters. A Session made with it as `resume`, on any backend, goes on as this one would: the
 * batches and dropout masks follow from the seed, the epoch and the step alone.
 */
export interface Checkpoint {
  epoch: number;
  step: number;
  tensors: ReadonlyMap<string, Float32Array>;
}

/** Size of the batches used to evaluate and predict (no gradients, so larger than training's). */
const EVAL_BATCH = 256;

/**
 * Training steps in flight at once on a backend whose runs complete asynchronously (WebGPU, whose executables have
 * runAndCollect): the next steps are submitted while a step's metrics are on their way back, so that no step waits
 * on a readback. Results are still reported in order, each up to this many steps after its step was submitted.
 * Training keeps none in flight on the CPU (its steps are done when they return).
 */
const PIPELINE_DEPTH = 8;

/**
 * Most steps that can follow the last saved state (Backend.saveState) before training lets the window empty and
 * saves again: the steps replayed, at worst, to undo the steps submitted after one whose objective came back NaN.
 */
const MAX_REPLAY = 128;

/** A training step submitted to an asynchronous backend and not yet reported. */
interface Pending {
  /** 1-based optimizer step. */
  step: number;
  epoch: number;
  rows: ArrayLike<number>;
  /** The batch's index in its epoch. */
  batch: number;
  exe: Executable;
  ctx: RunContext;
  /** The collected outputs (Session.collected), as they come back. */
  metrics: Promise<Float32Array[]>;
  /** Set once the metrics are in: the step's result, or why it failed. */
  settled?: Promise<void>;
  result?: StepResult;
  failure?: { error: unknown };
}

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
  /** The trainable tensors, in layer order: whose gradsq each step reads, and a pipelined step collects. */
  private readonly trainables: readonly string[];
  readonly dataset: Dataset;
  readonly split: Split;
  readonly standardize: ReadonlyMap<string, Standardize> | undefined;
  /**
   * The label's standardisation (`data.standardizeLabel`, for a `real` label that the objective reads): that label
   * node is fed (y - mean) / std, so the objective is in those units, and predict and predictFeatures give the
   * prediction back in the label's own (prediction * std + mean).
   */
  readonly labelScale: LabelScale | undefined;
  /**
   * What a run from the weights it was given should know: statistics they carry (the data was standardised when they
   * were trained) that the project's data settings leave unused, so that their predictions will be off.
   */
  readonly notes: readonly string[];
  readonly backend: Backend;
  private readonly feeder: Feeder;
  private readonly trainPlans = new Map<number, Executable>();
  private readonly evalPlans = new Map<string, Executable>();
  private readonly flowPlans = new Map<number, { exe: Executable; edges: Edge[] }>();
  private readonly shuffle: boolean;
  private stepCount = 0;
  private epochCount = 0;
  /** Per feature column, when the data is standardised (the statistics the inputs were standardised with). */
  private readonly columnStats: Standardize | undefined;
  /** Values per example of the prediction (1 for a single score), when the prediction is per example. */
  private readonly predictionWidth: number | undefined;
  /** The epoch in progress for nextStep(): `next` steps of it reported, `queued` submitted (when pipelined). */
  private cursor: { batches: Int32Array[]; next: number; queued: number; tally: EpochTally } | undefined;
  /** Steps in flight (submitted, not yet reported), oldest first; only on an asynchronous backend. */
  private readonly pending: Pending[] = [];
  /**
   * Where the state saved last (Backend.saveState) stands: after step `from`, and the steps submitted since, to
   * replay after a NaN. Undefined when nothing is saved (or a step ran outside the pipeline since).
   */
  private replay: { from: number; steps: { exe: Executable; rows: ArrayLike<number>; ctx: RunContext }[] } | undefined;
  /** Steps kept in flight: PIPELINE_DEPTH on a backend with runAndCollect, else 0. */
  private depthOf: number | undefined;
  /** The outputs that a pipelined step collects, per training executable. */
  private readonly collects = new Map<Executable, string[]>();

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
    this.trainables = [...this.layers.values()].flat();
    this.targets = resolveTargets(this.nodes, this.training);
    const pred = this.targets.prediction;
    const predShape = pred === undefined ? undefined : analysis.outputs.get(pred)?.shape;
    this.predictionWidth =
      predShape && analysis.batched.get(pred!) && predShape.slice(1).every((d) => typeof d === 'number')
        ? (predShape.slice(1) as number[]).reduce((a, d) => a * d, 1)
        : undefined;
    const data = withDataDefaults(dataSectionOf(project));
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
    this.columnStats = perColumn;
    this.labelScale = labelScaleOf(standardizedLabel(data, this.targets), this.dataset, this.split, opts.weights);
    this.feeder = new Feeder(this.nodes, this.dataset, features, this.labelScale);
    this.notes = opts.weights ? unusedStatistics(opts.weights, this.nodes, data, this.targets) : [];
    this.standardize = perColumn && new Map(this.feeder.inputIds().map((id) => [id, pick(perColumn!, this.feeder.columnsOf(id)!)]));
    this.backend = opts.backend ?? new CpuBackend();
    this.initTensors(opts.weights);
    if (opts.resume) {
      for (const [name, data] of opts.resume.tensors) this.backend.writeTensor(name, data);
      this.stepCount = opts.resume.step;
      this.epochCount = opts.resume.epoch;
    }
  }

  /** The training state now, for a Session that goes on from it (SessionOptions.resume); only between epochs. */
  async checkpoint(): Promise<Checkpoint> {
    if (this.cursor || this.pending.length) throw new Error('a checkpoint is taken between epochs, with no step in flight');
    const tensors = new Map<string, Float32Array>();
    for (const name of this.backend.tensorNames()) tensors.set(name, await this.backend.readTensor(name));
    return { epoch: this.epochCount, step: this.stepCount, tensors };
  }

  /**
   * Frees what the session holds on its backend, the plans' buffers and the tensors, once the steps in flight are
   * back: GPU memory, which garbage collection does not see. The session is not used after.
   */
  async dispose(): Promise<void> {
    await this.drain();
    for (const exe of [...this.trainPlans.values(), ...this.evalPlans.values(), ...[...this.flowPlans.values()].map((f) => f.exe)]) exe.dispose?.();
    this.backend.dispose();
  }

  /** Optimizer steps done and reported (steps still in flight not included: see pendingSteps). */
  get step(): number {
    return this.stepCount;
  }
  /**
   * Steps submitted and not yet reported (by nextStep or train's onStep): up to PIPELINE_DEPTH on WebGPU, always 0
   * on the CPU. A caller of nextStep that wants the weights to be those after exactly the steps it has reported
   * calls nextStep with `ahead: 0` until this is 0.
   */
  get pendingSteps(): number {
    return this.pending.length;
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

  /** The learning rate of optimizer step `step`: optimizer.lr times training.schedule's factor. */
  learningRate(step: number): number {
    return this.training.optimizer.lr * this.lrScale(step);
  }

  private lrScale(step: number): number {
    return lrFactor(this.training.schedule, step, { perEpoch: this.stepsPerEpoch, total: this.training.epochs * this.stepsPerEpoch });
  }

  /** What training step `step`'s kernels read: the seed, the step, and the schedule's factor on the learning rate. */
  private trainContext(step: number): RunContext {
    return { seed: this.training.seed, step, lrScale: this.lrScale(step) };
  }

  /** Whether a training step counts the examples it gets right (compiles the training step if it is not yet). */
  get hasAccuracy(): boolean {
    return this.trainExecutable(this.batchSize).plan.outputs.has('correct');
  }

  /**
   * Whether steps and epochs report a regression's root mean squared error (a `real` label against one value per
   * example: program.ts squaredErrorSum), in the label's units.
   */
  get hasRmse(): boolean {
    return this.trainExecutable(this.batchSize).plan.outputs.has('sqerr');
  }

  /** A squared error read from a plan (in the units the label is fed), in the label's units squared. */
  private squaredInLabelUnits(sq: number): number {
    return this.labelScale ? sq * this.labelScale.std ** 2 : sq;
  }

  /**
   * The classes that a confusion matrix counts, in index order, when the targets have an accuracy that reads
   * classes: a `class` label against K scores (argmax), or a `class` (0/1) or `sign` (-1/+1, class 0 is -1) label
   * against one score. Undefined otherwise (real labels, no prediction).
   */
  get classNames(): string[] | undefined {
    const label = this.targets.label;
    const width = this.predictionWidth;
    if (!label || label.kind === 'real' || width === undefined || !this.feeder.labelled) return undefined;
    if (width === 1) {
      if (label.kind === 'sign') return ['-1', '+1'];
      const names = this.dataset.label?.classes;
      return names && names.length === 2 ? names.slice() : ['0', '1'];
    }
    if (label.kind !== 'class') return undefined;
    const names = this.dataset.label?.classes;
    return names && names.length === width ? names.slice() : Array.from({ length: width }, (_, k) => String(k));
  }

  /** Values per example of the prediction node, when it is per example. */
  get predictionSize(): number | undefined {
    return this.predictionWidth;
  }

  /**
   * The feature columns (indices into `dataset.featureNames`, ascending) that the input nodes read, when the
   * prediction is per example: two make the plane a decision boundary is drawn over, one the line fitted curves are.
   * Undefined when the prediction is not per example.
   */
  get inputColumns(): number[] | undefined {
    if (this.predictionWidth === undefined) return undefined;
    const seen = new Set<number>();
    for (const id of this.feeder.inputIds()) for (const c of this.feeder.columnsOf(id)!) seen.add(c);
    return [...seen].sort((x, y) => x - y);
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
      exe = this.backend.load(trainProgram(this.nodes, this.targets, opt, batch, { clipNorm: this.training.clipNorm }).plan);
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

  /**
   * One optimizer step on these training rows, waited for (read back) before it returns, on any backend. Stops with
   * an error naming the node when the objective or a gradient turns NaN/Inf, before that step's update. Not while
   * steps are in flight (pendingSteps).
   */
  async trainStep(rows: ArrayLike<number>): Promise<StepResult> {
    if (this.pending.length) throw new Error(`trainStep: ${this.pending.length} steps in flight are still to be reported`);
    const exe = this.trainExecutable(rows.length);
    for (const [id, t] of this.feeder.batch(rows)) exe.setInput(id, t);
    const ctx = this.trainContext(this.stepCount + 1);
    exe.run(ctx, 'compute');
    const loss = (await exe.read('objective'))[0];
    const squares = new Map<string, number>();
    for (const t of this.trainables) squares.set(t, (await exe.read(`gradsq:${t}`))[0]);
    const bad = nonFiniteMetric(loss, squares);
    if (bad) throw await this.nonFinite(exe, ctx, bad);
    exe.run(ctx, 'update');
    // the steps since the saved state are no longer all the pipeline's
    this.replay = undefined;
    this.stepCount++;
    const { tensorNorms, layerNorms } = this.norms(squares);
    const correct = exe.plan.outputs.has('correct') ? (await exe.read('correct'))[0] : undefined;
    const sqerr = exe.plan.outputs.has('sqerr') ? this.squaredInLabelUnits((await exe.read('sqerr'))[0]) : undefined;
    return { step: this.stepCount, epoch: this.epochCount + 1, loss, correct, sqerr, count: rows.length, rows, layerNorms, tensorNorms };
  }

  /** Each trainable tensor's gradient norm, and each layer's (its tensors' together), from their squared norms. */
  private norms(squares: ReadonlyMap<string, number>): Pick<StepResult, 'tensorNorms' | 'layerNorms'> {
    const tensorNorms: Record<string, number> = {};
    const layerNorms: Record<string, number> = {};
    for (const [layer, tensors] of this.layers) {
      let sq = 0;
      for (const t of tensors) {
        tensorNorms[t] = Math.sqrt(squares.get(t)!);
        sq += squares.get(t)!;
      }
      layerNorms[layer] = Math.sqrt(sq);
    }
    return { tensorNorms, layerNorms };
  }

  /** The error for a step whose objective or gradient is not finite (`what`), naming the node of the first non-finite value. */
  private async nonFinite(exe: Executable, ctx: RunContext, what: string): Promise<StudioError> {
    const bad = await exe.findNonFinite(ctx);
    const origin = bad?.node?.origin;
    return new StudioError(
      `training stopped at step ${ctx.step}: ${what}` + (origin ? `; the first non-finite value came from node "${origin}" (${bad!.node!.op})` : ''),
      origin ? { node: origin } : {},
    );
  }

  // ---- the pipeline (backends whose runs complete asynchronously) ---------------------------------------------------
  //
  // A pipelined step is submitted whole (forward, backward, gradient norms, update: one command buffer) with its
  // metrics (objective, gradsq:*, correct) collected into a staging buffer that comes back on its own; up to
  // PIPELINE_DEPTH steps are in flight, and their results are reported in order as their metrics come in. Anything
  // that reads the weights (evaluate, predict, flowNorms, weights, an epoch's end) first waits for every step in
  // flight. A step whose objective or a gradient comes back non-finite is undone with the steps after it: the state
  // saved when the window was last empty (Backend.saveState) is restored and the steps since then replayed up to the
  // one before it, which leaves the weights as the CPU leaves them (the failing step's update not run), and the
  // failing step's forward pass is re-run to name the node, as on the CPU.

  /** Steps kept in flight: PIPELINE_DEPTH where the training executable has runAndCollect, else 0. */
  private get depth(): number {
    return (this.depthOf ??= this.trainExecutable(this.batchSize).runAndCollect ? PIPELINE_DEPTH : 0);
  }

  /** The outputs that a pipelined step collects: the objective, each trainable tensor's gradsq in layer order, correct, sqerr. */
  private collected(exe: Executable): string[] {
    let names = this.collects.get(exe);
    if (!names) {
      names = ['objective', ...this.trainables.map((t) => `gradsq:${t}`)];
      if (exe.plan.outputs.has('correct')) names.push('correct');
      if (exe.plan.outputs.has('sqerr')) names.push('sqerr');
      this.collects.set(exe, names);
    }
    return names;
  }

  /** Whether another step may be submitted with at most `window` in flight. */
  private canSubmit(window: number): boolean {
    const n = this.pending.length;
    if (n === 0) return true;
    // a failed step waits to be reported; a long replay waits for the window to empty (and a fresh save)
    return n < window && !this.pending[n - 1].failure && !(this.replay && this.replay.steps.length >= MAX_REPLAY);
  }

  /** Submits the next step on these rows (the `batch`-th of its epoch), without waiting. */
  private submit(rows: ArrayLike<number>, batch: number): void {
    const exe = this.trainExecutable(rows.length);
    const step = this.stepCount + this.pending.length + 1;
    const backend = this.backend;
    // Saved when every step before is known to be finite (the window is empty, or holds only results).
    if (backend.saveState && backend.restoreState && (!this.replay || this.replay.steps.length) && this.pending.every((p) => p.result)) {
      backend.saveState();
      this.replay = { from: step - 1, steps: [] };
    }
    for (const [id, t] of this.feeder.batch(rows)) exe.setInput(id, t);
    const ctx = this.trainContext(step);
    const metrics = exe.runAndCollect!(ctx, this.collected(exe));
    // (handled where the step is reported; this keeps a step dropped after a failure from being an unhandled rejection)
    metrics.catch(() => {});
    this.replay?.steps.push({ exe, rows, ctx });
    this.pending.push({ step, epoch: this.epochCount + 1, rows, batch, exe, ctx, metrics });
  }

  /** Waits for a pending step's metrics (those of the steps before it first) and makes its result, or its failure. */
  private settle(p: Pending): Promise<void> {
    return (p.settled ??= this.settleNow(p));
  }

  private async settleNow(p: Pending): Promise<void> {
    let values: Float32Array[];
    try {
      values = await p.metrics;
    } catch (error) {
      await this.dropAfter(p);
      p.failure = { error };
      return;
    }
    const loss = values[0][0];
    const squares = new Map(this.trainables.map((t, k) => [t, values[k + 1][0]]));
    const bad = nonFiniteMetric(loss, squares);
    if (bad) {
      await this.dropAfter(p);
      const backend = this.backend;
      const r = this.replay;
      if (r && backend.restoreState) {
        // back to the state after step p.step - 1: the saved state, and the steps since it replayed
        const keep = p.step - 1 - r.from;
        backend.restoreState();
        r.steps.length = Math.max(0, Math.min(keep, r.steps.length));
        for (const s of r.steps) {
          for (const [id, t] of this.feeder.batch(s.rows)) s.exe.setInput(id, t);
          s.exe.run(s.ctx, 'all');
        }
      }
      // (without a saved state, the node named is where the re-run meets a non-finite value with the weights as
      // the steps in flight left them)
      for (const [id, t] of this.feeder.batch(p.rows)) p.exe.setInput(id, t);
      p.failure = { error: await this.nonFinite(p.exe, p.ctx, bad) };
      return;
    }
    const { tensorNorms, layerNorms } = this.norms(squares);
    let k = 1 + squares.size;
    const correct = p.exe.plan.outputs.has('correct') ? values[k++][0] : undefined;
    const sqerr = p.exe.plan.outputs.has('sqerr') ? this.squaredInLabelUnits(values[k][0]) : undefined;
    p.result = { step: p.step, epoch: p.epoch, loss, correct, sqerr, count: p.rows.length, rows: p.rows, layerNorms, tensorNorms };
  }

  /** Drops the steps submitted after a failed one (waiting for them, so that their staging comes back). */
  private async dropAfter(p: Pending): Promise<void> {
    const at = this.pending.indexOf(p);
    const later = at < 0 ? [] : this.pending.splice(at + 1);
    await Promise.allSettled(later.map((q) => q.metrics));
  }

  /** Reports the oldest step in flight: its result, or its failure thrown (the steps after it dropped). */
  private async take(): Promise<StepResult> {
    const p = this.pending[0];
    await this.settle(p);
    this.pending.shift();
    if (p.failure) throw p.failure.error;
    this.stepCount++;
    return p.result!;
  }

  /**
   * Waits for every step in flight (their results stay to be reported, in order), so that what reads the weights
   * next sees them after all the steps submitted, a failed one undone.
   */
  private async drain(): Promise<void> {
    for (let i = 0; i < this.pending.length; i++) await this.settle(this.pending[i]);
  }

  private flowExecutable(batch: number): { exe: Executable; edges: Edge[] } {
    let flow = this.flowPlans.get(batch);
    if (!flow) {
      const { plan, edges } = flowProgram(this.nodes, this.targets, batch);
      flow = { exe: this.backend.load(plan), edges };
      this.flowPlans.set(batch, flow);
    }
    return flow;
  }

  /**
   * The L2 norm of the gradient along each edge of the graph (flowProgram: the part of the source's adjoint that
   * comes from the target), on these rows with the weights as they are now, in graph order; 0 for an edge that
   * carries none. It runs as the latest training step ran (its dropout masks, batchnorm on batch statistics) and
   * writes no tensor.
   */
  async flowNorms(rows: ArrayLike<number>): Promise<(Edge & { norm: number })[]> {
    return (await this.flow(rows)).edges;
  }

  /**
   * flowNorms, and the units of each ReLU node's value (hasReluUnits: [B, units, ...]) that are zero on every one of
   * these rows: dead, passing no gradient back (flowProgram's unitsKey).
   */
  async flow(rows: ArrayLike<number>): Promise<{ edges: (Edge & { norm: number })[]; units: { node: string; dead: number; units: number }[] }> {
    if (this.pending.length) await this.drain();
    const { exe, edges } = this.flowExecutable(rows.length);
    for (const [id, t] of this.feeder.batch(rows)) exe.setInput(id, t);
    // (the latest step run: with steps drained but not yet reported, the last of them)
    const latest = this.pending.length ? (this.pending.filter((p) => p.result).at(-1)?.step ?? this.stepCount) : this.stepCount;
    exe.run({ seed: this.training.seed, step: latest });
    const out: (Edge & { norm: number })[] = [];
    for (const edge of edges) {
      const key = flowKey(edge);
      out.push({ ...edge, norm: exe.plan.outputs.has(key) ? Math.sqrt((await exe.read(key))[0]) : 0 });
    }
    const units: { node: string; dead: number; units: number }[] = [];
    for (const n of this.nodes) {
      if (!exe.plan.outputs.has(unitsKey(n.id))) continue;
      const largest = await exe.read(unitsKey(n.id));
      units.push({ node: n.id, dead: largest.reduce((d, v) => d + (v === 0 ? 1 : 0), 0), units: largest.length });
    }
    return { edges: out, units };
  }

  /** The batches of the next epoch, in training order. */
  epochBatches(): Int32Array[] {
    const order = epochOrder(this.split.train, this.epochCount, this.training.seed, this.shuffle);
    const out: Int32Array[] = [];
    for (let i = 0; i < order.length; i += this.batchSize) out.push(order.subarray(i, i + this.batchSize));
    return out;
  }

  /**
   * One optimizer step of the epoch in progress (drawing the next epoch's batches when none is in progress), for
   * callers that drive training a step at a time (the app's engine host). When the step is its epoch's last,
   * `epoch` is the epoch's result, computed as train() computes it, with validation metrics (and, with
   * `confusion`, the validation part's confusion matrix from the same evaluation pass). Do not mix with train() in
   * the middle of an epoch: train() starts each epoch afresh. A step that throws (a NaN) is not counted.
   *
   * On an asynchronous backend (WebGPU) it keeps up to PIPELINE_DEPTH steps of the epoch in flight and returns the
   * oldest (in order, as each one's metrics come in); `ahead` caps the steps left in flight after the one returned
   * (0: submit nothing more while any is in flight, and wait for this one). No step of the next epoch is submitted
   * before the epoch's end, so the validation metrics are those of the weights after exactly its steps.
   */
  async nextStep(opts: { confusion?: boolean; ahead?: number } = {}): Promise<{ step: StepResult; epoch?: EpochResult }> {
    if (!this.cursor || this.cursor.next >= this.cursor.batches.length) {
      this.cursor = { batches: this.epochBatches(), next: 0, queued: 0, tally: new EpochTally() };
    }
    const c = this.cursor;
    const depth = this.depth;
    let step: StepResult;
    if (depth === 0) step = await this.trainStep(c.batches[c.next]);
    else {
      const window = Math.max(1, Math.min(depth, (opts.ahead ?? depth) + 1));
      if (c.queued < c.next) c.queued = c.next;
      while (c.queued < c.batches.length && this.canSubmit(window)) {
        this.submit(c.batches[c.queued], c.queued);
        c.queued++;
      }
      const failed = this.pending[0].batch;
      try {
        step = await this.take();
      } catch (e) {
        // the failed step's batch comes again next time (the steps after it were dropped)
        c.queued = failed;
        throw e;
      }
    }
    c.next++;
    c.tally.add(step);
    if (c.next < c.batches.length) return { step };
    this.cursor = undefined;
    return { step, epoch: await this.finishEpoch(c.tally, opts.confusion ?? false) };
  }

  /** Closes an epoch: counts it, and adds the validation metrics when there is a validation part. */
  private async finishEpoch(t: EpochTally, confusion: boolean): Promise<EpochResult> {
    this.epochCount++;
    const result: EpochResult = {
      epoch: this.epochCount,
      step: this.stepCount,
      loss: t.lossSum / t.count,
      lr: this.learningRate(this.stepCount),
      gradNorms: Object.fromEntries(Object.entries(t.normSums).map(([k, v]) => [k, v / t.steps])),
    };
    if (t.scored) result.accuracy = t.correct / t.count;
    if (t.squared) result.rmse = Math.sqrt(t.sqerr / t.count);
    if (this.split.validation.length && this.feeder.labelled) {
      const v = await this.evaluate(this.split.validation, { confusion });
      result.valLoss = v.objective;
      if (v.accuracy !== undefined) result.valAccuracy = v.accuracy;
      if (v.rmse !== undefined) result.valRmse = v.rmse;
      if (v.confusion) result.confusion = v.confusion;
    }
    return result;
  }

  /**
   * Trains until `epochs` epochs (default: the project's) or `steps` optimizer steps are done, or `shouldStop`
   * says so. Epoch results include validation metrics when there is a validation part.
   *
   * On an asynchronous backend (WebGPU) up to PIPELINE_DEPTH steps run ahead of the one reported: onStep gets every
   * step in order, a few steps after it ran; `steps` and `shouldStop` are checked before each step is submitted, so
   * a stop lets the steps already in flight finish and be reported. Each epoch's steps are all reported before its
   * onEpoch, and its validation sees the weights after exactly them.
   */
  async train(opts: {
    epochs?: number;
    steps?: number;
    onStep?: (r: StepResult) => void;
    onEpoch?: (r: EpochResult) => void;
    shouldStop?: () => boolean;
  } = {}): Promise<void> {
    const epochs = opts.epochs ?? this.training.epochs;
    const depth = this.depth;
    while (this.epochCount < epochs) {
      const tally = new EpochTally();
      if (depth === 0) {
        for (const rows of this.epochBatches()) {
          if ((opts.steps !== undefined && this.stepCount >= opts.steps) || opts.shouldStop?.()) break;
          const r = await this.trainStep(rows);
          opts.onStep?.(r);
          tally.add(r);
        }
      } else {
        // Pipelined: the limits are checked as steps are submitted, so a stop asked for while steps are in flight
        // lets them finish (and be reported) first.
        const batches = this.epochBatches();
        let next = 0;
        let stopped = false;
        for (;;) {
          while (!stopped && next < batches.length && this.canSubmit(depth)) {
            if ((opts.steps !== undefined && this.stepCount + this.pending.length >= opts.steps) || opts.shouldStop?.()) stopped = true;
            else this.submit(batches[next], next++);
          }
          if (!this.pending.length) break;
          const r = await this.take();
          opts.onStep?.(r);
          tally.add(r);
        }
      }
      if (tally.steps === 0) return;
      // (not `onEpoch?.(await ...)`: an absent callback would skip evaluating its argument, and the epoch with it)
      const result = await this.finishEpoch(tally, false);
      opts.onEpoch?.(result);
      if (opts.steps !== undefined && this.stepCount >= opts.steps) return;
    }
  }

  /**
   * Objective (batch-weighted mean) and accuracy over these rows, in inference mode; with `confusion`, also the
   * confusion matrix (when the targets have classes), from the same pass.
   */
  async evaluate(rows: ArrayLike<number>, opts: { confusion?: boolean } = {}): Promise<EvalResult> {
    if (!this.feeder.labelled && this.nodes.some((n) => n.op === 'label')) {
      throw new StudioError(`${this.dataset.name} has no label column, so the objective cannot be computed`);
    }
    if (this.pending.length) await this.drain();
    let objective = 0;
    let correct = 0;
    let hasAccuracy = false;
    let sqerr: number | undefined;
    const classes = opts.confusion ? this.classNames : undefined;
    let confusion: number[][] | undefined;
    for (let i = 0; i < rows.length; i += EVAL_BATCH) {
      const chunk = Array.from({ length: Math.min(EVAL_BATCH, rows.length - i) }, (_, k) => rows[i + k]);
      const exe = this.evalExecutable(chunk.length, true);
      const batch = this.feeder.batch(chunk);
      for (const [id, t] of batch) exe.setInput(id, t);
      exe.run({ seed: this.training.seed, step: this.stepCount });
      objective += (await exe.read('objective'))[0] * chunk.length;
      if (exe.plan.outputs.has('sqerr')) sqerr = (sqerr ?? 0) + this.squaredInLabelUnits((await exe.read('sqerr'))[0]);
      if (exe.plan.outputs.has('correct')) {
        hasAccuracy = true;
        correct += (await exe.read('correct'))[0];
        if (classes && exe.plan.outputs.has('prediction')) {
          confusion ??= emptyConfusion(classes.length);
          addToConfusion(confusion, await exe.read('prediction'), batch.get(this.targets.label!.id)!, this.scoreThreshold());
        }
      }
    }
    const n = rows.length;
    return {
      objective: objective / n,
      accuracy: hasAccuracy ? correct / n : undefined,
      ...(sqerr !== undefined ? { rmse: Math.sqrt(sqerr / n) } : {}),
      rows: n,
      ...(confusion ? { confusion } : {}),
    };
  }

  /** Where a single score turns positive, as the accuracy reads it: 0.5 after a sigmoid, else 0. */
  scoreThreshold(): number {
    return this.nodes.find((n) => n.id === this.targets.prediction)?.op === 'sigmoid' ? 0.5 : 0;
  }

  /** The prediction node's output for each row (flat, row-major per row), in the label's units (labelScale). */
  async predict(rows: ArrayLike<number>): Promise<Float32Array[]> {
    if (!this.targets.prediction) throw new StudioError(NO_PREDICTION);
    if (this.pending.length) await this.drain();
    const out: Float32Array[] = [];
    for (let i = 0; i < rows.length; i += EVAL_BATCH) {
      const chunk = Array.from({ length: Math.min(EVAL_BATCH, rows.length - i) }, (_, k) => rows[i + k]);
      const exe = this.evalExecutable(chunk.length, false);
      for (const [id, t] of this.feeder.batch(chunk)) exe.setInput(id, t);
      exe.run({ seed: this.training.seed, step: this.stepCount });
      const p = this.inLabelUnits(await exe.read('prediction'));
      const per = p.length / chunk.length;
      for (let k = 0; k < chunk.length; k++) out.push(p.slice(k * per, (k + 1) * per));
    }
    return out;
  }

  /**
   * The prediction node's output (flat, `predictionSize` values per example, in the label's units) for `n` examples
   * given as raw feature values (n x dataset.featureNames.length, row-major, in the data's own units: standardised
   * here as the data is).
   * The app's decision boundary feeds it a grid over the plane, and its fitted curve points along the line.
   *
   * It runs in chunks no larger than the batches training itself runs (`largestBatch`), with one plan: a larger
   * problem would make the CPU backend's WebAssembly matmul grow its memory, and growing detaches the old buffer,
   * which in V8 slows every typed-array loop of the process from then on (by about 20%, measured on the spiral
   * example), training included.
   */
  async predictFeatures(raw: Float32Array, n: number): Promise<Float32Array> {
    if (!this.targets.prediction) throw new StudioError(NO_PREDICTION);
    const width = this.dataset.featureNames.length;
    if (raw.length !== n * width) throw new Error(`predictFeatures: ${raw.length} values for ${n} rows of ${width}`);
    if (this.pending.length) await this.drain();
    const s = this.columnStats;
    const chunk = Math.min(n, this.largestBatch);
    // padded to whole chunks (the padding rows are zeros, predicted and dropped)
    const features = new Float32Array(Math.ceil(n / chunk) * chunk * width);
    for (let i = 0; i < n * width; i++) features[i] = s ? (raw[i] - s.mean[i % width]) / s.std[i % width] : raw[i];
    // The validation part's plan computes the prediction too (its label input is left as it is and its objective
    // unread): reusing it saves compiling another plan per training run.
    const exe = this.evalPlans.get(`${chunk}:true`) ?? this.evalExecutable(chunk, false);
    let out: Float32Array | undefined;
    for (let at = 0; at < n; at += chunk) {
      for (const [id, t] of this.feeder.inputsOf(features.subarray(at * width, (at + chunk) * width), chunk)) exe.setInput(id, t);
      exe.run({ seed: this.training.seed, step: this.stepCount });
      const p = this.inLabelUnits(await exe.read('prediction'));
      const per = p.length / chunk;
      out ??= new Float32Array(n * per);
      out.set(p.subarray(0, Math.min(chunk, n - at) * per), at * per);
    }
    return out ?? new Float32Array(0);
  }

  /** A prediction read from a plan, in the label's units (labelScale undone). */
  private inLabelUnits(p: Float32Array): Float32Array {
    const s = this.labelScale;
    return s ? p.map((v) => v * s.std + s.mean) : p;
  }

  /** The largest batch that training runs: a training step's, or a chunk of the validation part's evaluation. */
  get largestBatch(): number {
    return Math.max(this.batchSize, Math.min(EVAL_BATCH, this.split.validation.length));
  }

  /** The batch tensors of these rows by node id (for grad and gradcheck, which build their own plans). */
  batch(rows: ArrayLike<number>): Map<string, Float32Array> {
    return this.feeder.batch(rows);
  }

  /**
   * Every tensor of the model by its project-format.md name, plus the standardisation statistics
   * (`data.INPUT_ID.mean`, `data.INPUT_ID.std`) when the data is standardised, and the label's
   * (`data.LABEL_ID.mean`, `.std`, of the label node's shape) when it is.
   */
  async weights(): Promise<Record<string, Tensor>> {
    if (this.pending.length) await this.drain();
    const out: Record<string, Tensor> = {};
    for (const p of this.params) out[p.name] = { shape: p.shape, data: await this.backend.readTensor(p.name) };
    for (const [id, s] of this.standardize ?? []) {
      const shape = nodeShape(this.nodes, id);
      out[`data.${id}.mean`] = { shape, data: s.mean };
      out[`data.${id}.std`] = { shape, data: s.std };
    }
    const l = this.labelScale;
    if (l) {
      const shape = nodeShape(this.nodes, l.id);
      out[`data.${l.id}.mean`] = { shape, data: new Float32Array(1).fill(l.mean) };
      out[`data.${l.id}.std`] = { shape, data: new Float32Array(1).fill(l.std) };
    }
    return out;
  }
}

function nodeShape(nodes: readonly GraphNode[], id: string): number[] {
  return ((nodes.find((n) => n.id === id)?.attrs?.shape as number[] | undefined) ?? []).slice();
}

function pick(s: Standardize, columns: Int32Array): Standardize {
  return { mean: Float32Array.from(columns, (c) => s.mean[c]), std: Float32Array.from(columns, (c) => s.std[c]) };
}

/**
 * The standardisation of label node `id` (standardizedLabel's), when the data has a label: the weights' statistics
 * (`data.LABEL_ID.mean`, `.std`) when they carry them, else the training part's mean and population standard
 * deviation (1 for a constant label).
 */
function labelScaleOf(id: string | undefined, ds: Dataset, split: Split, weights: Record<string, Tensor> | undefined): LabelScale | undefined {
  if (id === undefined || !ds.label) return undefined;
  const mean = weights?.[`data.${id}.mean`];
  const std = weights?.[`data.${id}.std`];
  if (mean && std) return { id, mean: mean.data[0], std: std.data[0] };
  const stats = standardizeStats(ds.label.values, 1, split.train);
  return { id, mean: stats.mean[0], std: stats.std[0] };
}

/** Notes on the weights' standardisation statistics that the project's settings do not apply (Session.notes). */
function unusedStatistics(weights: Record<string, Tensor>, nodes: readonly GraphNode[], data: SplitSpec, targets: Targets): string[] {
  const notes: string[] = [];
  const inputs = nodes.filter((n) => n.op === 'input' && weights[`data.${n.id}.mean`]).map((n) => n.id);
  if (!data.standardize && inputs.length) {
    notes.push(
      `the weights carry standardisation statistics for ${inputs.join(', ')} (the features were standardised when they were trained), ` +
        'but the project does not standardise its features: the predictions will be off (set data.standardize: Standardise features)',
    );
  }
  const label = targets.label;
  if (label?.kind === 'real' && !standardizedLabel(data, targets) && weights[`data.${label.id}.mean`]) {
    notes.push(
      `the weights carry statistics for the label ${label.id} (it was standardised when they were trained), ` +
        'but the project does not standardise it: the predictions will be off (set data.standardizeLabel: Standardise label)',
    );
  }
  return notes;
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
    const names = typeof a.feature === 'string' ? [a.feature] : Array.isArray(a.features) ? expandFeatureNames(a.features as string[], ds) : ds.featureNames;
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

/** What an epoch adds up while it runs: train() and nextStep() close epochs from it alike. */
class EpochTally {
  lossSum = 0;
  correct = 0;
  sqerr = 0;
  count = 0;
  steps = 0;
  scored = false;
  squared = false;
  readonly normSums: Record<string, number> = {};

  add(r: StepResult): void {
    this.lossSum += r.loss * r.count;
    this.count += r.count;
    this.steps++;
    if (r.correct !== undefined) {
      this.correct += r.correct;
      this.scored = true;
    }
    if (r.sqerr !== undefined) {
      this.sqerr += r.sqerr;
      this.squared = true;
    }
    for (const [k, v] of Object.entries(r.layerNorms)) this.normSums[k] = (this.normSums[k] ?? 0) + v;
  }
}

/**
 * What makes a step fail before its update: its objective, or a trainable tensor's gradient (its squared norm
 * `squares`), not finite. A gradient that overflows can leave the objective finite (the layers after it dead, or
 * saturated), and an update by it would put NaN or Infinity into the weights unseen. Undefined when all are finite.
 */
function nonFiniteMetric(loss: number, squares: ReadonlyMap<string, number>): string | undefined {
  if (!Number.isFinite(loss)) return `the objective is ${loss}`;
  for (const [tensor, sq] of squares) if (!Number.isFinite(sq)) return `the gradient of ${tensor} is not finite (its squared norm is ${sq})`;
  return undefined;
}
