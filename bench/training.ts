/**
 * `training`: steps per second of the spiral example trained from the app's engine host (a Node child process,
 * as web mode runs it, with every event received and checked as the renderer does), against the same training
 * from the CLI (`bpstudio train`, in a Node process of its own). The bar: ratio >= 0.95.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineEvent, engineReply, isEngineEvent, type EngineEvent, type EngineReply } from '../engine/protocol/messages';
import type { Bench } from './context';
import { otherCpus, pairedRuns, pin, spiralProject, type Run } from './training-pairs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 9;

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
  async train(project: unknown, baseDir: string): Promise<Run> {
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

export const training: Bench = {
  name: 'training',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'bpstudio-bench-'));
    const { project, text } = spiralProject(ROOT);
    const file = join(dir, 'spiral.bpstudio');
    writeFileSync(file, text);
    const host = new HostChild();
    try {
      let events = 0;
      await pairedRuns({
        bench: 'training_host',
        label: 'host',
        pinning: "per pair: the engine host's child on one CPU, this process (receiving the events) on the others; the CLI (a Node process of its own) on that CPU",
        runs: RUNS,
        file,
        out: join(dir, 'out.safetensors'),
        pinOurs: (cpu) => pin(host.child.pid!, [cpu]) && pin(process.pid, otherCpus(cpu)),
        async ours() {
          const before = host.events;
          const r = await host.train(project, dir);
          events = host.events - before;
          return r;
        },
        trainer: () => host.child.pid,
        detail: () => `${events} events`,
      });
    } finally {
      host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
