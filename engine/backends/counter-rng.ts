/**
 * Counter-based random numbers: element i's draw is a hash of (seed, step, stream, i), so that a GPU thread can make
 * its own without a sequential generator, and the CPU and WebGPU backends draw the same values bit for bit. The hash
 * chains the PCG output permutation of Jarzynski and Olano ("Hash Functions for GPU Rendering", JCGT 2020) over
 * the four words, the element first, so that no two (seed, step, stream) give masks that are shifts of each other.
 * `COUNTER_HASH_WGSL` is the same function in WGSL: keep the two in step.
 */

/** One round of the PCG hash: a bijection of 32-bit words. */
function pcg(x: number): number {
  const state = (Math.imul(x, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** A 32-bit hash of four words. */
export function counterHash(seed: number, step: number, stream: number, i: number): number {
  return pcg((seed >>> 0) ^ pcg((step >>> 0) ^ pcg((stream >>> 0) ^ pcg(i >>> 0))));
}

export const COUNTER_HASH_WGSL = /* wgsl */ `
fn pcg(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn counter_hash(seed: u32, step: u32, stream: u32, i: u32) -> u32 {
  return pcg(seed ^ pcg(step ^ pcg(stream ^ pcg(i))));
}`;

/**
 * Dropout draws u = (hash >> 8) / 2^24, exact in float32, and drops the element where u < rate: where the top 24 bits
 * of the hash, as an integer, fall under this threshold (ceil(rate * 2^24), clamped to [0, 2^24]).
 */
export function dropThreshold(rate: number): number {
  return Math.min(2 ** 24, Math.max(0, Math.ceil(rate * 2 ** 24))) >>> 0;
}
