/**
 * Keeps one engine host process running: when it exits unexpectedly, reports `restarting`, starts a new one and
 * reports `ready` once it runs. Used with Electron's utilityProcess and with Node's child_process (web mode); the
 * process itself is behind `spawn`, so this is tested with fakes.
 */
import type { EngineStatus } from '../engine/protocol/messages';

/** What the supervisor needs of a process. */
export interface SupervisedProcess {
  /** Called once, when the process exits for any reason (`why` says how, for the user). */
  onExit(handler: (why: string) => void): void;
  /** Called once the process runs. */
  onSpawn(handler: () => void): void;
  kill(): void;
}

export interface SupervisorOptions<P extends SupervisedProcess> {
  spawn(): P;
  /** A process runs (first start: `restarted` false); hand it its port or wire its messages here. */
  onReady(process: P, restarted: boolean): void;
  onStatus(status: EngineStatus): void;
  /** The process exited unexpectedly (before any restart): fail what was in flight here. */
  onCrash?(why: string): void;
  /** Restarts within `windowMs` beyond which restarts are delayed (doubling up to `maxDelayMs`). */
  quickRestarts?: number;
  windowMs?: number;
  maxDelayMs?: number;
  schedule?(fn: () => void, ms: number): void;
  now?(): number;
}

export class Supervisor<P extends SupervisedProcess> {
  private proc: P | null = null;
  private stopped = false;
  private crashes: number[] = [];
  private delay = 0;

  constructor(private readonly o: SupervisorOptions<P>) {}

  get current(): P | null {
    return this.proc;
  }

  start(): P {
    this.stopped = false;
    return this.launch(false);
  }

  /** Stops for good (the window closed, the socket went away, the app quits): no restart. */
  stop(): void {
    this.stopped = true;
    const p = this.proc;
    this.proc = null;
    p?.kill();
  }

  private launch(restarted: boolean): P {
    const p = this.o.spawn();
    this.proc = p;
    p.onSpawn(() => {
      if (this.proc !== p || this.stopped) return;
      this.o.onReady(p, restarted);
      if (restarted) this.o.onStatus({ engine: 'ready' });
    });
    p.onExit((why) => {
      if (this.proc !== p || this.stopped) return;
      this.proc = null;
      this.o.onCrash?.(why);
      this.o.onStatus({ engine: 'restarting', message: `the engine stopped (${why}); restarting it` });
      const now = (this.o.now ?? Date.now)();
      const windowMs = this.o.windowMs ?? 10_000;
      this.crashes = [...this.crashes.filter((t) => now - t < windowMs), now];
      const quick = this.o.quickRestarts ?? 3;
      this.delay = this.crashes.length > quick ? Math.min(Math.max(this.delay * 2, 500), this.o.maxDelayMs ?? 10_000) : 0;
      const again = (): void => {
        if (!this.stopped && this.proc === null) this.launch(true);
      };
      if (this.delay === 0) again();
      else (this.o.schedule ?? ((fn, ms) => void setTimeout(fn, ms)))(again, this.delay);
    });
    return p;
  }
}
