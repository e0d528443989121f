/**
 * The real engine host as a child process (engine/host/main.ts through tsx, JSON over the IPC channel, as web mode
 * forks it): train the spiral example to more than 90% through the protocol, export the weights, and check with
 * `bpstudio eval` that the file scores what the host's `evaluate` said.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  engineEvent,
  engineReply,
  engineResults,
  isEngineEvent,
  type EngineEvent,
  type EngineReply,
  type EvaluateResult,
  type TrainJobInfo,
  type WeightsExport,
} from '../../engine/protocol/messages';
import { round7 } from '../../engine/train/metrics';
import { cli, jsonOut, readProject, REPO, tempExamples } from './helpers';

class Host {
  readonly child: ChildProcess;
  readonly events: EngineEvent[] = [];
  private nextId = 1;
  private replies = new Map<number, { type: string; done: (r: EngineReply) => void }>();
  private listeners = new Set<(e: EngineEvent) => void>();

  constructor() {
    this.child = fork(join(REPO, 'engine', 'host', 'main.ts'), [], {
      execArgv: ['--import', 'tsx'],
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.child.on('message', (raw: unknown) => {
      if (isEngineEvent(raw)) {
        const e = engineEvent(raw);
        this.events.push(e);
        for (const l of [...this.listeners]) l(e);
        return;
      }
      const r = engineReply(raw);
      const pending = this.replies.get(r.id);
      if (!pending) return;
      this.replies.delete(r.id);
      if (r.ok) (engineResults[pending.type as keyof typeof engineResults] as (v: unknown, p?: string) => unknown)(r.result, pending.type);
      pending.done(r);
    });
  }

  async ok<T>(request: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    const r = await new Promise<EngineReply>((done) => {
      this.replies.set(id, { type: String(request.type), done });
      this.child.send({ ...request, id });
    });
    if (!r.ok) throw new Error(`${String(request.type)}: ${r.error?.message}`);
    return r.result as T;
  }

  state(match: (e: Extract<EngineEvent, { event: 'train.state' }>) => boolean): Promise<Extract<EngineEvent, { event: 'train.state' }>> {
    return new Promise((resolve) => {
      const check = (e: EngineEvent) => {
        if (e.event === 'train.state' && match(e)) {
          this.listeners.delete(check);
          resolve(e);
        }
      };
      for (const e of this.events) check(e);
      this.listeners.add(check);
    });
  }

  close(): void {
    this.child.kill();
  }
}

describe('the engine host as a child process', () => {
  let host: Host;
  let ex: ReturnType<typeof tempExamples>;
  beforeAll(() => {
    host = new Host();
    ex = tempExamples();
  });
  afterAll(() => {
    host?.close();
    ex?.cleanup();
  });

  it('trains the spiral past 90%, and the exported weights evaluate in the CLI as in the host', async () => {
    const file = ex.project('spiral');
    const project = readProject(file);
    const info = await host.ok<TrainJobInfo>({ type: 'train.start', project, baseDir: ex.dir });
    expect(info.totalSteps).toBe(1500);
    const done = await host.state((e) => e.state === 'done');
    expect(done.step).toBe(1500);

    const epochs = host.events.flatMap((e) => (e.event === 'train.epoch' ? e.epochs : []));
    expect(epochs.length).toBe(100);
    const last = epochs.at(-1)!;
    expect(last.accuracy).toBeGreaterThan(0.9);
    expect(last.valAccuracy).toBeGreaterThan(0.9);
    const progress = host.events.filter((e) => e.event === 'train.progress');
    expect(progress.reduce((n, e) => n + (e.event === 'train.progress' ? e.points.count.reduce((a, b) => a + b, 0) : 0), 0)).toBe(1500);

    // The epoch's accuracy is the running training accuracy; evaluate scores the weights now, on a fixed set.
    const validation = await host.ok<EvaluateResult>({ type: 'evaluate', rows: 'validation' });
    expect(validation.accuracy).toBe(last.valAccuracy);
    expect(round7(validation.objective!)).toBe(last.valLoss);
    const all = await host.ok<EvaluateResult>({ type: 'evaluate', rows: 'all' });
    expect(all.rows).toBe(600);
    expect(all.accuracy).toBeGreaterThan(0.9);
    expect(all.confusion!.flat().reduce((a, b) => a + b, 0)).toBe(600);

    const exported = await host.ok<WeightsExport>({ type: 'weights.export' });
    const weights = join(ex.dir, 'out', 'spiral.safetensors');
    writeFileSync(weights, Buffer.from(exported.base64, 'base64'));
    const evaluated = jsonOut(await cli('eval', file, '--weights', weights, '--json'));
    expect(evaluated).toEqual({ objective: all.objective, accuracy: all.accuracy, rows: 600 });
  });
});
