/**
 * A network too big for the GPU: the buffers of the job's plan cannot be had (simulated: the device's out-of-memory
 * error scopes report an error, as Dawn's do when it has no memory for a buffer). The job goes on on the CPU from
 * the start and says why, rather than stopping with an error; it ends with the weights of training on the CPU alone.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gpuDevice } from '../../engine/backends/webgpu/gpu';
import { decodeWeights } from '../../engine/host/weights';
import { parseProject } from '../../engine/io/project';
import type { TrainJobInfo, WeightsExport } from '../../engine/protocol/messages';
import { Session } from '../../engine/train/session';
import { connect, example, EXAMPLES } from '../unit/host-harness';

function spiral(backend: 'webgpu' | 'cpu') {
  const p = example('spiral');
  p.training = { ...p.training, epochs: 4, backend };
  return p;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the CPU takes over from a GPU out of memory', () => {
  it('goes on from the start on the CPU, says which allocation failed, and ends with the CPU-only weights', async () => {
    const { device } = (await gpuDevice())!;
    const pop = device.popErrorScope.bind(device);
    const scope = vi.spyOn(device, 'popErrorScope').mockImplementation(async () => (await pop()) ?? ({ message: 'Out of memory' } as GPUError));
    const c = connect();
    const started = await c.ok<TrainJobInfo>({ type: 'train.start', project: spiral('webgpu'), baseDir: EXAMPLES });
    expect(started.backend?.name).toBe('webgpu');

    const takeover = await c.waitFor('train.state', (e) => e.reason === 'takeover');
    expect(scope).toHaveBeenCalled();
    scope.mockRestore();
    expect(takeover.state).toBe('running');
    expect(takeover.backend?.name).toBe('cpu');
    expect(takeover.backend?.reason).toMatch(/^WebGPU ran out of memory: allocating tensor h1.weight \(\d+ bytes\)( \(and \d+ more errors\))?: at step \d+ the CPU took over, from step 0$/);
    expect(takeover.step).toBe(0);

    const done = await c.waitFor('train.state', (e) => e.state === 'done');
    expect(done).toMatchObject({ step: 60, epoch: 4 });
    expect(c.of('train.state').some((e) => e.state === 'error')).toBe(false);
    const got = decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64);
    const cpu = new Session(parseProject(JSON.stringify(spiral('cpu'))), { baseDir: EXAMPLES });
    await cpu.train();
    const want = await cpu.weights();
    for (const k of Object.keys(want)) expect([...got[k].data], k).toEqual([...want[k].data]);
  });
});
