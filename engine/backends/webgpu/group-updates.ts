/**
 * The update phase of a training plan on the WebGPU backend: consecutive updates of one op with the same attributes
 * (a step's SGD or Adam over each parameter) run as one dispatch of kernels/update.ts's `groupedUpdateKernel`,
 * rather than one dispatch a parameter. Updates are elementwise, so running them side by side is running them in
 * turn, provided that none writes a buffer that another of the group reads or writes (two updates of one tensor, or
 * an `assign` from a tensor that is updated too), and that the group's buffers fit one shader stage's storage
 * buffers.
 */
import type { Plan } from '../../plan/plan';
import { numel } from '../../ir/shape';

/** Groups of consecutive update steps (plan step indices, two or more each) that can run as one dispatch. */
export function planUpdateGroups(plan: Plan, limits: { maxStorageBuffers: number }): number[][] {
  const groups: number[][] = [];
  let group: number[] = [];
  let written = new Set<number>();
  let read = new Set<number>();
  let bindings = 0;
  const close = () => {
    if (group.length > 1) groups.push(group);
    [group, written, read, bindings] = [[], new Set(), new Set(), 0];
  };
  for (let i = plan.updateStart; i < plan.steps.length; i++) {
    const step = plan.steps[i];
    if (numel(step.call.outShape) === 0) {
      close();
      continue;
    }
    const [target, source, ...state] = step.inputs;
    const writes = [target, ...state];
    const first = group.length > 0 ? plan.steps[group[0]].call : undefined;
    const fits =
      first !== undefined &&
      first.op === step.call.op &&
      JSON.stringify(first.attrs) === JSON.stringify(step.call.attrs) &&
      bindings + step.inputs.length <= limits.maxStorageBuffers &&
      !writes.some((b) => written.has(b) || read.has(b)) &&
      !written.has(source);
    if (!fits) close();
    group.push(i);
    bindings += step.inputs.length;
    for (const b of writes) written.add(b);
    read.add(source);
  }
  close();
  return groups;
}
