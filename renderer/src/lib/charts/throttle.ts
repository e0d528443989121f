/**
 * Redraw throttling: requests coalesce into one run on the next frame, and runs are at least `minInterval` ms apart
 * (a run that would come too soon waits for a later frame), so a chart redraws at most ~5 times a second however
 * fast events come. The frame scheduler and the clock are passed in (requestAnimationFrame and performance.now in
 * the app, fakes in tests).
 */
export interface FrameThrottle {
  /** Asks for a run (on the next frame the interval allows). */
  request(): void;
  /** Drops a pending run. */
  cancel(): void;
}

export function frameThrottle(
  run: () => void,
  minInterval: number,
  schedule: (cb: () => void) => unknown,
  now: () => number,
): FrameThrottle {
  let pending = false;
  let cancelled = false;
  let lastRun = -Infinity;
  const tick = () => {
    if (cancelled) {
      pending = false;
      cancelled = false;
      return;
    }
    if (now() - lastRun < minInterval) {
      schedule(tick);
      return;
    }
    pending = false;
    lastRun = now();
    run();
  };
  return {
    request() {
      cancelled = false;
      if (pending) return;
      pending = true;
      schedule(tick);
    },
    cancel() {
      if (pending) cancelled = true;
    },
  };
}
