import { availableBackends, chooseBackend } from '../backends/select';
import type { Project } from '../io/project';
import { engineRequest, type EngineEvent, type EngineReply, type EngineRequest, type TrainJobInfo } from '../protocol/messages';
import { ProtocolError } from '../protocol/check';
import { analyzeProject } from '../train/analysis';
import { StudioError } from '../util/errors';
import { projectOf } from './job-data';
import { previewData } from './preview';
import { TrainingJob, type JobTiming } from './training-job';
import { decodeWeights } from './weights';

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
    await this.job?.stop();
  }

  /** The current (or last) training job. */
  get current(): TrainingJob | undefined {
    return this.job;
  }

  async handle(r: EngineRequest): Promise<Handled> {
    const work = r.type === 'compile' || r.type === 'data.preview' ? this.run(r) : this.serial(() => this.run(r));
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
        return ok(previewData(projectOf(r.project), r.baseDir));
      case 'train.start': {
        const { job, replaced } = await this.newJob(r.project, r.baseDir, r.weights);
        job.start();
        return ok(job.info(replaced));
      }
      case 'weights.load': {
        const { job, replaced } = await this.newJob(r.project, r.baseDir, r.base64);
        return ok(job.info(replaced), () => job.announce());
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
          const made = await this.newJob(r.project, r.baseDir, r.weights);
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
      case 'backends':
        return ok(await availableBackends());
    }
  }

  /** The current (or last) job, whatever its state. */
  private need(): TrainingJob {
    if (!this.job) throw new StudioError('there is no training job: train, or load weights, first');
    return this.job;
  }

  /** A new paused job (the request's failures leave the current one as it was), replacing the current one. */
  private async newJob(rawProject: unknown, baseDir: string | undefined, weights: string | undefined): Promise<{ job: TrainingJob; replaced?: number }> {
    const project = projectOf(rawProject);
    const backend = await chooseBackend(project.training?.backend ?? 'auto', project);
    const job = new TrainingJob({
      backend,
      id: this.nextJob,
      project,
      baseDir,
      weights: weights === undefined ? undefined : decodeWeights(weights),
      emit: (e) => this.post(e),
      timing: this.options.timing,
    });
    this.nextJob++;
    const old = this.job;
    let replaced: number | undefined;
    if (old?.live) {
      await old.stop('replaced');
      replaced = old.id;
    }
    this.job = job;
    return { job, replaced };
  }
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
  if (e instanceof StudioError) return { message: e.message, where: { ...e.where } };
  console.error('engine host: internal error:', e);
  return { message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
}
