/**
 * The validation split, the per-epoch order of the training rows, and feature standardisation
 * (project-format.md, "Data").
 */
import { Rng, RngStream } from '../util/rng';
import { StudioError } from '../util/errors';

export interface Split {
  train: Int32Array;
  validation: Int32Array;
}

/**
 * Splits row indices 0..rows-1. The rows are put in the order of `new Rng(seed, RngStream.shuffle).permutation(rows)`
 * (or kept in file order when `shuffle` is false); the validation part is the last nVal of them and the training
 * part the rest, both in that order, with nVal = Math.round(rows * validation) (so halves round up: 5 rows at 0.1
 * give 1 validation row, not 0). A `validation` outside [0, 1), or a split that leaves no training rows, is an error.
 */
export function splitRows(rows: number, opts: { validation?: number; shuffle?: boolean }, seed: number): Split {
  const validation = opts.validation ?? 0.2;
  if (!(validation >= 0 && validation < 1)) {
    throw new StudioError(`validation must be a fraction from 0 up to (not including) 1, got ${validation}`, { path: 'data.validation' });
  }
  const nVal = Math.round(rows * validation);
  if (rows - nVal < 1) {
    throw new StudioError(`a validation fraction of ${validation} leaves none of the ${rows} rows for training`, { path: 'data.validation' });
  }
  const order = (opts.shuffle ?? true) ? new Rng(seed, RngStream.shuffle).permutation(rows) : Int32Array.from({ length: rows }, (_, i) => i);
  return { train: order.slice(0, rows - nVal), validation: order.slice(rows - nVal) };
}

/**
 * The order in which an epoch visits the training rows: with `shuffle`, a permutation of `trainRows` drawn from
 * (seed, epoch) alone on the shuffle stream, so an epoch's batches do not depend on how many epochs came before;
 * without, `trainRows` as they are.
 */
export function epochOrder(trainRows: Int32Array, epoch: number, seed: number, shuffle: boolean): Int32Array {
  if (!shuffle) return trainRows.slice();
  // Epoch e draws from a seed of its own; the `+ 1` keeps every epoch's stream apart from the split's (seed itself).
  const epochSeed = (seed ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
  const perm = new Rng(epochSeed, RngStream.shuffle).permutation(trainRows.length);
  return perm.map((i) => trainRows[i]);
}

export interface Standardize {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * Per-feature mean and population standard deviation over the given rows (the training part). A constant column
 * (or no rows) gets std 1, so standardising it gives 0 instead of dividing by zero.
 */
export function standardizeStats(features: Float32Array, featureCount: number, rowIndices: ArrayLike<number>): Standardize {
  const mean = new Float32Array(featureCount);
  const std = new Float32Array(featureCount).fill(1);
  const n = rowIndices.length;
  if (n === 0) return { mean, std };
  // A constant column's float64 sum (n copies of a float32, n < 2^29) is exact, so its spread is exactly 0.
  for (let f = 0; f < featureCount; f++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += features[rowIndices[i] * featureCount + f];
    const m = sum / n;
    let squares = 0;
    for (let i = 0; i < n; i++) squares += (features[rowIndices[i] * featureCount + f] - m) ** 2;
    mean[f] = m;
    std[f] = Math.sqrt(squares / n) || 1;
  }
  return { mean, std };
}

/** (x - mean) / std for every row, in a new array. */
export function applyStandardize(features: Float32Array, featureCount: number, stats: Standardize): Float32Array {
  return features.map((v, i) => (v - stats.mean[i % featureCount]) / stats.std[i % featureCount]);
}
