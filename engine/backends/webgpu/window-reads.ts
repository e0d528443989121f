/**
 * Image columns read in place, for the WebGPU backend. An im2col step whose value only reductions read (a max pool's
 * windows: its forward max and its backward's max_mask) is not dispatched: each of those reductions computes the
 * column entries it would load from the image instead (kernels/layout.ts's `im2colExpression`, as its prologue). That
 * is a dispatch fewer, and the columns, as big as the image (kh x kw times as big where windows overlap), take no
 * memory; the image itself stays live, as the activation's derivative reads it in the backward pass anyway.
 */
import type { Plan } from '../../plan/plan';
import { numel } from '../../ir/shape';
import { dataflow } from './fuse';
import { REDUCTION_OPS } from './kernels/reduce';

/**
 * The reductions that read an im2col's value in place, each with that im2col step: those of im2col steps of the
 * compute phase, not plan outputs, whose readers are all reductions not `taken` (by a row group, or with a prologue
 * of their own).
 */
export function planWindowReads(plan: Pick<Plan, 'buffers' | 'steps' | 'updateStart' | 'outputs'>, taken: ReadonlySet<number>): Map<number, number> {
  const { readers, isOutput } = dataflow(plan);
  const reads = new Map<number, number>();
  for (let i = 0; i < plan.updateStart; i++) {
    const { call } = plan.steps[i];
    if (call.op !== 'im2col' || isOutput.has(i) || numel(call.outShape) === 0 || readers[i].size === 0) continue;
    const by = [...readers[i]];
    if (by.every((r) => r < plan.updateStart && REDUCTION_OPS.includes(plan.steps[r].call.op) && !taken.has(r))) for (const r of by) reads.set(r, i);
  }
  return reads;
}
