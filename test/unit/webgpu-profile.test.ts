/**
 * The bench's profile of a step on the WebGPU backend (WebGpuExecutable.profile, gpu.ts's timingDevice): a device
 * that times its passes, every dispatch timed and named, and the run the same as an untimed one.
 */
import { describe, expect, test } from 'vitest';
import { timingDevice } from '../../engine/backends/webgpu/gpu';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { initTensor } from '../../engine/graph/init';
import { resolveTargets, trainProgram } from '../../engine/train/program';
import { MLP, MLP_OPTIMIZER, mlpBatch, mlpGraph } from '../../bench/mlp';

describe('a step profiled dispatch by dispatch', () => {
  test("the MLP step: each dispatch named and timed, and the step's results those of an untimed run", async () => {
    const info = await timingDevice();
    expect(info?.device.features.has('timestamp-query')).toBe(true);
    const nodes = mlpGraph();
    const { plan, expansion } = trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, MLP.batch);
    const { x, labels } = mlpBatch();
    const results: Map<string, Float32Array>[] = [];
    let profile: { what: string; ns: number }[] = [];
    let dispatches = 0;
    for (const timed of [true, false]) {
      const gpu = await WebGpuBackend.create(timed ? info : undefined);
      for (const p of expansion.params) gpu.writeTensor(p.name, initTensor(p.name, p.shape, p.init, MLP.seed));
      const exe = gpu.load(plan);
      exe.setInput('x', x);
      exe.setInput('y', Float32Array.from(labels));
      const ctx = { seed: MLP.seed, step: 1 };
      if (timed) {
        profile = await exe.profile(ctx);
        dispatches = exe.dispatches();
      } else exe.run(ctx);
      const out = new Map<string, Float32Array>();
      for (const name of plan.outputs.keys()) out.set(name, await exe.read(name));
      for (const name of gpu.tensorNames()) out.set(name, await gpu.readTensor(name));
      results.push(out);
      gpu.dispose();
    }
    expect(profile).toHaveLength(dispatches);
    expect(profile.every((d) => d.ns > 0)).toBe(true);
    // The first layer's split-K matmul and its join (which adds the bias and takes the relu), ..., the row group of
    // the loss and accuracy, ..., the grouped updates last.
    expect(profile.slice(0, 2).map((d) => d.what)).toEqual(['matmul +epilogue [128,256]', 'matmul +epilogue [128,256] (join)']);
    expect(profile.map((d) => d.what)).toContain('row group [128,10]');
    expect(profile.at(-1)!.what).toBe('updates of 6 tensors');
    const [timed, untimed] = results;
    for (const [name, want] of untimed) expect([...timed.get(name)!], name).toEqual([...want]);
  }, 60_000);
});
