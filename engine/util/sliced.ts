import { throwIfCanceled } from './cancel';

/** How far a long computation has got: `done` of `total` units (elements checked, columns computed). */
export interface WorkProgress {
  done: number;
  total: number;
}

export interface SliceOptions {
  /** Stops the work with a CanceledError between two of its units once aborted. */
  signal?: AbortSignal;
  /** Told how far the work has got each time it lets the event loop run. */
  onProgress?: (p: WorkProgress) => void;
  /** Computing time between two yields to the event loop (default 20 ms; 0: after every unit). */
  sliceMs?: number;
}

/**
 * Runs `work` (a generator that yields its progress after each unit and returns its result) so that a process that
 * must keep answering (the engine host) does: it lets the event loop run every `sliceMs` of computing, reporting the
 * progress then, and stops between two units once `signal` is aborted.
 */
export async function runSliced<T>(work: Generator<WorkProgress, T>, opts: SliceOptions = {}): Promise<T> {
  let slice = performance.now();
  for (;;) {
    throwIfCanceled(opts.signal);
    const r = work.next();
    if (r.done) return r.value;
    if (performance.now() - slice >= (opts.sliceMs ?? 20)) {
      opts.onProgress?.(r.value);
      await new Promise((resolve) => setTimeout(resolve, 0));
      slice = performance.now();
    }
  }
}

/** Runs `work` to its end at once (for callers that need not answer anything meanwhile). */
export function runAll<T>(work: Generator<WorkProgress, T>): T {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}
