/**
 * Redraw throttling: requests coalesce into one run on the next frame, and runs are at least `minInterval` ms apart,
 * so a chart redraws at most a few times a second however fast events come. A run that would come too soon waits out
 * the rest of the interval on a timer and then asks for one frame: asking for a frame every frame while waiting
 * kept the page drawing ~60 frames a second during training, CPU the engine needs on a small machine. The frame
 * scheduler, the timer and the clock are passed in (requestAnimationFrame, setTimeout and performance.now in the
 * app, fakes in tests).
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
  delay: (cb: () => void, ms: number) => unknown,
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
    const wait = minInterval - (now() - lastRun);
    if (wait > 0) {
      delay(() => schedule(tick), wait);
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
