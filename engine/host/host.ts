import { availableBackends, chooseBackend } from '../backends/select';
import { dataSectionOf, withDataDefaults, withTrainingDefaults, type Project } from '../io/project';
import { engineRequest, type EngineEvent, type EngineReply, type EngineRequest, type TrainJobInfo } from '../protocol/messages';
import { ProtocolError } from '../protocol/check';
import { analyzeProject } from '../train/analysis';
import { nodeProgram } from '../train/node-program';
import { StudioError } from '../util/errors';
import { exportOnnxChecked } from '../io/onnx/parity';
import { dataBaseDir, projectOf } from './job-data';
import { pytorchCode, pytorchFileName } from '../io/pytorch-code';
import type { Tensor } from '../io/safetensors';
import { partialWeights, WeightsMismatchError } from '../io/weights-match';
import type { Dataset } from '../data/types';
import { DataLoads, inspectData, progressEvents, throttledProgress } from './inspect';
import type { WorkProgress } from '../util/sliced';
import { previewDataStreamed } from './preview';
import { TrainingJob, type JobTiming } from './training-job';
import { checkWeightsFit, decodeWeights } from './weights';

/** The one thing the host needs of its transport: send a message, receive messages. */
export interface HostPort {
  post(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
  /** The other end went away (a page reloaded in Electron): its training job is stopped. */
  onClose?(handler: () => void): void;
}

export interface EngineOptions {
  /** Event batching and boundary settings (tests shorten them). */
  timing?: Partial<JobTiming>;
}

/**
 * The engine host: validates each request against the protocol, does the work, and replies with the same id;
 * training jobs send events (engine/protocol/messages.ts) between replies. Each port (connection) has its own job.
 * The same code runs in Electron's utility process, in a Node child process (web mode, tests) and in-process.
 */
export function serveEngine(port: HostPort, options: EngineOptions = {}): EngineHost {
  const host = new EngineHost((m) => port.post(m), options);
  port.onClose?.(() => void host.close());
  port.onMessage((raw) => {
    let request: EngineRequest;
    try {
      request = engineRequest(raw);
    } catch (e) {
      const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : -1;
      port.post({ id, ok: false, error: { message: e instanceof ProtocolError ? e.message : String(e) } } satisfies EngineReply);
      return;
    }
    void host.handle(request).then(({ reply, after }) => {
      if (host.closed) return;
      port.post(reply);
      after?.();
    });
  });
  return host;
}

/** A reply, and what to do once it has been posted (start the job it describes). */
interface Handled {
  reply: EngineReply;
  after?: () => void;
}

export class EngineHost {
  private job: TrainingJob | undefined;
  private nextJob = 1;
  /** Training requests run one at a time, in the order they came. */
  private queue: Promise<unknown> = Promise.resolve();

  private isClosed = false;
  /** CSV data read streamed, the last load kept for the next preview or job of the same data. */
  private readonly dataLoads = new DataLoads();
  /** The requests that `cancel` can stop while they run (data.inspect, data.preview, gradcheck, jacobian), by id. */
  private readonly cancelable = new Map<number, AbortController>();

  constructor(
    private readonly send: (message: EngineReply | EngineEvent) => void,
    private readonly options: EngineOptions = {},
  ) {}

  private post(message: EngineReply | EngineEvent): void {
    if (!this.isClosed) this.send(message);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The connection is gone: stop training and send nothing more. */
  async close(): Promise<void> {
    this.isClosed = true;
    for (const c of this.cancelable.values()) c.abort();
    await this.job?.stop();
  }

  /** The current (or last) training job. */
  get current(): TrainingJob | undefined {
    return this.job;
  }

  async handle(r: EngineRequest): Promise<Handled> {
    const concurrent = r.type === 'compile' || r.type === 'program' || r.type === 'data.preview' || r.type === 'data.inspect' || r.type === 'cancel';
    const work = concurrent ? this.run(r) : this.serial(() => this.run(r));
    return work.catch((e: unknown) => ({ reply: { id: r.id, ok: false, error: errorOf(e) } }));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(r: EngineRequest): Promise<Handled> {
    const ok = (result: unknown, after?: () => void): Handled => ({ reply: { id: r.id, ok: true, result }, after });
    switch (r.type) {
      case 'compile': {
        const problems = analyzeProjectProblems(r.project);
        if (problems) return { reply: { id: r.id, ok: false, error: problems } };
        const { ok: valid, errors, parameterCount, planBytes } = analyzeProject(r.project as Project);
        return ok({ ok: valid, errors, parameterCount, ...(planBytes !== undefined ? { planBytes } : {}) });
      }
      case 'data.preview':
        return ok(await this.untilCanceled(r.id, (signal) => previewDataStreamed(projectOf(r.project), r.baseDir, this.dataLoads, this.progress(r.id), signal)));
      case 'data.inspect':
        return ok(await this.untilCanceled(r.id, (signal) => inspectData(r.path, r.baseDir, this.progress(r.id), signal)));
      case 'cancel': {
        const controller = this.cancelable.get(r.request);
        controller?.abort();
        return ok({ canceled: controller !== undefined });
      }
      case 'train.start': {
        const { job, replaced } = await this.newJob(r.project, r.baseDir, r.weights, r.id);
        job.start();
        return ok(job.info(replaced));
      }
      case 'weights.load': {
        // partial: the matched tensors, the rest at their seeded initial values, and the report of which is which
        const partial = r.partial ? partialWeights(projectOf(r.project).graph.nodes, decodeWeights(r.base64), seedOf(r.project)) : undefined;
        const { job, replaced } = await this.newJob(r.project, r.baseDir, partial?.weights ?? r.base64, r.id);
        return ok({ ...job.info(replaced), ...(partial ? { weightsReport: partial.report } : {}) }, () => job.announce());
      }
      case 'export.pytorch': {
        const project = projectOf(r.project);
        return ok({ text: pytorchCode(project), fileName: pytorchFileName(project) });
      }
      case 'train.pause':
        return ok(await this.need().pause());
      case 'train.resume':
        return ok(await this.need().resume());
      case 'train.stop':
        return ok(await this.need().stop());
      case 'train.step': {
        let started: TrainJobInfo | undefined;
        let job = this.job;
        if (!job?.live) {
          if (r.project === undefined) throw new StudioError(job ? `the training job is ${job.state}: send the project to start a new one` : 'there is no training job: send the project to start one');
          const made = await this.newJob(r.project, r.baseDir, r.weights, r.id);
          job = made.job;
          started = job.info(made.replaced);
          job.announce();
        }
        const step = await job.step();
        return ok({ ...job.status(), loss: step.loss, ...(started ? { started } : {}) });
      }
      case 'weights.export':
        return ok(await this.need().exportWeights());
      case 'evaluate':
        return ok(await this.need().evaluate(r.rows ?? 'validation'));
      case 'gradcheck': {
        const job = this.need();
        return ok(await this.untilCanceled(r.id, (signal) => job.checkGradients({ signal, onProgress: this.workProgress(r.id) })));
      }
      case 'jacobian': {
        const job = this.need();
        return ok(await this.untilCanceled(r.id, (signal) => job.jacobian(r.of, r.wrt, { signal, onProgress: this.workProgress(r.id) })));
      }
      case 'distributions':
        return ok(await this.need().distributions(r.node));
      case 'program':
        return ok(nodeProgram(projectOf(r.project), r.node));
      case 'backends':
        return ok(await availableBackends());
      case 'export.onnx': {
        const project = projectOf(r.project);
        const weights = await this.need().weights();
        // The job's weights must fit the graph sent (it may have been edited since), as weights.load checks.
        checkWeightsFit(project.graph.nodes, weights);
        const baseDir = dataBaseDir(dataSectionOf(project), r.baseDir);
        const dataset = await this.streamedDataset(project, r.baseDir, r.id);
        const { bytes, parity } = await exportOnnxChecked(project, { baseDir, weights, rows: r.rows, dataset });
        return ok({ base64: Buffer.from(bytes).toString('base64'), parity });
      }
    }
  }

  /** Runs request `id` with a signal that its `cancel` aborts. */
  private async untilCanceled<T>(id: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    this.cancelable.set(id, controller);
    try {
      return await work(controller.signal);
    } finally {
      this.cancelable.delete(id);
    }
  }

  /** Reports how far a long computation of a request has got as `request.progress` events. */
  private workProgress(requestId: number): (p: WorkProgress) => void {
    const report = throttledProgress((done, total) => this.post({ event: 'request.progress', requestId, done, total }));
    return (p) => report(p.done, p.total);
  }

  /** Reports a request's reading of a data file as `data.progress` events. */
  private progress(requestId: number) {
    return progressEvents(requestId, (e) => this.post(e));
  }

  /**
   * A project's CSV data or image folder, read streamed (a chunk or a file at a time, answering other requests
   * meanwhile); other data is loaded by the job itself.
   */
  private async streamedDataset(project: Project, baseDir: string | undefined, requestId: number): Promise<Dataset | undefined> {
    if (project.data?.kind !== 'csv' && project.data?.kind !== 'images') return undefined;
    return this.dataLoads.load(withDataDefaults(project.data), baseDir, withTrainingDefaults(project.training).seed, this.progress(requestId));
  }

  /** The current (or last) job, whatever its state. */
  private need(): TrainingJob {
    if (!this.job) throw new StudioError('there is no training job: train, or load weights, first');
    return this.job;
  }

  /** A new paused job (the request's failures leave the current one as it was), replacing the current one. */
  private async newJob(
    rawProject: unknown,
    baseDir: string | undefined,
    weights: string | Record<string, Tensor> | undefined,
    requestId: number,
  ): Promise<{ job: TrainingJob; replaced?: number }> {
    const project = projectOf(rawProject);
    const dataset = await this.streamedDataset(project, baseDir, requestId);
    const backend = await chooseBackend(project.training?.backend ?? 'auto', project);
    const job = new TrainingJob({
      backend,
      id: this.nextJob,
      project,
      baseDir,
      weights: typeof weights === 'string' ? decodeWeights(weights) : weights,
      emit: (e) => this.post(e),
      timing: this.options.timing,
      dataset,
    });
    this.nextJob++;
    const old = this.job;
    let replaced: number | undefined;
    if (old?.live) {
      await old.stop('replaced');
      replaced = old.id;
    }
    this.job = job;
    // Nothing reaches the old job now: its GPU memory goes back at once.
    old?.dispose().catch((e: unknown) => console.error('engine host: freeing the last training job failed:', e));
    return { job, replaced };
  }
}

/** The seed a job of this (checked) project starts from: its training.seed, or the default. */
function seedOf(rawProject: unknown): number {
  return withTrainingDefaults(projectOf(rawProject).training).seed;
}

function analyzeProjectProblems(raw: unknown): EngineReply['error'] | undefined {
  try {
    projectOf(raw);
    return undefined;
  } catch (e) {
    return errorOf(e);
  }
}

function errorOf(e: unknown): NonNullable<EngineReply['error']> {
  if (e instanceof WeightsMismatchError) return { message: e.message, where: { ...e.where }, weightsReport: e.report };
  if (e instanceof StudioError) return { message: e.message, where: { ...e.where } };
  console.error('engine host: internal error:', e);
  return { message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
}
