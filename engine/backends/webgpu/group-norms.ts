/**
 * A training step's gradient norms on the WebGPU backend. Each is the sum of the squares of one parameter's gradient:
 * a `sum` over all axes with `g * g` as its prologue (./fuse.ts), a dispatch or two (a split reduction) of its own.
 * Consecutive ones run together instead, in the two dispatches of kernels/reduce.ts's `sumSquaresKernels`, as many
 * as a stage's storage buffers allow (the tensors and a scratch buffer; the scratch buffer and the results).
 */
import type { Plan } from '../../plan/plan';
import type { Prologue } from './fuse';
import { numel } from '../../ir/shape';

/** Whether a prologue reduction sums the squares of one tensor, read whole, into one value. */
function isSumOfSquares(plan: Pick<Plan, 'steps'>, { group, reduce }: Prologue): boolean {
  const r = plan.steps[reduce].call;
  // A group of one mul with one external is x * x, of x's shape: x is read whole.
  return r.op === 'sum' && numel(r.outShape) === 1 && group.steps.length === 1 && plan.steps[group.steps[0]].call.op === 'mul' && group.inputs.length === 1;
}

/**
 * Runs of consecutive sums of squares among the prologues (in plan order, as planFusion gives them), two or more
 * each, that can run as one.
 */
export function planNormGroups(plan: Pick<Plan, 'steps'>, prologues: readonly Prologue[], limits: { maxStorageBuffers: number }): Prologue[][] {
  const groups: Prologue[][] = [];
  let run: Prologue[] = [];
  const close = () => {
    if (run.length > 1) groups.push(run);
    run = [];
  };
  for (const p of prologues) {
    if (!isSumOfSquares(plan, p)) {
      close();
      continue;
    }
    const last = run[run.length - 1];
    if (last && (p.group.steps[0] !== last.reduce + 1 || run.length + 1 >= limits.maxStorageBuffers)) close();
    run.push(p);
  }
  close();
  return groups;
}
