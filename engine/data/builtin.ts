/**
 * Generated toy datasets (project-format.md, "Data", kind `builtin`). Features `x1`, `x2` (sine: `x`), label `y`:
 * a `class` label with classes "0".."K-1", or for `sine` a `real` one. Rows come class by class (class 0's points,
 * then class 1's, ...); the split shuffles them later. Class k gets floor(samples / K) points, plus one more when
 * k < samples % K. Every draw comes from `new Rng(seed, RngStream.data)`, so (spec, seed) fixes the data.
 */
import { Rng, RngStream } from '../util/rng';
import { StudioError } from '../util/errors';
import type { DataSpec, Dataset } from './types';

export type BuiltinSpec = Extract<DataSpec, { kind: 'builtin' }>;

interface Generator {
  /** Fixed class count, or null when `classes` is a parameter; 0 for a regression dataset. */
  classes: number | null;
  defaultNoise: number;
  point(p: PointArgs): { x: number[]; y: number };
}

interface PointArgs {
  rng: Rng;
  /** The point's class and the class count (for sine, 0 and 1). */
  k: number;
  K: number;
  /** Where the point sits in its class, 0 (first) to 1 (last). */
  s: number;
  noise: number;
}

const GENERATORS: Record<string, Generator> = {
  /**
   * CS231n's spiral: K arms, evenly spaced in angle, each turning 4 radians while the radius grows from 0 to 1.
   * `noise` is a Gaussian on the angle, in units of 2 radians (noise 0.1 is CS231n's 0.2 rad).
   */
  spiral: {
    classes: null,
    defaultNoise: 0.1,
    point: ({ rng, k, K, s, noise }) => {
      const t = (2 * Math.PI * k) / K + 4 * s + 2 * noise * rng.normal();
      return { x: [s * Math.sin(t), s * Math.cos(t)], y: k };
    },
  },
  /** Class 0 on a circle of radius 1, class 1 on one of radius 0.5, plus Gaussian noise (std `noise`) on x1, x2. */
  circles: {
    classes: 2,
    defaultNoise: 0.1,
    point: ({ rng, k, noise }) => {
      const r = k === 0 ? 1 : 0.5;
      const t = 2 * Math.PI * rng.uniform();
      return { x: [r * Math.cos(t) + noise * rng.normal(), r * Math.sin(t) + noise * rng.normal()], y: k };
    },
  },
  /** Uniform in [-1, 1]^2: class 1 where x1 and x2 differ in sign (x1 > 0 XOR x2 > 0), then Gaussian noise. */
  xor: {
    classes: 2,
    defaultNoise: 0.1,
    point: ({ rng, k, noise }) => {
      const sign = rng.uniform() < 0.5 ? -1 : 1;
      const x1 = sign * rng.uniform();
      const x2 = (k === 0 ? sign : -sign) * rng.uniform();
      return { x: [x1 + noise * rng.normal(), x2 + noise * rng.normal()], y: k };
    },
  },
  /** scikit-learn's make_moons (angles drawn uniformly rather than evenly spaced), Gaussian noise std `noise`. */
  moons: {
    classes: 2,
    defaultNoise: 0.1,
    point: ({ rng, k, noise }) => {
      const t = Math.PI * rng.uniform();
      const [a, b] = k === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
      return { x: [a + noise * rng.normal(), b + noise * rng.normal()], y: k };
    },
  },
  /** K round Gaussian blobs (std `noise`) centred on the unit circle at angles 2πk/K. */
  gaussians: {
    classes: null,
    defaultNoise: 0.3,
    point: ({ rng, k, K, noise }) => {
      const t = (2 * Math.PI * k) / K;
      return { x: [Math.cos(t) + noise * rng.normal(), Math.sin(t) + noise * rng.normal()], y: k };
    },
  },
  /** Regression: x uniform in [-π, π), y = sin(x) + Gaussian noise (std `noise`). */
  sine: {
    classes: 0,
    defaultNoise: 0.1,
    point: ({ rng, noise }) => {
      const x = Math.PI * (2 * rng.uniform() - 1);
      return { x: [x], y: Math.sin(x) + noise * rng.normal() };
    },
  },
};

export const BUILTIN_NAMES: readonly string[] = Object.keys(GENERATORS);

const DEFAULT_SAMPLES = 600;
const DEFAULT_CLASSES = 3;
const MAX_SAMPLES = 1_000_000;

export function generateBuiltin(spec: BuiltinSpec, seed: number): Dataset {
  const gen = Object.hasOwn(GENERATORS, spec.name) ? GENERATORS[spec.name] : undefined;
  if (!gen) {
    throw new StudioError(`unknown builtin dataset ${JSON.stringify(spec.name)}; the builtins are ${BUILTIN_NAMES.join(', ')}`, {
      path: 'data.name',
    });
  }
  const samples = spec.samples ?? DEFAULT_SAMPLES;
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
    throw new StudioError(`samples must be a whole number from 1 to ${MAX_SAMPLES}, got ${samples}`, { path: 'data.samples' });
  }
  const noise = spec.noise ?? gen.defaultNoise;
  if (!Number.isFinite(noise) || noise < 0) {
    throw new StudioError(`noise must be a number >= 0, got ${noise}`, { path: 'data.noise' });
  }
  const K = gen.classes ?? spec.classes ?? DEFAULT_CLASSES;
  if (gen.classes === null && (!Number.isInteger(K) || K < 2)) {
    throw new StudioError(`classes must be a whole number >= 2, got ${K}`, { path: 'data.classes' });
  }
  if (gen.classes !== null && spec.classes !== undefined && spec.classes !== gen.classes) {
    const what = gen.classes === 0 ? 'is a regression dataset and takes no classes' : `always has ${gen.classes} classes`;
    throw new StudioError(`${spec.name} ${what}, got classes ${spec.classes}`, { path: 'data.classes' });
  }
  if (K > samples) {
    throw new StudioError(`${samples} samples cannot cover ${K} classes`, { path: 'data.samples' });
  }

  const rng = new Rng(seed, RngStream.data);
  const features: number[] = [];
  const y = new Float32Array(samples);
  const groups = Math.max(K, 1); // sine: one group, labelled by its own values
  let row = 0;
  for (let k = 0; k < groups; k++) {
    const n = Math.floor(samples / groups) + (k < samples % groups ? 1 : 0);
    for (let i = 0; i < n; i++) {
      const p = gen.point({ rng, k, K: groups, s: n > 1 ? i / (n - 1) : 0, noise });
      features.push(...p.x);
      y[row++] = p.y;
    }
  }
  const regression = K === 0;
  return {
    name: spec.name,
    rows: samples,
    featureNames: regression ? ['x'] : ['x1', 'x2'],
    features: Float32Array.from(features),
    label: regression
      ? { name: 'y', kind: 'real', values: y }
      : { name: 'y', kind: 'class', values: y, classes: Array.from({ length: K }, (_, k) => String(k)) },
  };
}
