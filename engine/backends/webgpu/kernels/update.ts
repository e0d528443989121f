/**
 * In-place updates, as engine/backends/cpu/update-kernels.ts: inputs [target, source, ...state], all of the
 * target's size; the target and the state are read and written, nothing else is bound as the output. The same
 * update over several tensors (a training step's parameters) can run as one dispatch: `groupedUpdateKernel`.
 */
import type { AdamAttrs, KernelCall, SgdAttrs } from '../../kernel';
import { CTX_STRUCT, f32Bits, grid1d, packWords, perElementShader, type GpuKernel, type GpuKernelFor } from '../kernel';
import { numel } from '../../../ir/shape';

/**
 * An update's WGSL, apart from how its elements are indexed: `names` are its buffers (the target, then the source,
 * read, then the state; the target and state read_write), `fields` the Params after the sizes, `words` their values;
 * `body` updates one element, `at(name)` being that element of buffer `name`, calling `fns`, reading `ctx` (the
 * step and the schedule's factor on lr) where `usesContext`.
 */
interface UpdateSpec {
  names: string[];
  fields: string;
  words: number[];
  body: (at: (name: string) => string) => string;
  fns?: string;
  usesContext?: boolean;
}

const accessOf = (k: number): 'read' | 'read_write' => (k === 1 ? 'read' : 'read_write');

/**
 * The kernel that runs updates of one spec over several tensors (sizes `sizes`) in one dispatch: one thread per
 * element of them all (a single update is the case of one tensor), tensor k's buffers bound as `<name>k`, its
 * elements from `p.e<k-1>` (0 for the first) to `p.e<k>` (the last one's end is `p.n`).
 */
function updateOver(spec: UpdateSpec, sizes: readonly number[]): GpuKernel {
  const { names, fields, words, body, fns = '', usesContext = false } = spec;
  const ends = sizes.map((_, k) => sizes.slice(0, k + 1).reduce((a, b) => a + b, 0));
  const bindings = sizes.flatMap((_, k) => names.map((name, j) => `@group(0) @binding(${k * names.length + j}) var<storage, ${accessOf(j)}> ${name}${k}: array<f32>;`));
  const slots = names.length * sizes.length;
  bindings.push(`@group(0) @binding(${slots}) var<uniform> p: Params;`);
  if (usesContext) bindings.push(`@group(0) @binding(${slots + 1}) var<uniform> ctx: Ctx;\n${CTX_STRUCT}`);
  const branch = (k: number) => {
    const j = k === 0 ? 'i' : `i - p.e${k - 1}`;
    return `let j = ${j};\n  ${body((name) => `${name}${k}[j]`)}`;
  };
  // Tensor k's elements end at p.e<k>, but the last's: it ends at p.n.
  const inner = ends.slice(0, -1);
  const main = sizes.map((_, k) => (k < inner.length ? `if (i < p.e${k}) {\n  ${branch(k)}\n  }` : `{\n  ${branch(k)}\n  }`)).join(' else ');
  return {
    code: perElementShader(
      /* wgsl */ `
struct Params { n: u32, ${inner.map((_, k) => `e${k}: u32, `).join('')}${fields} }
${bindings.join('\n')}
${fns}`,
      `  ${main}`,
    ),
    workgroups: grid1d(ends[ends.length - 1]),
    params: packWords([ends[ends.length - 1], ...inner, ...words]),
    access: sizes.flatMap(() => names.map((_, j) => accessOf(j))),
    bindOutput: false,
    usesContext,
  };
}

/**
 * 1 - beta^t = -expm1(t ln beta), from ln beta computed in float64 on the host: beta itself in float32 (0.999 off by
 * 1.3e-8) would put 1.3e-5 of error into 1 - beta2 at t = 1, and 1 - pow(beta, t) in float32 puts 5e-5 into Adam's
 * first step on llvmpipe. Below 0.35 in magnitude, expm1 by its series.
 */
const ONE_MINUS_POW = /* wgsl */ `
fn one_minus_pow(ln_beta: f32, t: f32) -> f32 {
  let x = t * ln_beta;
  if (x < -0.35) { return 1.0 - exp(x); }
  return -x * (1.0 + x * (0.5 + x * (0.16666666667 + x * (0.041666666667 + x * (0.0083333333333 + x * (1.3888888889e-3
    + x * (1.9841269841e-4 + x * 2.4801587302e-5)))))));
}`;

const updateSpecs: Record<string, (call: KernelCall) => UpdateSpec> = {
  assign: () => ({ names: ['dst', 'src'], fields: '', words: [], body: (at) => `${at('dst')} = ${at('src')};` }),
  sgd_update: (call) => {
    const { lr, momentum = 0, nesterov = false, weightDecay = 0 } = call.attrs as unknown as SgdAttrs;
    const words = [f32Bits(lr), f32Bits(weightDecay)];
    if (momentum === 0) {
      return {
        names: ['param', 'grad'],
        fields: 'lr: f32, wd: f32',
        words,
        body: (at) => `${at('param')} = ${at('param')} - p.lr * ctx.lr_scale * (${at('grad')} + p.wd * ${at('param')});`,
        usesContext: true,
      };
    }
    // The first step's velocity is the gradient itself (the velocity starts at zero), as in torch.
    return {
      names: ['param', 'grad', 'velocity'],
      fields: 'lr: f32, wd: f32, momentum: f32, nesterov: u32',
      words: [...words, f32Bits(momentum), nesterov ? 1 : 0],
      body: (at) => `let w = ${at('param')};
  let d = ${at('grad')} + p.wd * w;
  let v = p.momentum * ${at('velocity')} + d;
  ${at('velocity')} = v;
  ${at('param')} = w - p.lr * ctx.lr_scale * select(v, d + p.momentum * v, p.nesterov != 0u);`,
      usesContext: true,
    };
  },
  adam_update: (call) => {
    const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false } = call.attrs as unknown as AdamAttrs;
    const floats = [lr, beta1, 1 - beta1, Math.log(beta1), beta2, 1 - beta2, Math.log(beta2), eps, weightDecay];
    return {
      names: ['param', 'grad', 'm', 'v'],
      fields: `decoupled: u32, lr: f32, beta1: f32, one_minus_beta1: f32, ln_beta1: f32, beta2: f32, one_minus_beta2: f32, ln_beta2: f32,
  eps: f32, wd: f32`,
      words: [decoupled ? 1 : 0, ...floats.map(f32Bits)],
      body: (at) => `let t = f32(ctx.step);
  let lr = p.lr * ctx.lr_scale;
  let bc1 = one_minus_pow(p.ln_beta1, t);
  let bc2 = sqrt(one_minus_pow(p.ln_beta2, t));
  var w = ${at('param')};
  var g = ${at('grad')};
  if (p.decoupled != 0u) { w = w * (1.0 - lr * p.wd); } else { g = g + p.wd * w; }
  let mi = p.beta1 * ${at('m')} + p.one_minus_beta1 * g;
  let vi = p.beta2 * ${at('v')} + p.one_minus_beta2 * g * g;
  ${at('m')} = mi;
  ${at('v')} = vi;
  ${at('param')} = w - (lr / bc1) * mi / (sqrt(vi) / bc2 + p.eps);`,
      fns: ONE_MINUS_POW,
      usesContext: true,
    };
  },
};

export const updateKernels: Record<string, GpuKernelFor> = Object.fromEntries(
  Object.entries(updateSpecs).map(([op, spec]) => [op, (call: KernelCall) => updateOver(spec(call), [numel(call.outShape)])]),
);

/** Updates of one op and the same attributes over several tensors, in one dispatch (see ../group-updates.ts). */
export function groupedUpdateKernel(calls: readonly KernelCall[]): GpuKernel {
  return updateOver(updateSpecs[calls[0].op](calls[0]), calls.map((c) => numel(c.outShape)));
}
