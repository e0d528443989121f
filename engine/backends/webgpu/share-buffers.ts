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
 * Shared buffers are chosen as compilePlan chooses them (`bestFit`), in two orders, the plan buffers' and the largest
 * first, and the packing that takes less memory is kept: neither greedy order is best for every plan (the largest
 * first took 40% less for the deep examples' training steps, the plan's order 5% less for the conv net's).
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

  const pooled = plan.buffers.flatMap((buffer, b) => (buffer.role === 'pool' && span.has(b) ? [b] : []));
  const bySize = [...pooled].sort((x, y) => plan.buffers[y].size - plan.buffers[x].size || x - y);
  const [first, second] = [pooled, bySize].map((order) => packed(order, plan.buffers.map((b) => b.size), overlap));
  const total = (p: SharedBuffers) => p.sizes.reduce((a, b) => a + b, 0);
  return total(second) < total(first) ? second : first;
}

/**
 * Buffers (their indices, sizes by index) packed into shared ones in the order given: each into the best fitting
 * shared buffer (`bestFit`) that holds no buffer it overlaps with, or a new one.
 */
function packed(order: readonly number[], size: readonly number[], overlap: (u: number, v: number) => boolean): SharedBuffers {
  const of = size.map(() => -1);
  const sizes: number[] = [];
  const members: number[][] = [];
  for (const b of order) {
    const free = sizes.map((_, i) => i).filter((i) => !members[i].some((u) => overlap(u, b)));
    const pick = bestFit(free.map((i) => sizes[i]), size[b]);
    const shared = pick >= 0 ? free[pick] : sizes.push(0) - 1;
    if (pick < 0) members.push([]);
    sizes[shared] = Math.max(sizes[shared], size[b]);
    members[shared].push(b);
    of[b] = shared;
  }
  return { of, sizes };
}
