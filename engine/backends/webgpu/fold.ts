/**
 * Transposes and elementwise steps folded into matmuls, for the WebGPU backend. The matmul kernel reads either
 * operand as stored transposed, and computes elementwise steps on C's elements as it stores them (an epilogue), so:
 *   - an operand that a transpose made is read from the transpose's input instead, flag flipped, and through any
 *     chain of such transposes (the backward pass of y = x W^T reads W as the transpose of W^T);
 *   - a transpose whose input is a matmul's value that nothing else reads is written by the matmul itself, since
 *     (A B)^T = B^T A^T: the operands swapped, each flag flipped (the weight gradient (x^T g)^T = g^T x);
 *   - an elementwise group (a fused group of ./fuse.ts, or a step dispatched alone: the `candidates`) that alone
 *     reads a matmul's value is the matmul's epilogue (./epilogue.ts), where all else that it reads is computed
 *     before the matmul and read per element of the value, per column (a bias row), per row (a convolution's bias,
 *     one a filter) or as one value: the matmul writes the group's value. A dense layer's relu(x W^T + b), and its
 *     backward's g W * step(y), are each one dispatch.
 *   - a lone sum over the batch axis of a batched matmul's value, which alone reads it (a convolution's weight
 *     gradient, summed over the images), is the matmul's value: the batch summed into k (kernels/matmul.ts's
 *     `batchSummed`);
 *   - a sum over the k axis of an operand as a matmul reads it (a lone step, one of `sums`: a dense layer's bias
 *     gradient, the sum over the batch of the gradient that its weight gradient multiplies) is computed by the matmul
 *     too (kernels/matmul.ts's `sums`), where that costs the matmul nothing (`takesSums`) and all that reads the sum
 *     runs after the matmul (an epilogue runs at its matmul's place);
 *   - an im2col's columns that every step reading them reads as B of a matmul (directly or through transposes read
 *     through: a convolution's forward product and its weight gradient) are computed from the image as the matmul
 *     loads them (kernels/matmul.ts's `bColumns`), and the im2col is skipped;
 *   - a col2im (stride 1) of W^T g, a matmul's value that it alone reads (a convolution's input gradient: g the
 *     gradient of its output, W its filter), is one implicit GEMM at the col2im's place where the image has channels
 *     enough (kernels/matmul.ts's INPUT_GRADIENT_MIN_CHANNELS): a convolution of g with the filter flipped
 *     (`aFilter`), through the col2im's epilogue (./fuse.ts's) where it has one; the matmul is skipped and the
 *     columns' gradient never written.
 * A transpose is then skipped when every step that read it reads through it, or the matmul writes its value; an
 * epilogue's steps are skipped too.
 *
 * Like fuse.ts the decision is pure, from a plan with every value in a buffer of its own (./share-buffers.ts): a
 * transpose's input is still there when the matmul reads it in place, a transpose's buffer is free when a matmul
 * writes it early, and a matmul never writes a buffer it reads. NaN hunting (findNonFinite) runs the plan as given,
 * so it still sees every intermediate value.
 */
import { lastTwoSwapped, normAxes, numel } from '../../ir/shape';
import type { Plan } from '../../plan/plan';
import { dataflow, type Fusion, type FusionGroup, type StepEpilogue } from './fuse';
import { asEpilogue, type Epilogue } from './epilogue';
import { INPUT_GRADIENT_MIN_CHANNELS, takesSums, type MatmulOperands } from './kernels/matmul';
import { windowAttrs } from './kernels/layout';
import { windowOutput } from '../../ops/layout';

/** A matmul step as the folds run it. */
export interface MatmulRewrite extends MatmulOperands {
  readonly step: number;
  /**
   * The buffers it reads, A's then B's (then the epilogue's inputs, then where it computes sums over k, the buffer it
   * writes them to, of `sumsSize` elements), and the one it writes.
   */
  readonly inputs: readonly number[];
  readonly output: number;
  readonly sumsSize?: number;
}

export interface Folds {
  readonly rewrites: readonly MatmulRewrite[];
  /** The transposes, epilogue steps and sums not dispatched. */
  readonly skipped: readonly number[];
  /** The candidates that matmuls compute as their epilogues. */
  readonly epilogues: readonly FusionGroup[];
}

type PlanLike = Pick<Plan, 'buffers' | 'steps' | 'updateStart' | 'outputs'>;

/**
 * The sums that a matmul may compute (planFolds's `sums`): those that no other kernel takes, whether a row group
 * (`exclude`) or as a reduction with a prologue or an epilogue (./fuse.ts).
 */
export function loneSums(plan: Pick<Plan, 'steps'>, fusion: Pick<Fusion, 'prologues' | 'epilogues'>, exclude: ReadonlySet<number> = new Set()): number[] {
  const taken = new Set([...fusion.prologues.map((x) => x.reduce), ...fusion.epilogues.map((x) => x.step)]);
  return plan.steps.flatMap((s, i) => (s.call.op === 'sum' && !exclude.has(i) && !taken.has(i) ? [i] : []));
}

/** Whether a step is a transpose of the last two axes alone. */
function swapsLastTwo(plan: PlanLike, i: number): boolean {
  const call = plan.steps[i].call;
  if (call.op !== 'transpose') return false;
  const perm = call.attrs.perm as number[];
  return perm.length >= 2 && perm.join() === lastTwoSwapped(perm.length).join();
}

/**
 * The plan's folds: `candidates` are the elementwise groups that may be epilogues (of at most `maxStorageBuffers`
 * bindings with the matmul's operands and value), `sums` the reductions dispatched alone, which matmuls may compute,
 * `stepEpilogues` those of reductions and window ops (./fuse.ts), which a matmul that takes a col2im's place takes.
 */
export function planFolds(plan: PlanLike, candidates: readonly FusionGroup[] = [], maxStorageBuffers = 8, sums: readonly number[] = [], stepEpilogues: readonly StepEpilogue[] = []): Folds {
  const { steps, updateStart } = plan;
  const { writers, readers, isOutput, writer } = dataflow(plan);
  const transpose = (i: number) => i >= 0 && i < updateStart && swapsLastTwo(plan, i);
  /**
   * Whether step r reads its input k in the shape that its writer computed it in: an elided reshape (./elide.ts) may
   * have left a value read in another shape ([1, 4, 5] as [4, 5]), and folds take shapes from the steps they join.
   */
  const asWritten = (r: number, k: number) => steps[writers[r][k]].call.outShape.join() === steps[r].call.inShapes[k].join();

  const matmuls = steps.map((_, i) => i).filter((i) => i < updateStart && steps[i].call.op === 'matmul' && !steps[i].call.outShape.includes(0));

  // The matmuls that may write the transpose of their value: where that transpose alone reads it.
  const writesFor = new Map<number, number>();
  for (const m of matmuls) {
    const u = [...readers[m]][0];
    if (readers[m].size === 1 && transpose(u) && !isOutput.has(m) && asWritten(u, 0)) writesFor.set(m, u);
  }
  // The epilogues: a candidate that alone reads a matmul's value (the first such matmul it reads), reading the rest
  // as the matmul stores: computed before it.
  const epilogueOf = new Map<number, { group: FusionGroup; epilogue: Epilogue; inputs: number[] }>();
  for (const g of candidates) {
    for (const x of g.inputs) {
      const m = writer.get(x.buffer);
      if (m === undefined || !matmuls.includes(m) || writesFor.has(m) || epilogueOf.has(m)) continue;
      const value = { buffer: steps[m].output, shape: steps[m].call.outShape, readers: readers[m], isOutput: isOutput.has(m) };
      const e = asEpilogue(g, steps, value, { matrix: true, maxInputs: maxStorageBuffers - 3, before: (b) => (writer.get(b) ?? -1) < m });
      if (e) {
        epilogueOf.set(m, { group: g, ...e });
        break;
      }
    }
  }
  /** Not read through: their input (a matmul's value) is never written. */
  const absorbed = new Set(writesFor.values());

  /** Matmul m's operand k read through the transposes that made it, as deep as they go; with the transposes read through. */
  const chase = (m: number, k: number) => {
    let found = { buffer: steps[m].inputs[k], shape: steps[m].call.inShapes[k], transposed: false, passed: [] as number[] };
    for (let r = m, j = k, t = writers[m][k]; transpose(t) && !absorbed.has(t) && asWritten(r, j); r = t, j = 0, t = writers[t][0]) {
      found = { buffer: steps[t].inputs[0], shape: steps[t].call.inShapes[0], transposed: !found.transposed, passed: [...found.passed, t] };
    }
    return found;
  };

  type Chased = ReturnType<typeof chase>;
  /** The lone sum over its batch axis (of as many matrices of A as of B) that alone reads matmul m's value, if any. */
  const batchSum = (m: number, a: Chased, b: Chased) => {
    const [s] = readers[m];
    const [z] = steps[m].call.outShape;
    if (readers[m].size !== 1 || isOutput.has(m) || writesFor.has(m) || epilogueOf.has(m) || !sums.includes(s) || steps[s].call.op !== 'sum') return undefined;
    const batched = steps[m].call.outShape.length === 3 && z > 1 && [a.shape, b.shape].every((x) => x.length === 3 && x[0] === z);
    return batched && asWritten(s, 0) && normAxes(steps[s].call.attrs.axes as number[], 3).join() === '0' ? s : undefined;
  };

  /** Where step r runs: at its matmul for an epilogue's step, else in its place. */
  const runsAt = new Map([...epilogueOf].flatMap(([m, e]) => e.group.steps.map((r) => [r, m] as const)));
  const taken = new Set<number>();
  /** A lone sum that matmul m (reading `a` and `b`, writing `operands`) can compute, and of which operand. */
  const sumFor = (m: number, a: Chased, b: Chased, operands: MatmulOperands) => {
    // The operand's k axis, after the batch's where that is summed too.
    const batch = operands.batchSummed ? 1 : 0;
    const kAxis = { a: (a.transposed ? 0 : 1) + batch, b: (b.transposed ? 1 : 0) + batch };
    // A, B, the epilogue's inputs, the sums and C must fit a stage.
    if (4 + (operands.epilogue?.inputs.length ?? 0) > maxStorageBuffers) return undefined;
    for (const s of sums) {
      const call = steps[s].call;
      if (taken.has(s) || call.op !== 'sum' || s >= updateStart || [...readers[s]].some((r) => (runsAt.get(r) ?? r) <= m)) continue;
      const of = (['a', 'b'] as const).find((x) => {
        const o = x === 'a' ? a : b;
        const axes = normAxes(call.attrs.axes as number[], call.inShapes[0].length);
        const over = batch ? `0,${kAxis[x]}` : String(kAxis[x]);
        return o.buffer === steps[s].inputs[0] && o.shape.length === 2 + batch && call.inShapes[0].join() === o.shape.join() && axes.join() === over;
      });
      if (of && takesSums(operands, of)) return { step: s, of };
    }
    return undefined;
  };

  // Image columns that matmuls may read as B from the image: an im2col's that only matmuls and transposes read.
  const im2cols = steps.flatMap((s, i) =>
    i < updateStart && s.call.op === 'im2col' && !isOutput.has(i) && numel(s.call.outShape) > 0 && [...readers[i]].every((r) => matmuls.includes(r) || transpose(r)) ? [i] : [],
  );
  const columns = new Set(im2cols.map((i) => steps[i].output));

  const rewrites: MatmulRewrite[] = [];
  /** Per transpose, the matmuls that read its value through it. */
  const through = new Map<number, Set<number>>();
  for (const m of matmuls) {
    const u = writesFor.get(m);
    const e = epilogueOf.get(m);
    const operand = [0, 1].map((k) => chase(m, k));
    const [a, b] = u === undefined ? operand : [{ ...operand[1], transposed: !operand[1].transposed }, { ...operand[0], transposed: !operand[0].transposed }];
    const total = batchSum(m, a, b);
    if (total !== undefined) taken.add(total);
    const written = total ?? u ?? m;
    const operands: MatmulOperands = {
      aShape: a.shape,
      bShape: b.shape,
      outShape: steps[written].call.outShape,
      transA: a.transposed,
      transB: b.transposed,
      ...(e ? { epilogue: e.epilogue } : {}),
      ...(total !== undefined ? { batchSummed: true } : {}),
    };
    const sum = sumFor(m, a, b, operands);
    if (u === undefined && !e && !sum && total === undefined && operand.every((o) => o.passed.length === 0) && !columns.has(b.buffer)) continue;
    for (const t of operand.flatMap((o) => o.passed)) {
      if (!through.has(t)) through.set(t, new Set());
      through.get(t)!.add(m);
    }
    if (sum) taken.add(sum.step);
    rewrites.push({
      step: m,
      inputs: [a.buffer, b.buffer, ...(e?.inputs ?? []), ...(sum ? [steps[sum.step].output] : [])],
      output: e ? e.group.output : steps[written].output,
      ...operands,
      ...(sum ? { sums: sum.of, sumsSize: numel(steps[sum.step].call.outShape) } : {}),
    });
  }

  // Latest first: a transpose read by another one (a chain) is skipped if that one is, and every matmul that read
  // through that one read on through this one (one that stopped there reads this one's buffer). An epilogue reads
  // its inputs where they are, in the matmul that computes it.
  const epilogues = [...epilogueOf.values()].map((e) => e.group);
  const skipped = new Set([...writesFor.values(), ...epilogues.flatMap((g) => g.steps), ...taken]);
  for (const t of [...through.keys()].sort((x, y) => y - x)) {
    const via = through.get(t)!;
    if (isOutput.has(t)) continue;
    const readThrough = (r: number) => via.has(r) || (skipped.has(r) && through.has(r) && [...through.get(r)!].every((m) => via.has(m)));
    if ([...readers[t]].every(readThrough)) skipped.add(t);
  }

  // An im2col is skipped where every step that reads its columns is a matmul that reads them as B (and not as A), or
  // a transpose skipped that only such matmuls read through: those compute them from the image (`bColumns`).
  const rewriteOf = new Map(rewrites.map((r, k) => [r.step, k]));
  for (const i of im2cols) {
    const buffer = steps[i].output;
    const asB = (m: number) => {
      const r = rewrites[rewriteOf.get(m) ?? -1];
      return r !== undefined && r.inputs[1] === buffer && r.inputs[0] !== buffer;
    };
    const readsAsB = (r: number) => asB(r) || (skipped.has(r) && through.has(r) && [...through.get(r)!].every(asB));
    if (![...readers[i]].every(readsAsB)) continue;
    skipped.add(i);
    const bColumns = { image: steps[i].call.inShapes[0], window: windowAttrs(steps[i].call) };
    for (const [k, r] of rewrites.entries()) if (r.inputs[1] === buffer) rewrites[k] = { ...r, inputs: r.inputs.map((x, j) => (j === 1 ? steps[i].inputs[0] : x)), bColumns };
  }

  // A convolution's input gradient: col2im(W^T g), W [o, c * kk] read through its transpose, g [n, o, positions].
  for (const [k, r] of rewrites.entries()) {
    const m = r.step;
    const [c] = readers[m];
    if (readers[m].size !== 1 || isOutput.has(m) || r.output !== steps[m].output || r.epilogue || r.sums || r.batchSummed || r.bColumns) continue;
    if (steps[c].call.op !== 'col2im' || !asWritten(c, 0) || !r.transA || r.transB || r.aShape.length !== 2 || r.bShape.length !== 3) continue;
    const w = windowAttrs(steps[c].call);
    const image = steps[c].call.outShape;
    const [o, rows] = r.aShape;
    const kk = w.kh * w.kw;
    const [oh, ow] = [windowOutput(image[2], w.kh, 1, w.ph), windowOutput(image[3], w.kw, 1, w.pw)];
    const gradient = [image[0], o, oh, ow];
    if (w.sh !== 1 || w.sw !== 1 || w.ph >= w.kh || w.pw >= w.kw || rows !== image[1] * kk || r.bShape.join() !== [image[0], o, oh * ow].join()) continue;
    if (image[1] < INPUT_GRADIENT_MIN_CHANNELS) continue;
    const e = stepEpilogues.find((x) => x.step === c);
    if (e && (e.epilogue.inputs.some((kind) => kind !== 'full' && kind !== 'scalar') || 3 + e.inputs.length > maxStorageBuffers)) continue;
    rewrites[k] = {
      step: c,
      inputs: [r.inputs[0], r.inputs[1], ...(e?.inputs ?? [])],
      output: e?.group.output ?? steps[c].output,
      aShape: [image[1], o * kk],
      bShape: [image[0], o * kk, image[2] * image[3]],
      outShape: [image[0], image[1], image[2] * image[3]],
      transA: false,
      transB: false,
      aFilter: kk,
      bColumns: { image: gradient, window: { ...w, ph: w.kh - 1 - w.ph, pw: w.kw - 1 - w.pw } },
      ...(e ? { epilogue: e.epilogue } : {}),
    };
    skipped.add(m);
    for (const x of e?.group.steps ?? []) skipped.add(x);
  }
  return { rewrites, skipped: [...skipped].sort((x, y) => x - y), epilogues };
}
