/**
 * The GPU lost in the middle of training (here: the device destroyed, as a driver reset would lose it): the job
 * goes on on the CPU from its last checkpoint, says so, and ends with the weights that training on the CPU alone
 * gives, to float rounding. In a file of its own: it destroys the process's WebGPU device.
 */
import { describe, expect, it } from 'vitest';
import { gpuDevice } from '../../engine/backends/webgpu/gpu';
import { decodeWeights } from '../../engine/host/weights';
import { parseProject } from '../../engine/io/project';
import type { TrainJobInfo, TrainStatus, TrainStepResult, WeightsExport } from '../../engine/protocol/messages';
import { Session } from '../../engine/train/session';
import { connect, example, EXAMPLES } from '../unit/host-harness';

function spiral(epochs: number, backend: 'webgpu' | 'cpu') {
  const p = example('spiral');
  p.training = { ...p.training, epochs, backend };
  return p;
}

/** Largest |a - b| over every tensor, relative to the tensor's largest |b|. */
function maxRelDiff(a: Record<string, { data: Float32Array }>, b: Record<string, { data: Float32Array }>): number {
  let worst = 0;
  for (const k of Object.keys(b)) {
    const scale = Math.max(1e-6, ...b[k].data.map(Math.abs));
    a[k].data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[k].data[i]) / scale)));
  }
  return worst;
}

describe('the CPU takes over from a lost GPU', () => {
  it('goes on from the last checkpoint on the CPU and ends with the CPU-only weights', async () => {
    // a checkpoint at every epoch's end, so that the takeover's starting step is known
    const c = connect({ timing: { checkpointMs: 0 } });
    const started = await c.ok<TrainJobInfo>({ type: 'train.start', project: spiral(6, 'webgpu'), baseDir: EXAMPLES });
    expect(started.backend?.name).toBe('webgpu');
    await c.waitFor('train.epoch', (e) => e.epochs.some((x) => x.epoch >= 2));
    (await gpuDevice())!.device.destroy();

    const takeover = await c.waitFor('train.state', (e) => e.reason === 'takeover');
    expect(takeover.state).toBe('running');
    expect(takeover.backend?.name).toBe('cpu');
    expect(takeover.backend?.reason).toMatch(/GPU device was lost .*the CPU took over, from step \d+/);
    // from an epoch's end: a whole number of epochs of 15 steps, at least the first (the second's checkpoint may be
    // the read that found the device gone)
    expect(takeover.step % 15).toBe(0);
    expect(takeover.step).toBeGreaterThanOrEqual(15);
    expect(c.of('train.state').some((e) => e.state === 'error')).toBe(false);

    const done = await c.waitFor('train.state', (e) => e.state === 'done');
    expect(done).toMatchObject({ step: 90, epoch: 6 });
    expect(c.host.current!.info().backend?.name).toBe('cpu');
    const got = decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64);

    const cpu = new Session(parseProject(JSON.stringify(spiral(6, 'cpu'))), { baseDir: EXAMPLES });
    await cpu.train();
    expect(maxRelDiff(got, await cpu.weights())).toBeLessThan(1e-4);
  });

  it('an export and an evaluation that find the GPU gone (the job paused) are answered from the CPU', async () => {
    const c = connect();
    await c.ok({ type: 'train.start', project: spiral(1_000_000, 'webgpu'), baseDir: EXAMPLES });
    await c.waitFor('train.progress', (e) => e.step > 20);
    expect((await c.ok<TrainStatus>({ type: 'train.pause' })).state).toBe('paused');
    // paused: no training step will find the loss first
    (await gpuDevice())!.device.destroy();
    const exported = await c.ok<WeightsExport>({ type: 'weights.export' });
    expect(exported.bytes).toBeGreaterThan(0);
    expect(c.host.current!.info().backend?.name).toBe('cpu');
    expect(c.host.current!.state).toBe('paused');
    const evaluated = await c.ok<{ rows: number }>({ type: 'evaluate' });
    expect(evaluated.rows).toBe(120);
    expect(c.of('train.state').filter((e) => e.reason === 'takeover')).toHaveLength(1);
    expect(c.of('train.state').some((e) => e.state === 'error')).toBe(false);
    await c.ok({ type: 'train.stop' });
  });

  it('a single step on a lost GPU is done on the CPU', async () => {
    const c = connect();
    const first = await c.ok<TrainStepResult>({ type: 'train.step', project: spiral(2, 'webgpu'), baseDir: EXAMPLES });
    expect(first.step).toBe(1);
    expect(c.host.current!.info().backend?.name).toBe('webgpu');
    (await gpuDevice())!.device.destroy();
    // the lost step is done again on the CPU, from the start (no epoch had ended: no checkpoint)
    const r = await c.ok<TrainStepResult>({ type: 'train.step' });
    expect(r.step).toBe(1);
    expect(c.host.current!.info().backend?.name).toBe('cpu');
    expect(c.of('train.state').find((e) => e.reason === 'takeover')?.step).toBe(0);
  });
});
