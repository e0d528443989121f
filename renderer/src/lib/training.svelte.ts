/**
 * Training as the renderer sees it: the engine host's current job (started, paused, stepped and stopped through the
 * bridge) and everything its events reported, kept for the charts, the graph's gradient view and the panels. The
 * metrics stay after the job ends, after the graph changes and after an engine crash, until the next run starts.
 *
 * Logs (SeriesLog) are plain objects mutated as events come; `revision` is bumped after each event so that views
 * redraw (reading it is how a view subscribes).
 */
import type { DistributionsResult, EngineEventOf, EpochInfo, ErrorInfo, EvaluateResult, GradcheckResult, JacobianResult, JobState, TrainJobInfo, WeightsReportInfo } from '../../../engine/protocol/messages';
import { describeWhere, StudioError } from '../../../engine/util/errors';
import type { Bridge, EngineCallOptions } from './bridge';
import { CancellableWork } from './work.svelte';
import { globalNorm } from './gradient-view';
import { SeriesLog } from './series-log';
import { toast } from './toasts.svelte';

/** idle: no job yet (or since the document changed); otherwise the job's state. */
export type RunState = 'idle' | JobState;

export type BoundaryEvent = EngineEventOf<'train.boundary'>;
export type FitEvent = EngineEventOf<'train.fit'>;
export type ProgressEvent = EngineEventOf<'train.progress'>;
export type FlowInfo = NonNullable<ProgressEvent['flow']>;

export interface Confusion {
  epoch: number;
  classes: string[];
  matrix: number[][];
}

/** What a run needs from the document: the project and the folder its relative data paths are read against. */
export interface RunSource {
  project: unknown;
  baseDir?: string;
}

export class TrainingState {
  /** The current (or last) job, as train.start / weights.load / train.step described it. */
  info = $state.raw<TrainJobInfo | null>(null);
  state = $state<RunState>('idle');
  step = $state(0);
  epoch = $state(0);
  totalSteps = $state(0);
  stepsPerSecond = $state(0);
  secondsLeft = $state<number | null>(null);
  /** The job's failure (a NaN naming the node, an engine crash...). */
  error = $state.raw<ErrorInfo | null>(null);
  /** A request is in flight (buttons wait for it). */
  busy = $state(false);
  epochs = $state.raw<EpochInfo[]>([]);
  confusion = $state.raw<Confusion | null>(null);
  boundary = $state.raw<BoundaryEvent | null>(null);
  /** The fitted curve of a one-variable regression. */
  fit = $state.raw<FitEvent | null>(null);
  /** Each layer's latest gradient norm (graph chips), by layer id. */
  latestGrad = $state.raw<Record<string, number | null>>({});
  /** The latest step's gradient norm over every trainable tensor (what training.clipNorm bounds); null: none yet. */
  readonly globalGradNorm = $derived(globalNorm(this.latestGrad));
  /** The latest per-edge gradient norms, when the engine sends them. */
  flow = $state.raw<FlowInfo | null>(null);
  /** Bumped after every event that changed the logs. */
  revision = $state(0);

  /** Training loss over steps. */
  loss = new SeriesLog();
  /**
   * The run before this one (the loss chart draws it faintly to compare with: another learning rate, a schedule,
   * clipping), kept until the document is replaced; a run that reported nothing does not displace it.
   */
  previous = $state.raw<{ loss: SeriesLog; epochs: EpochInfo[] } | null>(null);
  /** Per-layer gradient L2 norm over steps, in graph order (info.layers). */
  gradNorm = new Map<string, SeriesLog>();
  /** Per-layer update/weight ratio over steps. */
  updateRatio = new Map<string, SeriesLog>();

  /** The engine process that held the job died (its metrics stay; its weights are gone). */
  private engineGone = $state(false);
  /** The job whose events are shown: events of older jobs are ignored. */
  private jobId = 0;

  /** Running or paused: the job holds the graph (edits ask to stop first). */
  readonly active = $derived(this.state === 'running' || this.state === 'paused');
  /** The engine holds the job's weights (trained, or loaded) to export or evaluate: not after it crashed. */
  readonly hasWeights = $derived(this.state !== 'idle' && this.info !== null && !this.engineGone);
  /** The job's latest Evaluate: its weights on the validation part and on all rows (null: none since it started). */
  evaluation = $state.raw<{ validation: EvaluateResult; all: EvaluateResult } | null>(null);
  evaluationError = $state<string | null>(null);
  evaluating = $state(false);
  /** The job's latest gradient check (null: none since it started). */
  gradientCheck = $state.raw<GradcheckResult | null>(null);
  gradientCheckError = $state<string | null>(null);
  /** The check under way: its progress in elements checked by finite differences, and Cancel. */
  readonly checking = new CancellableWork();
  /** The latest Jacobian asked for (the inspector's Jacobian of a node), its error, and the one under way (columns). */
  jacobian = $state.raw<JacobianResult | null>(null);
  jacobianError = $state.raw<{ of: string; message: string } | null>(null);
  readonly computingJacobian = new CancellableWork();
  /** The latest distributions asked for (the inspector's Distributions of a node), its error, and whether under way. */
  distributions = $state.raw<DistributionsResult | null>(null);
  distributionsError = $state.raw<{ node: string; message: string } | null>(null);
  computingDistributions = $state(false);
  /** Evaluate (and Check gradients, a Jacobian, Distributions) can run: there are weights, and none of them, nor a step or request, is under way. */
  readonly canEvaluate = $derived(this.hasWeights && !this.busy && !this.evaluating && !this.checking.running && !this.computingJacobian.running && !this.computingDistributions && this.state !== 'running');
  readonly layers = $derived(this.info?.layers.map((l) => l.id) ?? []);

  constructor(private readonly bridge: Bridge) {}

  /** Routes the bridge's engine events here; returns the unsubscribe function. */
  listen(): () => void {
    const offEvents = this.bridge.onEngineEvent((e) => this.receive(e));
    const offStatus = this.bridge.onEngineStatus((s) => {
      if (s.state === 'restarting' || s.state === 'offline') this.engineLost(s.message);
    });
    return () => {
      offEvents();
      offStatus();
    };
  }

  // ---- commands -------------------------------------------------------------------------------------------------

  /** Starts a new run from the seeded initialisation (or from `weights`, base64 safetensors). */
  async start(source: RunSource, weights?: string): Promise<void> {
    await this.request(async () => {
      const info = await this.bridge.engine({ type: 'train.start', project: source.project, ...base(source), ...(weights ? { weights } : {}) });
      this.adopt(info);
    });
  }

  async pause(): Promise<void> {
    await this.request(async () => this.status(await this.bridge.engine({ type: 'train.pause' })));
  }

  async resume(): Promise<void> {
    await this.request(async () => this.status(await this.bridge.engine({ type: 'train.resume' })));
  }

  async stop(): Promise<void> {
    await this.request(async () => this.status(await this.bridge.engine({ type: 'train.stop' })));
  }

  /** One optimizer step: of the current job (pausing it), or of a new paused job of `source` when there is none. */
  async stepOnce(source: RunSource): Promise<void> {
    await this.request(async () => {
      const fresh = !this.active;
      const r = await this.bridge.engine({ type: 'train.step', ...(fresh ? { project: source.project, ...base(source) } : {}) });
      if (r.started) this.adopt(r.started);
      if (r.job < this.jobId) return;
      this.step = Math.max(this.step, r.step);
      this.epoch = r.epoch;
      this.state = r.state;
    });
  }

  /** The job's weights now, as base64 safetensors. */
  async exportWeights(): Promise<{ base64: string; bytes: number; step: number }> {
    const r = await this.bridge.engine({ type: 'weights.export' });
    return { base64: r.base64, bytes: r.bytes, step: r.step };
  }

  /**
   * Loads weights into a new paused job of `source` (to resume from them, or to evaluate). A file that does not
   * fit is an EngineError with its weightsReport; with `partial`, the tensors that fit are loaded and the others
   * keep their initial values, and the report comes back.
   */
  async loadWeights(source: RunSource, base64: string, partial = false): Promise<WeightsReportInfo | undefined> {
    let report: WeightsReportInfo | undefined;
    await this.request(async () => {
      const info = await this.bridge.engine({ type: 'weights.load', project: source.project, ...base(source), base64, ...(partial ? { partial } : {}) });
      this.adopt(info);
      report = info.weightsReport;
    });
    return report;
  }

  /**
   * The prediction part of `source`'s graph with the job's weights, as ONNX, checked in ONNX Runtime (`opts`: the
   * progress of reading the data for the check).
   */
  exportOnnx(source: RunSource, opts?: EngineCallOptions) {
    return this.bridge.engine({ type: 'export.onnx', project: source.project, ...base(source) }, opts);
  }

  /** Evaluate (the Training panel's button, Training > Evaluate): the job's weights on the validation part and on all rows. */
  async evaluate(): Promise<void> {
    if (!this.canEvaluate) return;
    this.evaluating = true;
    this.evaluationError = null;
    try {
      const validation = await this.bridge.engine({ type: 'evaluate', rows: 'validation' });
      const all = await this.bridge.engine({ type: 'evaluate', rows: 'all' });
      this.evaluation = { validation, all };
    } catch (e) {
      const info = trainingError(e);
      this.evaluationError = `${describeWhere(info.where ?? {})}${info.message}`;
    } finally {
      this.evaluating = false;
    }
  }

  /** Check gradients (the Training panel's button, Training > Check gradients): the job's weights, on the first rows. */
  async checkGradients(): Promise<void> {
    if (!this.canEvaluate) return;
    this.gradientCheckError = null;
    const check = await this.checking.run(
      (opts) => this.bridge.engine({ type: 'gradcheck' }, opts),
      (e) => {
        const info = trainingError(e);
        this.gradientCheckError = `${describeWhere(info.where ?? {})}${info.message}`;
      },
    );
    if (check) this.gradientCheck = check;
  }

  /** The Jacobian of node `of` with respect to `wrt` (the inspector's Compute), with the job's weights, on the first row. */
  async computeJacobian(of: string, wrt: string): Promise<void> {
    if (!this.canEvaluate) return;
    this.jacobianError = null;
    const j = await this.computingJacobian.run(
      (opts) => this.bridge.engine({ type: 'jacobian', of, wrt }, opts),
      (e) => {
        this.jacobian = null;
        this.jacobianError = { of, message: trainingError(e).message };
      },
    );
    if (j) this.jacobian = j;
  }

  /** How node `id`'s values and gradients are spread (the inspector's Distributions), with the job's weights, on the first rows. */
  async computeDistributions(id: string): Promise<void> {
    if (!this.canEvaluate) return;
    this.computingDistributions = true;
    this.distributionsError = null;
    try {
      this.distributions = await this.bridge.engine({ type: 'distributions', node: id });
    } catch (e) {
      this.distributions = null;
      this.distributionsError = { node: id, message: trainingError(e).message };
    } finally {
      this.computingDistributions = false;
    }
  }

  /** Forgets the run (the document was replaced): charts and graph overlays go blank. */
  clear(): void {
    this.info = null;
    this.state = 'idle';
    this.error = null;
    this.resetMetrics(0);
  }

  private async request(fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await fn();
    } finally {
      this.busy = false;
    }
  }

  // ---- events ---------------------------------------------------------------------------------------------------

  private adopt(info: TrainJobInfo): void {
    if (info.job < this.jobId) return;
    if (info.job > this.jobId) {
      this.resetMetrics(info.job);
      // said once per job: weights whose standardisation the project does not apply
      for (const note of info.notes ?? []) toast(`Note: ${note}.`, 'error', 12000);
    }
    this.info = info;
    this.totalSteps = info.totalSteps;
    // Events may have come before the reply: keep what they said.
    if (this.step === 0) {
      this.step = info.step;
      this.epoch = info.epoch;
    }
    if (this.state === 'idle') this.state = info.state;
  }

  private resetMetrics(job: number): void {
    this.checking.cancel();
    this.computingJacobian.cancel();
    if (job === 0) this.previous = null;
    else if (this.loss.length) this.previous = { loss: this.loss, epochs: this.epochs };
    this.jobId = job;
    this.engineGone = false;
    this.step = 0;
    this.epoch = 0;
    this.totalSteps = 0;
    this.stepsPerSecond = 0;
    this.secondsLeft = null;
    this.error = null;
    this.epochs = [];
    this.confusion = null;
    this.boundary = null;
    this.fit = null;
    this.evaluation = null;
    this.evaluationError = null;
    this.gradientCheck = null;
    this.gradientCheckError = null;
    this.jacobian = null;
    this.jacobianError = null;
    this.distributions = null;
    this.distributionsError = null;
    this.latestGrad = {};
    this.flow = null;
    this.loss = new SeriesLog();
    this.gradNorm = new Map();
    this.updateRatio = new Map();
    this.state = 'idle';
    this.revision++;
  }

  private status(s: { job: number; state: JobState; step: number; epoch: number }): void {
    if (s.job < this.jobId) return;
    this.state = s.state;
    this.step = Math.max(this.step, s.step);
    this.epoch = s.epoch;
  }

  /** One engine event (public for tests that feed events without a host). */
  receive(e: EngineEventOf<'train.progress' | 'train.epoch' | 'train.boundary' | 'train.fit' | 'train.state'>): void {
    if (e.job < this.jobId) return;
    if (e.job > this.jobId) this.resetMetrics(e.job);
    switch (e.event) {
      case 'train.progress':
        return this.progress(e);
      case 'train.epoch':
        this.epochs = [...this.epochs, ...e.epochs];
        if (e.confusion) this.confusion = e.confusion;
        this.revision++;
        return;
      case 'train.boundary':
        this.boundary = e;
        return;
      case 'train.fit':
        this.fit = e;
        return;
      case 'train.state':
        if (e.reason === 'takeover') return this.takeover(e);
        this.state = e.state;
        this.step = Math.max(this.step, e.step);
        this.epoch = e.epoch;
        if (e.state === 'error') this.error = e.error ?? { message: 'training failed' };
        if (e.state !== 'running') {
          this.stepsPerSecond = 0;
          this.secondsLeft = null;
        }
        return;
    }
  }

  /**
   * The GPU was lost, or had no memory for the job, and the CPU goes on from an earlier step: the metrics after it are
   * dropped, to come again. The toast gives the engine's reason (what happened, at which step, from which step).
   */
  private takeover(e: EngineEventOf<'train.state'>): void {
    this.step = e.step;
    this.epoch = e.epoch;
    this.epochs = this.epochs.filter((x) => x.step <= e.step);
    for (const log of [this.loss, ...this.gradNorm.values(), ...this.updateRatio.values()]) log.dropAfter(e.step);
    if (this.info && e.backend) this.info = { ...this.info, backend: e.backend };
    this.revision++;
    toast(e.backend ? `${e.backend.reason}.` : `The GPU failed: training goes on on the CPU from step ${e.step}.`, 'info', 8000);
  }

  private progress(e: ProgressEvent): void {
    const p = e.points;
    this.loss.pushSeries(p.step, p.loss);
    const latest: Record<string, number | null> = { ...this.latestGrad };
    for (const [layer, s] of Object.entries(p.gradNorm)) {
      logOf(this.gradNorm, layer).pushSeries(p.step, s);
      if (s.last.length) latest[layer] = s.last[s.last.length - 1];
    }
    if (e.updateRatio) {
      for (const [layer, r] of Object.entries(e.updateRatio.layers)) logOf(this.updateRatio, layer).push(e.updateRatio.step, r, r, r);
    }
    if (e.flow) this.flow = e.flow;
    this.latestGrad = latest;
    this.step = Math.max(this.step, e.step);
    this.epoch = e.epoch;
    this.totalSteps = e.totalSteps;
    this.stepsPerSecond = e.stepsPerSecond;
    this.secondsLeft = e.secondsLeft;
    this.revision++;
  }

  /** The engine process died: a running or paused job is gone with it (its metrics stay). */
  private engineLost(message: string | undefined): void {
    // A new engine numbers its jobs from 1 again: its first job must count as new.
    this.jobId = 0;
    if (this.info) this.engineGone = true;
    if (!this.active) return;
    this.state = 'error';
    this.stepsPerSecond = 0;
    this.secondsLeft = null;
    this.error = { message: `The engine stopped during training${message ? ` (${message})` : ''}. It is being restarted; the graph and the metrics so far are kept. Train again to start a new run.` };
  }
}

function logOf(m: Map<string, SeriesLog>, key: string): SeriesLog {
  let log = m.get(key);
  if (!log) m.set(key, (log = new SeriesLog()));
  return log;
}

function base(source: RunSource): { baseDir?: string } {
  return source.baseDir !== undefined ? { baseDir: source.baseDir } : {};
}

/** A training request's failure as the UI shows it. */
export function trainingError(e: unknown): ErrorInfo {
  if (e instanceof StudioError) return { message: e.message, where: e.where };
  return { message: e instanceof Error ? e.message : String(e) };
}
