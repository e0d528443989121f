/**
 * Learning-rate schedules (training.schedule, engine/train/schedule.ts): the factor on optimizer.lr step by step,
 * against values worked by hand, and a session's updates and epochs under one.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAINING, withTrainingDefaults, type Project, type ScheduleSpec } from '../../engine/io/project';
import { lrFactor } from '../../engine/train/schedule';
import { Session } from '../../engine/train/session';
import { sineSignProject } from './sine-sign-project';

const schedule = (s: ScheduleSpec) => withTrainingDefaults({ schedule: s }).schedule;
const c45 = Math.cos(Math.PI / 4);

describe('the factor on the learning rate at each step', () => {
  it.each<[string, ScheduleSpec, { perEpoch: number; total: number }, [number, number][]]>([
    ['constant (the default)', {}, { perEpoch: 3, total: 30 }, [[1, 1], [2, 1], [1000, 1]]],
    // epochs 0 and 1 (steps 1 to 6) at 1, epochs 2 and 3 at 0.5, then 0.25
    ['step: every 2 epochs of 3 steps, gamma 0.5', { type: 'step', every: 2, gamma: 0.5 }, { perEpoch: 3, total: 30 }, [[1, 1], [6, 1], [7, 0.5], [12, 0.5], [13, 0.25]]],
    ['step: gamma defaults to 0.1, every to 10 epochs', { type: 'step' }, { perEpoch: 1, total: 30 }, [[10, 1], [11, 0.1], [21, 0.01]]],
    // t = step - 1 of 4: (1 + cos(pi t / 4)) / 2, then 0 from the run's end on
    ['cosine to 0 over 4 steps', { type: 'cosine' }, { perEpoch: 2, total: 4 }, [[1, 1], [2, (1 + c45) / 2], [3, 0.5], [4, (1 - c45) / 2], [5, 0], [9, 0]]],
    ['cosine to 0.1 over 2 steps', { type: 'cosine', min: 0.1 }, { perEpoch: 2, total: 2 }, [[1, 1], [2, 0.1 + 0.9 * 0.5], [3, 0.1]]],
    ['warm-up over 4 steps', { warmup: 4 }, { perEpoch: 3, total: 30 }, [[1, 0.25], [2, 0.5], [4, 1], [10, 1]]],
    ['warm-up times a step schedule', { type: 'step', every: 1, gamma: 0.1, warmup: 2 }, { perEpoch: 1, total: 30 }, [[1, 0.5], [2, 0.1], [3, 0.01]]],
  ])('%s', (_name, spec, run, expected) => {
    for (const [step, factor] of expected) expect(lrFactor(schedule(spec), step, run), `step ${step}`).toBeCloseTo(factor, 12);
  });

  it('defaults to a constant rate without warm-up', () => {
    expect(DEFAULT_TRAINING.schedule).toEqual({ type: 'constant', every: 10, gamma: 0.1, min: 0, warmup: 0 });
  });
});

/** 4 epochs of 3 steps (48 training rows in batches of 16), plain SGD at `lr`, under schedule `s`. */
const project = (lr: number, s?: ScheduleSpec): Project =>
  sineSignProject({ optimizer: { type: 'sgd', lr }, epochs: 4, seed: 2, ...(s ? { schedule: s } : {}) }, { validation: 0.25 });

const weightsAfter = async (p: Project, steps: number) => {
  const s = new Session(p, { baseDir: '.' });
  await s.train({ steps });
  return s.weights();
};

describe('a session under a schedule', () => {
  it("takes each step with the schedule's rate: 4 steps of warm-up from lr 0.4 start as lr 0.1 does, to the bit", async () => {
    const warm = await weightsAfter(project(0.4, { warmup: 4 }), 1);
    const flat = await weightsAfter(project(0.1), 1);
    expect(warm['out.weight'].data).toEqual(flat['out.weight'].data);
    // the second step is at 0.2, not 0.1
    const [warm2, flat2] = [await weightsAfter(project(0.4, { warmup: 4 }), 2), await weightsAfter(project(0.1), 2)];
    expect(warm2['out.weight'].data).not.toEqual(flat2['out.weight'].data);
  });

  it('reports the learning rate of each epoch’s last step', async () => {
    const s = new Session(project(0.1, { type: 'step', every: 1, gamma: 0.5 }), { baseDir: '.' });
    // 48 training rows in batches of 16: 3 steps an epoch
    expect(s.stepsPerEpoch).toBe(3);
    const lrs: number[] = [];
    await s.train({ onEpoch: (e) => lrs.push(e.lr) });
    expect(lrs).toEqual([0.1, 0.05, 0.025, 0.0125]);
    expect(s.learningRate(1)).toBe(0.1);
    expect(s.learningRate(4)).toBe(0.05);
  });
});
