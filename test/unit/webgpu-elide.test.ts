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
import { compilePlan, type Plan } from '../../engine/plan/plan';
import { resolveTargets, trainProgram } from '../../engine/train/program';
import { MLP, MLP_OPTIMIZER, mlpGraph } from '../../bench/mlp';

const ops = (p: Plan) => p.steps.map((s) => s.call.op);
/** The plan as the backend elides it. */
const compiled = (outputs: Record<string, IRNode>) => ownBuffers(compilePlan(outputs));

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

  test('kept: the value read by another step too, a plan output, a plan input', () => {
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
