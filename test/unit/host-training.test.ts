/**
 * The engine host's training job through the protocol, in this process: the state machine, single steps, event
 * batching, the update ratio of one hand-computed SGD step, a NaN stop, weights out and in, data preview.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { decodeWeights, encodeWeights } from '../../engine/host/weights';
import { socketUp, type EvaluateResult, type DistributionsResult, type GradcheckResult, type JacobianResult, type ProgramResult, type TrainJobInfo, type TrainStatus, type TrainStepResult, type WeightsExport } from '../../engine/protocol/messages';
import { checkGradients } from '../../engine/train/gradient-check';
import { nodeJacobian } from '../../engine/train/node-jacobian';
import { connect, example, EXAMPLES, lnProject, sleep, type Connection } from './host-harness';

/** The spiral example with epochs enough to run until stopped. */
function longSpiral() {
  const p = example('spiral');
  p.training = { ...p.training, epochs: 1_000_000 };
  return p;
}

const open: Connection[] = [];
function conn(...args: Parameters<typeof connect>): Connection {
  const c = connect(...args);
  open.push(c);
  return c;
}
afterEach(async () => {
  vi.restoreAllMocks();
  // leave no job running into the next test
  for (const c of open.splice(0)) if (c.host.current?.live) await c.call({ type: 'train.stop' });
});

describe('training job: the state machine', () => {
  it('start -> pause -> step (exactly one) -> resume -> stop, with a train.state for each change', async () => {
    const c = conn();
    const info = await c.ok<TrainJobInfo>({ type: 'train.start', project: longSpiral(), baseDir: EXAMPLES });
    expect(info).toMatchObject({ job: 1, state: 'running', step: 0, stepsPerEpoch: 15, batchSize: 32, trainRows: 480, validationRows: 120, hasAccuracy: true });
    expect(info.layers).toEqual([
      { id: 'h1', tensors: ['h1.weight', 'h1.bias'] },
      { id: 'h2', tensors: ['h2.weight', 'h2.bias'] },
      { id: 'out', tensors: ['out.weight', 'out.bias'] },
    ]);
    expect(info.classes).toEqual(['0', '1', '2']);
    expect(info.plane?.features).toEqual(['x1', 'x2']);
    await c.waitFor('train.progress', (e) => e.step > 100);

    const paused = await c.ok<TrainStatus>({ type: 'train.pause' });
    expect(paused.state).toBe('paused');
    const at = paused.step;
    // the last step before the pause was reported, before the state event
    const pausedEvent = await c.waitFor('train.state', (e) => e.state === 'paused');
    expect(pausedEvent.step).toBe(at);
    const lastBefore = c.of('train.progress').at(-1)!;
    expect(lastBefore.step).toBe(at);
    expect(c.events.findIndex((e) => e.event === lastBefore)).toBeLessThan(c.events.findIndex((e) => e.event === pausedEvent));
    await sleep(150);
    expect(Math.max(...c.of('train.progress').map((e) => e.step))).toBe(at);

    const stepped = await c.ok<TrainStepResult>({ type: 'train.step' });
    expect(stepped).toMatchObject({ state: 'paused', step: at + 1 });
    expect(stepped.loss).toBeGreaterThan(0);
    await c.waitFor('train.progress', (e) => e.step === at + 1);
    await sleep(150);
    expect(Math.max(...c.of('train.progress').map((e) => e.step))).toBe(at + 1);
    // a boundary is drawn after a single step
    await c.waitFor('train.boundary', (e) => e.step === at + 1);

    expect((await c.ok<TrainStatus>({ type: 'train.resume' })).state).toBe('running');
    await c.waitFor('train.progress', (e) => e.step > at + 50);
    const stopped = await c.ok<TrainStatus>({ type: 'train.stop' });
    expect(stopped.state).toBe('stopped');
    const states = c.of('train.state').map((e) => e.state);
    expect(states).toEqual(['running', 'paused', 'running', 'stopped']);
    expect(c.of('train.progress').at(-1)!.step).toBe(stopped.step);

    // stopped is final
    const again = await c.call({ type: 'train.resume' });
    expect(again.ok).toBe(false);
    expect(again.error?.message).toMatch(/stopped/);
    expect((await c.call({ type: 'train.step' })).error?.message).toMatch(/stopped.*project/);
  });

  it('stop keeps the weights: an export after stop is exactly the session weights, and stays so', async () => {
    const c = conn();
    await c.ok({ type: 'train.start', project: longSpiral(), baseDir: EXAMPLES });
    await c.waitFor('train.progress', (e) => e.step > 30);
    await c.ok({ type: 'train.stop' });
    const exported = await c.ok<WeightsExport>({ type: 'weights.export' });
    const tensors = decodeWeights(exported.base64);
    const session = await c.host.current!.session.weights();
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(session).sort());
    for (const k of Object.keys(session)) {
      expect(tensors[k].shape).toEqual(session[k].shape);
      expect([...tensors[k].data]).toEqual([...session[k].data]);
    }
    await sleep(100);
    expect((await c.ok<WeightsExport>({ type: 'weights.export' })).base64).toBe(exported.base64);
    // the metadata of project-format.md
    const meta = JSON.parse(Buffer.from(exported.base64, 'base64').subarray(8, 8 + 512).toString('utf8').split('}}')[0] + '}}');
    expect(meta.__metadata__).toEqual({ format: 'backprop-studio/weights', version: '1', name: 'Spiral, two hidden layers' });
  });

  it('train.step on a fresh project starts a paused job and steps it once', async () => {
    const c = conn();
    const r = await c.ok<TrainStepResult>({ type: 'train.step', project: longSpiral(), baseDir: EXAMPLES });
    expect(r).toMatchObject({ job: 1, state: 'paused', step: 1, epoch: 1 });
    expect(r.started).toMatchObject({ job: 1, state: 'paused', step: 0 });
    await c.waitFor('train.progress', (e) => e.step === 1);
    await c.waitFor('train.state', (e) => e.state === 'paused');
    expect(c.of('train.state').map((e) => e.state)).toEqual(['paused']);
    expect((await c.ok<TrainStepResult>({ type: 'train.step' })).step).toBe(2);
    // steps faster than events: the update ratio and flow that an event shows are its latest step's
    await Promise.all([c.ok({ type: 'train.step' }), c.ok({ type: 'train.step' })]);
    const latest = await c.waitFor('train.progress', (e) => e.step === 4);
    expect([latest.updateRatio?.step, latest.flow?.step]).toEqual([4, 4]);
    // without a project and without a job: an error that says what to send
    expect((await conn().call({ type: 'train.step' })).error?.message).toMatch(/no training job.*project/);
  });

  it('a second train.start stops the first and says so, and frees the first', async () => {
    const disposed = vi.spyOn(CpuBackend.prototype, 'dispose');
    const c = conn();
    await c.ok({ type: 'train.start', project: longSpiral(), baseDir: EXAMPLES });
    const second = await c.ok<TrainJobInfo>({ type: 'train.start', project: longSpiral(), baseDir: EXAMPLES });
    expect(second).toMatchObject({ job: 2, state: 'running', replaced: 1 });
    const old = await c.waitFor('train.state', (e) => e.job === 1 && e.state === 'stopped');
    expect(old.reason).toBe('replaced');
    await c.waitFor('train.state', (e) => e.job === 2 && e.state === 'running');
    // the first job's backend memory is freed (its tensors gone), the second's kept
    await vi.waitFor(() => expect(disposed).toHaveBeenCalledTimes(1));
    expect((await c.ok<WeightsExport>({ type: 'weights.export' })).job).toBe(2);
    // a start that fails leaves the running job alone
    const bad = await c.call({ type: 'train.start', project: { ...longSpiral(), data: { kind: 'builtin', name: 'nope' } }, baseDir: EXAMPLES });
    expect(bad.ok).toBe(false);
    expect(c.host.current!.id).toBe(2);
    expect(c.host.current!.state).toBe('running');
  });

  it('stops the job when the connection closes, and sends nothing more', async () => {
    const c = conn();
    await c.ok({ type: 'train.start', project: longSpiral(), baseDir: EXAMPLES });
    await c.waitFor('train.progress');
    await c.host.close();
    expect(c.host.current!.state).toBe('stopped');
    const seen = c.events.length;
    await sleep(150);
    expect(c.events.length).toBe(seen);
  });

  it('finishes with done after the project\'s epochs, with every step reported once, the last one measured', async () => {
    const c = conn();
    const p = example('spiral');
    p.training = { ...p.training, epochs: 20 };
    await c.ok({ type: 'train.start', project: p, baseDir: EXAMPLES });
    const done = await c.waitFor('train.state', (e) => e.state === 'done');
    expect(done).toMatchObject({ step: 300, epoch: 20, reason: 'finished' });
    const progress = c.of('train.progress');
    expect(progress.reduce((n, e) => n + e.points.count.reduce((a, b) => a + b, 0), 0)).toBe(300);
    expect(progress.at(-1)!.step).toBe(300);
    // the update ratio and the gradient flow shown at the end are the last step's
    expect([progress.at(-1)!.updateRatio?.step, progress.at(-1)!.flow?.step]).toEqual([300, 300]);
    expect(c.of('train.epoch').flatMap((e) => e.epochs.map((x) => x.epoch))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const lastEpoch = c.of('train.epoch').at(-1)!;
    expect(lastEpoch.confusion?.epoch).toBe(20);
    expect(lastEpoch.confusion?.matrix.flat().reduce((a, b) => a + b, 0)).toBe(120);
    // a boundary at the end
    const b = c.of('train.boundary').at(-1)!;
    expect(b).toMatchObject({ step: 300, width: 64, height: 64, mode: 'class', classes: ['0', '1', '2'] });
    expect(b.predicted.length).toBe(64 * 64);
    expect(b.value.every((v) => v !== null && v >= 1 / 3 - 1e-6 && v <= 1)).toBe(true);
    expect((await c.call({ type: 'train.resume' })).error?.message).toMatch(/done/);
  });
  it('shows a measured step\'s ratio and flow with that step, even when a flush falls while it is measured', async () => {
    // The last step is measured while earlier steps wait for their flush; the flow is slowed past the flush's timer
    const c = conn({ timing: { flushMs: 20 } });
    const p = example('spiral');
    p.training = { ...p.training, epochs: 4 };
    await c.ok({ type: 'train.start', project: p, baseDir: EXAMPLES });
    const session = c.host.current!.session;
    const flow = session.flow.bind(session);
    const slowed = vi.spyOn(session, 'flow').mockImplementation(async (rows) => {
      await sleep(40);
      return flow(rows);
    });
    await c.waitFor('train.state', (e) => e.state === 'done');
    const progress = c.of('train.progress');
    expect(progress.at(-1)!.step).toBe(60);
    for (const e of progress) {
      expect(e.updateRatio?.step ?? 0).toBeLessThanOrEqual(e.step);
      expect(e.flow?.step).toBe(e.updateRatio?.step);
    }
    expect([progress.at(-1)!.updateRatio?.step, progress.at(-1)!.flow?.step]).toEqual([60, 60]);
    expect(slowed).toHaveBeenCalled();
  });
});

describe('training job: the prediction drawn over the inputs', () => {
  it('fits a curve for a regression on one feature: the prediction at 256 points over the padded range, as predictFeatures gives it', async () => {
    const c = conn();
    const p = example('sine');
    p.training = { ...p.training, epochs: 3 };
    const info = await c.ok<TrainJobInfo>({ type: 'train.start', project: p, baseDir: EXAMPLES });
    expect(info.plane).toBeUndefined();
    // sin's samples lie in [-pi, pi]
    expect(info.line?.feature).toBe('x');
    expect(info.line!.x.min).toBeGreaterThan(-Math.PI);
    expect(info.line!.x.max).toBeLessThan(Math.PI);
    expect(info.line!.x.max - info.line!.x.min).toBeGreaterThan(6);
    await c.waitFor('train.state', (e) => e.state === 'done');
    expect(c.of('train.boundary')).toEqual([]);
    const fit = c.of('train.fit').at(-1)!;
    expect(fit).toMatchObject({ step: 30, epoch: 3, feature: 'x' });
    const span = info.line!.x.max - info.line!.x.min;
    expect(fit.x.min).toBeCloseTo(info.line!.x.min - 0.05 * span, 12);
    expect(fit.x.max).toBeCloseTo(info.line!.x.max + 0.05 * span, 12);
    expect([fit.points, fit.value!.length, fit.probabilities]).toEqual([256, 256, undefined]);
    const xs = Float32Array.from({ length: 256 }, (_, i) => fit.x.min + (i * (fit.x.max - fit.x.min)) / 255);
    const want = await c.host.current!.session.predictFeatures(xs, 256);
    fit.value!.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  });

  it("fits a standardised label's curve in the label's units, and says the loss is on the standardised label", async () => {
    const c = conn();
    const p = example('nucleus-area');
    p.training = { ...p.training, epochs: 2 };
    const info = await c.ok<TrainJobInfo>({ type: 'train.start', project: p, baseDir: EXAMPLES });
    const session = c.host.current!.session;
    expect(info.labelScale).toEqual({ mean: session.labelScale!.mean, std: session.labelScale!.std });
    // breast_cancer.csv's mean_area: about 655 on average, spread about 352
    expect(info.labelScale!.mean).toBeGreaterThan(600);
    expect(info.labelScale!.std).toBeGreaterThan(300);
    await c.waitFor('train.state', (e) => e.state === 'done');
    const fit = c.of('train.fit').at(-1)!;
    const xs = Float32Array.from({ length: 256 }, (_, i) => fit.x.min + (i * (fit.x.max - fit.x.min)) / 255);
    const want = await session.predictFeatures(xs, 256);
    // (sent to 5 significant digits)
    fit.value!.forEach((v, i) => expect(Math.abs(v! - want[i])).toBeLessThanOrEqual(1e-4 * Math.abs(want[i])));
    // areas, rising with the radius
    expect(fit.value![255]! - fit.value![0]!).toBeGreaterThan(1000);
    // and its error in the label's units: RMSE per epoch, and on evaluation
    expect(info.hasRmse).toBe(true);
    const epochs = c.of('train.epoch').flatMap((e) => e.epochs);
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const e of epochs) expect([e.rmse, e.valRmse].every((v) => typeof v === 'number' && v > 0)).toBe(true);
    const evaluation = await c.ok<EvaluateResult>({ type: 'evaluate' });
    expect(evaluation.rmse).toBeCloseTo(epochs[1].valRmse!, 3);
    const { base64 } = await c.ok<WeightsExport>({ type: 'weights.export' });
    const plain = await c.ok<TrainJobInfo>({ type: 'train.start', project: example('sine'), baseDir: EXAMPLES });
    expect([plain.labelScale, plain.hasRmse]).toEqual([undefined, true]);
    const classifier = await c.ok<TrainJobInfo>({ type: 'train.start', project: example('spiral'), baseDir: EXAMPLES });
    expect([classifier.hasRmse, classifier.notes]).toEqual([undefined, undefined]);
    // the trained weights loaded into the project without the label's standardisation: the job says what is off
    const raw = example('nucleus-area');
    (raw.data as { standardizeLabel?: boolean }).standardizeLabel = false;
    const loaded = await c.ok<TrainJobInfo>({ type: 'weights.load', project: raw, baseDir: EXAMPLES, base64 });
    expect(loaded.notes).toEqual([expect.stringMatching(/statistics for the label area .* does not standardise it/)]);
  });

  it("draws each class's probability for a classifier that reads one feature, as the softmax of its logits", async () => {
    const c = conn();
    const p = example('iris');
    p.graph.nodes = p.graph.nodes.map((n) => (n.op === 'input' ? { ...n, attrs: { ...(n.attrs as object), shape: [1], features: ['petal_length_cm'] } } : n));
    p.training = { ...p.training, epochs: 2 };
    const info = await c.ok<TrainJobInfo>({ type: 'train.start', project: p, baseDir: EXAMPLES });
    expect([info.plane, info.line?.feature]).toEqual([undefined, 'petal_length_cm']);
    await c.waitFor('train.state', (e) => e.state === 'done');
    expect(c.of('train.boundary')).toEqual([]);
    const fit = c.of('train.fit').at(-1)!;
    expect([fit.value, fit.classes, fit.probabilities!.length]).toEqual([undefined, info.classes, 3]);
    // the standardised model's logits at the raw lengths, through the softmax
    const session = c.host.current!.session;
    const width = session.dataset.featureNames.length;
    const column = session.dataset.featureNames.indexOf('petal_length_cm');
    const grid = new Float32Array(256 * width);
    for (let i = 0; i < 256; i++) grid[i * width + column] = fit.x.min + (i * (fit.x.max - fit.x.min)) / 255;
    const logits = await session.predictFeatures(grid, 256);
    for (const i of [0, 100, 255]) {
      const e = [0, 1, 2].map((k) => Math.exp(logits[3 * i + k]));
      const sum = e[0] + e[1] + e[2];
      for (const k of [0, 1, 2]) expect(fit.probabilities![k][i]).toBeCloseTo(e[k] / sum, 4);
    }
  });

  it("draws both classes' probability for one logit against two classes that sigmoid_cross_entropy reads", async () => {
    const c = conn();
    const p = example('breast-cancer');
    p.graph.nodes = [
      { id: 'radius', op: 'input', attrs: { shape: [1], features: ['mean_radius'] } },
      { id: 'y', op: 'label', attrs: { kind: 'class' } },
      { id: 'out', op: 'dense', attrs: { units: 1 }, inputs: { x: 'radius' } },
      { id: 'loss', op: 'sigmoid_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
    ];
    // long enough to turn round a first guess of the wrong sign (86% training accuracy)
    p.training = { ...p.training, epochs: 30 };
    const info = await c.ok<TrainJobInfo>({ type: 'train.start', project: p, baseDir: EXAMPLES });
    expect(info.line?.feature).toBe('mean_radius');
    await c.waitFor('train.state', (e) => e.state === 'done');
    const fit = c.of('train.fit').at(-1)!;
    expect([fit.value, fit.classes]).toEqual([undefined, ['malignant', 'benign']]);
    const session = c.host.current!.session;
    const width = session.dataset.featureNames.length;
    const grid = new Float32Array(256 * width);
    for (let i = 0; i < 256; i++) grid[i * width + session.dataset.featureNames.indexOf('mean_radius')] = fit.x.min + (i * (fit.x.max - fit.x.min)) / 255;
    const logits = await session.predictFeatures(grid, 256);
    for (const i of [0, 128, 255]) {
      expect(fit.probabilities![1][i]).toBeCloseTo(1 / (1 + Math.exp(-logits[i])), 4);
      expect(fit.probabilities![0][i]).toBeCloseTo(1 / (1 + Math.exp(logits[i])), 4);
    }
    // big cells are malignant (class 0): class 1's probability falls along the radius
    expect(fit.probabilities![1][0]).toBeGreaterThan(0.9);
    expect(fit.probabilities![1][255]).toBeLessThan(0.1);
  });

  it('draws nothing for a score against a threshold on one feature (a sign label)', async () => {
    const c = conn();
    const p = example('logistic-regression');
    p.graph.nodes = p.graph.nodes.map((n) =>
      n.op === 'input' ? { ...n, attrs: { shape: [1], features: ['x1'] } } : n.id === 'w' ? { ...n, attrs: { ...(n.attrs as object), shape: [1] } } : n,
    );
    p.training = { ...p.training, epochs: 1 };
    const info = await c.ok<TrainJobInfo>({ type: 'train.start', project: p, baseDir: EXAMPLES });
    expect([info.plane, info.line]).toEqual([undefined, undefined]);
    await c.waitFor('train.state', (e) => e.state === 'done');
    expect([c.of('train.fit'), c.of('train.boundary')]).toEqual([[], []]);
  });
});

describe('training job: events', () => {
  it('batches train.progress to at most ~10 a second, at most 100 points each, and loses no step', async () => {
    const c = conn();
    const t0 = performance.now();
    await c.ok({ type: 'train.start', project: longSpiral(), baseDir: EXAMPLES });
    await sleep(1500);
    const stopped = await c.ok<TrainStatus>({ type: 'train.stop' });
    const elapsed = performance.now() - t0;
    const progress = c.events.filter((e) => e.event.event === 'train.progress');
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2);
    // spaced by the flush interval (100 ms, less the jitter of making each event), except the last one, which the
    // stop sends at once; unbatched, they would come with every slice of steps (20 ms)
    for (let i = 1; i < progress.length - 1; i++) expect(progress[i].at - progress[i - 1].at).toBeGreaterThanOrEqual(90);
    const all = c.of('train.progress');
    for (const e of all) {
      expect(e.points.step.length).toBeLessThanOrEqual(100);
      expect(Object.keys(e.points.gradNorm)).toEqual(['h1', 'h2', 'out']);
      expect(e.points.loss.min.length).toBe(e.points.step.length);
      expect(e.points.step.at(-1)).toBe(e.step);
      // the gradient along each edge, measured on the same step as the update ratio
      expect(e.flow?.step).toBe(e.updateRatio?.step);
      expect(e.flow?.edges.map((d) => `${d.source}>${d.target}`)).toEqual(['x>h1', 'h1>h2', 'h2>out', 'out>loss', 'y>loss']);
      expect(e.flow?.edges.filter((d) => d.target !== 'loss' || d.source !== 'y').every((d) => d.norm! > 0)).toBe(true);
      expect(e.flow?.edges.at(-1)?.norm).toBe(0);
    }
    expect(all.reduce((n, e) => n + e.points.count.reduce((a, b) => a + b, 0), 0)).toBe(stopped.step);
    expect(all.at(-1)!.step).toBe(stopped.step);
    // epochs are batched too
    expect(c.of('train.epoch').length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2);
    // a speed, and time left while running
    expect(all.at(-2)!.stepsPerSecond).toBeGreaterThan(0);
    expect(all.at(-2)!.secondsLeft).toBeGreaterThan(0);
    // the boundary: at most once a second, plus the one at the stop
    expect(c.of('train.boundary').length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
  });

  it('measures the update/weight ratio on one step per event: lr * ||g|| / ||w|| for one SGD step', async () => {
    const c = conn();
    // objective: mean over the batch of (w.x + b)^2; one dense unit, plain SGD, lr 0.1
    const project = {
      format: 'backprop-studio/project',
      version: 1,
      name: 'one layer',
      graph: {
        nodes: [
          { id: 'x', op: 'input', attrs: { shape: [2] } },
          { id: 'd', op: 'dense', attrs: { units: 1 }, inputs: { x: 'x' } },
          { id: 'sq', op: 'square', inputs: { x: 'd' } },
          { id: 'obj', op: 'mean', inputs: { x: 'sq' } },
        ],
      },
      data: { kind: 'inline', columns: { x1: [1, 0, 1, 0], x2: [0, 1, 1, 0] }, validation: 0, shuffle: false },
      training: { objective: 'obj', optimizer: { type: 'sgd', lr: 0.1 }, batchSize: 4, epochs: 10, seed: 1 },
    };
    // w = (3, 0), b = 4: ||(w, b)|| = 5
    const start = encodeWeights({ 'd.weight': { shape: [1, 2], data: Float32Array.from([3, 0]) }, 'd.bias': { shape: [1], data: Float32Array.from([4]) } }, 'one layer');
    const r = await c.ok<TrainStepResult>({ type: 'train.step', project, weights: start.base64 });
    expect(r.step).toBe(1);
    // residuals w.x + b = (7, 4, 7, 4); g_w = 2/4 sum r x = (7, 5.5); g_b = 2/4 sum r = 11
    expect(r.loss).toBeCloseTo((49 + 16 + 49 + 16) / 4, 4);
    const gradNorm = Math.sqrt(7 * 7 + 5.5 * 5.5 + 11 * 11);
    const e = await c.waitFor('train.progress', (p) => p.step === 1);
    expect(e.points.gradNorm.d.last[0]).toBeCloseTo(gradNorm, 4);
    expect(e.updateRatio?.step).toBe(1);
    expect(e.updateRatio!.layers.d).toBeCloseTo((0.1 * gradNorm) / 5, 5);
    // and it is what the weights did
    const after = decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64);
    expect([...after['d.weight'].data].map((v) => +v.toFixed(5))).toEqual([2.3, -0.55]);
    expect(after['d.bias'].data[0]).toBeCloseTo(2.9, 5);
    // the gradient along each edge, on that batch after the step: residuals r = w.x + b, d obj / d sq = 1/4,
    // d obj / d d = r / 2, d obj / d x = r w / 2
    const residuals = Math.hypot(5.2, 2.35, 4.65, 2.9);
    const flow = Object.fromEntries(e.flow!.edges.map((d) => [`${d.source}>${d.target}`, d.norm]));
    expect(e.flow!.step).toBe(1);
    expect(flow['sq>obj']).toBeCloseTo(0.5, 6);
    expect(flow['d>sq']).toBeCloseTo(residuals / 2, 5);
    expect(flow['x>d']).toBeCloseTo((residuals / 2) * Math.hypot(2.3, -0.55), 5);
  });

  it('stops on a NaN with an error state naming the node, keeping the last finite weights', async () => {
    const c = conn();
    const project = lnProject([2, 3, -1, 4], { batchSize: 4, epochs: 3, seed: 3 });
    await c.ok({ type: 'train.start', project });
    const error = await c.waitFor('train.state', (e) => e.state === 'error');
    expect(error.step).toBe(0);
    expect(error.error?.where?.node).toBe('log');
    expect(error.error?.message).toMatch(/step 1.*NaN.*"log" \(ln\)/);
    const w = decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64);
    expect(w.w.data[0]).toBe(1);
    // a step of a failed job is refused
    expect((await c.call({ type: 'train.step' })).error?.message).toMatch(/error/);
  });
});

describe('weights, evaluation and data through the host', () => {
  it('loads exported weights into a paused job that evaluates as the exporter did', async () => {
    const c = conn();
    const p = example('spiral');
    p.training = { ...p.training, epochs: 10 };
    await c.ok({ type: 'train.start', project: p, baseDir: EXAMPLES });
    await c.waitFor('train.state', (e) => e.state === 'done');
    const trained = await c.ok<Record<string, unknown>>({ type: 'evaluate', rows: 'all' });
    const validation = await c.ok<Record<string, unknown>>({ type: 'evaluate' });
    expect(validation).toMatchObject({ which: 'validation', rows: 120, classes: ['0', '1', '2'] });
    const { base64 } = await c.ok<WeightsExport>({ type: 'weights.export' });

    const loaded = await c.ok<TrainJobInfo>({ type: 'weights.load', project: p, baseDir: EXAMPLES, base64 });
    expect(loaded).toMatchObject({ job: 2, state: 'paused', step: 0 });
    await c.waitFor('train.state', (e) => e.job === 2 && e.state === 'paused');
    const again = await c.ok<Record<string, unknown>>({ type: 'evaluate', rows: 'all' });
    expect({ ...again, job: 1, step: 0 }).toEqual({ ...trained, job: 1, step: 0 });
    // and it can continue from there
    expect((await c.ok<TrainStatus>({ type: 'train.resume' })).state).toBe('running');
    await c.waitFor('train.state', (e) => e.job === 2 && e.state === 'done');
  });

  it("checks the job's gradients on the first 8 rows, as bpstudio gradcheck does, each tensor in the model's order", async () => {
    const c = conn();
    expect((await c.call({ type: 'gradcheck' })).error?.message).toMatch(/no training job/);
    const p = example('spiral');
    p.training = { ...p.training, epochs: 2 };
    await c.ok({ type: 'train.start', project: p, baseDir: EXAMPLES });
    await c.waitFor('train.state', (e) => e.state === 'done');
    const r = await c.ok<GradcheckResult>({ type: 'gradcheck' });
    expect({ ...r, tensors: r.tensors.map((t) => t.name) }).toMatchObject({
      job: 1,
      step: 30,
      rows: 8,
      ok: true,
      tolerance: 1e-5,
      tensors: ['h1.weight', 'h1.bias', 'h2.weight', 'h2.bias', 'out.weight', 'out.bias'],
    });
    expect(r.maxRelError).toBe(Math.max(...r.tensors.flatMap((t) => [t.reverseVsNumeric, t.forwardVsReverse])));
    expect(r.maxRelError).toBeLessThan(1e-5);
    // the same weights through the CLI's function give the same figures
    const session = c.host.current!.session;
    const cli = await checkGradients(session, Int32Array.from({ length: 8 }, (_, i) => i));
    expect(r.tensors).toEqual([...cli.tensors].map(([name, t]) => ({ name, reverseVsNumeric: t.reverseVsNumeric, forwardVsReverse: t.forwardVsReverse })));
    expect([r.of, cli.of]).toEqual(['parameters', 'parameters']);

    // a function of its inputs alone (no trainable tensor): the gradient with respect to each input node
    await c.ok({ type: 'train.start', project: example('seed-function'), baseDir: EXAMPLES });
    await c.waitFor('train.state', (e) => e.job === 2 && e.state === 'done');
    const inputs = await c.ok<GradcheckResult>({ type: 'gradcheck' });
    expect({ ...inputs, tensors: inputs.tensors.map((t) => t.name) }).toMatchObject({ of: 'inputs', ok: true, rows: 1, tensors: ['x1', 'x2'] });
    // (the CLI's gradcheck keeps to the parameters: none)
    expect((await checkGradients(c.host.current!.session, [0])).tensors.size).toBe(0);
  });

  it("gives a node's Jacobian with respect to an input or a parameter on the first row, as bpstudio jacobian does", async () => {
    const c = conn();
    expect((await c.call({ type: 'jacobian', of: 'out' })).error?.message).toMatch(/no training job/);
    const p = example('spiral');
    p.training = { ...p.training, epochs: 1 };
    await c.ok({ type: 'train.start', project: p, baseDir: EXAMPLES });
    await c.waitFor('train.state', (e) => e.state === 'done');
    const j = await c.ok<JacobianResult>({ type: 'jacobian', of: 'out' });
    // 3 logits of one row by its 2 features (the one input node out reads)
    expect({ ...j, values: j.values.length }).toEqual({ job: 1, step: 15, of: 'out', wrt: 'x', rows: 1, shape: [1, 3, 1, 2], ofRank: 2, values: 6 });
    const cli = await nodeJacobian(c.host.current!.session, Int32Array.of(0), { of: 'out', maxValues: 100, terms: { of: '', wrt: '', fewer: '' } });
    expect(j.values).toEqual([...cli.values]);
    // the logits sum the features' paths: some derivative is not zero
    expect(j.values.some((v) => v !== 0)).toBe(true);
    // a parameter tensor: h1's output by its bias, [1, 32] x [32], zero where its relu is off
    const bias = await c.ok<JacobianResult>({ type: 'jacobian', of: 'h1', wrt: 'h1.bias' });
    expect(bias.shape).toEqual([1, 32, 32]);
    const diagonal = Array.from({ length: 32 }, (_, k) => bias.values[k * 32 + k]);
    expect(diagonal.every((v) => v === 0 || v === 1)).toBe(true);
    expect(bias.values.filter((v, i) => i % 33 !== 0 && v !== 0)).toEqual([]);
    expect((await c.call({ type: 'jacobian', of: 'out', wrt: 'nope' })).error?.message).toMatch(/with respect to names "nope", which is neither an input node nor a parameter tensor/);
  });

  it("says in the job info the clip norm its gradients are held to, where it has one", async () => {
    const c = conn();
    const p = example('spiral');
    expect((await c.ok<TrainJobInfo>({ type: 'train.start', project: p, baseDir: EXAMPLES })).clipNorm).toBeUndefined();
    p.training = { ...p.training, clipNorm: 0.5 };
    expect((await c.ok<TrainJobInfo>({ type: 'train.start', project: p, baseDir: EXAMPLES })).clipNorm).toBe(0.5);
  });

  it("spreads a node's output, its gradient and its tensors' values and gradients over the first rows; a dead ReLU layer's units are counted", async () => {
    const c = conn();
    const p = example('spiral');
    p.training = { ...p.training, epochs: 1 };
    await c.ok({ type: 'train.start', project: p, baseDir: EXAMPLES });
    await c.waitFor('train.state', (e) => e.state === 'done');
    const d = await c.ok<DistributionsResult>({ type: 'distributions', node: 'h1' });
    // 256 rows of h1's 32 relu units; its weight [2, 32] and bias [32]
    expect({ node: d.node, step: d.step, rows: d.rows, n: d.output.n, tensors: d.tensors.map((t) => [t.name, t.value.n, t.gradient.n]) }).toEqual({
      node: 'h1',
      step: 15,
      rows: 256,
      n: 256 * 32,
      tensors: [['h1.weight', 64, 64], ['h1.bias', 32, 32]],
    });
    expect(d.output.min).toBe(0);
    expect(d.output.zeros).toBeGreaterThan(0);
    for (const h of [d.output, d.outputGradient, ...d.tensors.flatMap((t) => [t.value, t.gradient])]) expect(h.counts.reduce((a, b) => a + b, 0)).toBe(h.n);
    expect(d.deadUnits?.units).toBe(32);
    // the job's weights, as they are: the bias's histogram is of its values now
    const bias = (await c.host.current!.session.weights())['h1.bias'].data;
    expect(d.tensors[1].value.max).toBeCloseTo(Math.max(...bias), 6);

    // h1's biases far below zero: every unit of it is off for every row, and no gradient reaches its weights
    const { base64 } = await c.ok<WeightsExport>({ type: 'weights.export' });
    const weights = decodeWeights(base64);
    weights['h1.bias'] = { shape: [32], data: new Float32Array(32).fill(-100) };
    await c.ok({ type: 'weights.load', project: p, baseDir: EXAMPLES, base64: encodeWeights(weights, 'dead').base64 });
    const dead = await c.ok<DistributionsResult>({ type: 'distributions', node: 'h1' });
    expect(dead.deadUnits).toEqual({ dead: 32, units: 32 });
    expect(dead.output.zeros).toBe(dead.output.n);
    const gradient = dead.tensors.find((t) => t.name === 'h1.weight')!.gradient;
    expect([gradient.n, gradient.zeros]).toEqual([64, 64]);
    // the logits (no activation) have no units that can die, zero or not
    expect((await c.ok<DistributionsResult>({ type: 'distributions', node: 'out' })).deadUnits).toBeUndefined();
    expect((await c.call({ type: 'distributions', node: 'nope' })).error?.message).toMatch(/"nope" is not a node of the graph/);
  });

  it('reports how far a Jacobian has got, column by column, and stops it on cancel', async () => {
    const c = conn();
    await c.ok({ type: 'train.step', project: example('digit-images'), baseDir: EXAMPLES });
    // pool2 [1, 16, 4, 4] by the image [1, 1, 16, 16]: 256 forward passes of the conv net
    const pending = c.call({ type: 'jacobian', of: 'pool2', wrt: 'image' });
    const first = await c.waitFor('request.progress');
    expect([first.done > 0, first.done < first.total, first.total]).toEqual([true, true, 256]);
    expect(await c.ok({ type: 'cancel', request: first.requestId })).toEqual({ canceled: true });
    expect(await pending).toMatchObject({ ok: false, error: { message: 'canceled' } });
    // the job is free again: a smaller one comes back whole
    const j = await c.ok<JacobianResult>({ type: 'jacobian', of: 'out', wrt: 'image' });
    expect(j.shape).toEqual([1, 5, 1, 1, 16, 16]);
  });

  it('answers other requests while it checks the gradients, reports how far it has got, and stops on cancel', async () => {
    const c = conn();
    // the conv net: about 5 s of finite differences in float64
    await c.ok({ type: 'train.step', project: example('digit-images'), baseDir: EXAMPLES });
    const pending = c.call({ type: 'gradcheck' });
    const first = await c.waitFor('request.progress');
    expect(first.done).toBeGreaterThan(0);
    expect(first.done).toBeLessThan(first.total);
    // the host is not blocked: a compile is answered while the check runs
    expect((await c.ok<{ ok: boolean }>({ type: 'compile', project: example('spiral') })).ok).toBe(true);
    // and a node's primitives (which need no job)
    const program = await c.ok<ProgramResult>({ type: 'program', project: example('digit-images'), node: 'conv1' });
    expect(program.backward.map((l) => l.name)).toEqual(expect.arrayContaining(['∇conv1.weight', '∇conv1.bias']));
    expect(await c.ok({ type: 'cancel', request: first.requestId })).toEqual({ canceled: true });
    expect(await pending).toMatchObject({ ok: false, error: { message: 'canceled' } });
    const stoppedAt = c.of('request.progress').length;
    await sleep(300);
    expect(c.of('request.progress')).toHaveLength(stoppedAt);
    // the job is free again: it steps
    expect((await c.ok<TrainStepResult>({ type: 'train.step' })).step).toBe(2);
  });

  it("says why it cannot write a node's primitives: an unknown node, a graph with errors", async () => {
    const c = conn();
    expect((await c.call({ type: 'program', project: example('spiral'), node: 'nope' })).error?.message).toMatch(/"nope" is not a node of the graph/);
    const p = example('spiral');
    p.graph.nodes = p.graph.nodes.map((n) => (n.id === 'out' ? { ...n, inputs: {} } : n));
    const r = await c.call({ type: 'program', project: p, node: 'h1' });
    expect(r.error?.where?.node).toBe('out');
  });

  it('lists every missing, unexpected and mis-shaped tensor of weights that do not fit', async () => {
    const c = conn();
    const p = example('spiral');
    const { base64 } = encodeWeights(
      {
        'h1.weight': { shape: [2, 32], data: new Float32Array(64) },
        'h1.bias': { shape: [32], data: new Float32Array(32) },
        'h2.weight': { shape: [32, 32], data: new Float32Array(1024) },
        'h2.bias': { shape: [32], data: new Float32Array(32) },
        'out.weight': { shape: [3, 32], data: new Float32Array(96) },
        'extra.weight': { shape: [1], data: new Float32Array(1) },
        'data.x.mean': { shape: [2], data: new Float32Array(2) },
      },
      'misfit',
    );
    const r = await c.call({ type: 'weights.load', project: p, baseDir: EXAMPLES, base64 });
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/missing tensor out\.bias/);
    expect(r.error?.message).toMatch(/unexpected tensor extra\.weight/);
    expect(r.error?.message).toMatch(/h1\.weight has shape \[2, 32\] in the file, the graph needs \[32, 2\]/);
    expect(r.error?.where?.node).toBe('h1');
    expect((await c.call({ type: 'weights.load', project: p, baseDir: EXAMPLES, base64: 'not base64!' })).error?.message).toMatch(/base64/);
    expect(c.host.current).toBeUndefined();
  });

  it('previews the data: first rows, class balance, input columns and the points of a 2-D scatter', async () => {
    const c = conn();
    const d = await c.ok<Record<string, unknown> & { head: unknown[][]; points: { x1: number[]; label: number[] } }>({
      type: 'data.preview',
      project: example('spiral'),
      baseDir: EXAMPLES,
    });
    expect(d).toMatchObject({
      name: 'spiral',
      rows: 600,
      features: ['x1', 'x2'],
      label: { name: 'y', kind: 'class' },
      columns: ['x1', 'x2', 'y'],
      classes: [
        { name: '0', count: 200 },
        { name: '1', count: 200 },
        { name: '2', count: 200 },
      ],
      inputs: [{ id: 'x', features: ['x1', 'x2'] }],
    });
    expect(d.head.length).toBe(20);
    expect(d.head[0].length).toBe(3);
    expect(d.points.x1.length).toBe(600);
    expect(new Set(d.points.label)).toEqual(new Set([0, 1, 2]));
    // the iris CSV: a relative path, read against baseDir; without one it says to save first
    const iris = await c.ok<{ rows: number; classes: { count: number }[] }>({ type: 'data.preview', project: example('iris'), baseDir: EXAMPLES });
    expect(iris.classes.reduce((a, k) => a + k.count, 0)).toBe(iris.rows);
    // standardised data: the statistics go out with the weights
    await c.ok({ type: 'train.step', project: example('iris'), baseDir: EXAMPLES });
    const names = Object.keys(decodeWeights((await c.ok<WeightsExport>({ type: 'weights.export' })).base64));
    expect(names.filter((n) => n.startsWith('data.')).sort()).toEqual(['data.measurements.mean', 'data.measurements.std']);
    expect((await c.call({ type: 'data.preview', project: example('iris') })).error?.message).toMatch(/save the project first/);
  });

  it('every new request is part of the web socket protocol', () => {
    const project = example('spiral');
    for (const message of [
      { type: 'train.start', id: 1, project, baseDir: '/x', weights: 'AAAA' },
      { type: 'train.pause', id: 1 },
      { type: 'train.resume', id: 1 },
      { type: 'train.stop', id: 1 },
      { type: 'train.step', id: 1 },
      { type: 'train.step', id: 1, project, baseDir: '/x' },
      { type: 'weights.export', id: 1 },
      { type: 'weights.load', id: 1, project, baseDir: '/x', base64: 'AAAA' },
      { type: 'data.preview', id: 1, project, baseDir: '/x' },
      { type: 'evaluate', id: 1, rows: 'all' },
      { type: 'evaluate', id: 1 },
      { type: 'gradcheck', id: 1 },
    ]) {
      expect(socketUp({ channel: 'engine', message })).toEqual({ channel: 'engine', message });
    }
    expect(() => socketUp({ channel: 'engine', message: { type: 'evaluate', id: 1, rows: 'some' } })).toThrow(/rows/);
  });
});
