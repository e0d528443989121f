/**
 * Transposes folded into matmuls, for the WebGPU backend. The matmul kernel reads either operand as stored
 * transposed, so no transpose of the last two axes needs a dispatch of its own where matmuls are all that read it:
 *   - an operand that a transpose made is read from the transpose's input instead, flag flipped, and through any
 *     chain of such transposes (the backward pass of y = x W^T reads W as the transpose of W^T);
 *   - a transpose whose input is a matmul's value that nothing else reads is written by the matmul itself, since
 *     (A B)^T = B^T A^T: the operands swapped, each flag flipped (the weight gradient (x^T g)^T = g^T x);
 *   - so is the add of a bias row right after a matmul whose value only it reads (a dense layer's x W^T + b): the
 *     kernel adds the bias as it stores, unless that add is part of a fused kernel (`taken`, from fuse.ts).
 * A transpose is then skipped when every step that read it reads through it, or the matmul writes its value; such
 * an add is skipped too.
 *
 * Like fuse.ts the decision is pure, from the plan's steps and buffers, and the buffers must allow it: a transpose's
 * input is read in place only if no step between the transpose and the matmul writes its buffer; a matmul writes a
 * transpose's buffer early only if no step between them touches that buffer; and a matmul never writes a buffer it
 * reads. The backend applies the rewrites only to runs that hold every compute step (a training step, a forward
 * pass); a single step (findNonFinite) runs as planned, so NaN hunting still sees every intermediate value.
 */
import { lastTwoSwapped } from '../../ir/shape';
import type { Plan } from '../../plan/plan';
import { dataflow } from './fuse';
import type { MatmulOperands } from './kernels/matmul';

/** A matmul step as the folds run it. */
export interface MatmulRewrite extends MatmulOperands {
  readonly step: number;
  /** The buffers it reads, A's then B's (then the bias's), and the one it writes. */
  readonly inputs: readonly [number, number] | readonly [number, number, number];
  readonly output: number;
}

export interface Folds {
  readonly rewrites: readonly MatmulRewrite[];
  /** The transposes not dispatched. */
  readonly skipped: readonly number[];
}

type PlanLike = Pick<Plan, 'buffers' | 'steps' | 'updateStart' | 'outputs'>;

/** Whether a step is a transpose of the last two axes alone. */
function swapsLastTwo(plan: PlanLike, i: number): boolean {
  const call = plan.steps[i].call;
  if (call.op !== 'transpose') return false;
  const perm = call.attrs.perm as number[];
  return perm.length >= 2 && perm.join() === lastTwoSwapped(perm.length).join();
}

export function planFolds(plan: PlanLike, taken: ReadonlySet<number> = new Set()): Folds {
  const { steps, updateStart } = plan;
  const { writers, readers, isOutput } = dataflow(plan);
  const transpose = (i: number) => i >= 0 && i < updateStart && swapsLastTwo(plan, i);
  /** Whether no step strictly between a and b writes (or, with `reads`, reads) the buffer. */
  const untouched = (buffer: number, a: number, b: number, reads = false) => {
    for (let j = a + 1; j < b; j++) if (steps[j].output === buffer || (reads && steps[j].inputs.includes(buffer))) return false;
    return true;
  };
  const matmuls = steps.map((_, i) => i).filter((i) => i < updateStart && steps[i].call.op === 'matmul' && !steps[i].call.outShape.includes(0));

  // The matmuls that may write the transpose of their value: where that transpose alone reads it.
  const writesFor = new Map<number, number>();
  for (const m of matmuls) {
    const u = [...readers[m]][0];
    if (readers[m].size !== 1 || !transpose(u) || isOutput.has(m) || plan.buffers[steps[m].output].role !== 'pool') continue;
    if (untouched(steps[u].output, m, u, true)) writesFor.set(m, u);
  }
  // The matmuls whose value only the add of a bias row right after reads (a dense layer's x W^T + b): they write the
  // sum, adding the bias as they store. Not an add that a fused kernel computes (`taken`).
  const biasFor = new Map<number, { add: number; bias: number; shape: readonly number[] }>();
  for (const m of matmuls) {
    const u = m + 1;
    if (writesFor.has(m) || u >= updateStart || steps[u].call.op !== 'add' || taken.has(u)) continue;
    if (readers[m].size !== 1 || !readers[m].has(u) || isOutput.has(m) || plan.buffers[steps[m].output].role !== 'pool') continue;
    const k = writers[u].indexOf(m);
    if (writers[u].lastIndexOf(m) !== k) continue;
    const out = steps[m].call.outShape;
    const shape = steps[u].call.inShapes[1 - k];
    const n = out[out.length - 1];
    if (shape[shape.length - 1] !== n || shape.reduce((p, d) => p * d, 1) !== n || steps[u].call.outShape.join() !== out.join()) continue;
    const bias = steps[u].inputs[1 - k];
    if (bias !== steps[u].output) biasFor.set(m, { add: u, bias, shape });
  }
  /** Not read through: their input (a matmul's value) may never be written. */
  const absorbed = new Set(writesFor.values());
  /** Whether a matmul strictly between a and b may write the buffer early, for a transpose after b. */
  const writtenEarly = (buffer: number, a: number, b: number) =>
    [...writesFor].some(([m, u]) => m > a && m < b && steps[u].output === buffer);

  /**
   * Matmul m's operand k read through the transposes that made it, as deep as a transpose's input is still there at
   * m (not written since) and is not the buffer m writes; with the transposes read through.
   */
  const chase = (m: number, k: number, output: number) => {
    let found = { buffer: steps[m].inputs[k], shape: steps[m].call.inShapes[k], transposed: false, passed: [] as number[] };
    let transposed = false;
    const passed: number[] = [];
    for (let t = writers[m][k]; transpose(t) && !absorbed.has(t); t = writers[t][0]) {
      const source = steps[t].inputs[0];
      transposed = !transposed;
      passed.push(t);
      if (source !== output && untouched(source, t, m) && !writtenEarly(source, t, m)) found = { buffer: source, shape: steps[t].call.inShapes[0], transposed, passed: [...passed] };
    }
    return found;
  };

  const rewrites: MatmulRewrite[] = [];
  /** Per transpose, the matmuls that read its value through it. */
  const through = new Map<number, Set<number>>();
  for (const m of matmuls) {
    let u = writesFor.get(m);
    let bias = biasFor.get(m);
    /** The step whose value the rewritten matmul writes. */
    const writes = () => u ?? bias?.add ?? m;
    let operand = [0, 1].map((k) => chase(m, k, steps[writes()].output));
    if (writes() !== m && operand.some((o) => o.buffer === steps[writes()].output)) {
      writesFor.delete(m);
      biasFor.delete(m);
      [u, bias] = [undefined, undefined];
      operand = [0, 1].map((k) => chase(m, k, steps[m].output));
    }
    if (writes() === m && operand.every((o) => o.passed.length === 0)) continue;
    for (const t of operand.flatMap((o) => o.passed)) {
      if (!through.has(t)) through.set(t, new Set());
      through.get(t)!.add(m);
    }
    const [a, b] = u === undefined ? operand : [{ ...operand[1], transposed: !operand[1].transposed }, { ...operand[0], transposed: !operand[0].transposed }];
    rewrites.push({
      step: m,
      inputs: bias ? [a.buffer, b.buffer, bias.bias] : [a.buffer, b.buffer],
      output: steps[writes()].output,
      aShape: a.shape,
      bShape: b.shape,
      outShape: steps[writes()].call.outShape,
      transA: a.transposed,
      transB: b.transposed,
      ...(bias ? { bias: bias.shape } : {}),
    });
  }

  // Latest first: a transpose read by another one (a chain) is skipped if that one is, and every matmul that read
  // through that one read on through this one (one that stopped there reads this one's buffer).
  const skipped = new Set([...writesFor.values(), ...[...biasFor.values()].map((b) => b.add)]);
  for (const t of [...through.keys()].sort((x, y) => y - x)) {
    const via = through.get(t)!;
    if (isOutput.has(t) || plan.buffers[steps[t].output].role !== 'pool') continue;
    const readThrough = (r: number) => via.has(r) || (skipped.has(r) && [...through.get(r)!].every((m) => via.has(m)));
    if ([...readers[t]].every(readThrough)) skipped.add(t);
  }
  return { rewrites, skipped: [...skipped].sort((x, y) => x - y) };
}
