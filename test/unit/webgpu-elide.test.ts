/**
 * Copies (reshape, stop_gradient) elided on the WebGPU backend (engine/backends/webgpu/elide.ts), decided from the
 * plan alone (with every value in a buffer of its own, as the backend elides): which copies are dropped, which step
 * then writes their buffer, and the values that forbid it. Whole elided plans run against unelided ones on the device in webgpu-fuse.test.ts (the MLP step) and, for every op, in the
 * conformance suite.
 */
import { describe, expect, test } from 'vitest';
import { elideCopies } from '../../engine/backends/webgpu/elide';
import { ownBuffers } from '../../engine/backends/webgpu/share-buffers';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan, type Plan, type Update } from '../../engine/plan/plan';
import { resolveTargets, trainProgram } from '../../engine/train/program';
import { MLP, MLP_OPTIMIZER, mlpGraph } from '../../bench/mlp';

const ops = (p: Plan) => p.steps.map((s) => s.call.op);
/** The plan as the backend elides it. */
const compiled = (outputs: Record<string, IRNode>, updates: Update[] = []) => ownBuffers(compilePlan(outputs, updates));

describe('which copies are elided', () => {
  test("a reduction's [1, n] read as [n]: the sum writes the reshape's buffer, the reshape is gone", () => {
    const b = new Builder();
    const plan = compiled({ y: b.reshape(b.sum(b.input('x', [4, 3]), [0], true), [3]) });
    const e = elideCopies(plan);
    expect(ops(plan)).toEqual(['sum', 'reshape']);
    expect(ops(e)).toEqual(['sum']);
    expect(e.steps[0].output).toBe(plan.outputs.get('y')!.buffer);
    expect(e.updateStart).toBe(plan.updateStart - 1);
    expect([e.inputs, e.outputs, e.buffers]).toEqual([plan.inputs, plan.outputs, plan.buffers]);
  });

  test('stop_gradient is a copy too', () => {
    const b = new Builder();
    const plan = compiled({ y: b.mul(b.stopGradient(b.sum(b.input('x', [4, 3]), [1], true)), b.input('z', [4, 3])) });
    expect(ops(plan)).toEqual(['sum', 'stop_gradient', 'mul']);
    const e = elideCopies(plan);
    expect(ops(e)).toEqual(['sum', 'mul']);
    expect(e.steps[0].output).toBe(plan.steps[1].output);
  });

  test('kept: a plan output, also where its value is read by another step, or a plan input', () => {
    let b = new Builder();
    const t = b.sum(b.input('x', [4, 3]), [0], true);
    const twice = compiled({ y: b.reshape(t, [3]), z: b.neg(t) });
    expect(elideCopies(twice)).toBe(twice);
    b = new Builder();
    const u = b.sum(b.input('x', [4, 3]), [0], true);
    const both = compiled({ u, y: b.reshape(u, [3]) });
    expect(elideCopies(both)).toBe(both);
    b = new Builder();
    const input = compiled({ y: b.reshape(b.input('x', [4, 3]), [12]) });
    expect(elideCopies(input)).toBe(input);
  });

  test('a value read by another step too: the copy\'s readers read the value\'s buffer', () => {
    const b = new Builder();
    const t = b.sum(b.input('x', [4, 3]), [0], true);
    const plan = compiled({ y: b.mul(b.reshape(t, [3]), b.input('c', [3])), z: b.neg(t) });
    expect(ops(plan)).toEqual(['sum', 'reshape', 'mul', 'neg']);
    const e = elideCopies(plan);
    expect(ops(e)).toEqual(['sum', 'mul', 'neg']);
    expect(e.steps[1].inputs[0]).toBe(plan.steps[0].output);
    // A copy of a copy reads through both.
    const c = new Builder();
    const u = c.sum(c.input('x', [4, 3]), [0], true);
    const chain = compiled({ y: c.exp(c.reshape(c.reshape(u, [3]), [1, 3])), z: c.neg(u) });
    expect(elideCopies(chain).steps.map((s) => [s.call.op, s.inputs])).toEqual([
      ['sum', chain.steps[0].inputs],
      ['exp', [chain.steps[0].output]],
      ['neg', [chain.steps[0].output]],
    ]);
  });

  test('a weight read as another shape is read in place, but not where an update reads it after the weights change', () => {
    const b = new Builder();
    const w = b.reshape(b.param('w', [2, 1, 3]), [2, 3]);
    const y = b.matmul(b.input('x', [4, 2]), w);
    const read = compiled({ y });
    expect(ops(elideCopies(read))).toEqual(['matmul']);
    expect(elideCopies(read).steps[0].inputs[1]).toBe(read.steps[0].inputs[0]);
    const updated = compiled({ y }, [
      { op: 'sgd_update', target: 'w', source: b.fullLike(b.param('w', [2, 1, 3]), 1), attrs: { lr: 0.1 } },
      { op: 'assign', target: 'v', source: w },
    ]);
    expect(ops(updated).slice(0, updated.updateStart)).toContain('reshape');
    expect(elideCopies(updated)).toBe(updated);
  });

  test("the MLP training step: every reshape (the bias gradients') and the softmax's stop_gradient elided", () => {
    const nodes = mlpGraph();
    // As the backend elides them: on the plan with every value in a buffer of its own.
    const plan = ownBuffers(trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, MLP.batch).plan);
    const e = elideCopies(plan);
    expect(ops(plan).filter((o) => o === 'reshape')).toHaveLength(3);
    expect(ops(e)).not.toContain('reshape');
    expect(ops(e)).not.toContain('stop_gradient');
    expect(e.steps.length).toBe(plan.steps.length - 4);
    expect(ops(e).slice(e.updateStart)).toEqual(ops(plan).slice(plan.updateStart));
  });
});
