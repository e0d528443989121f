/**
 * Uniform values in the IR builder (engine/ir/builder.ts): a value that is the same everywhere and known when the
 * graph is built (the reverse seed, as a mean's VJP scales and broadcasts it) is read as a scalar constant.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { Builder, uniformValue } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan } from '../../engine/plan/plan';
import { resolveTargets, trainProgram } from '../../engine/train/program';
import { MLP, MLP_OPTIMIZER, mlpGraph } from '../../bench/mlp';

describe('uniformValue', () => {
  const b = new Builder();
  const x = b.input('x', [4, 3]);
  const seed = b.fullLike(b.sum(x, [0, 1]), 1);
  it.each<[string, IRNode, number | undefined]>([
    ['a fill', b.fullLike(x, 2), 2],
    ['a one-element constant', b.constant(Float32Array.of(3), [1, 1]), 3],
    ['a constant of two elements', b.constant(Float32Array.of(3, 3), [2]), undefined],
    ['a reshaped, broadcast fill', b.broadcastTo(b.reshape(seed, [1, 1]), [4, 3]), 1],
    ['negated', b.neg(seed), -1],
    ['arithmetic of uniforms', b.div(b.sub(b.fullLike(x, 7), 1), 4), 1.5],
    ['NaN stays NaN', b.mul(b.fullLike(x, NaN), 2), NaN],
    ['an input', x, undefined],
    ['an input plus a uniform', b.add(x, seed), undefined],
    ['a unary op but neg', b.exp(seed), undefined],
  ])('%s', (_what, n, want) => {
    expect(uniformValue(n)).toBe(want);
  });
});

describe('a uniform operand is read as a scalar', () => {
  it('where the other operand has the result shape: the steps that built it are left out of the plan', () => {
    const b = new Builder();
    const x = b.input('x', [4, 3]);
    const loss = b.sum(x, [0, 1]);
    // The VJP of mean over the rows, then over all, applied to the seed, times x: as reverse mode builds it.
    const g = b.broadcastTo(b.reshape(b.mul(b.neg(b.fullLike(loss, 1)), 1 / 4), [1, 1]), [4, 3]);
    const y = b.mul(g, x);
    expect(y.inputs[0].op).toBe('const');
    expect(y.inputs[0].shape).toEqual([]);
    const plan = compilePlan({ y });
    expect(plan.steps.map((s) => s.call.op)).toEqual(['mul']);
    const exe = new CpuBackend().load(plan);
    exe.setInput('x', Float32Array.from({ length: 12 }, (_, i) => i));
    exe.run({ seed: 1, step: 1 });
    expect([...exe.readSync('y')]).toEqual(Array.from({ length: 12 }, (_, i) => -i / 4));
  });

  it('of two uniform operands of one shape, only the first: the result keeps its shape', () => {
    const b = new Builder();
    const x = b.input('x', [4, 3]);
    const y = b.mul(b.fullLike(x, 2), b.fullLike(x, 3));
    expect(y.inputs.map((i) => i.op)).toEqual(['const', 'full_like']);
    expect(y.shape).toEqual([4, 3]);
    expect(uniformValue(y)).toBe(6);
  });

  it('not where the uniform operand gives the result its shape', () => {
    const b = new Builder();
    const row = b.input('row', [3]);
    const g = b.broadcastTo(b.fullLike(row, 2), [4, 3]);
    const y = b.mul(g, row);
    expect(y.inputs[0]).toBe(g);
    expect(y.shape).toEqual([4, 3]);
  });

  it('the MLP training step: the loss gradient starts as a scalar, no fill or broadcast of the seed', () => {
    const nodes = mlpGraph();
    const { plan } = trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, MLP.batch);
    const ops = plan.steps.map((s) => s.call.op);
    expect(ops).not.toContain('full_like');
    // The one broadcast left is the softmax normaliser's backward ([128, 1] to [128, 10]).
    expect(ops.filter((o) => o === 'broadcast_to')).toHaveLength(1);
    expect(plan.steps).toHaveLength(76);
  });
});
