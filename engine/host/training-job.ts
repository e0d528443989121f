/**
 * One training run in the engine host: a Session driven a step at a time, with start / pause / resume / stop /
 * single step, and the events the renderer draws from (engine/protocol/messages.ts, "training").
 *
 * Costs, so that training from the app runs as fast as from the CLI: the loop runs steps in slices of about 20 ms and
 * yields with setImmediate between slices, so requests (pause, stop, step) are handled within a slice; per step it only
 * appends a few numbers to a preallocated log; events are sent from a timer at most every 100 ms, each carrying
 * everything since the last one, decimated to at most 100 points; the update/weight ratio is measured on one step per
 * train.progress (the weights copied before and after it), and so are the gradient along each edge of the graph and the
 * dead units of its layers (Session.flow: one more forward and backward pass, on that step's batch; about one step's
 * time, so 0.1% on the spiral example); the decision boundary (a forward pass over a 64 x 64 grid; for one feature, the
 * fitted curves, over 256 points) is computed at most once a second of running (and at most 0.5% of the time), after at
 * least 250 steps; events carry their numbers to 7 significant digits (half the JSON of full doubles). Measured on the
 * spiral example, each of these costs up to about 0.5% of the steps per second: the flush (JSON for the IPC channel)
 * most, then the turns of the event loop between slices and the boundary.
 */
import type { BackendChoice } from '../backends/select';
import { GpuLostError, GpuOutOfMemoryError } from '../backends/webgpu/gpu';
import type { Dataset } from '../data/types';
import { dataSectionOf, type Project } from '../io/project';
import type { Tensor } from '../io/safetensors';
import type { DistributionsResult, EngineEvent, EngineEventOf, EpochInfo, EvaluateResult, GradcheckResult, JacobianResult, JobState, TrainJobInfo, TrainStatus, WeightsExport } from '../protocol/messages';
import { checkGradients, GRADCHECK_TOLERANCE } from '../train/gradient-check';
import { nodeJacobian } from '../train/node-jacobian';
import { nodeDistributions } from '../train/node-distributions';
import type { SliceOptions } from '../util/sliced';
import { binaryProbabilities, classProbabilities, decimate, drawsCurves, readPrediction, round7, scoreProbabilityOf, StepLog, updateRatios, type Reading } from '../train/metrics';
import { Session, type Checkpoint, type EpochResult, type StepResult } from '../train/session';
import { StudioError } from '../util/errors';
import { dataBaseDir } from './job-data';
import { checkWeightsFit, encodeWeights } from './weights';

export interface JobTiming {
  /** Least time between two flushes of train.progress and train.epoch. */
  flushMs: number;
  /** How long the loop steps before it yields to the host's message handling. */
  sliceMs: number;
  /**
   * Least running time between two train.boundary events (and at least 200 times what the last one took to
   * compute, so that the boundary never costs more than 0.5% of training)...
   */
  boundaryMs: number;
  /** On the GPU: least time between two checkpoints (taken at epochs' ends), from which the CPU goes on if the GPU is lost. */
  checkpointMs: number;
  /** ...and least steps. */
  boundarySteps: number;
  /** Most points in one train.progress. */
  maxPoints: number;
  /** The boundary grid's cells per side. */
  grid: number;
}

export const DEFAULT_TIMING: JobTiming = { flushMs: 100, sliceMs: 20, boundaryMs: 1000, checkpointMs: 5000, boundarySteps: 250, maxPoints: 100, grid: 64 };

export interface JobOptions {
  id: number;
  project: Project;
  /** The project file's folder, for relative data paths. */
  baseDir?: string;
  /** Tensors to start from (checked against the graph first: every misfit is listed). */
  weights?: Record<string, Tensor>;
  /** The project's data, already loaded (a CSV file read streamed); else the job loads it. */
  dataset?: Dataset;
  emit: (event: EngineEvent) => void;
  /** The backend chosen for the project (engine/backends/select.ts); default the CPU. */
  backend?: BackendChoice;
  timing?: Partial<JobTiming>;
  /** Milliseconds, for the time-based batching (tests pass their own clock). */
  now?: () => number;
}

const LIVE: readonly JobState[] = ['running', 'paused'];

interface Range {
  min: number;
  max: number;
}

/** Points of the fitted curves (train.fit). */
const CURVE_POINTS = 256;

/**
 * The rows a gradient check takes (the first of the dataset's). The check runs a forward pass in float64 per finite
 * difference (up to 4 for each of 64 elements per tensor): on 8 rows the digit-images conv net takes about 5 s on
 * this project's 2-core machines (16 s on 32), and whether a gradient is right does not depend on how many rows.
 */
export const GRADCHECK_ROWS = 8;

/** The rows a node's distributions are taken on (the dataset's first). */
export const DISTRIBUTION_ROWS = 256;

/** The largest Jacobian the app asks for (a float64 forward pass per column; the inspector draws one cell per value). */
export const JACOBIAN_APP_VALUES = 1 << 16;

/**
 * What the job draws the prediction over: the plane of a two-feature input (the decision boundary) or the line of a
 * one-feature regression or classifier (the fitted curves). The feature columns, their ranges over the data, and the
 * grid's extents (the ranges padded).
 */
interface Area {
  columns: number[];
  features: string[];
  ranges: Range[];
  grid: Range[];
}

/** A data range and 5% more on each side (a constant column: 1 on each side). */
export function padRange(r: Range): Range {
  const span = r.max - r.min;
  return span > 0 ? { min: r.min - 0.05 * span, max: r.max + 0.05 * span } : { min: r.min - 1, max: r.max + 1 };
}

/** A number for JSON: null where it is not finite. */
const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

export class TrainingJob {
  readonly id: number;
  /** The job's session; a new one on the CPU when the CPU takes over from a lost GPU. */
  session: Session;
  /** Epochs after which the job is done (the project's training.epochs). */
  readonly epochs: number;
  private readonly t: JobTiming;
  private readonly now: () => number;
  private readonly emit: (event: EngineEvent) => void;
  private readonly layerIds: string[];
  private readonly classes: string[] | undefined;
  private readonly area: Area | undefined;
  private readonly reading: Reading | undefined;
  /** For one score against two classes: how it gives class 1's probability, where the graph says (the fitted curves). */
  private readonly scoreProbability: 'identity' | 'sigmoid' | undefined;
  private readonly accuracy: boolean;
  /** Whether epochs report a regression's RMSE (Session.hasRmse). */
  private readonly rmse: boolean;
  /** What each step asks of Session.nextStep: the validation confusion matrix at each epoch's end, when it has classes. */
  private readonly stepOptions: { confusion: boolean };

  private current: JobState = 'paused';
  /** Serialises everything that runs the session: a slice of steps, a request's step, evaluate, export. */
  private lock: Promise<void> = Promise.resolve();
  private sliceQueued = false;
  private lastStep = 0;
  private lastEpoch = 0;

  // what the next flush sends
  private readonly log: StepLog;
  private readonly row: Float64Array;
  private measureNext = true;
  private ratio: { step: number; layers: Record<string, number | null> } | null = null;
  private flow: EngineEventOf<'train.progress'>['flow'] = null;
  private pendingEpochs: EpochInfo[] = [];
  private pendingConfusion: { epoch: number; classes: string[]; matrix: number[][] } | undefined;
  private pendingBoundary: EngineEventOf<'train.boundary' | 'train.fit'> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFlush = -Infinity;

  // speed: over the running time since the last start or resume
  private segmentTime = 0;
  private segmentStep = 0;
  private rate = 0;

  // decision boundary or fitted curve: the features it is predicted at
  private grid: Float32Array | undefined;
  private backend: TrainJobInfo['backend'] & object;
  /** What a takeover's new Session starts from besides the checkpoint. */
  private readonly made: { baseDir: string; weights?: Record<string, Tensor> };
  /** The latest checkpoint of a job on the GPU (none yet: the CPU would start from the beginning). */
  private checkpoint: Checkpoint | undefined;
  private checkpointTime = -Infinity;
  private boundaryStep = 0;
  private boundaryTime = -Infinity;
  /** Least time until the next boundary while running: boundaryMs, or 200 times the last one's cost. */
  private boundaryGap = 0;

  constructor(opts: JobOptions) {
    this.id = opts.id;
    this.t = { ...DEFAULT_TIMING, ...opts.timing };
    this.now = opts.now ?? (() => performance.now());
    this.emit = opts.emit;
    const project = opts.project;
    if (opts.weights) checkWeightsFit(project.graph.nodes, opts.weights);
    this.made = { baseDir: dataBaseDir(dataSectionOf(project), opts.baseDir), weights: opts.weights };
    const s = new Session(project, { ...this.made, backend: opts.backend?.backend, dataset: opts.dataset });
    this.backend = opts.backend ? { name: opts.backend.name, reason: opts.backend.reason, ...(opts.backend.adapter ? { adapter: opts.backend.adapter } : {}) } : { name: 'cpu', reason: 'default' };
    this.session = s;
    this.epochs = s.training.epochs;
    this.layerIds = [...s.layers.keys()];
    this.log = new StepLog(3 + this.layerIds.length, 4096);
    this.row = new Float64Array(3 + this.layerIds.length);
    // Compiles the training step now: a graph that cannot train fails the request, not the first step.
    this.accuracy = s.hasAccuracy;
    this.rmse = s.hasRmse;
    this.classes = this.accuracy ? s.classNames : undefined;
    this.stepOptions = { confusion: this.classes !== undefined };
    const width = s.predictionSize;
    const op = s.nodes.find((n) => n.id === s.targets.prediction)?.op;
    if (width !== undefined && width > 1 && this.classes?.length === width) {
      this.reading = { kind: 'class', per: width, values: op === 'softmax' ? 'probabilities' : op === 'log_softmax' ? 'log-probabilities' : 'logits' };
    } else if (width === 1) {
      this.reading = { kind: 'score', threshold: this.classes ? s.scoreThreshold() : null };
    }
    this.scoreProbability = this.reading?.kind === 'score' && this.reading.threshold !== null && this.classes?.length === 2 ? scoreProbabilityOf(s.nodes, s.targets.objective, s.targets.prediction) : undefined;
    const columns = s.inputColumns;
    const curves = drawsCurves(width, { real: !this.classes && s.targets.label?.kind === 'real', classes: this.classes?.length }, () => this.scoreProbability !== undefined);
    if (columns && this.reading && (columns.length === 2 || (columns.length === 1 && curves))) {
      const ds = s.dataset;
      const range = (c: number) => {
        let min = Infinity;
        let max = -Infinity;
        for (let r = 0; r < ds.rows; r++) {
          const v = ds.features[r * ds.featureNames.length + c];
          if (v < min) min = v;
          if (v > max) max = v;
        }
        return Number.isFinite(min) && Number.isFinite(max) ? { min, max } : { min: -1, max: 1 };
      };
      const ranges = columns.map(range);
      this.area = { columns, features: columns.map((c) => ds.featureNames[c]), ranges, grid: ranges.map(padRange) };
    }
  }

  get state(): JobState {
    return this.current;
  }

  /** Running or paused: it can still step. */
  get live(): boolean {
    return LIVE.includes(this.current);
  }

  get totalSteps(): number {
    return this.epochs * this.session.stepsPerEpoch;
  }

  status(): TrainStatus {
    return { job: this.id, state: this.current, step: this.lastStep, epoch: this.lastEpoch };
  }

  info(replaced?: number): TrainJobInfo {
    const s = this.session;
    const label = s.targets.label;
    return {
      ...this.status(),
      epochs: this.epochs,
      stepsPerEpoch: s.stepsPerEpoch,
      totalSteps: this.totalSteps,
      batchSize: s.batchSize,
      trainRows: s.split.train.length,
      validationRows: s.split.validation.length,
      layers: this.layerIds.map((id) => ({ id, tensors: [...s.layers.get(id)!] })),
      hasAccuracy: this.accuracy,
      ...(this.rmse ? { hasRmse: true } : {}),
      ...(s.notes.length ? { notes: s.notes.slice() } : {}),
      ...(label ? { labelKind: label.kind } : {}),
      ...(s.labelScale ? { labelScale: { mean: s.labelScale.mean, std: s.labelScale.std } } : {}),
      ...(s.training.clipNorm !== undefined ? { clipNorm: s.training.clipNorm } : {}),
      ...(this.classes ? { classes: this.classes.slice() } : {}),
      ...this.areaInfo(),
      ...(replaced !== undefined ? { replaced } : {}),
      backend: { ...this.backend },
    };
  }

  /** The job info's plane (a decision boundary is drawn) or line (fitted curves are). */
  private areaInfo(): Pick<TrainJobInfo, 'plane' | 'line'> {
    const a = this.area;
    if (!a) return {};
    if (a.columns.length === 1) return { line: { feature: a.features[0], x: { ...a.ranges[0] } } };
    return { plane: { features: [...a.features], x1: { ...a.ranges[0] }, x2: { ...a.ranges[1] } } };
  }

  // ---- control ----------------------------------------------------------------------------------------------------

  /**
   * Starts running. The train.state event and the first slice come on the next turn of the event loop, so the
   * reply to the request that started the job goes out first.
   */
  start(): void {
    if (this.current !== 'paused') throw new StudioError(`the training job is ${this.current}; start a new one`);
    this.current = 'running';
    this.beginSegment();
    setImmediate(() => {
      if (this.current !== 'running') return;
      this.emitState('running', 'user');
      this.queueSlice();
    });
  }

  /** Announces a job made paused (weights.load, train.step): its train.state comes after the reply. */
  announce(): void {
    setImmediate(() => {
      if (this.current === 'paused') this.emitState('paused', 'user');
    });
  }

  async pause(): Promise<TrainStatus> {
    return this.exclusive(async () => {
      if (this.current === 'running') {
        await this.boundaryLocked();
        this.setState('paused', 'user');
      } else if (this.current !== 'paused') throw new StudioError(`there is no training to pause: the job is ${this.current}`);
      return this.status();
    });
  }

  async resume(): Promise<TrainStatus> {
    return this.exclusive(async () => {
      if (this.current === 'paused') {
        if (this.session.epoch >= this.epochs) throw new StudioError('the training has done all its epochs; start again to train more');
        this.beginSegment();
        this.setState('running', 'user');
        this.queueSlice();
      } else if (this.current !== 'running') throw new StudioError(`the training job is ${this.current} and cannot resume: start a new one`);
      return this.status();
    });
  }

  /** Stops for good, keeping the weights; a no-op on a job that is not live. */
  async stop(reason: 'user' | 'replaced' = 'user'): Promise<TrainStatus> {
    return this.exclusive(async () => {
      if (this.live) {
        await this.boundaryLocked();
        this.setState('stopped', reason);
      }
      return this.status();
    });
  }

  /** One optimizer step; a running job is paused first. */
  async step(): Promise<StepResult> {
    return this.exclusive(async () => {
      if (!this.live) throw new StudioError(`the training job is ${this.current}: start a new one to step`);
      if (this.current === 'running') this.setState('paused', 'user');
      // the ratio and flow shown after a single step are that step's
      this.measureNext = true;
      let r: StepResult;
      try {
        r = await this.stepLocked();
      } catch (e) {
        // a lost GPU is not the job's failure: exclusive() hands the step to the CPU
        if (!this.canTakeOver(e)) this.fail(e);
        throw e;
      }
      if (this.session.epoch >= this.epochs) await this.finishLocked();
      else await this.boundaryLocked();
      return r;
    });
  }

  /** Frees the job's memory on its backend, after what it is doing: for a job that nothing will use again. */
  dispose(): Promise<void> {
    return this.exclusive(() => this.session.dispose());
  }

  /** The weights now, as weights.export sends them. */
  async exportWeights(): Promise<WeightsExport> {
    return this.exclusive(async () => {
      const { base64, bytes } = encodeWeights(await this.session.weights(), this.session.project.name ?? 'untitled');
      return { job: this.id, step: this.lastStep, epoch: this.lastEpoch, base64, bytes };
    });
  }

  /** The weights now, as tensors (what exportWeights encodes), for work in the host itself (ONNX export). */
  async weights(): Promise<Record<string, Tensor>> {
    return this.exclusive(() => this.session.weights());
  }

  async evaluate(which: 'validation' | 'all'): Promise<EvaluateResult> {
    return this.exclusive(async () => {
      const s = this.session;
      let rows: Int32Array;
      if (which === 'all') rows = Int32Array.from({ length: s.dataset.rows }, (_, i) => i);
      else {
        rows = s.split.validation;
        if (!rows.length) throw new StudioError('there is no validation part (data.validation is 0): evaluate on all rows instead', { path: 'data.validation' });
      }
      const r = await s.evaluate(rows, { confusion: true });
      return {
        job: this.id,
        step: this.lastStep,
        rows: r.rows,
        which,
        objective: finite(r.objective),
        ...(r.accuracy !== undefined ? { accuracy: r.accuracy } : {}),
        ...(r.rmse !== undefined ? { rmse: finite(r.rmse) } : {}),
        ...(r.confusion && this.classes ? { classes: this.classes.slice(), confusion: r.confusion } : {}),
      };
    });
  }

  /**
   * The gradients of the job's weights now, checked (checkGradients) on the first GRADCHECK_ROWS of the dataset's
   * rows; `signal` stops it, `onProgress` hears how far it has got.
   */
  async checkGradients(opts: Pick<SliceOptions, 'signal' | 'onProgress'> = {}): Promise<GradcheckResult> {
    return this.exclusive(async () => {
      const s = this.session;
      const rows = this.firstRows(GRADCHECK_ROWS);
      const r = await checkGradients(s, rows, { inputs: true, ...opts });
      return {
        job: this.id,
        step: this.lastStep,
        rows: rows.length,
        ok: r.ok,
        of: r.of,
        maxRelError: r.maxRelError,
        tolerance: GRADCHECK_TOLERANCE,
        tensors: [...r.tensors].map(([name, c]) => ({ name, reverseVsNumeric: c.reverseVsNumeric, forwardVsReverse: c.forwardVsReverse })),
      };
    });
  }

  /**
   * The Jacobian of node `of` with respect to `wrt` (nodeJacobian), with the job's weights now, on the dataset's first
   * row; `signal` stops it, `onProgress` hears how many columns are done.
   */
  async jacobian(of: string, wrt: string | undefined, opts: Pick<SliceOptions, 'signal' | 'onProgress'> = {}): Promise<JacobianResult> {
    return this.exclusive(async () => {
      const j = await nodeJacobian(this.session, Int32Array.of(0), {
        ...opts,
        of,
        wrt,
        maxValues: JACOBIAN_APP_VALUES,
        terms: { of: 'the Jacobian', wrt: 'with respect to', fewer: 'bpstudio jacobian computes larger ones' },
      });
      return { job: this.id, step: this.lastStep, of: j.of, wrt: j.wrt, rows: 1, shape: j.shape, ofRank: j.ofRank, values: Array.from(j.values, (v) => finite(v)) };
    });
  }

  /** The dataset's first `n` rows (all of them, where it has fewer). */
  private firstRows(n: number): Int32Array {
    return Int32Array.from({ length: Math.min(n, this.session.dataset.rows) }, (_, i) => i);
  }

  /** How node `id`'s values and gradients are spread (nodeDistributions), with the job's weights now, on the first rows. */
  async distributions(id: string): Promise<DistributionsResult> {
    return this.exclusive(async () => {
      const d = await nodeDistributions(this.session, id, this.firstRows(DISTRIBUTION_ROWS));
      const { id: node, ...rest } = d;
      return { job: this.id, step: this.lastStep, node, ...rest };
    });
  }

  // ---- the loop ---------------------------------------------------------------------------------------------------

  /**
   * Runs `fn` alone on the session. If the GPU is lost on the way, the CPU takes over (from the last checkpoint) and
   * `fn` runs again there: a pause, an export or a step then does on the CPU what it would have done on the GPU.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(async () => {
      try {
        return await fn();
      } catch (e) {
        if (!this.canTakeOver(e)) throw e;
        this.takeOverLocked(e);
        return fn();
      }
    });
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private queueSlice(): void {
    if (this.sliceQueued) return;
    this.sliceQueued = true;
    setImmediate(this.runSlice);
  }

  private readonly runSlice = (): void => {
    this.sliceQueued = false;
    if (this.current !== 'running') return;
    this.exclusive(() => this.sliceLocked()).then(
      () => {
        if (this.current === 'running') this.queueSlice();
      },
      (e: unknown) => this.fail(e),
    );
  };

  private canTakeOver(e: unknown): e is GpuLostError | GpuOutOfMemoryError {
    return (e instanceof GpuLostError || e instanceof GpuOutOfMemoryError) && this.backend.name === 'webgpu' && this.live;
  }

  /**
   * The GPU is gone, or has no memory for the job: the job goes on on the CPU, in the same state, from the last
   * checkpoint (or from the start), so the steps since then are done again. The new session computes what the GPU's
   * would have, to float rounding.
   */
  private takeOverLocked(e: GpuLostError | GpuOutOfMemoryError): void {
    const lostAt = this.lastStep;
    const from = this.checkpoint;
    const old = this.session;
    this.session = new Session(old.project, { ...this.made, dataset: old.dataset, resume: from });
    try {
      old.backend.dispose();
    } catch {
      // the device is gone with its buffers
    }
    this.checkpoint = undefined;
    const why = e instanceof GpuOutOfMemoryError ? e.short : e.message;
    this.backend = { name: 'cpu', reason: `${why}: at step ${lostAt} the CPU took over, from step ${from?.step ?? 0}` };
    this.flush();
    this.lastStep = from?.step ?? 0;
    this.lastEpoch = from?.epoch ?? 0;
    this.measureNext = true;
    this.beginSegment();
    this.emit({ event: 'train.state', job: this.id, state: this.current, step: this.lastStep, epoch: this.lastEpoch, reason: 'takeover', backend: { ...this.backend } });
  }

  /** On the GPU, at an epoch's end (nothing in flight): keeps a checkpoint for the CPU, at most every checkpointMs. */
  private async checkpointAt(epoch: EpochResult | undefined): Promise<void> {
    const s = this.session;
    if (!epoch || this.backend.name !== 'webgpu' || s.pendingSteps || this.now() - this.checkpointTime < this.t.checkpointMs) return;
    this.checkpoint = await s.checkpoint();
    this.checkpointTime = this.now();
  }

  /**
   * Steps for about sliceMs (at least one step), unless the state changes. On WebGPU the session keeps steps in
   * flight (Session.pendingSteps): a slice reports them all before it ends, and before anything that reads the
   * weights (a measured step, the boundary), so that what the job shows is always the weights after exactly the
   * steps reported.
   */
  private async sliceLocked(): Promise<void> {
    const s = this.session;
    const opts = this.stepOptions;
    const end = this.now() + this.t.sliceMs;
    while (this.current === 'running') {
      // The job's last step is measured too, so that the update ratio and the flow shown at its end are its final
      // weights': no step in flight reaches it (a measured step runs alone).
      const left = this.totalSteps - s.step;
      if (left === 1) this.measureNext = true;
      // The common step without another async level (a measured one reads the weights around it).
      if (this.measureNext) {
        if (s.pendingSteps && (await this.drainLocked())) return this.finishLocked();
        await this.stepLocked();
      } else {
        const { step, epoch } = await s.nextStep({ ...opts, ahead: left - 2 });
        this.record(step, epoch);
        await this.checkpointAt(epoch);
      }
      if (s.epoch >= this.epochs) return this.finishLocked();
      const t = this.now();
      if (this.area && this.lastStep - this.boundaryStep >= this.t.boundarySteps && t - this.boundaryTime >= this.boundaryGap) {
        if (s.pendingSteps && (await this.drainLocked())) return this.finishLocked();
        await this.boundaryLocked();
      }
      if (t >= end) break;
    }
    if (s.pendingSteps && (await this.drainLocked())) return this.finishLocked();
  }

  /** Reports the steps in flight; true when that ends the job's last epoch. */
  private async drainLocked(): Promise<boolean> {
    const s = this.session;
    const opts = { ...this.stepOptions, ahead: 0 };
    while (s.pendingSteps) {
      const { step, epoch } = await s.nextStep(opts);
      this.record(step, epoch);
      await this.checkpointAt(epoch);
    }
    return s.epoch >= this.epochs;
  }

  /** One step, recorded for the next flush (with the update/weight ratio and the edges' flow when they are due). */
  private async stepLocked(): Promise<StepResult> {
    const s = this.session;
    // A measured step runs alone (the weights read around it are those before and after it), and a single step is
    // exactly one: callers report the steps in flight first (drainLocked).
    if (s.pendingSteps) throw new Error(`${s.pendingSteps} steps in flight before a single step`);
    const measure = this.measureNext;
    const before = measure ? await this.trainables() : undefined;
    const { step, epoch } = await s.nextStep(measure ? { ...this.stepOptions, ahead: 0 } : this.stepOptions);
    if (before) {
      // Kept apart until the step is recorded: a flush while the flow is read must not send them with the steps before
      const ratio = { step: step.step, layers: updateRatios(before, await this.trainables(), s.layers) };
      const flow = await this.flowOf(step);
      this.ratio = ratio;
      this.flow = flow;
      this.measureNext = false;
    }
    this.record(step, epoch);
    await this.checkpointAt(epoch);
    return step;
  }

  private record(r: StepResult, epoch: EpochResult | undefined): void {
    const row = this.row;
    row[0] = r.step;
    row[1] = r.epoch;
    row[2] = r.loss;
    for (let i = 0; i < this.layerIds.length; i++) row[3 + i] = r.layerNorms[this.layerIds[i]];
    this.log.push(row);
    this.lastStep = r.step;
    this.lastEpoch = r.epoch;
    if (epoch) this.recordEpoch(epoch);
    if (this.flushTimer === undefined) this.scheduleFlush();
  }

  /** The gradient norm along each edge, and the nodes with dead units, on the step's batch, for train.progress. */
  private async flowOf(r: StepResult): Promise<EngineEventOf<'train.progress'>['flow']> {
    const { edges, units } = await this.session.flow(r.rows);
    return {
      step: r.step,
      edges: edges.map(({ source, target, norm }) => ({ source, target, norm: finite(round7(norm)) })),
      units: units.filter((u) => u.dead > 0),
    };
  }

  private async trainables(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const tensors of this.session.layers.values()) for (const t of tensors) out.set(t, await this.session.backend.readTensor(t));
    return out;
  }

  private recordEpoch(e: EpochResult): void {
    // Not the epoch's mean gradient norms: train.progress has every step's.
    const info: EpochInfo = { epoch: e.epoch, step: e.step, loss: round7(e.loss), lr: e.lr };
    if (e.accuracy !== undefined) info.accuracy = e.accuracy;
    if (e.rmse !== undefined) info.rmse = finite(round7(e.rmse));
    if (e.valLoss !== undefined) info.valLoss = finite(round7(e.valLoss));
    if (e.valAccuracy !== undefined) info.valAccuracy = e.valAccuracy;
    if (e.valRmse !== undefined) info.valRmse = finite(round7(e.valRmse));
    this.pendingEpochs.push(info);
    if (e.confusion && this.classes) this.pendingConfusion = { epoch: e.epoch, classes: this.classes, matrix: e.confusion };
  }

  private async finishLocked(): Promise<void> {
    await this.boundaryLocked();
    this.setState('done', 'finished');
  }

  private fail(e: unknown): void {
    if (!(e instanceof StudioError)) console.error('engine host: training failed:', e);
    if (!this.live) return;
    const error =
      e instanceof StudioError
        ? { message: e.message, ...(Object.keys(e.where).length ? { where: { ...e.where } } : {}) }
        : { message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
    this.setState('error', undefined, error);
  }

  private beginSegment(): void {
    this.segmentTime = this.now();
    this.segmentStep = this.lastStep;
  }

  // ---- events -----------------------------------------------------------------------------------------------------

  /** Sends what is pending, then the new state. */
  private setState(state: JobState, reason?: 'user' | 'replaced' | 'finished', error?: { message: string; where?: Record<string, unknown> }): void {
    this.flush();
    this.current = state;
    this.emitState(state, reason, error);
  }

  private emitState(state: JobState, reason?: 'user' | 'replaced' | 'finished', error?: { message: string; where?: Record<string, unknown> }): void {
    this.emit({
      event: 'train.state',
      job: this.id,
      state,
      step: this.lastStep,
      epoch: this.lastEpoch,
      ...(reason ? { reason } : {}),
      ...(error ? { error } : {}),
    } as EngineEventOf<'train.state'>);
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    const wait = Math.max(0, this.lastFlush + this.t.flushMs - this.now());
    this.flushTimer = setTimeout(this.onFlushTimer, wait);
  }

  private readonly onFlushTimer = (): void => {
    this.flushTimer = undefined;
    this.flush();
  };

  /** Sends the steps, epochs and boundary gathered since the last flush (whatever there is). */
  private flush(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const now = this.now();
    this.lastFlush = now;
    if (this.log.length) {
      if (this.current === 'running') {
        const seconds = (now - this.segmentTime) / 1000;
        if (seconds > 0 && this.lastStep > this.segmentStep) this.rate = (this.lastStep - this.segmentStep) / seconds;
      }
      const d = decimate(this.log, this.t.maxPoints);
      const gradNorm: Record<string, (typeof d.series)[number]> = {};
      this.layerIds.forEach((id, i) => (gradNorm[id] = d.series[1 + i]));
      this.emit({
        event: 'train.progress',
        job: this.id,
        step: this.lastStep,
        epoch: this.lastEpoch,
        totalSteps: this.totalSteps,
        stepsPerSecond: this.rate,
        secondsLeft: this.current === 'running' && this.rate > 0 ? Math.max(0, this.totalSteps - this.lastStep) / this.rate : null,
        points: { step: d.step, epoch: d.epoch, count: d.count, loss: d.series[0], gradNorm },
        updateRatio: this.ratio,
        flow: this.flow,
      });
      this.log.clear();
      this.ratio = null;
      this.flow = null;
      this.measureNext = true;
    }
    if (this.pendingEpochs.length) {
      this.emit({
        event: 'train.epoch',
        job: this.id,
        epochs: this.pendingEpochs,
        ...(this.pendingConfusion ? { confusion: this.pendingConfusion } : {}),
      });
      this.pendingEpochs = [];
      this.pendingConfusion = undefined;
    }
    if (this.pendingBoundary) {
      this.emit(this.pendingBoundary);
      this.pendingBoundary = undefined;
    }
  }

  /** The prediction over the area's grid, sent with the next flush (nothing to do without an area or new steps). */
  private async boundaryLocked(): Promise<void> {
    const area = this.area;
    const reading = this.reading;
    if (!area || !reading || this.boundaryStep === this.lastStep) return;
    const started = this.now();
    // The plane's grid is side x side, x1 along the rows; the line's, CURVE_POINTS along x.
    const sides = area.columns.length === 1 ? [CURVE_POINTS] : [this.t.grid, this.t.grid];
    const n = sides.reduce((a, b) => a * b, 1);
    const at = (r: Range, side: number, i: number) => r.min + (i * (r.max - r.min)) / (side - 1);
    if (!this.grid) {
      const width = this.session.dataset.featureNames.length;
      const g = new Float32Array(n * width);
      for (let k = 0; k < n; k++) {
        const i = k % sides[0];
        const j = Math.floor(k / sides[0]);
        g[k * width + area.columns[0]] = at(area.grid[0], sides[0], i);
        if (sides.length === 2) g[k * width + area.columns[1]] = at(area.grid[1], sides[1], j);
      }
      this.grid = g;
    }
    const prediction = await this.session.predictFeatures(this.grid, n);
    // Probabilities to 4 decimals, other values to 5 significant digits; null where not finite.
    const probability = (v: number) => (Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : null);
    const significant = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(5)) : null);
    const head = { job: this.id, step: this.lastStep, epoch: this.lastEpoch };
    if (sides.length === 1) {
      const probabilities =
        reading.kind === 'class' ? classProbabilities(prediction, n, reading) : this.scoreProbability && binaryProbabilities(prediction, n, this.scoreProbability);
      const curves = probabilities
        ? { classes: this.classes?.slice() ?? [], probabilities: probabilities.map((p) => p.map(probability)) }
        : { value: Array.from(prediction.subarray(0, n), significant) };
      this.pendingBoundary = { event: 'train.fit', ...head, feature: area.features[0], x: { ...area.grid[0] }, points: n, ...curves };
    } else {
      const { predicted, value } = readPrediction(prediction, n, reading);
      this.pendingBoundary = {
        event: 'train.boundary',
        ...head,
        features: [...area.features],
        x1: { ...area.grid[0] },
        x2: { ...area.grid[1] },
        width: sides[0],
        height: sides[1],
        mode: reading.kind,
        ...(this.classes ? { classes: this.classes.slice() } : {}),
        ...(reading.kind === 'score' && reading.threshold !== null ? { threshold: reading.threshold } : {}),
        predicted,
        value: value.map(reading.kind === 'class' ? probability : significant),
      };
    }
    this.boundaryStep = this.lastStep;
    this.boundaryTime = this.now();
    this.boundaryGap = Math.max(this.t.boundaryMs, 200 * (this.boundaryTime - started));
    this.scheduleFlush();
  }
}
