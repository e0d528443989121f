/**
 * Plain tensors for the conformance tables, and the input domains that cases draw their values from. Nothing
 * here depends on a backend: the tables and reference functions run unchanged against every backend.
 */
import { Rng } from '../../engine/util/rng';

/** A float64 tensor, row-major. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function tensor(shape: readonly number[], data: ArrayLike<number>): Tensor {
  if (data.length !== size(shape)) throw new Error(`tensor: ${data.length} values for shape [${shape.join(', ')}]`);
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/**
 * Where a case's input values come from. Every value is rounded to float32, so that a float32 backend and the
 * float64 reference see exactly the same numbers.
 */
export type Domain =
  /** N(0, std^2). */
  | { readonly kind: 'normal'; readonly std?: number }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  /** |x| uniform in [min, max], random sign: away from the kink at 0 (relu, abs, step, sign, division). */
  | { readonly kind: 'away'; readonly min?: number; readonly max?: number }
  /**
   * offset + step * k + U(-jitter, jitter) with k a random integer in [-span, span]. Two lattices with offsets
   * step/2 apart never come within step/2 - 2 jitter of each other: maximum's a and b without ties.
   */
  | { readonly kind: 'lattice'; readonly step: number; readonly offset?: number; readonly jitter: number; readonly span?: number }
  /** All values distinct, at least `gap` apart (a shuffled ramp): max and maxpool without ties. */
  | { readonly kind: 'distinct'; readonly gap?: number }
  /** Class indices 0..k-1. */
  | { readonly kind: 'classes'; readonly k: number }
  /** -1 or +1. */
  | { readonly kind: 'sign' }
  /** These values, repeated to fill the tensor. */
  | { readonly kind: 'values'; readonly values: readonly number[] };

export const NORMAL: Domain = { kind: 'normal' };
export const POSITIVE: Domain = { kind: 'uniform', low: 0.5, high: 2.5 };
export const AWAY: Domain = { kind: 'away', min: 0.1, max: 2 };
export const DISTINCT: Domain = { kind: 'distinct', gap: 0.1 };
/** Pairs with LATTICE_B: never closer than 0.3. */
export const LATTICE_A: Domain = { kind: 'lattice', step: 1, offset: 0, jitter: 0.1, span: 3 };
export const LATTICE_B: Domain = { kind: 'lattice', step: 1, offset: 0.5, jitter: 0.1, span: 3 };

export function generate(domain: Domain, n: number, rng: Rng): Float64Array {
  const out = new Float64Array(n);
  switch (domain.kind) {
    case 'normal':
      for (let i = 0; i < n; i++) out[i] = rng.normal() * (domain.std ?? 1);
      break;
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = rng.range(domain.low, domain.high);
      break;
    case 'away':
      for (let i = 0; i < n; i++) out[i] = rng.range(domain.min ?? 0.1, domain.max ?? 2) * (rng.uniform() < 0.5 ? -1 : 1);
      break;
    case 'lattice': {
      const span = domain.span ?? 3;
      for (let i = 0; i < n; i++) {
        const k = rng.int(2 * span + 1) - span;
        out[i] = (domain.offset ?? 0) + domain.step * k + rng.range(-domain.jitter, domain.jitter);
      }
      break;
    }
    case 'distinct': {
      const gap = domain.gap ?? 0.1;
      const perm = rng.permutation(n);
      for (let i = 0; i < n; i++) out[i] = gap * (perm[i] - (n - 1) / 2) + rng.range(0, gap / 10);
      break;
    }
    case 'classes':
      for (let i = 0; i < n; i++) out[i] = rng.int(domain.k);
      break;
    case 'sign':
      for (let i = 0; i < n; i++) out[i] = rng.uniform() < 0.5 ? -1 : 1;
      break;
    case 'values':
      for (let i = 0; i < n; i++) out[i] = domain.values[i % domain.values.length];
      break;
  }
  for (let i = 0; i < n; i++) out[i] = Math.fround(out[i]);
  return out;
}

/** FNV-1a of a string: each case seeds its own draws, so adding a row does not change the others' values. */
export function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function rngFor(name: string, stream = 0): Rng {
  return new Rng(seedOf(name), 100 + stream);
}

/**
 * Largest error of `got` against `want`, as a multiple of the allowed error `rtol * |want| + atol` (so <= 1 passes).
 * Returns the worst index too, for the message.
 */
export function closeness(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): { ratio: number; at: number } {
  if (got.length !== want.length) return { ratio: Infinity, at: -1 };
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const r = Number.isNaN(err) ? Infinity : err / (rtol * Math.abs(want[i]) + atol);
    if (r > ratio) [ratio, at] = [r, i];
  }
  return { ratio, at };
}
