/**
 * Copies elided, for the WebGPU backend. A reshape only relabels a contiguous tensor and stop_gradient passes its
 * value on unchanged, yet as plan steps both are copies. Where the value one reads is an intermediate that nothing
 * else reads, the step that computes that value can write it straight into the copy's buffer, and the copy is
 * dropped: the plan the backend runs has one step fewer, every other step as planned (a reduction's [1, n] read as
 * [n], the softmax's max held constant).
 *
 * The buffers must allow it: the copy's buffer is written where the value is computed instead of where the
 * copy ran, so no step in between may read or write it (counting the writes moved by earlier elisions), and the
 * producer may not read it. The value may not be a plan output or live outside the pooled intermediates, and only
 * compute steps take part. Like fuse.ts and fold.ts this is pure, from the plan's steps and buffers; the backend runs
 * the elided plan (its inputs, outputs and buffers are the original's).
 */
import type { Plan } from '../../plan/plan';
import { dataflow } from './fuse';

/** The ops whose step only copies its input's elements, in order. */
const COPIES = new Set(['reshape', 'stop_gradient']);

export function elideCopies(plan: Plan): Plan {
  const { steps, updateStart } = plan;
  const { writers, readers, isOutput } = dataflow(plan);
  /** Producers that write a reshape's buffer, and the reshapes dropped. */
  const redirect = new Map<number, number>();
  const dropped = new Set<number>();
  const writes = (j: number) => (dropped.has(j) ? undefined : (redirect.get(j) ?? steps[j].output));
  const untouched = (buffer: number, a: number, b: number) => {
    for (let j = a + 1; j < b; j++) if (writes(j) === buffer || (!dropped.has(j) && steps[j].inputs.includes(buffer))) return false;
    return true;
  };
  for (let r = 0; r < updateStart; r++) {
    if (!COPIES.has(steps[r].call.op)) continue;
    const p = writers[r][0];
    if (p < 0 || dropped.has(p) || redirect.has(p)) continue;
    if (isOutput.has(p) || plan.buffers[steps[p].output].role !== 'pool' || readers[p].size !== 1) continue;
    const x = steps[r].output;
    if (steps[p].inputs.includes(x) || !untouched(x, p, r)) continue;
    redirect.set(p, x);
    dropped.add(r);
  }
  if (dropped.size === 0) return plan;
  return {
    ...plan,
    steps: steps.flatMap((s, i) => (dropped.has(i) ? [] : [redirect.has(i) ? { ...s, output: redirect.get(i)! } : s])),
    updateStart: updateStart - dropped.size,
  };
}
