/**
 * The WebGPU backend's own sharing of a plan's pooled buffers.
 *
 * compilePlan shares pooled buffers by liveness in step order, which is how the CPU runs a plan. The GPU runs it
 * otherwise (fused groups, transposes folded into matmuls, elided copies), and which of those the buffers allow
 * depends on which values the plan happened to put in one buffer: a group may not overwrite a value that is read
 * after it, a copy's producer may not write a buffer still in use, and so on. So the backend gives every pooled value
 * a buffer of its own first (`ownBuffers`), decides what to fuse, fold and elide on that plan, where no such conflict
 * arises, and then shares buffers again (`shareBuffers`), by liveness in the order of its dispatches. A value that
 * a fused kernel computes and never writes then takes no memory at all. (NaN hunting, which reads every value, runs
 * the plan as given on buffers of its own: WebGpuExecutable.findNonFinite.)
 */
import { bestFit, type Plan } from '../../plan/plan';
import { numel } from '../../ir/shape';

/** The plan with every value that it writes to a pooled buffer in a pooled buffer of its own, sized to it. */
export function ownBuffers(plan: Plan): Plan {
  const buffers = [...plan.buffers];
  /** Where each pooled buffer's current value now lives. */
  const current = new Map<number, number>();
  const steps = plan.steps.map((step) => {
    const inputs = step.inputs.map((b) => current.get(b) ?? b);
    if (plan.buffers[step.output].role !== 'pool') return { ...step, inputs };
    const output = buffers.push({ size: numel(step.call.outShape), role: 'pool' }) - 1;
    current.set(step.output, output);
    return { ...step, inputs, output };
  });
  const outputs = new Map([...plan.outputs].map(([k, o]) => [k, { ...o, buffer: current.get(o.buffer) ?? o.buffer }]));
  return { ...plan, buffers, steps, outputs };
}

/** A dispatch as the sharing sees it: the buffers it reads, and the one it writes. */
export interface Access {
  readonly inputs: readonly number[];
  readonly output: number;
}

export interface SharedBuffers {
  /** Per plan buffer, the shared buffer that it lives in; -1 where it is not pooled, or not in the order. */
  readonly of: readonly number[];
  /** Each shared buffer's size in elements. */
  readonly sizes: readonly number[];
}

/**
 * Pooled buffers shared by liveness in one order of accesses (the dispatches): a buffer is live from the first access
 * to it to the last one (to the end, for a plan output), and two share a GPU buffer only where they are never live
 * at the same point. A dispatch's inputs and output are live at the same point, so none writes a buffer it reads.
 * Shared buffers are chosen as compilePlan chooses them (`bestFit`), in the order of the plan buffers.
 */
export function shareBuffers(plan: Pick<Plan, 'buffers' | 'outputs'>, order: readonly Access[]): SharedBuffers {
  const span = new Map<number, [number, number]>();
  order.forEach((a, at) => {
    for (const b of [...a.inputs, a.output]) {
      const s = span.get(b);
      if (s) s[1] = at;
      else span.set(b, [at, at]);
    }
  });
  for (const o of plan.outputs.values()) if (span.has(o.buffer)) span.get(o.buffer)![1] = order.length;
  const overlap = (u: number, v: number) => {
    const [su, sv] = [span.get(u)!, span.get(v)!];
    return su[0] <= sv[1] && sv[0] <= su[1];
  };

  const of = plan.buffers.map(() => -1);
  const sizes: number[] = [];
  const members: number[][] = [];
  plan.buffers.forEach((buffer, b) => {
    if (buffer.role !== 'pool' || !span.has(b)) return;
    const free = sizes.map((_, i) => i).filter((i) => !members[i].some((u) => overlap(u, b)));
    const pick = bestFit(free.map((i) => sizes[i]), buffer.size);
    const shared = pick >= 0 ? free[pick] : sizes.push(0) - 1;
    if (pick < 0) members.push([]);
    sizes[shared] = Math.max(sizes[shared], buffer.size);
    members[shared].push(b);
    of[b] = shared;
  });
  return { of, sizes };
}
