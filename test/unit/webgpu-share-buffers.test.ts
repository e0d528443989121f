/**
 * The WebGPU backend's buffers (../../engine/backends/webgpu/share-buffers.ts): a buffer per value to plan on, then
 * buffers shared by liveness in the order of the dispatches.
 */
import { describe, expect, test } from 'vitest';
import { ownBuffers, shareBuffers, type Access } from '../../engine/backends/webgpu/share-buffers';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { Builder } from '../../engine/ir/builder';
import { compilePlan, type BufferRole, type Plan } from '../../engine/plan/plan';

describe('a buffer per value', () => {
  test('every pooled write gets a buffer of its own, sized to it; reads and outputs follow the values', () => {
    const b = new Builder();
    const x = b.input('x', [3]);
    const w = b.param('w', [3]);
    let y = b.mul(x, w);
    for (let i = 0; i < 5; i++) y = i % 2 ? b.exp(y) : b.sin(b.add(y, x));
    const s = b.sum(y, [0]);
    const plan = compilePlan({ y, s });
    const own = ownBuffers(plan);
    const pooled = (p: Plan) => p.buffers.filter((buf) => buf.role === 'pool');
    expect(pooled(plan).length).toBeLessThan(plan.steps.length);
    // The plan's pooled buffers stay (unused), and each step writes a new one.
    expect(own.buffers.slice(0, plan.buffers.length)).toEqual(plan.buffers);
    expect(own.steps.map((st) => st.output)).toEqual(plan.steps.map((_, i) => plan.buffers.length + i));
    expect(own.steps.map((st) => own.buffers[st.output].size)).toEqual(plan.steps.map((st) => st.call.outShape.reduce((a, d) => a * d, 1)));
    expect(own.inputs).toEqual(plan.inputs);
    // It computes the same.
    const backend = new CpuBackend();
    backend.writeTensor('w', Float32Array.of(0.5, -1, 2));
    const results = [plan, own].map((p) => {
      const exe = backend.load(p);
      exe.setInput('x', Float32Array.of(1, 2, 3));
      exe.run({ seed: 1, step: 1 });
      return [[...exe.readSync('y')], [...exe.readSync('s')]];
    });
    expect(results[1]).toEqual(results[0]);
  });
});

/** Plan buffers of these roles and sizes, with these outputs. */
function buffers(specs: readonly [BufferRole, number][], outputs: number[] = []): Pick<Plan, 'buffers' | 'outputs'> {
  return {
    buffers: specs.map(([role, size]) => ({ role, size })),
    outputs: new Map(outputs.map((o) => [`o${o}`, { buffer: o, shape: [specs[o][1]] }])),
  };
}
const at = (inputs: number[], output: number): Access => ({ inputs, output });

describe('buffers shared by liveness in dispatch order', () => {
  // Buffer 0 is the input; the others pooled values.
  const chain = [at([0], 1), at([1], 2), at([2], 3), at([3], 4)];
  test.each([
    {
      what: 'a chain needs two: a value takes the buffer of one read for the last time before it',
      plan: buffers([['input', 4], ['pool', 4], ['pool', 4], ['pool', 4], ['pool', 4]], [4]),
      order: chain,
      of: [-1, 0, 1, 0, 1],
      sizes: [4, 4],
    },
    {
      what: 'a dispatch never writes a buffer it reads, and an output lives to the end',
      plan: buffers([['input', 4], ['pool', 4], ['pool', 4], ['pool', 4], ['pool', 4]], [1, 4]),
      order: chain,
      of: [-1, 0, 1, 2, 1],
      sizes: [4, 4, 4],
    },
    {
      what: 'a value read later keeps its buffer',
      plan: buffers([['input', 4], ['pool', 4], ['pool', 4], ['pool', 4], ['pool', 4]], [4]),
      order: [at([0], 1), at([1], 2), at([2], 3), at([3, 1], 4)],
      of: [-1, 0, 1, 2, 1],
      sizes: [4, 4, 4],
    },
    {
      what: 'not pooled, or never dispatched (a fused value): no shared buffer',
      plan: buffers([['input', 4], ['pool', 4], ['persistent', 4], ['pool', 4], ['const', 1], ['pool', 4]], [5]),
      order: [at([0, 2], 3), at([3, 4], 5)],
      of: [-1, -1, -1, 0, -1, 1],
      sizes: [4, 4],
    },
    {
      what: 'the smallest free buffer that fits; else the largest grown, if it holds an eighth; else a new one',
      plan: buffers([['input', 1], ['pool', 5], ['pool', 5], ['pool', 2], ['pool', 8]], [4]),
      // In the plan's order: 1 takes a buffer; 2, live with 1, another; 3 (2) fits 1's; 4 (8), live with 3, grows
      // 2's (5 * 8 >= 8). 13 elements, where the largest first take 15 (8, then 5 and 2 each live with another).
      order: [at([0], 1), at([0, 1], 2), at([2], 3), at([3], 4)],
      of: [-1, 0, 1, 0, 1],
      sizes: [5, 8],
    },
    {
      what: 'packed the largest first where that takes less',
      plan: buffers([['input', 1], ['pool', 10], ['pool', 2], ['pool', 3], ['pool', 40], ['pool', 1000], ['pool', 1]], [6]),
      // 5 (1000) takes a buffer; 4 (40), live with it, another; 1 (10) the smallest free one that fits, 4's; 3 (3)
      // 5's; 2 (2), live with 1 and 3, a new one; 6 (1) the smallest free one, 2's. 1042 elements, where the plan's
      // order takes 1045 (1 and 4 share, then 2, 3 and 5 each need one of their own).
      order: [at([0], 1), at([0], 2), at([1, 2], 3), at([3], 4), at([4], 5), at([5], 6)],
      of: [-1, 1, 2, 0, 1, 0, 2],
      sizes: [1000, 40, 2],
    },
  ])('$what', ({ plan, order, of, sizes }) => {
    const shared = shareBuffers(plan, order);
    expect(shared.of).toEqual(of);
    expect(shared.sizes).toEqual(sizes);
  });
});
