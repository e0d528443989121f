import type { AdamAttrs, KernelCall, RunContext, SgdAttrs } from '../kernel';
import type { CpuKernel } from './kernels';

/**
 * In-place updates run after a step's compute part. Inputs: [target, source, ...state]; each follows the
 * torch.optim class of the same name with default dampening.
 */
export const updateKernels: Record<string, CpuKernel> = {
  assign: ([target, value]) => target.set(value),
  sgd_update: ([p, g, velocity], _out, call, ctx) => {
    const { momentum = 0, nesterov = false, weightDecay = 0 } = call.attrs as unknown as SgdAttrs;
    const lr = scheduledLr(call, ctx);
    const n = p.length;
    if (momentum === 0) {
      // The loop below without its momentum branch, the same arithmetic.
      for (let i = 0; i < n; i++) p[i] -= lr * (g[i] + weightDecay * p[i]);
      return;
    }
    for (let i = 0; i < n; i++) {
      let d = g[i] + weightDecay * p[i];
      if (momentum !== 0) {
        // With the velocity starting at zero, the first step's velocity is the gradient itself, as in torch.
        velocity[i] = momentum * velocity[i] + d;
        d = nesterov ? d + momentum * velocity[i] : velocity[i];
      }
      p[i] -= lr * d;
    }
  },
  adam_update: ([p, g, m, v], _out, call, ctx) => {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false } = call.attrs as unknown as AdamAttrs;
    const lr = scheduledLr(call, ctx);
    const t = ctx.step;
    const bc1 = 1 - Math.pow(beta1, t);
    const bc2 = Math.sqrt(1 - Math.pow(beta2, t));
    const stepSize = lr / bc1;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i];
      if (decoupled) p[i] *= 1 - lr * weightDecay;
      else gi += weightDecay * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2 + eps);
    }
  },
};

/** The update's lr this step: its attribute times the schedule's factor (RunContext.lrScale). */
function scheduledLr(call: KernelCall, ctx: RunContext): number {
  return (call.attrs.lr as number) * (ctx.lrScale ?? 1);
}
