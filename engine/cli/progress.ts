import type { Io } from './main';

/** A one-line progress bar on stderr, drawn only on a terminal and at most ten times a second. */
export class Progress {
  private last = 0;
  private drawn = false;
  private readonly started = performance.now();

  constructor(
    private readonly io: Io,
    private readonly total: number,
  ) {}

  update(done: number, note: string): void {
    if (!this.io.tty) return;
    const now = performance.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const width = 24;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const filled = Math.round(frac * width);
    const rate = done / Math.max((now - this.started) / 1000, 1e-9);
    const left = rate > 0 ? (this.total - done) / rate : 0;
    this.io.stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${note}  ${rate.toFixed(0)} steps/s, ${left.toFixed(0)} s left\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.io.stderr('\r\x1b[K');
    this.drawn = false;
  }
}
