/**
 * The engine host's training job on the WebGPU backend, where the session keeps steps in flight: every step is
 * reported once and in order, what the job shows (pause, single steps, export, the boundary) is the weights after
 * exactly the steps reported, a NaN found steps late stops the job at its step, and the run ends with the weights of
 * a plain Session.train.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { decodeWeights } from '../../engine/host/weights';
import { parseProject } from '../../engine/io/project';
import type { TrainStatus, TrainStepResult, WeightsExport } from '../../engine/protocol/messages';
import { Session } from '../../engine/train/session';
import { connect, example, EXAMPLES, lnProject, sleep, type Connection } from '../unit/host-harness';

function spiral(epochs: number) {
  const p = example('spiral');
  p.training = { ...p.training, epochs, backend: 'webgpu' };
  return p;
}

const open: Connection[] = [];
function conn(): Connection {
  const c = connect();
  open.push(c);
  return c;
}
afterEach(async () => {
  for (const c of open.splice(0)) if (c.host.current?.live) await c.call({ type: 'train.stop' });
});

describe('training job on WebGPU', () => {
  it('finishes with every step reported once, in order, and the weights of Session.train', async () => {
    const c = conn();
    await c.ok({ type: 'train.start', project: spiral(4), baseDir: EXAMPLES });
    const done = await c.waitFor('train.state', (e) => e.state === 'done');
    expect(done).toMatchObject({ step: 60, epoch: 4, reason: 'finished' });
    expect(c.host.current!.info().backend?.name).toBe('webgpu');
    const progress = c.of('train.progress');
    expect(progress.reduce((n, e) => n + e.points.count.reduce((a, b) => a + b, 0), 0)).toBe(60);
    const steps = progress.flatMap((e) => e.points.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(c.of('train.epoch').flatMap((e) => e.epochs.map((x) => x.epoch))).toEqual([1, 2, 3, 4]);
    // every measured step's ratio and flow are of a step reported in its event
    for (const e of progress) if (e.updateRatio) expect(e.updateRatio.step).toBeLessThanOrEqual(e.step);
    // and the last step is measured: no step in flight reached it
    expect([progress.at(-1)!.updateRatio?.step, progress.at(-1)!.flow?.step]).toEqual([60, 60]);
    expect(c.of('train.boundary').at(-1)!.step).toBe(60);

    const s = new Session(parseProject(JSON.stringify(spiral(4))), { baseDir: EXAMPLES, backend: await WebGpuBackend.create() });
    await s.train();
    const want = await s.weights();
    const got = decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64);
    for (const k of Object.keys(want)) expect([...got[k].data], k).toEqual([...want[k].data]);
  });

  it('pause leaves nothing in flight: the paused step is the weights\' step, and a single step is exactly one', async () => {
    const c = conn();
    await c.ok({ type: 'train.start', project: spiral(1_000_000), baseDir: EXAMPLES });
    await c.waitFor('train.progress', (e) => e.step > 20);
    const paused = await c.ok<TrainStatus>({ type: 'train.pause' });
    const session = c.host.current!.session;
    expect(session.pendingSteps).toBe(0);
    expect(session.step).toBe(paused.step);
    await sleep(100);
    expect(Math.max(...c.of('train.progress').map((e) => e.step))).toBe(paused.step);
    const stepped = await c.ok<TrainStepResult>({ type: 'train.step' });
    expect(stepped.step).toBe(paused.step + 1);
    expect(session.step).toBe(paused.step + 1);
    expect(session.pendingSteps).toBe(0);
    const exported = await c.ok<WeightsExport>({ type: 'weights.export' });
    expect(exported.step).toBe(paused.step + 1);
  });

  it('stops on a NaN found steps late at its own step, naming the node, with the weights before it', async () => {
    const c = conn();
    const project = lnProject([2, 3, 4, 5, -1, 6, 7], { epochs: 3, seed: 3, backend: 'webgpu' });
    await c.ok({ type: 'train.start', project });
    const error = await c.waitFor('train.state', (e) => e.state === 'error');
    expect(error.step).toBe(4);
    expect(error.error?.where?.node).toBe('log');
    expect(error.error?.message).toMatch(/step 5.*NaN.*"log" \(ln\)/);
    expect(c.of('train.progress').at(-1)!.step).toBe(4);
    const w = decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64);
    expect(Number.isFinite(w.w.data[0])).toBe(true);
    expect(c.host.current!.session.step).toBe(4);
  });
});
