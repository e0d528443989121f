/**
 * Transposes and epilogues folded into matmuls (engine/backends/webgpu/fold.ts), decided from the plan alone: which
 * matmuls read through which transposes, with which flags, which elementwise groups they compute as they store,
 * which steps are left out of the dispatches, and the cases where the plan's values forbid it, on plans with every
 * value in a buffer of its own, as the backend folds them (fused first, without row groups here). The MLP training
 * step is the case the folds are for. The kernels these rewrites run are checked against the CPU in
 * webgpu-matmul.test.ts, and whole folded plans against unfolded ones in webgpu-fuse.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { loneSums, planFolds } from '../../engine/backends/webgpu/fold';
import { planFusion } from '../../engine/backends/webgpu/fuse';
import { epilogueText } from './epilogue-text';
import { elideCopies } from '../../engine/backends/webgpu/elide';
import { ownBuffers } from '../../engine/backends/webgpu/share-buffers';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan, type Plan } from '../../engine/plan/plan';
import { resolveTargets, trainProgram } from '../../engine/train/program';
import { MLP, MLP_OPTIMIZER, mlpGraph } from '../../bench/mlp';

/**
 * The folds of a plan (its fused groups and lone elementwise steps the epilogue candidates, its lone sums those that
 * matmuls may compute), as op lists: the rewritten matmuls' flags ('NT': B read transposed; '+z': the batch summed;
 * '+a': with the sums of A's rows), the skipped steps, the epilogues.
 */
function folds(plan: Pick<Plan, 'buffers' | 'steps' | 'updateStart' | 'outputs'>, maxStorageBuffers = 8) {
  const fusion = planFusion(plan);
  const f = planFolds(plan, [...fusion.groups, ...fusion.singles], maxStorageBuffers, loneSums(plan, fusion), fusion.epilogues);
  return {
    rewrites: f.rewrites.map((r) => `${r.step}:${r.transA ? 'T' : 'N'}${r.transB ? 'T' : 'N'}${r.batchSummed ? '+z' : ''}${r.sums ? `+${r.sums}` : ''}`),
    skipped: f.skipped,
    epilogues: f.rewrites.map((r) => epilogueText(r.epilogue)),
    raw: f,
  };
}

/** The plan as the backend folds it: every value in a buffer of its own. */
const compiled = (outputs: Record<string, IRNode>) => ownBuffers(compilePlan(outputs));

describe('which transposes fold', () => {
  test('y = x W^T: the matmul reads W transposed, the transpose is not dispatched', () => {
    const g = new Builder();
    const plan = compiled({ y: g.matmul(g.input('x', [4, 3]), g.transposeLast2(g.input('w', [5, 3]))) });
    const { rewrites, skipped, raw } = folds(plan);
    expect(rewrites).toEqual(['1:NT']);
    expect(skipped).toEqual([0]);
    expect(raw.rewrites[0]).toMatchObject({ inputs: [plan.inputs.get('x')!.buffer, plan.inputs.get('w')!.buffer], aShape: [4, 3], bShape: [5, 3], outShape: [4, 5] });
  });

  test('both operands transposed, batched', () => {
    const g = new Builder();
    const a = g.transposeLast2(g.input('a', [2, 3, 4]));
    const b = g.transposeLast2(g.input('b', [2, 5, 3]));
    expect(folds(compiled({ c: g.matmul(a, b) }))).toMatchObject({ rewrites: ['2:TT'], skipped: [0, 1] });
  });

  test('a transpose of a matmul: the matmul writes B^T A^T in its place', () => {
    const g = new Builder();
    const plan = compiled({ c: g.transposeLast2(g.matmul(g.input('a', [4, 3]), g.input('b', [3, 5]))) });
    const { rewrites, skipped, raw } = folds(plan);
    expect(rewrites).toEqual(['0:TT']);
    expect(skipped).toEqual([1]);
    expect(raw.rewrites[0]).toMatchObject({ inputs: [plan.inputs.get('b')!.buffer, plan.inputs.get('a')!.buffer], output: plan.outputs.get('c')!.buffer, outShape: [5, 4] });
  });

  test("a dense layer's weight gradient (x^T g)^T: one matmul g^T x", () => {
    const g = new Builder();
    const dw = g.transposeLast2(g.matmul(g.transposeLast2(g.input('x', [8, 3])), g.input('g', [8, 5])));
    expect(folds(compiled({ dw }))).toMatchObject({ rewrites: ['1:TN'], skipped: [0, 2] });
  });

  test('a chain of two transposes is read through to its start', () => {
    const g = new Builder();
    const plan = compiled({ c: g.matmul(g.transpose(g.transposeLast2(g.input('a', [4, 3])), [1, 0]), g.input('b', [3, 2])) });
    const { rewrites, skipped, raw } = folds(plan);
    expect(rewrites).toEqual(['2:NN']);
    expect(skipped).toEqual([0, 1]);
    expect(raw.rewrites[0].inputs[0]).toBe(plan.inputs.get('a')!.buffer);
  });

  test('other permutations and other ops are left alone', () => {
    const g = new Builder();
    const a = g.transpose(g.input('a', [2, 3, 4]), [1, 0, 2]);
    expect(folds(compiled({ c: g.matmul(a, g.input('b', [4, 5])) }))).toMatchObject({ rewrites: [], skipped: [] });
  });

  test('the MLP training step: every transpose skipped, every matmul rewritten, the activations and bias gradients in them', () => {
    const nodes = mlpGraph();
    // Copies elided, as the backend runs it: the bias gradients' reshapes from [1, units] to [units] read nothing then.
    const plan = elideCopies(ownBuffers(trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, MLP.batch).plan));
    const { rewrites, skipped, epilogues, raw } = folds(plan);
    const ops = plan.steps.map((s) => s.call.op);
    const forwardAdds = ops.flatMap((op, i) => (op === 'add' && ops[i - 1] === 'matmul' ? [i] : []));
    const relus = ops.flatMap((op, i) => (op === 'relu' ? [i] : []));
    const masks = ops.flatMap((op, i) => (op === 'step' ? [i, i + 1] : []));
    // The bias gradients: the sums over the batch of a [128, units] gradient (the row group takes the output layer's
    // in the backend, but there are no row groups here).
    const biasGrads = ops.flatMap((op, i) => (op === 'sum' && plan.steps[i].call.inShapes[0][0] === MLP.batch && plan.steps[i].call.inShapes[0].length === 2 && String(plan.steps[i].call.attrs.axes) === '0' ? [i] : []));
    expect(biasGrads).toHaveLength(3);
    expect(forwardAdds).toHaveLength(3);
    // The two hidden layers' relus come right after their adds; relu's backward multiplies by step(y) right after.
    expect(relus).toEqual([forwardAdds[0] + 1, forwardAdds[1] + 1]);
    expect(masks.filter((_, k) => k % 2).map((i) => ops[i])).toEqual(['mul', 'mul']);
    expect(skipped).toEqual(ops.flatMap((op, i) => (op === 'transpose' || forwardAdds.includes(i) || relus.includes(i) || masks.includes(i) || biasGrads.includes(i) ? [i] : [])));
    expect(rewrites.map((r) => r.split(':')[0])).toEqual(ops.flatMap((op, i) => (op === 'matmul' ? [String(i)] : [])));
    // Forward x W^T + b (three layers), then per layer from the top: the input gradient g W, the weight gradient g^T x
    // with the bias gradient beside it: the sums over the batch of A = g^T's rows.
    expect(rewrites.map((r) => r.split(':')[1])).toEqual(['NT', 'NT', 'NT', 'NN', 'TN+a', 'NN', 'TN+a', 'TN+a']);
    expect([4, 6, 7].map((k) => raw.rewrites[k].inputs[2])).toEqual(biasGrads.map((i) => plan.steps[i].output));
    expect([4, 6, 7].map((k) => raw.rewrites[k].sumsSize)).toEqual([10, 256, 256]);
    const dense = 'add(c, x0:col) relu(v0)';
    const mask = 'step(x0:full) mul(c, v0)';
    expect(epilogues).toEqual([dense, dense, 'add(c, x0:col)', mask, undefined, mask, undefined, undefined]);
    // The hidden layers' matmuls write what the relus wrote (which the next layer and relu's backward read), the
    // output layer's what its add wrote, the input gradients what the masks' products wrote.
    expect(raw.rewrites.slice(0, 3).map((r) => r.output)).toEqual([...relus, forwardAdds[2]].map((i) => plan.steps[i].output));
    expect([raw.rewrites[3].output, raw.rewrites[5].output]).toEqual([masks[1], masks[3]].map((i) => plan.steps[i].output));
  });

});

describe('epilogues: what a matmul computes as it stores', () => {
  test("a bias row, then a relu: a dense layer's forward; batched, the bias with leading ones", () => {
    let g = new Builder();
    let plan = compiled({ y: g.relu(g.add(g.matmul(g.input('x', [4, 3]), g.transposeLast2(g.input('w', [5, 3]))), g.input('b', [5]))) });
    let f = folds(plan);
    expect(f).toMatchObject({ rewrites: ['1:NT'], skipped: [0, 2, 3], epilogues: ['add(c, x0:col) relu(v0)'] });
    expect(f.raw.rewrites[0]).toMatchObject({ inputs: ['x', 'w', 'b'].map((n) => plan.inputs.get(n)!.buffer), output: plan.outputs.get('y')!.buffer });
    g = new Builder();
    plan = compiled({ y: g.add(g.input('b', [1, 5]), g.matmul(g.input('x', [2, 4, 3]), g.input('w', [3, 5]))) });
    f = folds(plan);
    expect(f).toMatchObject({ rewrites: ['0:NN'], skipped: [1], epilogues: ['add(x0:col, c)'] });
    // A lone relu right after the matmul.
    g = new Builder();
    plan = compiled({ y: g.relu(g.matmul(g.input('x', [4, 3]), g.input('w', [3, 5]))) });
    expect(folds(plan)).toMatchObject({ rewrites: ['0:NN'], skipped: [1], epilogues: ['relu(c)'] });
  });

  test('any elementwise group, reading values per element, per column or as one', () => {
    const g = new Builder();
    const m = g.matmul(g.input('x', [4, 3]), g.input('w', [3, 5]));
    const y = g.sigmoid(g.add(g.mul(m, g.input('e', [4, 5])), g.mul(g.input('s', []), g.input('c', [1, 5]))));
    expect(folds(compiled({ y }))).toMatchObject({
      rewrites: ['0:NN'],
      epilogues: ['mul(c, x0:full) mul(x1:scalar, x2:col) add(v0, v1) sigmoid(v2)'],
    });
  });

  test("relu's backward: the input gradient g W times step(y)", () => {
    const g = new Builder();
    const y = g.input('y', [4, 5]);
    const dx = g.mul(g.matmul(g.input('g', [4, 3]), g.input('w', [3, 5])), g.step(y));
    const plan = compiled({ dx });
    expect(plan.steps.map((s) => s.call.op)).toEqual(['matmul', 'step', 'mul']);
    expect(folds(plan)).toMatchObject({ rewrites: ['0:NN'], skipped: [1, 2], epilogues: ['step(x0:full) mul(c, v0)'] });
  });

  test("a value per row: a convolution's bias, one a filter, batched over the images, as images, and stacked", () => {
    let g = new Builder();
    const conv = g.relu(g.add(g.matmul(g.input('w', [4, 3]), g.input('cols', [2, 3, 5])), g.input('b', [4, 1])));
    expect(folds(compiled({ y: conv }))).toMatchObject({ rewrites: ['0:NN'], epilogues: ['add(c, x0:row) relu(v0)'] });
    expect(folds(compiled({ y: conv })).raw.rewrites[0].epilogue?.matrix).toEqual({ rows: 4, cols: 5 });
    // Through the reshape to images (elided): the relu reads the value over [images, filters, h, w].
    g = new Builder();
    const images = g.relu(g.reshape(g.add(g.matmul(g.input('w', [4, 3]), g.input('cols', [2, 3, 6])), g.input('b', [4, 1])), [2, 4, 2, 3]));
    expect(folds(elideCopies(compiled({ y: images }))).epilogues).toEqual(['add(c, x0:row) relu(v0)']);
    g = new Builder();
    const stacked = g.add(g.matmul(g.input('x', [2, 4, 3]), g.input('w', [3, 5])), g.input('b', [1, 4, 1]));
    expect(folds(compiled({ y: stacked })).epilogues).toEqual(['add(c, x0:row)']);
  });

  test('not where the value is read again or is an output, or what it reads comes later', () => {
    const mm = (g: Builder) => g.matmul(g.input('x', [4, 3]), g.input('w', [3, 5]));
    const cases = [
      (g: Builder, m: IRNode) => ({ y: g.add(m, g.input('c', [5])), z: g.exp(m) }),
      (g: Builder, m: IRNode) => ({ y: g.relu(m), m }),
      // Per matrix and column, of a batched matmul.
      (g: Builder) => ({ y: g.add(g.matmul(g.input('x', [2, 4, 3]), g.input('w', [3, 5])), g.input('c', [2, 1, 5])) }),
      // A transpose dispatched after the matmul.
      (g: Builder, m: IRNode) => ({ y: g.add(m, g.transposeLast2(g.input('d', [5, 4]))) }),
    ];
    for (const make of cases) {
      const g = new Builder();
      expect(folds(compiled(make(g, mm(g)))).epilogues).toEqual([]);
    }
    // More inputs than the stage binds beside A, B and C.
    const g = new Builder();
    const y = g.add(g.mul(mm(g), g.input('e', [4, 5])), g.input('f', [4, 5]));
    expect(folds(compiled({ y }), 5).epilogues).toEqual(['mul(c, x0:full) add(v0, x1:full)']);
    expect(folds(compiled({ y }), 4).epilogues).toEqual([]);
  });
});

describe('what stops a fold', () => {
  test('a transpose that is a plan output is still read through, but dispatched', () => {
    const g = new Builder();
    const t = g.transposeLast2(g.input('a', [4, 3]));
    expect(folds(compiled({ t, c: g.matmul(t, g.input('b', [4, 2])) }))).toMatchObject({ rewrites: ['1:TN'], skipped: [] });
  });

  test('a transpose that another op reads is dispatched', () => {
    const g = new Builder();
    const t = g.transposeLast2(g.input('a', [4, 3]));
    const c = g.matmul(t, g.input('b', [4, 2]));
    expect(folds(compiled({ c, d: g.exp(t) }))).toMatchObject({ rewrites: ['1:TN'], skipped: [] });
  });

  test('a transpose that a matmul reads through and an epilogue reads as its bias row is dispatched', () => {
    const g = new Builder();
    const row = g.transposeLast2(g.input('c', [5, 1]));
    const plan = compiled({ z: g.matmul(row, g.input('v', [5, 5])), y: g.add(g.matmul(g.input('x', [4, 3]), g.input('w', [3, 5])), row) });
    const { rewrites, skipped, epilogues, raw } = folds(plan);
    expect(rewrites).toEqual(['1:TN', '2:NN']);
    expect(raw.rewrites[1].inputs).toEqual([plan.inputs.get('x')!.buffer, plan.inputs.get('w')!.buffer, plan.steps[0].output]);
    expect(epilogues).toEqual([undefined, 'add(c, x0:col)']);
    expect(skipped).toEqual([3]);
  });

  test('not through a value that an elided reshape gave another shape', () => {
    // The transpose's [1, 4, 3] is read by the matmul as [4, 3] once the reshape between them is elided.
    const g = new Builder();
    const t = g.transpose(g.input('x', [1, 3, 4]), [0, 2, 1]);
    const plan = elideCopies(compiled({ c: g.matmul(g.reshape(t, [4, 3]), g.input('w', [3, 5])) }));
    expect(plan.steps.map((s) => s.call.op)).toEqual(['transpose', 'matmul']);
    expect(folds(plan)).toMatchObject({ rewrites: [], skipped: [] });
    // Nor does a matmul write its transpose through one; it takes an epilogue that reads its value with leading
    // ones, which lays out its elements alike, and one that reads it as another shape only where what it reads besides
    // is read alike in both.
    const h = new Builder();
    const m = h.matmul(h.input('a', [4, 3]), h.input('b', [3, 5]));
    const through = (y: IRNode) => elideCopies(compiled({ y }));
    expect(folds(through(h.transpose(h.reshape(m, [1, 4, 5]), [0, 2, 1]))).rewrites).toEqual([]);
    expect(folds(through(h.add(h.reshape(m, [1, 4, 5]), h.input('bias', [5])))).epilogues).toEqual(['add(c, x0:col)']);
    // Read as [5, 4]: a relu reads each element alike, but a row [4] along the other dims is no kind of read of [4, 5].
    expect(folds(through(h.relu(h.reshape(m, [5, 4])))).epilogues).toEqual(['relu(c)']);
    expect(folds(through(h.add(h.reshape(m, [5, 4]), h.input('row', [4])))).rewrites).toEqual([]);
  });

  test('a matmul whose value another op reads keeps writing it', () => {
    const g = new Builder();
    const m = g.matmul(g.input('a', [4, 3]), g.input('b', [3, 5]));
    expect(folds(compiled({ c: g.transposeLast2(m), d: g.exp(m) }))).toMatchObject({ rewrites: [], skipped: [] });
  });

  test('nothing is read through a transpose whose matmul writes it early', () => {
    const g = new Builder();
    const x = g.input('x', [3, 3]);
    const t1 = g.transposeLast2(g.matmul(x, g.input('y', [3, 3])));
    const plan = compiled({ c: g.matmul(g.transposeLast2(t1), x) });
    // The first matmul writes its transpose (step 1) in place; step 2 is then read through by the second matmul,
    // down to step 1's buffer, and not on through step 1 into the first matmul's, which nothing writes any more.
    const { rewrites, skipped, raw } = folds(plan);
    expect(rewrites).toEqual(['0:TT', '3:TN']);
    expect(skipped).toEqual([1, 2]);
    expect(raw.rewrites[1].inputs).toEqual([plan.steps[1].output, plan.inputs.get('x')!.buffer]);
  });
});

describe('sums over k that matmuls compute too', () => {
  /** A dense layer's backward: the weight gradient g^T x and the bias gradient, g summed over the batch. */
  const dense = (g: Builder, gShape = [4, 3], xShape = [4, 5], dbFirst = false) => {
    const grad = g.input('g', gShape);
    const db = dbFirst ? g.sum(grad, [gShape.length - 2]) : undefined;
    const dw = g.matmul(g.transposeLast2(grad), g.input('x', xShape));
    return { grad, dw, db: db ?? g.sum(grad, [gShape.length - 2]) };
  };

  test('a bias gradient beside its weight gradient, summed before the matmul or after it', () => {
    for (const order of ['db first', 'dw first']) {
      const g = new Builder();
      const { dw, db } = dense(g, undefined, undefined, order === 'db first');
      const plan = compiled({ dw, db });
      const ops = plan.steps.map((s) => s.call.op);
      expect(ops).toEqual(order === 'db first' ? ['sum', 'transpose', 'matmul'] : ['transpose', 'matmul', 'sum']);
      const sum = ops.indexOf('sum');
      const { rewrites, skipped, raw } = folds(plan);
      expect(rewrites).toEqual([`${ops.indexOf('matmul')}:TN+a`]);
      expect(skipped).toEqual([ops.indexOf('transpose'), sum].sort());
      expect(raw.rewrites[0]).toMatchObject({ inputs: [plan.inputs.get('g')!.buffer, plan.inputs.get('x')!.buffer, plan.steps[sum].output], sumsSize: 3 });
    }
  });

  test('where the sums fit the stage beside the epilogue: four storage buffers and its inputs', () => {
    const g = new Builder();
    const grad = g.input('g', [6, 3]);
    const c = g.mul(g.matmul(g.input('a', [2, 6]), grad), g.input('e', [2, 3]));
    const plan = compiled({ c, s: g.sum(grad, [0], true) });
    expect(folds(plan, 5).rewrites).toEqual(['0:NN+b']);
    expect(folds(plan, 4).rewrites).toEqual(['0:NN']);
    expect(folds(plan, 4).epilogues).toEqual(['mul(c, x0:full)']);
  });

  test('the sums of B, and of an operand that the matmul reads as it is stored', () => {
    const g = new Builder();
    const grad = g.input('g', [6, 3]);
    const plan = compiled({ c: g.matmul(g.input('a', [2, 6]), grad), s: g.sum(grad, [0], true) });
    expect(folds(plan)).toMatchObject({ rewrites: ['0:NN+b'], skipped: [1] });
  });

  test('not over another axis, batched, or read before the matmul runs', () => {
    const cases: ((g: Builder) => Record<string, IRNode>)[] = [
      (g) => {
        const { grad, dw } = dense(g);
        return { dw, s: g.sum(grad, [1]) };
      },
      (g) => {
        const { dw, db } = dense(g, [2, 4, 3], [2, 4, 5]);
        return { db, dw };
      },
      // An op that reads the sum between it and the matmul.
      (g) => {
        const grad = g.input('g', [4, 3]);
        const y = g.exp(g.sum(grad, [0]));
        return { y, dw: g.matmul(g.transposeLast2(grad), g.input('x', [4, 5])) };
      },
      // An epilogue of an earlier matmul that reads it as a bias row (after the matmul in the plan; run before it).
      (g) => {
        const grad = g.input('g', [4, 3]);
        const db = g.sum(grad, [0]);
        const mm = g.matmul(g.input('p', [2, 7]), g.input('q', [7, 3]));
        const dw = g.matmul(g.transposeLast2(grad), g.input('x', [4, 5]));
        return { y: g.add(mm, db), dw };
      },
    ];
    for (const make of cases) {
      const g = new Builder();
      const plan = compiled(make(g));
      const { rewrites } = folds(plan);
      expect(rewrites.filter((r) => r.includes('+')), plan.steps.map((s) => s.call.op).join()).toEqual([]);
    }
  });
});

describe("a batch's products summed: the matmul writes the sum", () => {
  /** A convolution's weight gradient: each image's g times its columns transposed, summed over the images. */
  const convGrad = (g: Builder, cols = [3, 72, 64]) => {
    const grad = g.input('g', [3, 16, 64]);
    return { grad, dw: g.sum(g.matmul(grad, g.transposeLast2(g.input('cols', cols))), [0]) };
  };

  test("a convolution's weight gradient", () => {
    const plan = compiled({ dw: convGrad(new Builder()).dw });
    expect(plan.steps.map((s) => s.call.op)).toEqual(['transpose', 'matmul', 'sum']);
    const { rewrites, skipped, raw } = folds(plan);
    expect(rewrites).toEqual(['1:NT+z']);
    expect(skipped).toEqual([0, 2]);
    expect(raw.rewrites[0]).toMatchObject({ output: plan.outputs.get('dw')!.buffer, outShape: [16, 72] });
  });

  test('not where the value is read otherwise too, one operand is broadcast, or the sum is over another axis', () => {
    const cases: ((g: Builder) => Record<string, IRNode>)[] = [
      (g) => {
        const m = g.matmul(g.input('a', [3, 4, 5]), g.input('b', [3, 5, 6]));
        return { s: g.sum(m, [0]), e: g.exp(m) };
      },
      (g) => ({ s: g.sum(g.matmul(g.input('a', [3, 4, 5]), g.input('b', [5, 6])), [0]) }),
      (g) => ({ s: g.sum(g.matmul(g.input('a', [3, 4, 5]), g.input('b', [3, 5, 6])), [1]) }),
      (g) => ({ s: g.sum(g.matmul(g.input('a', [2, 3, 4, 5]), g.input('b', [2, 3, 5, 6])), [0]) }),
    ];
    for (const make of cases) {
      const { rewrites } = folds(compiled(make(new Builder())));
      expect(rewrites.filter((r) => r.includes('+z'))).toEqual([]);
    }
  });
});


describe("image columns read as B from the image (a convolution as an implicit GEMM)", () => {
  const WINDOW = { kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 };
  /** A convolution's forward product and its weight gradient, both reading the columns of one image. */
  function conv(g: Builder) {
    const cols = g.im2col(g.input('x', [2, 3, 5, 5]), WINDOW);
    const y = g.matmul(g.input('w', [4, 27]), cols);
    const dw = g.sum(g.matmul(g.input('g', [2, 4, 25]), g.transposeLast2(cols)), [0]);
    return { cols, y, dw };
  }
  /** The rewrites that read an image's columns: step, flags, and the image's shape. */
  const imageReads = (f: ReturnType<typeof folds>) => f.raw.rewrites.filter((r) => r.bColumns).map((r) => `${r.step}:${r.transB ? 'T' : 'N'} ${r.bColumns!.image.join('x')}`);

  test('the forward product and the weight gradient (through the transpose) read the image; the im2col is not dispatched', () => {
    const { y, dw } = conv(new Builder());
    const plan = compiled({ y, dw });
    expect(plan.steps.map((s) => s.call.op)).toEqual(['im2col', 'matmul', 'transpose', 'matmul', 'sum']);
    const f = folds(plan);
    expect(imageReads(f)).toEqual(['1:N 2x3x5x5', '3:T 2x3x5x5']);
    expect(f.skipped).toEqual([0, 2, 4]);
    // B is bound as the image, its shape as stored still the columns'.
    expect(f.raw.rewrites[0]).toMatchObject({ inputs: [plan.inputs.get('w')!.buffer, plan.inputs.get('x')!.buffer], bShape: [2, 27, 25] });
  });

  test('not where the columns are also read otherwise, read as A (or as A and B), or are an output', () => {
    let g = new Builder();
    let c = conv(g);
    expect(imageReads(folds(compiled({ y: c.y, z: g.relu(c.cols) })))).toEqual([]);
    g = new Builder();
    c = conv(g);
    expect(imageReads(folds(compiled({ y: c.y, cols: c.cols })))).toEqual([]);
    g = new Builder();
    const cols = g.im2col(g.input('x', [2, 3, 5, 5]), WINDOW);
    const f = folds(compiled({ y: g.matmul(g.input('w', [4, 27]), cols), z: g.matmul(g.transposeLast2(cols), g.input('v', [2, 27, 6])) }));
    expect(imageReads(f)).toEqual([]);
    expect(f.skipped).not.toContain(0);
    // As both: cols^T cols.
    g = new Builder();
    const both = g.im2col(g.input('x', [2, 3, 5, 5]), WINDOW);
    expect(imageReads(folds(compiled({ y: g.matmul(g.transposeLast2(both), both) })))).toEqual([]);
  });
});

describe("a convolution's input gradient, col2im(W^T g) with stride 1: one implicit GEMM at the col2im's place", () => {
  const IMAGE = [2, 64, 6, 5];
  /** The gradient of a convolution's input (W [4, 64 x kh x kw], g [2, 4, positions]), times `times` where given. */
  function inputGradient(window: { kh: number; kw: number; sh: number; sw: number; ph: number; pw: number }, times?: 'derivative', image = IMAGE) {
    const g = new Builder();
    const cols = g.im2col(g.input('x', image), window);
    const [, rows, positions] = cols.shape as number[];
    const dcols = g.matmul(g.transposeLast2(g.input('w', [4, rows])), g.input('g', [2, 4, positions]));
    const dx = g.col2im(dcols, window, image);
    return { g, dcols, dx: times ? g.mul(dx, g.input('d', image)) : dx };
  }
  /** The rewrites that read a filter flipped: step, the gradient's columns as an image, and their window's padding. */
  const flipped = (f: ReturnType<typeof folds>) => f.raw.rewrites.filter((r) => r.aFilter).map((r) => `${r.step}:${r.aFilter} ${r.bColumns!.image.join('x')} pad ${r.bColumns!.window.ph},${r.bColumns!.window.pw}`);

  test('3 x 2, padded across: the matmul and the transpose skipped, W and g bound, the col2im written', () => {
    const { dx } = inputGradient({ kh: 3, kw: 2, sh: 1, sw: 1, ph: 0, pw: 1 });
    const plan = compiled({ dx });
    expect(plan.steps.map((s) => s.call.op)).toEqual(['transpose', 'matmul', 'col2im']);
    const f = folds(plan);
    // g [2, 4, 4 x 6] as images 4 x 6, padded 3 - 1 - 0 down and 2 - 1 - 1 across: the output 6 x 5 again.
    expect(flipped(f)).toEqual(['2:6 2x4x4x6 pad 2,0']);
    expect(f.skipped).toEqual([0, 1]);
    expect(f.raw.rewrites[0]).toMatchObject({
      inputs: [plan.inputs.get('w')!.buffer, plan.inputs.get('g')!.buffer],
      output: plan.outputs.get('dx')!.buffer,
      aShape: [64, 24],
      bShape: [2, 24, 30],
      outShape: [2, 64, 30],
    });
  });

  test("with the col2im's epilogue: an activation's derivative", () => {
    const { dx } = inputGradient({ kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 }, 'derivative');
    const plan = compiled({ dx });
    const f = folds(plan);
    expect(flipped(f)).toEqual(['2:9 2x4x6x5 pad 1,1']);
    expect(f.skipped).toEqual([0, 1, 3]);
    expect(f.raw.rewrites[0].epilogue?.inputs).toEqual(['full']);
    expect(f.raw.rewrites[0].output).toBe(plan.outputs.get('dx')!.buffer);
  });

  test('not with a stride, padding as wide as the window, fewer channels than a tile, or the columns\' gradient read otherwise too', () => {
    expect(flipped(folds(compiled({ dx: inputGradient({ kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 }, undefined, [2, 63, 6, 5]).dx })))).toEqual([]);
    expect(flipped(folds(compiled({ dx: inputGradient({ kh: 3, kw: 3, sh: 2, sw: 1, ph: 1, pw: 1 }).dx })))).toEqual([]);
    expect(flipped(folds(compiled({ dx: inputGradient({ kh: 3, kw: 3, sh: 1, sw: 2, ph: 1, pw: 1 }).dx })))).toEqual([]);
    expect(flipped(folds(compiled({ dx: inputGradient({ kh: 2, kw: 3, sh: 1, sw: 1, ph: 2, pw: 1 }).dx })))).toEqual([]);
    const { g, dcols, dx } = inputGradient({ kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 });
    expect(flipped(folds(compiled({ dx, also: g.relu(dcols) })))).toEqual([]);
    expect(flipped(folds(compiled({ dx, dcols })))).toEqual([]);
  });
});
