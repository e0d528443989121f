/**
 * Pipelined training on the WebGPU backend (Session keeps steps in flight and reads each step's metrics back while
 * the next ones run): the same step results, epoch results and weights, bit for bit, as WebGPU training that waits
 * for every readback; evaluation and weights drain the steps in flight; a NaN found steps late stops at its own step,
 * names the node and leaves the weights as the CPU leaves them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend, Executable } from '../../engine/backends/backend';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { WebGpuBackend, type WebGpuExecutable } from '../../engine/backends/webgpu/webgpu-backend';
import { parseProject, type Project } from '../../engine/io/project';
import { Session, type EpochResult, type StepResult } from '../../engine/train/session';
import { StudioError } from '../../engine/util/errors';
import { lnProject } from '../unit/host-harness';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const spiral = () => parseProject(readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8'));

/** The WebGPU backend without runAndCollect and saved states: Session then waits for every readback, as it did before pipelining. */
function unpipelined(b: WebGpuBackend): Backend {
  return {
    name: b.name,
    load(plan): Executable {
      const e = b.load(plan);
      return {
        plan: e.plan,
        setInput: (name, data) => e.setInput(name, data),
        run: (ctx, phase) => e.run(ctx, phase),
        read: (output) => e.read(output),
        findNonFinite: (ctx) => e.findNonFinite(ctx),
      };
    },
    writeTensor: (name, data) => b.writeTensor(name, data),
    readTensor: (name) => b.readTensor(name),
    hasTensor: (name) => b.hasTensor(name),
    tensorNames: () => b.tensorNames(),
    dispose: () => b.dispose(),
  };
}

async function trained(project: Project, backend: Backend, epochs: number) {
  const s = new Session(project, { baseDir: EXAMPLES, backend });
  const steps: StepResult[] = [];
  const epochResults: EpochResult[] = [];
  await s.train({ epochs, onStep: (r) => steps.push(r), onEpoch: (r) => epochResults.push(r) });
  return { s, steps, epochs: epochResults, weights: await s.weights() };
}

const plain = (r: StepResult) => ({ ...r, rows: [...Array.from(r.rows)] });

function expectSameWeights(a: Awaited<ReturnType<Session['weights']>>, b: Awaited<ReturnType<Session['weights']>>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const k of Object.keys(a)) expect([...a[k].data], k).toEqual([...b[k].data]);
}

describe('pipelined WebGPU training', () => {
  it('train() reports the same steps and epochs, and ends with the same weights, as waiting for each readback', async () => {
    const want = await trained(spiral(), unpipelined(await WebGpuBackend.create()), 3);
    const got = await trained(spiral(), await WebGpuBackend.create(), 3);
    expect(got.s.pendingSteps).toBe(0);
    expect(got.steps.length).toBe(45);
    expect(got.steps.map((r) => r.step)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    expect(got.steps.map(plain)).toEqual(want.steps.map(plain));
    expect(got.epochs).toEqual(want.epochs);
    expectSameWeights(got.weights, want.weights);
  });

  it('train({ steps }) stops at that step, mid-epoch, as before', async () => {
    const want = new Session(spiral(), { baseDir: EXAMPLES, backend: unpipelined(await WebGpuBackend.create()) });
    const got = new Session(spiral(), { baseDir: EXAMPLES, backend: await WebGpuBackend.create() });
    const [a, b]: EpochResult[][] = [[], []];
    await want.train({ steps: 20, onEpoch: (r) => a.push(r) });
    await got.train({ steps: 20, onEpoch: (r) => b.push(r) });
    expect(got.step).toBe(20);
    expect(b).toEqual(a);
    expectSameWeights(await got.weights(), await want.weights());
  });

  it('nextStep() keeps steps in flight and returns them in order, the same as waiting; ahead: 0 empties the window', async () => {
    const want = await trained(spiral(), unpipelined(await WebGpuBackend.create()), 2);
    const s = new Session(spiral(), { baseDir: EXAMPLES, backend: await WebGpuBackend.create() });
    const steps: StepResult[] = [];
    const epochs: EpochResult[] = [];
    const first = await s.nextStep();
    steps.push(first.step);
    expect(s.pendingSteps).toBe(7);
    expect(s.step).toBe(1);
    while (s.epoch < 2) {
      // drain now and then, as the app's job does before it reads the weights
      const ahead = steps.length % 10 === 5 ? 0 : undefined;
      const { step, epoch } = await s.nextStep({ ahead });
      if (ahead === 0 && s.pendingSteps === 0) {
        // the window is empty: a further ahead-0 step runs alone
        const alone = await s.nextStep({ ahead: 0 });
        steps.push(step, alone.step);
        expect(s.pendingSteps).toBe(0);
        if (alone.epoch) epochs.push(alone.epoch);
      } else steps.push(step);
      if (epoch) {
        epochs.push(epoch);
        // the epoch's validation ran on the weights after exactly its steps: nothing of the next epoch in flight
        expect(s.pendingSteps).toBe(0);
      }
    }
    expect(steps.map(plain)).toEqual(want.steps.map(plain));
    expect(epochs.map(({ confusion: _, ...e }) => e)).toEqual(want.epochs);
    expectSameWeights(await s.weights(), want.weights);
  });

  it('evaluate, predict and weights first wait for the steps in flight, whose results are still reported after', async () => {
    const ref = new Session(spiral(), { baseDir: EXAMPLES, backend: unpipelined(await WebGpuBackend.create()) });
    const batches = ref.epochBatches();
    const want: StepResult[] = [];
    for (const rows of batches.slice(0, 8)) want.push(await ref.trainStep(rows));
    const wantEval = await ref.evaluate(ref.split.validation);
    const wantPredict = await ref.predict([0, 1, 2]);

    const s = new Session(spiral(), { baseDir: EXAMPLES, backend: await WebGpuBackend.create() });
    const got = [(await s.nextStep()).step];
    expect(s.pendingSteps).toBe(7);
    // eight steps submitted, one reported: evaluation sees the weights after all eight
    expect(await s.evaluate(s.split.validation)).toEqual(wantEval);
    expect((await s.predict([0, 1, 2])).map((p) => [...p])).toEqual(wantPredict.map((p) => [...p]));
    expectSameWeights(await s.weights(), await ref.weights());
    expect(s.pendingSteps).toBe(7);
    while (s.pendingSteps) got.push((await s.nextStep({ ahead: 0 })).step);
    expect(got.map(plain)).toEqual(want.map(plain));
    expect(s.step).toBe(8);
    // the window is empty: a step that waits for its readback may follow
    expect((await s.trainStep(batches[8])).loss).toBe((await ref.trainStep(batches[8])).loss);
  });
});

describe('freeing a session on WebGPU', () => {
  it("dispose waits for the steps in flight, then frees the plans' buffers and the tensors, and leaves no error behind", async () => {
    const backend = await WebGpuBackend.create();
    const loaded: WebGpuExecutable[] = [];
    const load = backend.load.bind(backend);
    backend.load = (plan) => {
      const e = load(plan);
      loaded.push(e);
      return e;
    };
    const s = new Session(spiral(), { baseDir: EXAMPLES, backend });
    await s.nextStep();
    expect(s.pendingSteps).toBe(7);
    expect(loaded).toHaveLength(1);
    await s.dispose();
    expect(backend.tensorNames()).toEqual([]);
    // Nothing that dispose did is an error that the next job would meet: it trains as a first one does.
    const next = new Session(spiral(), { baseDir: EXAMPLES, backend: await WebGpuBackend.create() });
    const want = await new Session(spiral(), { baseDir: EXAMPLES, backend: new CpuBackend() }).trainStep(next.epochBatches()[0]);
    expect((await next.trainStep(next.epochBatches()[0])).loss).toBeCloseTo(want.loss, 5);
    // The training plan's buffers are gone: reading its objective fails.
    await expect(loaded[0].read('objective')).rejects.toThrow(StudioError);
  });
});

describe('a NaN on pipelined WebGPU', () => {
  /** w starts at 1 and stays positive; the 10th row (x = -1) makes ln(w x) NaN at step 10, steps after step 1 in flight. */
  const nan = (): Project => lnProject([2, 3, 4, 5, 6, 7, 8, 9, 10, -1, 2, 3], { epochs: 3, seed: 3, optimizer: { type: 'adam', lr: 0.01 } }) as Project;

  async function run(backend: Backend) {
    const s = new Session(nan(), { baseDir: '.', backend });
    const steps: number[] = [];
    const err = await s.train({ onStep: (r) => steps.push(r.step) }).catch((e: unknown) => e);
    return { s, steps, err: err as StudioError, w: (await s.backend.readTensor('w'))[0] };
  }

  it('stops at the step where it happened, names the node, and keeps the weights before that step, as the CPU does', async () => {
    const cpu = await run(new CpuBackend());
    const gpu = await run(await WebGpuBackend.create());
    expect(cpu.err).toBeInstanceOf(StudioError);
    expect(cpu.err.message).toMatch(/step 10.*NaN.*"log" \(ln\)/);
    expect(gpu.err).toBeInstanceOf(StudioError);
    expect(gpu.err.message).toBe(cpu.err.message);
    expect(gpu.err.where.node).toBe('log');
    // steps 1..9 reported, none after
    expect(gpu.steps).toEqual(cpu.steps);
    expect(gpu.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(gpu.s.step).toBe(9);
    expect(gpu.s.pendingSteps).toBe(0);
    // the steps submitted after step 10 were undone, and step 10's update with them
    expect(Number.isFinite(gpu.w)).toBe(true);
    expect(gpu.w).toBeCloseTo(cpu.w, 5);
    // the optimizer state too: the saved state restored and steps 1..9 replayed
    const [gm, cm] = [await gpu.s.backend.readTensor('w@m'), await cpu.s.backend.readTensor('w@m')].map((t) => t[0]);
    expect(gm).toBeCloseTo(cm, 5);
  });

  it('stops where a gradient overflows while the objective stays finite (exploding-relu unclipped), as the CPU does', async () => {
    const unclipped = (): Project => {
      const p = parseProject(readFileSync(join(EXAMPLES, 'exploding-relu.bpstudio'), 'utf8'));
      delete p.training!.clipNorm;
      return p;
    };
    const stops = async (backend: Backend) => {
      const s = new Session(unclipped(), { baseDir: EXAMPLES, backend });
      const steps: number[] = [];
      const err = (await s.train({ onStep: (r) => steps.push(r.step) }).catch((e: unknown) => e)) as StudioError;
      const w = await s.weights();
      return { s, steps, err, finite: Object.values(w).every((t) => t.data.every(Number.isFinite)) };
    };
    const [cpu, gpu] = [await stops(new CpuBackend()), await stops(await WebGpuBackend.create())];
    expect(cpu.err.message).toMatch(/^training stopped at step 7: the gradient of h\d\.\w+ is not finite/);
    expect(gpu.err.message.match(/^training stopped at step \d+/)?.[0]).toBe('training stopped at step 7');
    expect(gpu.steps).toEqual(cpu.steps);
    expect(gpu.s.pendingSteps).toBe(0);
    // the failing step's update did not run: no weight is NaN or infinite
    expect([cpu.finite, gpu.finite]).toEqual([true, true]);
  });

  it('nextStep throws at that step, and tries the same batch again next time, as on the CPU', async () => {
    for (const backend of [new CpuBackend(), await WebGpuBackend.create()]) {
      const s = new Session(nan(), { baseDir: '.', backend });
      const seen: number[] = [];
      let err: unknown;
      for (let i = 0; i < 12 && !err; i++) {
        try {
          seen.push((await s.nextStep()).step.step);
        } catch (e) {
          err = e;
        }
      }
      expect(seen, backend.name).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect((err as Error).message, backend.name).toMatch(/step 10.*"log"/);
      const again = await s.nextStep().catch((e: unknown) => e);
      expect((again as Error).message, backend.name).toMatch(/step 10.*"log"/);
      expect(s.step).toBe(9);
      expect(s.pendingSteps).toBe(0);
    }
  });
});
