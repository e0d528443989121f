/** How long one call of a function takes: warm-up, then a few timed rounds, median of the rounds. */
export interface Timing {
  /** Median seconds per call over the rounds. */
  seconds: number;
  rounds: number;
  /** Timed calls, all rounds together (warm-up not counted). */
  calls: number;
}

export interface TimingOptions {
  /** Warm-up: calls until this many seconds have passed (at least one call). */
  warmupSeconds?: number;
  /** Each round repeats the call until it has run this long (at least one call). */
  roundSeconds?: number;
  minRounds?: number;
  maxRounds?: number;
  /** Rounds continue (up to maxRounds) until the timed calls add up to this many seconds. */
  minTotalSeconds?: number;
}

const now = (): number => performance.now() / 1000;

/**
 * Times `fn` (which must finish its work before returning). With the defaults a fast function is timed for about a
 * second (5 rounds of 0.2 s); a slow one (a second or more a call) gets one warm-up call and 3 rounds of one call.
 */
export function measure(fn: () => void, opts: TimingOptions = {}): Timing {
  const { warmupSeconds = 0.2, roundSeconds = 0.2, minRounds = 3, maxRounds = 5, minTotalSeconds = 1 } = opts;
  let t0 = now();
  let last = 0;
  do {
    const s = now();
    fn();
    last = now() - s;
  } while (now() - t0 < warmupSeconds);
  // Calls per round from the last warm-up call, which is the one closest to steady state.
  const perRound = Math.max(1, Math.ceil(roundSeconds / Math.max(last, 1e-9)));
  const perCall: number[] = [];
  let total = 0;
  let calls = 0;
  while (perCall.length < maxRounds && (perCall.length < minRounds || total < minTotalSeconds)) {
    t0 = now();
    for (let i = 0; i < perRound; i++) fn();
    const dt = now() - t0;
    total += dt;
    calls += perRound;
    perCall.push(dt / perRound);
  }
  return { seconds: median(perCall), rounds: perCall.length, calls };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
