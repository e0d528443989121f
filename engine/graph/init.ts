import { Rng, RngStream } from '../util/rng';

/** How a tensor starts (project-format.md `init`). */
export interface InitSpec {
  init: 'zeros' | 'ones' | 'constant' | 'normal' | 'uniform' | 'xavier' | 'he';
  value?: number;
  std?: number;
  low?: number;
  high?: number;
}

export const INIT_NAMES = ['zeros', 'ones', 'constant', 'normal', 'uniform', 'xavier', 'he'] as const;

/**
 * Fans as PyTorch computes them: dim 1 is the input, dim 0 the output, further dims the receptive field
 * (dense weight [out, in]; conv2d weight [out, in, kh, kw]); a vector's fans are its length.
 */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  const receptive = shape.slice(2).reduce((a, d) => a * d, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** String hash (FNV-1a) so that each tensor draws from its own stream: adding a layer does not shift the others. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The initial values of tensor `name`. xavier = Glorot uniform, U(-a, a) with a = sqrt(6 / (fanIn + fanOut));
 * he = Kaiming normal, N(0, 2 / fanIn); normal defaults to std 0.01, uniform to [-0.05, 0.05].
 */
export function initTensor(name: string, shape: readonly number[], spec: InitSpec, seed: number): Float32Array {
  const n = shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(n);
  const rng = new Rng(seed ^ hash(name), RngStream.init);
  const { fanIn, fanOut } = fans(shape);
  switch (spec.init) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'constant':
      out.fill(spec.value ?? 0);
      break;
    case 'normal': {
      const std = spec.std ?? 0.01;
      for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
      break;
    }
    case 'uniform': {
      const [lo, hi] = [spec.low ?? -0.05, spec.high ?? 0.05];
      for (let i = 0; i < n; i++) out[i] = rng.range(lo, hi);
      break;
    }
    case 'xavier': {
      const a = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) out[i] = rng.range(-a, a);
      break;
    }
    case 'he': {
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
      break;
    }
  }
  return out;
}
