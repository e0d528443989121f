/** Sources computed on the device: constants shaped like a tensor, one-hot labels, dropout masks. */
import { COUNTER_HASH_WGSL, dropThreshold } from '../../counter-rng';
import type { KernelCall } from '../../kernel';
import { CTX_STRUCT, f32Bits, grid1d, packWords, perElementShader, type GpuKernel, type GpuKernelFor } from '../kernel';

interface PerElement {
  /** WGSL fields of the params struct after `n`, and their words. */
  fields: string;
  words: number[];
  /** Sets `out[i]` from the input `x` and `p` (and, when `random`, `ctx` and `counter_hash`). */
  body: string;
  random?: boolean;
}

/** One thread per output element of a source op with one input. */
function perElement(call: KernelCall, k: PerElement): GpuKernel {
  const n = call.outShape.reduce((a, d) => a * d, 1);
  return {
    code: perElementShader(
      /* wgsl */ `
${k.random ? `${CTX_STRUCT}\n${COUNTER_HASH_WGSL}` : ''}
struct Params { n: u32, ${k.fields} }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
${k.random ? '@group(0) @binding(3) var<uniform> ctx: Ctx;' : ''}`,
      `  ${k.body}`,
    ),
    workgroups: grid1d(n),
    params: packWords([n, ...k.words]),
    usesContext: k.random,
  };
}

// `_ = &x` keeps an input that is only a shape bound (the binding convention wants every binding used).
export const sourceKernels: Record<string, GpuKernelFor> = {
  full_like: (call) => perElement(call, { fields: 'value: f32', words: [f32Bits(call.attrs.value as number)], body: '_ = &x;\n  out[i] = p.value;' }),
  // The CPU's rule: the class index when the label is an integer in range, else a row of zeros.
  one_hot: (call) =>
    perElement(call, {
      fields: 'classes: u32',
      words: [call.attrs.classes as number],
      body: 'out[i] = select(0.0, 1.0, x[i / p.classes] == f32(i % p.classes));',
    }),
  // The counter-based draw the CPU kernel makes too (engine/backends/counter-rng.ts): the same mask bit for bit.
  dropout_mask: (call) => {
    const rate = call.attrs.rate as number;
    return perElement(call, {
      fields: 'stream: u32, drop: u32, keep: f32',
      words: [call.attrs.stream as number, dropThreshold(rate), f32Bits(1 / (1 - rate))],
      body: '_ = &x;\n  out[i] = select(p.keep, 0.0, (counter_hash(ctx.seed, ctx.step, p.stream, i) >> 8u) < p.drop);',
      random: true,
    });
  },
};
