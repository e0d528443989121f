/**
 * In-place updates, as engine/backends/cpu/update-kernels.ts: inputs [target, source, ...state], all of the
 * target's size; the target and the state are read and written, nothing else is bound as the output.
 */
import type { AdamAttrs, KernelCall, SgdAttrs } from '../../kernel';
import { CTX_STRUCT, f32Bits, grid1d, packWords, perElementShader, type GpuKernel, type GpuKernelFor } from '../kernel';

const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

/**
 * One thread per element: `names` are the inputs (the source, second, read; the target and state read_write),
 * `fields` the Params after n, `words` their values; `body` updates element i, calling `fns`, reading `ctx` (the
 * step) where `usesContext`.
 */
function inPlace(call: KernelCall, names: string[], fields: string, words: number[], body: string, fns = '', usesContext = false): GpuKernel {
  const n = numel(call.outShape);
  const access = names.map((_, k): 'read' | 'read_write' => (k === 1 ? 'read' : 'read_write'));
  const bindings = names.map((name, k) => `@group(0) @binding(${k}) var<storage, ${access[k]}> ${name}: array<f32>;`);
  bindings.push(`@group(0) @binding(${names.length}) var<uniform> p: Params;`);
  if (usesContext) bindings.push(`@group(0) @binding(${names.length + 1}) var<uniform> ctx: Ctx;\n${CTX_STRUCT}`);
  return {
    code: perElementShader(
      /* wgsl */ `
struct Params { n: u32, ${fields} }
${bindings.join('\n')}
${fns}`,
      `  ${body}`,
    ),
    workgroups: grid1d(n),
    params: packWords([n, ...words]),
    access,
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

export const updateKernels: Record<string, GpuKernelFor> = {
  assign: (call) => inPlace(call, ['dst', 'src'], '', [], 'dst[i] = src[i];'),
  sgd_update: (call) => {
    const { lr, momentum = 0, nesterov = false, weightDecay = 0 } = call.attrs as unknown as SgdAttrs;
    const words = [f32Bits(lr), f32Bits(weightDecay)];
    if (momentum === 0) {
      return inPlace(call, ['param', 'grad'], 'lr: f32, wd: f32', words, 'param[i] = param[i] - p.lr * (grad[i] + p.wd * param[i]);');
    }
    // The first step's velocity is the gradient itself (the velocity starts at zero), as in torch.
    return inPlace(
      call,
      ['param', 'grad', 'velocity'],
      'lr: f32, wd: f32, momentum: f32, nesterov: u32',
      [...words, f32Bits(momentum), nesterov ? 1 : 0],
      `let w = param[i];
  let d = grad[i] + p.wd * w;
  let v = p.momentum * velocity[i] + d;
  velocity[i] = v;
  param[i] = w - p.lr * select(v, d + p.momentum * v, p.nesterov != 0u);`,
    );
  },
  adam_update: (call) => {
    const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false } = call.attrs as unknown as AdamAttrs;
    const floats = [lr, beta1, 1 - beta1, Math.log(beta1), beta2, 1 - beta2, Math.log(beta2), eps, weightDecay, 1 - lr * weightDecay];
    return inPlace(
      call,
      ['param', 'grad', 'm', 'v'],
      `decoupled: u32, lr: f32, beta1: f32, one_minus_beta1: f32, ln_beta1: f32, beta2: f32, one_minus_beta2: f32, ln_beta2: f32,
  eps: f32, wd: f32, decay: f32`,
      [decoupled ? 1 : 0, ...floats.map(f32Bits)],
      `let t = f32(ctx.step);
  let bc1 = one_minus_pow(p.ln_beta1, t);
  let bc2 = sqrt(one_minus_pow(p.ln_beta2, t));
  var w = param[i];
  var g = grad[i];
  if (p.decoupled != 0u) { w = w * p.decay; } else { g = g + p.wd * w; }
  let mi = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let vi = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = w - (p.lr / bc1) * mi / (sqrt(vi) / bc2 + p.eps);`,
      ONE_MINUS_POW,
      true,
    );
  },
};
