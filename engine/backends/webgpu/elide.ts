/**
 * Copies elided, for the WebGPU backend. A reshape only relabels a contiguous tensor and stop_gradient passes its
 * value on unchanged, yet as plan steps both are copies. Where the value one reads is an intermediate that nothing
 * else reads, the step that computes that value can write it straight into the copy's buffer; otherwise the copy's
 * readers can read its input's buffer in place of its own, as long as that holds the value while they run: always in
 * the compute phase (no value there is overwritten), but a persistent tensor (a weight read as a matrix) is updated
 * in place, so not for readers in the update phase. Either way the copy is dropped: the plan the backend runs has
 * one step fewer, every other step as planned (a reduction's [1, n] read as [n], the softmax's max held constant, a
 * convolution's weight read as [filters, inputs]). A plan output is written all the same, and only compute steps
 * take part.
 *
 * Like fuse.ts and fold.ts this is pure, from a plan with every value in a buffer of its own (./share-buffers.ts),
 * where the copy's buffer is free until the copy writes it; the backend runs the elided plan (its inputs, outputs
 * and buffers are the original's).
 */
import type { Plan } from '../../plan/plan';
import { dataflow } from './fuse';

/** The ops whose step only copies its input's elements, in order. */
const COPIES = new Set(['reshape', 'stop_gradient']);

export function elideCopies(plan: Plan): Plan {
  const { steps, updateStart } = plan;
  const { writers, readers, isOutput } = dataflow(plan);
  /** Producers that write a copy's buffer, and the copies dropped. */
  const redirect = new Map<number, number>();
  /** A dropped copy's buffer: the buffer its readers read instead. */
  const alias = new Map<number, number>();
  const dropped = new Set<number>();
  for (let r = 0; r < updateStart; r++) {
    if (!COPIES.has(steps[r].call.op)) continue;
    const p = writers[r][0];
    if (p >= 0 && !dropped.has(p) && !isOutput.has(p) && readers[p].size === 1) redirect.set(p, steps[r].output);
    else {
      const source = steps[r].inputs[0];
      if (isOutput.has(r) || (plan.buffers[source].role === 'persistent' && [...readers[r]].some((u) => u >= updateStart))) continue;
      alias.set(steps[r].output, alias.get(source) ?? source);
    }
    dropped.add(r);
  }
  if (dropped.size === 0) return plan;
  return {
    ...plan,
    steps: steps.flatMap((s, i) => {
      if (dropped.has(i)) return [];
      const inputs = s.inputs.map((b) => alias.get(b) ?? b);
      return [{ ...s, inputs, ...(redirect.has(i) ? { output: redirect.get(i)! } : {}) }];
    }),
    updateStart: updateStart - dropped.size,
  };
}
