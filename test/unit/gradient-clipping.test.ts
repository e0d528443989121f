/**
 * training.clipNorm: a step applies the gradients scaled together to a global L2 norm of at most clipNorm
 * (torch.nn.utils.clip_grad_norm_), while the norms it reports are the gradients' own.
 */
import { describe, expect, it } from 'vitest';
import type { Project } from '../../engine/io/project';
import { Session, type StepResult } from '../../engine/train/session';
import { sineSignProject } from './sine-sign-project';

/** With a tanh layer of 8 units, plain SGD at 0.1. */
const project = (clipNorm?: number): Project =>
  sineSignProject(
    { optimizer: { type: 'sgd', lr: 0.1 }, epochs: 1, seed: 4, ...(clipNorm !== undefined ? { clipNorm } : {}) },
    { validation: 0, hidden: [{ id: 'h', op: 'dense', attrs: { units: 8, activation: 'tanh' }, inputs: { x: 'x' } }], from: 'h' },
  );

/** One step: the weights before and after, and what the step reported. */
async function oneStep(clipNorm?: number) {
  const s = new Session(project(clipNorm), { baseDir: '.' });
  const before = await s.weights();
  let step: StepResult | undefined;
  await s.train({ steps: 1, onStep: (r) => (step = r) });
  const after = await s.weights();
  const change = Object.fromEntries(Object.keys(after).map((k) => [k, Array.from(after[k].data, (v, i) => v - before[k].data[i])]));
  return { change, step: step!, after };
}

describe('gradient clipping to a global norm', () => {
  it('scales the whole step by clipNorm / norm when the gradient is larger, and reports the unclipped norms', async () => {
    const free = await oneStep();
    const norm = Math.hypot(...Object.values(free.step.tensorNorms));
    const clipNorm = norm / 8;
    const clip = await oneStep(clipNorm);
    expect(clip.step.tensorNorms).toEqual(free.step.tensorNorms);
    const scale = clipNorm / (norm + 1e-6);
    for (const [k, d] of Object.entries(clip.change)) {
      const want = free.change[k].map((v) => v * scale);
      const worst = Math.max(...d.map((v, i) => Math.abs(v - want[i])));
      // (each change is a difference of float32 weights near 1: rounding puts about 1e-8 into it)
      expect(worst, k).toBeLessThan(1e-4 * Math.max(...want.map(Math.abs)) + 1e-7);
    }
    // the step's length: lr times the clip norm
    const length = Math.hypot(...Object.values(clip.change).flat());
    expect(length).toBeCloseTo(0.1 * clipNorm, 6);
  });

  it('leaves a gradient under the norm as it is, to the bit', async () => {
    const free = await oneStep();
    const loose = await oneStep(1e6);
    for (const k of Object.keys(free.after)) expect(loose.after[k].data, k).toEqual(free.after[k].data);
  });
});
