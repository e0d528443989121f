import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { Builder } from '../../engine/ir/builder';
import { compilePlan } from '../../engine/plan/plan';

function chain(length: number, size: number) {
  const b = new Builder();
  const x = b.input('x', [size]);
  let y = x;
  for (let i = 0; i < length; i++) y = i % 2 ? b.sin(y) : b.mul(y, 2);
  return { b, x, y };
}

describe('plan', () => {
  it('reuses buffers by liveness: a long chain needs two intermediate buffers', () => {
    const { y } = chain(20, 100);
    const plan = compilePlan({ y });
    const pool = plan.buffers.filter((b) => b.role === 'pool');
    expect(pool).toHaveLength(2);
    // 2 pool buffers + the input, 100 floats each, plus the scalar constant 2 (created once per mul).
    const consts = plan.buffers.filter((b) => b.role === 'const').length;
    expect(plan.peakBytes).toBe(4 * (3 * 100 + consts));
  });

  it('never writes a step into a buffer it reads, and keeps requested outputs intact', () => {
    const b = new Builder();
    const x = b.input('x', [4]);
    const early = b.exp(x);
    let y = early;
    for (let i = 0; i < 6; i++) y = b.add(b.mul(y, 0.5), 1);
    const plan = compilePlan({ early, y });
    for (const s of plan.steps) expect(s.inputs).not.toContain(s.output);
    const exe = new CpuBackend().load(plan);
    exe.setInput('x', Float32Array.of(0, 1, 2, 3));
    exe.run({ seed: 1, step: 1 });
    expect([...exe.readSync('early')]).toEqual([0, 1, 2, 3].map((v) => Math.fround(Math.exp(v))));
    let want = [0, 1, 2, 3].map((v) => Math.exp(v));
    for (let i = 0; i < 6; i++) want = want.map((v) => v * 0.5 + 1);
    const got = exe.readSync('y');
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
  });

  it('shares parameters between plans by name, and grows a reused buffer to the largest use', () => {
    const backend = new CpuBackend();
    const b = new Builder();
    const w = b.param('w', [3]);
    const x = b.input('x', [3]);
    const p1 = compilePlan({ y: b.mul(x, w) });
    const big = b.sum(b.broadcastTo(b.reshape(w, [1, 3]), [5, 3]), [0, 1]);
    const p2 = compilePlan({ s: b.mul(big, 1) });
    backend.writeTensor('w', Float32Array.of(1, 2, 3));
    const e1 = backend.load(p1);
    const e2 = backend.load(p2);
    e1.setInput('x', Float32Array.of(1, 1, 1));
    e1.run({ seed: 1, step: 1 });
    e2.run({ seed: 1, step: 1 });
    expect([...e1.readSync('y')]).toEqual([1, 2, 3]);
    expect(e2.readSync('s')[0]).toBe(30);
    backend.writeTensor('w', Float32Array.of(3, 3, 3));
    e2.run({ seed: 1, step: 1 });
    expect(e2.readSync('s')[0]).toBe(45);
  });

  it('computes a value once however often the graph builds it, and tells apart what differs', () => {
    const b = new Builder();
    const x = b.input('x', [2, 2]);
    const labels = b.input('labels', [2]);
    // Built twice each: e^x (and a product of it), the labels' one-hot, a sum over the rows.
    const twice = [0, 1].map(() => b.mul(b.exp(x), b.oneHot(labels, 2)));
    const rows = [0, 1].map(() => b.sum(x, [1]));
    // Not the same: another axis, and fills that JSON would write alike (NaN and Infinity; 0 and -0).
    const cols = b.sum(x, [0]);
    const fills = [NaN, Infinity, 0, -0].map((v) => b.fullLike(x, v));
    const plan = compilePlan({ a: twice[0], b: twice[1], r0: rows[0], r1: rows[1], cols, ...Object.fromEntries(fills.map((f, i) => [`f${i}`, f])) });
    expect(plan.steps.map((s) => s.call.op)).toEqual(['exp', 'one_hot', 'mul', 'sum', 'sum', 'full_like', 'full_like', 'full_like', 'full_like']);
    expect(plan.outputs.get('a')!.buffer).toBe(plan.outputs.get('b')!.buffer);

    const exe = new CpuBackend().load(plan);
    exe.setInput('x', Float32Array.of(0, 1, 2, 3));
    exe.setInput('labels', Float32Array.of(1, 0));
    exe.run({ seed: 1, step: 1 });
    const e = (v: number) => Math.fround(Math.exp(v));
    expect([...exe.readSync('b')]).toEqual([0, e(1), e(2), 0]);
    expect([...exe.readSync('r1')]).toEqual([1, 5]);
    expect([...exe.readSync('cols')]).toEqual([2, 4]);
    expect([0, 1, 2, 3].map((i) => exe.readSync(`f${i}`)[0])).toEqual([NaN, Infinity, 0, -0]);
  });

  it('runs only what the outputs need', () => {
    const b = new Builder();
    const x = b.input('x', [2]);
    const used = b.exp(x);
    b.sin(x); // dead
    const plan = compilePlan({ used });
    expect(plan.steps.map((s) => s.call.op)).toEqual(['exp']);
  });
});
