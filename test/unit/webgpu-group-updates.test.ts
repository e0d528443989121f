/**
 * Grouped updates on the WebGPU backend (engine/backends/webgpu/group-updates.ts): which consecutive updates run as
 * one dispatch, and that a grouped dispatch leaves every tensor as the updates one by one do.
 */
import { describe, expect, test } from 'vitest';
import { planUpdateGroups } from '../../engine/backends/webgpu/group-updates';
import { WebGpuExecutable } from '../../engine/backends/webgpu/webgpu-backend';
import { Builder } from '../../engine/ir/builder';
import { compilePlan, type Update } from '../../engine/plan/plan';
import { Rng } from '../../engine/util/rng';
import { useGpuBackend } from '../conformance/gpu';

const gpu = useGpuBackend();

const SGD = { lr: 0.1 };

/** A plan of updates, each of `target` from an input gradient of `size` (or from a named tensor, for assign). */
function updatePlan(updates: readonly { readonly op: Update['op']; readonly target: string; readonly size?: number; readonly attrs?: Readonly<Record<string, unknown>>; readonly state?: number; readonly from?: string }[]) {
  const b = new Builder();
  return compilePlan(
    {},
    updates.map((u, k) => ({
      op: u.op,
      target: u.target,
      source: u.from ? b.param(u.from, [u.size ?? 4]) : b.input(`g${k}`, [u.size ?? 4]),
      state: Array.from({ length: u.state ?? 0 }, (_, s) => `${u.target}/state${s}`),
      attrs: u.attrs ?? (u.op === 'assign' ? {} : SGD),
    })),
  );
}

/** The groups as the updates' targets, in the order given. */
function grouped(plan: ReturnType<typeof updatePlan>, maxStorageBuffers = 16): number[][] {
  return planUpdateGroups(plan, { maxStorageBuffers }).map((g) => g.map((i) => i - plan.updateStart));
}

describe('which updates run as one dispatch', () => {
  test.each([
    ['three SGD updates of one learning rate', [{ op: 'sgd_update', target: 'a' }, { op: 'sgd_update', target: 'b' }, { op: 'sgd_update', target: 'c' }], 16, [[0, 1, 2]]],
    ['a different learning rate starts a new group', [{ op: 'sgd_update', target: 'a' }, { op: 'sgd_update', target: 'b', attrs: { lr: 0.2 } }, { op: 'sgd_update', target: 'c', attrs: { lr: 0.2 } }], 16, [[1, 2]]],
    ['a different op starts a new group', [{ op: 'sgd_update', target: 'a' }, { op: 'sgd_update', target: 'b' }, { op: 'adam_update', target: 'c', state: 2, attrs: { lr: 1e-3 } }, { op: 'adam_update', target: 'd', state: 2, attrs: { lr: 1e-3 } }], 16, [[0, 1], [2, 3]]],
    ['as many as fit the storage buffers of a stage (2 a plain SGD update)', [{ op: 'sgd_update', target: 'a' }, { op: 'sgd_update', target: 'b' }, { op: 'sgd_update', target: 'c' }, { op: 'sgd_update', target: 'd' }, { op: 'sgd_update', target: 'e' }], 4, [[0, 1], [2, 3]]],
    ['momentum binds 3 buffers an update', [{ op: 'sgd_update', target: 'a', state: 1, attrs: { lr: 0.1, momentum: 0.9 } }, { op: 'sgd_update', target: 'b', state: 1, attrs: { lr: 0.1, momentum: 0.9 } }, { op: 'sgd_update', target: 'c', state: 1, attrs: { lr: 0.1, momentum: 0.9 } }], 8, [[0, 1]]],
    ['an assign from a tensor that the group updates waits for it', [{ op: 'assign', target: 'a' }, { op: 'assign', target: 'b', from: 'a' }, { op: 'assign', target: 'c' }], 16, [[1, 2]]],
    ['an assign to a tensor that the group reads waits for the read', [{ op: 'assign', target: 'b', from: 'a' }, { op: 'assign', target: 'a' }], 16, []],
    ['two updates of one tensor run in turn', [{ op: 'assign', target: 'a' }, { op: 'assign', target: 'a' }], 16, []],
    ['an update of no elements is left out and breaks the run', [{ op: 'sgd_update', target: 'a' }, { op: 'sgd_update', target: 'z', size: 0 }, { op: 'sgd_update', target: 'b' }, { op: 'sgd_update', target: 'c' }], 16, [[2, 3]]],
  ] as const)('%s', (_name, updates, max, want) => {
    expect(grouped(updatePlan(updates), max)).toEqual(want);
  });
});

const normals = (n: number, seed: number) => {
  const rng = new Rng(seed, 3);
  return Float32Array.from({ length: n }, () => rng.normal());
};

describe('a grouped update does what the updates one by one do', () => {
  /** Sizes below, at and above a workgroup (256), so that tensors meet inside a workgroup. */
  const SIZES = [5, 256, 1, 300, 257];
  test.each([
    ['sgd with weight decay', 'sgd_update', { lr: 0.05, weightDecay: 0.01 }, 0],
    ['sgd nesterov momentum', 'sgd_update', { lr: 0.1, momentum: 0.8, nesterov: true }, 1],
    ['adamw', 'adam_update', { lr: 1e-2, weightDecay: 0.1, decoupled: true }, 2],
  ] as const)('%s, over tensors of %s elements', async (name, op, attrs, state) => {
    const plan = updatePlan(SIZES.map((size, k) => ({ op, target: `${name}/t${k}`, size, attrs, state })));
    const limit = gpu().device.limits.maxStorageBuffersPerShaderStage;
    const perUpdate = 2 + state;
    // At least one group of several, as the stage's storage buffers allow.
    expect(grouped(plan, limit)[0].length).toBe(Math.min(SIZES.length, Math.floor(limit / perUpdate)));
    const results: Float32Array[][] = [];
    for (const fuse of [true, false]) {
      const backend = gpu();
      for (const [k, size] of SIZES.entries()) {
        backend.writeTensor(`${name}/t${k}`, normals(size, k));
        for (let s = 0; s < state; s++) backend.writeTensor(`${name}/t${k}/state${s}`, new Float32Array(size));
      }
      const exe = new WebGpuExecutable(backend, plan, { fuse });
      for (let step = 1; step <= 3; step++) {
        for (const [k, size] of SIZES.entries()) exe.setInput(`g${k}`, normals(size, 10 * step + k));
        exe.run({ seed: 1, step });
      }
      results.push(await Promise.all(backend.tensorNames().filter((t) => t.startsWith(name)).sort().map((t) => backend.readTensor(t))));
    }
    // The same arithmetic in the same order: the same floats.
    expect(results[0]).toEqual(results[1]);
  });
});
