/**
 * `training`: steps per second of the spiral example trained from the app's engine host (a Node child process,
 * as web mode runs it, with every event received and checked as the renderer does), against the same training
 * from the CLI (`bpstudio train`, in this process). The bar: ratio >= 0.95.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as cli } from '../engine/cli/main';
import { engineEvent, engineReply, isEngineEvent, type EngineEvent, type EngineReply } from '../engine/protocol/messages';
import type { Bench } from './context';
import { emit, note } from './report';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SPIRAL = join(ROOT, 'examples', 'spiral.bpstudio');

/** 15 steps an epoch (480 training rows, batch 32): 20,000 steps a run, about 1.5 s on a small machine. */
export const TRAINING_BENCH = { epochs: 1334, runs: 7 } as const;

/** The engine host as web mode forks it: the TypeScript source through tsx, JSON over the IPC channel. */
class HostChild {
  readonly child: ChildProcess;
  private nextId = 1;
  private replies = new Map<number, (r: EngineReply) => void>();
  onEvent: (e: EngineEvent) => void = () => {};
  events = 0;

  constructor() {
    this.child = fork(join(ROOT, 'engine', 'host', 'main.ts'), [], {
      execArgv: ['--import', 'tsx'],
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.child.on('message', (raw: unknown) => {
      // As the renderer does: tell events from replies, and check each against the protocol.
      if (isEngineEvent(raw)) {
        this.events++;
        this.onEvent(engineEvent(raw));
      } else {
        const r = engineReply(raw);
        this.replies.get(r.id)?.(r);
        this.replies.delete(r.id);
      }
    });
  }

  call(request: Record<string, unknown>): Promise<EngineReply> {
    const id = this.nextId++;
    return new Promise((done) => {
      this.replies.set(id, done);
      this.child.send({ ...request, id });
    });
  }

  /** Seconds from sending train.start to the job's `done` (data, compile, every step, epoch and event included). */
  async train(project: unknown, baseDir: string): Promise<{ seconds: number; steps: number }> {
    const t0 = performance.now();
    const finished = new Promise<{ steps: number }>((done, fail) => {
      this.onEvent = (e) => {
        if (e.event !== 'train.state') return;
        if (e.state === 'done') done({ steps: e.step });
        else if (e.state === 'error') fail(new Error(e.error?.message));
      };
    });
    const reply = await this.call({ type: 'train.start', project, baseDir });
    if (!reply.ok) throw new Error(`train.start failed: ${reply.error?.message}`);
    const { steps } = await finished;
    return { seconds: (performance.now() - t0) / 1000, steps };
  }

  close(): void {
    this.child.kill();
  }
}

/** `bpstudio train FILE --json --out OUT` in this process: seconds for the whole command. */
async function cliRun(file: string, out: string): Promise<{ seconds: number; steps: number }> {
  let lastLine = '';
  const t0 = performance.now();
  const code = await cli(['train', file, '--json', '--out', out], {
    stdout: (s) => void (lastLine = s),
    stderr: () => {},
    tty: false,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`bpstudio train exited with ${code}`);
  return { seconds, steps: (JSON.parse(lastLine) as { steps: number }).steps };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const training: Bench = {
  name: 'training',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'bpstudio-bench-'));
    const project = JSON.parse(readFileSync(SPIRAL, 'utf8')) as { training: Record<string, unknown> };
    project.training = { ...project.training, epochs: TRAINING_BENCH.epochs };
    const file = join(dir, 'spiral.bpstudio');
    writeFileSync(file, JSON.stringify(project));
    const host = new HostChild();
    try {
      const hostRates: number[] = [];
      const cliRates: number[] = [];
      let events = 0;
      // One warm-up run each (JIT), then alternate so that drift in the machine's load hits both alike.
      note('training: warm-up');
      await host.train(project, dir);
      await cliRun(file, join(dir, 'out.safetensors'));
      for (let i = 0; i < TRAINING_BENCH.runs; i++) {
        // Alternate which goes first too, so that neither always follows the other.
        const hostRun = async () => {
          const before = host.events;
          const h = await host.train(project, dir);
          events = host.events - before;
          return h;
        };
        const cliFirst = i % 2 === 1;
        const c0 = cliFirst ? await cliRun(file, join(dir, 'out.safetensors')) : undefined;
        const h = await hostRun();
        const c = c0 ?? (await cliRun(file, join(dir, 'out.safetensors')));
        hostRates.push(h.steps / h.seconds);
        cliRates.push(c.steps / c.seconds);
        note(`training: run ${i + 1}: host ${(h.steps / h.seconds).toFixed(0)} steps/s (${events} events), cli ${(c.steps / c.seconds).toFixed(0)} steps/s`);
      }
      const value = median(hostRates);
      const peerValue = median(cliRates);
      emit({ bench: 'training_host', value, unit: 'steps/s', peer: 'cli', peerValue, ratio: value / peerValue });
    } finally {
      host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
