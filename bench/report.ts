/** One figure of `npm run bench`: printed as one JSON line on stdout (architecture.md, Conventions). */
export interface Figure {
  bench: string;
  backend?: string;
  value: number;
  unit: string;
  peer?: string;
  peerValue?: number;
  ratio?: number;
  /** Extra keys that tell figures of one benchmark apart (`n` for matmul) or qualify them. */
  [extra: string]: unknown;
}

/** Rounds to 4 significant digits (integers stay as they are): the timings are not more precise than that. */
export function round(x: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  return Number(x.toPrecision(4));
}

/** Prints one figure; the key order is the documented one, extras between `backend` and `value`. */
export function emit(f: Figure): void {
  const { bench, backend, value, unit, peer, peerValue, ratio, ...extra } = f;
  const line: Record<string, unknown> = { bench };
  if (backend !== undefined) line.backend = backend;
  Object.assign(line, extra);
  line.value = round(value);
  line.unit = unit;
  if (peer !== undefined) line.peer = peer;
  if (peerValue !== undefined) line.peerValue = round(peerValue);
  if (ratio !== undefined) line.ratio = round(ratio);
  process.stdout.write(JSON.stringify(line) + '\n');
}

/**
 * Our figure against each peer's, one line per peer (`ratio` = ours / theirs); our figure alone when no peer ran.
 */
export function emitAgainst(base: Figure, peers: readonly { name: string; value: number }[]): void {
  if (peers.length === 0) return emit(base);
  for (const p of peers) emit({ ...base, peer: p.name, peerValue: p.value, ratio: base.value / p.value });
}

/** Progress and notes: stderr, so that stdout stays JSON lines only. */
export function note(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}
