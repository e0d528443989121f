/**
 * Transposes folded into matmuls, for the WebGPU backend. The matmul kernel reads either operand as stored
 * transposed, so no transpose of the last two axes needs a dispatch of its own where matmuls are all that read it:
 *   - an operand that a transpose made is read from the transpose's input instead, flag flipped, and through any
 *     chain of such transposes (the backward pass of y = x W^T reads W as the transpose of W^T);
 *   - a transpose whose input is a matmul's value that nothing else reads is written by the matmul itself, since
 *     (A B)^T = B^T A^T: the operands swapped, each flag flipped (the weight gradient (x^T g)^T = g^T x);
 *   - so is the add of a bias row right after a matmul whose value only it reads (a dense layer's x W^T + b), and a
 *     relu right after that (or after the matmul) that alone reads it: the kernel adds the bias and takes the relu as
 *     it stores (the backend keeps these steps out of fusion, `epilogueSteps`). relu's backward reads its output
 *     (step(y)), so nothing else reads the sum.
 * A transpose is then skipped when every step that read it reads through it, or the matmul writes its value; such
 * an add or relu is skipped too.
 *
 * Like fuse.ts the decision is pure, from a plan with every value in a buffer of its own (./share-buffers.ts): a
 * transpose's input is still there when the matmul reads it in place, a transpose's buffer is free when a matmul
 * writes it early, and a matmul never writes a buffer it reads. NaN hunting (findNonFinite) runs the plan as given,
 * so it still sees every intermediate value.
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

/** What a matmul computes as it stores: the add of a bias row (step `add`, the row in `buffer`), then a relu (step `relu`). */
interface Epilogue {
  bias?: { add: number; buffer: number; shape: readonly number[] };
  relu?: number;
}

/** The step whose value matmul m writes with epilogue `e`: the chain's last. */
const lastOf = (m: number, e: Epilogue | undefined) => e?.relu ?? e?.bias?.add ?? m;

/** The adds and relus that matmuls compute as they store, among the steps that `folds` (the plan's) skips. */
export function epilogueSteps(plan: PlanLike, folds: Folds = planFolds(plan)): Set<number> {
  return new Set(folds.skipped.filter((i) => plan.steps[i].call.op !== 'transpose'));
}

/** Whether a step is a transpose of the last two axes alone. */
function swapsLastTwo(plan: PlanLike, i: number): boolean {
  const call = plan.steps[i].call;
  if (call.op !== 'transpose') return false;
  const perm = call.attrs.perm as number[];
  return perm.length >= 2 && perm.join() === lastTwoSwapped(perm.length).join();
}

/**
 * The plan's folds. `keep`: steps that no matmul may take as its epilogue (a row group computes them, ./rows.ts).
 */
export function planFolds(plan: PlanLike, keep?: ReadonlySet<number>): Folds {
  const { steps, updateStart } = plan;
  const { writers, readers, isOutput } = dataflow(plan);
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
  // The matmuls whose value only the add of a bias row right after reads (a dense layer's x W^T + b), and then only
  // a relu right after that (or a relu right after the matmul): they write the last of these values, adding the bias
  // and taking the relu as they store.
  const epilogueFor = new Map<number, Epilogue>();
  /** Whether step u, right after step v, is the one reader of v's value (not a plan output). */
  const onlyReader = (v: number, u: number) => u < updateStart && !keep?.has(u) && readers[v].size === 1 && readers[v].has(u) && !isOutput.has(v);
  for (const m of matmuls) {
    if (writesFor.has(m)) continue;
    const e: Epilogue = {};
    const u = m + 1;
    if (onlyReader(m, u) && steps[u].call.op === 'add' && writers[u].indexOf(m) === writers[u].lastIndexOf(m)) {
      const k = writers[u].indexOf(m);
      const out = steps[m].call.outShape;
      const shape = steps[u].call.inShapes[1 - k];
      const n = out[out.length - 1];
      const buffer = steps[u].inputs[1 - k];
      // The sum of the matmul's shape (so also read in it: a bias row does not change the shape).
      if (shape[shape.length - 1] === n && shape.reduce((p, d) => p * d, 1) === n && steps[u].call.outShape.join() === out.join()) {
        e.bias = { add: u, buffer, shape };
      }
    }
    const r = lastOf(m, e) + 1;
    if (onlyReader(r - 1, r) && steps[r].call.op === 'relu' && asWritten(r, 0)) e.relu = r;
    if (lastOf(m, e) !== m) epilogueFor.set(m, e);
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

  const rewrites: MatmulRewrite[] = [];
  /** Per transpose, the matmuls that read its value through it. */
  const through = new Map<number, Set<number>>();
  for (const m of matmuls) {
    const u = writesFor.get(m);
    const epilogue = epilogueFor.get(m);
    /** The step whose value the rewritten matmul writes. */
    const writes = u ?? lastOf(m, epilogue);
    const operand = [0, 1].map((k) => chase(m, k));
    const bias = epilogue?.bias;
    if (writes === m && operand.every((o) => o.passed.length === 0)) continue;
    for (const t of operand.flatMap((o) => o.passed)) {
      if (!through.has(t)) through.set(t, new Set());
      through.get(t)!.add(m);
    }
    const [a, b] = u === undefined ? operand : [{ ...operand[1], transposed: !operand[1].transposed }, { ...operand[0], transposed: !operand[0].transposed }];
    rewrites.push({
      step: m,
      inputs: bias ? [a.buffer, b.buffer, bias.buffer] : [a.buffer, b.buffer],
      output: steps[writes].output,
      aShape: a.shape,
      bShape: b.shape,
      outShape: steps[writes].call.outShape,
      transA: a.transposed,
      transB: b.transposed,
      ...(bias ? { bias: bias.shape } : {}),
      ...(epilogue?.relu !== undefined ? { relu: true } : {}),
    });
  }

  // Latest first: a transpose read by another one (a chain) is skipped if that one is, and every matmul that read
  // through that one read on through this one (one that stopped there reads this one's buffer). A skipped bias add
  // reads its row where it is, in the matmul that computes it.
  const skipped = new Set([...writesFor.values(), ...[...epilogueFor.values()].flatMap((e) => [e.bias?.add, e.relu].filter((x) => x !== undefined))]);
  for (const t of [...through.keys()].sort((x, y) => y - x)) {
    const via = through.get(t)!;
    if (isOutput.has(t)) continue;
    const readThrough = (r: number) => via.has(r) || (skipped.has(r) && through.has(r) && [...through.get(r)!].every((m) => via.has(m)));
    if ([...readers[t]].every(readThrough)) skipped.add(t);
  }
  return { rewrites, skipped: [...skipped].sort((x, y) => x - y) };
}
