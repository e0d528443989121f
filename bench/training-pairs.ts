/**
 * What the training benchmarks share (`training_host`, `training_app`): the spiral project with its epochs raised,
 * the CLI peer run in this process, pinning processes to CPUs, and pairs of runs (ours and the CLI's) on one CPU
 * each, of which the pair with the median ratio is the figure.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as cli } from '../engine/cli/main';
import { emit, note } from './report';

/** 15 steps an epoch (480 training rows, batch 32): 20,010 steps a run, about 1.5 s on a small machine. */
export const TRAINING_BENCH = { epochs: 1334, steps: 1334 * 15 } as const;

/** `examples/spiral.bpstudio` with its epochs raised to TRAINING_BENCH.epochs: the project and its file text. */
export function spiralProject(repo: string): { project: unknown; text: string } {
  const project = JSON.parse(readFileSync(join(repo, 'examples', 'spiral.bpstudio'), 'utf8')) as { training: Record<string, unknown> };
  project.training = { ...project.training, epochs: TRAINING_BENCH.epochs };
  return { project, text: JSON.stringify(project) };
}

export interface Run {
  seconds: number;
  steps: number;
}

/** `bpstudio train FILE --json --out OUT` in the calling process: seconds for the whole command. */
export async function cliRun(file: string, out: string): Promise<Run> {
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

/**
 * The peer: `cliRun` in a Node process of its own (`cli-peer.ts` through tsx), one run per request.
 *
 * Why not in the benchmark process: once any ArrayBuffer of a process has been detached, V8 guards every typed-array
 * access of that process against detachment from then on (its "array buffer detaching" protector), and the CLI's
 * JavaScript kernels run 15-20% slower. The benchmark process is no clean place: after playwright-core had driven a
 * page in it, the CLI trained at 12,000 steps/s there instead of 14,000 (as after detaching a buffer on purpose), and
 * TensorFlow.js's wasm backend growing its memory (the benchmarks before these) does the same. A CLI timed there
 * would flatter the app.
 */
export class CliPeer {
  readonly child: ChildProcess;
  private pending: ((m: { ok: boolean; run?: Run; error?: string }) => void) | undefined;

  constructor() {
    this.child = fork(join(dirname(fileURLToPath(import.meta.url)), 'cli-peer.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 2, 2, 'ipc'],
      serialization: 'json',
    });
    this.child.on('message', (m: { ok: boolean; run?: Run; error?: string }) => this.pending?.(m));
  }

  /** `bpstudio train FILE --json --out OUT` in the peer's process: seconds for the whole command, timed there. */
  async run(file: string, out: string): Promise<Run> {
    let exited: ((code: number | null) => void) | undefined;
    const m = await new Promise<{ ok: boolean; run?: Run; error?: string }>((done, fail) => {
      this.pending = done;
      exited = (code) => fail(new Error(`the CLI peer's process exited (${code})`));
      this.child.once('exit', exited);
      this.child.send({ file, out });
    }).finally(() => this.child.off('exit', exited!));
    if (!m.ok) throw new Error(m.error);
    return m.run!;
  }

  close(): void {
    this.child.kill();
  }
}

/**
 * Pins a process (all its threads) to these CPUs with Linux's `taskset`; false where that cannot be done.
 *
 * Why: CPUs are not always alike. On the 2-vCPU virtual machine this was written on, one vCPU ran the same training
 * at 60% of the other's speed (its physical core is shared with another guest, which shows as neither load nor
 * steal), and the scheduler leaves a process where it started, so an unpinned comparison measured mostly which CPU
 * each side landed on (ratios from 0.58 to 1.04). Each pair of runs therefore trains on the same CPU, and what
 * receives the events (this process, or the server and Chromium) runs on the other CPUs.
 */
export function pin(pid: number, cpuList: readonly number[]): boolean {
  if (process.platform !== 'linux' || cpuList.length === 0) return false;
  try {
    return spawnSync('taskset', ['-a', '-p', '-c', cpuList.join(','), String(pid)], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

/**
 * Seconds a process's main thread has run and has waited, runnable, for a CPU (Linux's /proc/PID/schedstat);
 * undefined elsewhere. The wait tells a run slowed by others on its CPU from one that did more work.
 */
export function schedOf(pid: number): { ran: number; waited: number } | undefined {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { ran: ran / 1e9, waited: waited / 1e9 };
  } catch {
    return undefined;
  }
}

/** Runs `fn`, with how long `pid`'s main thread ran and waited for a CPU meanwhile (undefined where unknown). */
async function timedOn<T>(pid: number | undefined, fn: () => Promise<T>): Promise<{ r: T; ran?: number; waited?: number }> {
  const before = pid === undefined ? undefined : schedOf(pid);
  const r = await fn();
  const after = pid === undefined ? undefined : schedOf(pid);
  return before && after ? { r, ran: after.ran - before.ran, waited: after.waited - before.waited } : { r };
}

function schedText(t: { ran?: number; waited?: number }): string {
  return t.ran === undefined ? '' : `ran ${t.ran.toFixed(2)} s, waited ${t.waited!.toFixed(2)} s for its CPU`;
}

/** A side waiting this share of its run for its CPU had the machine busy (others' work on its CPU). */
const BUSY_WAIT = 0.15;

/** This machine's CPUs, and those other than `cpu` (all of them on a single-CPU machine). */
export const ALL_CPUS: readonly number[] = cpus().map((_, i) => i);
export function otherCpus(cpu: number): number[] {
  return ALL_CPUS.length > 1 ? ALL_CPUS.filter((c) => c !== cpu) : [...ALL_CPUS];
}

export interface Pairs {
  /** The bench's name in notes and its figure's `bench`. */
  bench: string;
  /** Our side in notes ('host', 'app'). */
  label: string;
  /** What is pinned where, for the figure's `pinned` (false there when pinning failed). */
  pinning: string;
  runs: number;
  /** Pins what needs pinning for a run on `cpu` (false when it could not: then it runs unpinned from there on). */
  pinOurs(cpu: number): boolean;
  ours(): Promise<Run>;
  /** The process that trains on our side (the engine host), for the notes. */
  trainer(): number | undefined;
  /** A word on our last run for the progress note (events received...). */
  detail?(): string;
  file: string;
  out: string;
}

/**
 * One warm-up run each (JIT), then `runs` pairs, each pair on one CPU, the pairs cycling over the CPUs and
 * alternating which side goes first (so that drift in the machine's load hits both alike). Emits the pair with the
 * median ratio: each pair ran on the same CPU, one after the other, so its ratio is free of which CPU it was and of
 * slow drifts in the machine's load, which medians of each side's rates are not.
 */
export async function pairedRuns(p: Pairs): Promise<void> {
  const peer = new CliPeer();
  try {
    await runPairs(p, peer);
  } finally {
    peer.close();
    pin(process.pid, ALL_CPUS);
  }
}

async function runPairs(p: Pairs, peer: CliPeer): Promise<void> {
  const pinCli = (cpu: number) => pin(peer.child.pid!, [cpu]);
  let pinned = p.pinOurs(ALL_CPUS[0]) && pinCli(ALL_CPUS[0]);
  if (!pinned) note(`${p.bench}: cannot pin processes to CPUs (no taskset): the ratio depends on where the scheduler puts them`);
  note(`${p.bench}: warm-up`);
  await p.ours();
  await peer.run(p.file, p.out);
  const ours: number[] = [];
  const theirs: number[] = [];
  let busy = 0;
  const cliOn = async (cpu: number) => {
    if (pinned) pinned = pinCli(cpu);
    return timedOn(peer.child.pid, () => peer.run(p.file, p.out));
  };
  const oursOn = async (cpu: number) => {
    if (pinned) pinned = p.pinOurs(cpu);
    const t = await timedOn(p.trainer(), () => p.ours());
    if (t.r.steps !== TRAINING_BENCH.steps) throw new Error(`${p.bench}: the run reported ${t.r.steps} steps, not ${TRAINING_BENCH.steps}`);
    return t;
  };
  for (let i = 0; i < p.runs; i++) {
    const cpu = ALL_CPUS[i % ALL_CPUS.length];
    const cliFirst = i % 2 === 1;
    const c0 = cliFirst ? await cliOn(cpu) : undefined;
    const o = await oursOn(cpu);
    const c = c0 ?? (await cliOn(cpu));
    ours.push(o.r.steps / o.r.seconds);
    theirs.push(c.r.steps / c.r.seconds);
    const why = (...parts: string[]) => (parts.some(Boolean) ? ` (${parts.filter(Boolean).join('; ')})` : '');
    note(
      `${p.bench}: run ${i + 1}${pinned ? ` (CPU ${cpu})` : ''}: ${p.label} ${ours[i].toFixed(0)} steps/s${why(schedText(o), p.detail?.() ?? '')}, ` +
        `cli ${theirs[i].toFixed(0)} steps/s${why(schedText(c))}, ratio ${(ours[i] / theirs[i]).toFixed(3)}`,
    );
    if ((o.waited ?? 0) > BUSY_WAIT * o.r.seconds || (c.waited ?? 0) > BUSY_WAIT * c.r.seconds) busy++;
  }
  if (busy > 0) {
    note(
      `${p.bench}: the machine was busy: in ${busy} of ${p.runs} pairs a side waited more than ${BUSY_WAIT * 100}% of its run for its CPU ` +
        `(other processes' work on it); the ratio moves with such load: compare runs on an otherwise idle machine`,
    );
  }
  const order = ours.map((_, i) => i).sort((a, b) => ours[a] / theirs[a] - ours[b] / theirs[b]);
  const mid = order[(order.length - 1) >> 1];
  emit({ bench: p.bench, pinned: pinned && p.pinning, value: ours[mid], unit: 'steps/s', peer: 'cli', peerValue: theirs[mid], ratio: ours[mid] / theirs[mid] });
}
