/**
 * A metric over training steps as the renderer keeps it: points of (step, min, max, last), each point a bucket of
 * consecutive steps. The host already decimates (train.progress: at most 100 points per event); a long run still
 * adds up, so when a log passes its capacity, neighbouring points are merged in pairs (min of mins, max of maxes, the
 * later last): memory stays bounded and every spike stays visible as a min..max range.
 */
import type { MetricSeries } from '../../../engine/protocol/messages';

export const LOG_CAPACITY = 8192;

export class SeriesLog {
  step: number[] = [];
  min: (number | null)[] = [];
  max: (number | null)[] = [];
  last: (number | null)[] = [];

  constructor(readonly capacity = LOG_CAPACITY) {}

  get length(): number {
    return this.step.length;
  }

  /** The latest value, or null when there is none (or it was not finite). */
  get latest(): number | null {
    return this.last.length ? this.last[this.last.length - 1] : null;
  }

  push(step: number, min: number | null, max: number | null, last: number | null): void {
    this.step.push(step);
    this.min.push(min);
    this.max.push(max);
    this.last.push(last);
    if (this.step.length > this.capacity) this.halve();
  }

  /** A train.progress event's points for this metric. */
  pushSeries(steps: readonly number[], s: MetricSeries): void {
    for (let i = 0; i < steps.length; i++) this.push(steps[i], s.min[i], s.max[i], s.last[i]);
  }

  /** Forgets the points of steps after `step` (training went back to it: the CPU took over from a checkpoint). */
  dropAfter(step: number): void {
    let n = this.step.length;
    while (n > 0 && this.step[n - 1] > step) n--;
    this.step.length = this.min.length = this.max.length = this.last.length = n;
  }

  /** Merges points pairwise (the oldest first; an odd last point stays as it is). */
  private halve(): void {
    const n = this.step.length;
    const half = Math.floor(n / 2);
    for (let i = 0; i < half; i++) {
      const a = 2 * i;
      const b = a + 1;
      this.step[i] = this.step[b];
      this.min[i] = lower(this.min[a], this.min[b]);
      this.max[i] = higher(this.max[a], this.max[b]);
      this.last[i] = this.last[b];
    }
    let k = half;
    if (n % 2) {
      this.step[k] = this.step[n - 1];
      this.min[k] = this.min[n - 1];
      this.max[k] = this.max[n - 1];
      this.last[k] = this.last[n - 1];
      k++;
    }
    this.step.length = this.min.length = this.max.length = this.last.length = k;
  }
}

function lower(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function higher(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
