import { StudioError } from '../util/errors';
import { gradProgram, hasReluUnits } from './program';
import type { Session } from './session';

/** How the values of a tensor are spread: BINS equal bins over [min, max] of the finite values, and their moments. */
export interface Histogram {
  /** Values counted (the finite ones; `nonFinite` apart). */
  n: number;
  nonFinite: number;
  /** Exactly zero (a ReLU's off outputs, their zero gradients). */
  zeros: number;
  /** Of the finite values; null when there is none. */
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  counts: number[];
  /**
   * The same values in BINS bins over their central range, [lo, hi] = their TAIL and 1 - TAIL quantiles, with how many
   * fall below and above it: a far outlier squeezes the full range's bins into a few, not these. Absent where that
   * range is the full one, or a single value.
   */
  central?: { lo: number; hi: number; counts: number[]; below: number; above: number };
}

export const BINS = 30;
/** The share of the finite values that the central range may leave out at each end (nearest rank). */
export const TAIL = 0.01;

/** Counts of `finite` (no NaN or infinity) in `bins` equal bins over [lo, hi] (hi in the last), and of those outside. */
function binned(finite: ArrayLike<number>, lo: number, hi: number, bins: number): { counts: number[]; below: number; above: number } {
  const counts = new Array<number>(bins).fill(0);
  let below = 0;
  let above = 0;
  const width = (hi - lo) / bins;
  for (let i = 0; i < finite.length; i++) {
    const v = finite[i];
    if (v < lo) below++;
    else if (v > hi) above++;
    // all in the middle bin when every value is the same
    else counts[width > 0 ? Math.min(bins - 1, Math.floor((v - lo) / width)) : Math.floor(bins / 2)]++;
  }
  return { counts, below, above };
}

/** The histogram of `values` over BINS bins (all in the middle one when every value is the same). */
export function histogram(values: ArrayLike<number>, bins = BINS): Histogram {
  const finite = Float64Array.from(values).filter(Number.isFinite);
  const n = finite.length;
  const nonFinite = values.length - n;
  if (n === 0) return { n, nonFinite, zeros: 0, min: null, max: null, mean: null, std: null, counts: new Array<number>(bins).fill(0) };
  let zeros = 0;
  let sum = 0;
  for (const v of finite) {
    if (v === 0) zeros++;
    sum += v;
  }
  const mean = sum / n;
  let sq = 0;
  for (const v of finite) sq += (v - mean) * (v - mean);
  finite.sort();
  const [min, max] = [finite[0], finite[n - 1]];
  const [lo, hi] = [finite[Math.floor(TAIL * (n - 1))], finite[Math.ceil((1 - TAIL) * (n - 1))]];
  const out: Histogram = { n, nonFinite, zeros, min, max, mean, std: Math.sqrt(sq / n), counts: binned(finite, min, max, bins).counts };
  if ((lo > min || hi < max) && hi > lo) out.central = { lo, hi, ...binned(finite, lo, hi, bins) };
  return out;
}

/**
 * Units (axis 1 of a ReLU's [B, units, ...] value: a dense layer's features, a convolution's channels) that are zero
 * for every row taken and every position: a ReLU that no longer turns on for any of them is dead, and passes no
 * gradient. The rule of the canvas's dead badges (flowProgram's unitsKey), counted here on the host's values.
 */
export function deadUnits(values: ArrayLike<number>, shape: readonly number[]): { dead: number; units: number } | undefined {
  if (shape.length < 2) return undefined;
  const units = shape[1];
  const inner = shape.slice(2).reduce((a, d) => a * d, 1);
  const alive = new Uint8Array(units);
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) alive[Math.floor(i / inner) % units] = 1;
  return { dead: alive.reduce((d, a) => d + (a ? 0 : 1), 0), units };
}

export interface NodeDistributions {
  id: string;
  rows: number;
  /** The node's value over the rows, and the objective's gradient with respect to it. */
  output: Histogram;
  outputGradient: Histogram;
  /** For a ReLU's value (hasReluUnits). */
  deadUnits?: { dead: number; units: number };
  /** The node's own trainable tensors: their values and the objective's gradient with respect to them. */
  tensors: { name: string; value: Histogram; gradient: Histogram }[];
}

/**
 * How a project node's values and gradients are spread, with the session's weights now, on these rows: one forward and
 * backward pass as `bpstudio grad --nodes` takes it (batch statistics, no update).
 */
export async function nodeDistributions(s: Session, id: string, rows: Int32Array): Promise<NodeDistributions> {
  if (!s.nodes.some((n) => n.id === id)) throw new StudioError(`"${id}" is not a node of the graph`);
  const { plan, expansion } = gradProgram(s.nodes, s.targets, rows.length, { nodes: true });
  const value = plan.outputs.get(`value:${id}`);
  if (!value) throw new StudioError(`"${id}" has no value of its own to show`, { node: id });
  const exe = s.backend.load(plan);
  try {
    for (const [input, t] of s.batch(rows)) exe.setInput(input, t);
    exe.run({ seed: s.training.seed, step: 1 });
    const output = await exe.read(`value:${id}`);
    const tensors: NodeDistributions['tensors'] = [];
    for (const p of s.params.filter((q) => q.node === id && q.trainable)) {
      tensors.push({ name: p.name, value: histogram(await s.backend.readTensor(p.name)), gradient: histogram(await exe.read(`grad:${p.name}`)) });
    }
    const dead = hasReluUnits(id, expansion.outputs.get(id)) ? deadUnits(output, value.shape) : undefined;
    return {
      id,
      rows: rows.length,
      output: histogram(output),
      outputGradient: histogram(await exe.read(`adjoint:${id}`)),
      ...(dead ? { deadUnits: dead } : {}),
      tensors,
    };
  } finally {
    // (its buffers are device memory on WebGPU)
    exe.dispose?.();
  }
}
