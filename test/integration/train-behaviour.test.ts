/** Training through the CLI: vanishing and exploding gradients, determinism, --steps, --seed. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, jsonLines, readWeights, tempExamples } from './helpers';

let ex: ReturnType<typeof tempExamples>;
beforeAll(() => {
  ex = tempExamples();
});
afterAll(() => ex?.cleanup());

async function train(name: string, ...args: string[]): Promise<{ lines: Record<string, unknown>[]; out: string }> {
  const out = join(ex.dir, 'out', `${name}-${args.join('_').replace(/[^\w]/g, '')}.safetensors`);
  const r = await cli('train', ex.project(name), '--json', '--out', out, ...args);
  if (r.code !== 0) throw new Error(`train ${name} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return { lines: jsonLines(r.stdout), out };
}

describe('vanishing gradients: deep sigmoid against deep ReLU, one epoch', () => {
  test('gradNorms.h1 / gradNorms.out is below 1/100 for sigmoid and above 1/10 for ReLU', async () => {
    const ratio = async (name: string) => {
      const { lines } = await train(name, '--epochs', '1');
      expect(lines).toHaveLength(2);
      const g = lines[0].gradNorms as Record<string, number>;
      expect(Object.keys(g).sort()).toEqual(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8', 'h9', 'out']);
      return g.h1 / g.out;
    };
    const sigmoid = await ratio('deep-sigmoid');
    const relu = await ratio('deep-relu');
    console.log(`gradNorms.h1 / gradNorms.out after one epoch: deep-sigmoid ${sigmoid.toExponential(3)}, deep-relu ${relu.toExponential(3)}`);
    expect(sigmoid).toBeLessThan(1 / 100);
    expect(relu).toBeGreaterThan(1 / 10);
  });
});

describe('exploding gradients: the exploding-relu example with and without its clipNorm', () => {
  test('clipped to a global norm of 1 it reaches 95% validation accuracy; unclipped, a gradient overflows and training stops there', async () => {
    const clipped = await train('exploding-relu');
    // the first epoch's gradients, every layer together: far above the clip norm
    const first = clipped.lines[0].gradNorms as Record<string, number>;
    expect(Math.hypot(...Object.values(first))).toBeGreaterThan(10);
    expect((clipped.lines[clipped.lines.length - 2] as { valAccuracy: number }).valAccuracy).toBeGreaterThanOrEqual(0.95);
    const project = JSON.parse(readFileSync(ex.project('exploding-relu'), 'utf8')) as { training: { clipNorm?: number } };
    expect(project.training.clipNorm).toBe(1);
    delete project.training.clipNorm;
    writeFileSync(ex.project('exploding-unclipped'), JSON.stringify(project));
    const r = await cli('train', ex.project('exploding-unclipped'), '--json', '--out', join(ex.dir, 'out', 'unclipped.safetensors'));
    console.log(`exploding-relu unclipped: ${r.stderr.trim()}`);
    expect(r.code).toBe(1);
    // the objective is still finite there (the layers after the overflow are dead): the gradient is what says so
    expect(r.stderr).toMatch(/training stopped at step \d+: the gradient of h\d\.(weight|bias) is not finite .*; the first non-finite value came from node "h\d"/);
  });
});

describe('a cosine schedule', () => {
  test('runs over training.epochs, and train says so when --epochs asks for another number', async () => {
    const project = JSON.parse(readFileSync(ex.project('spiral'), 'utf8')) as { training: Record<string, unknown> };
    project.training = { ...project.training, epochs: 4, schedule: { type: 'cosine', min: 0.1 } };
    writeFileSync(ex.project('spiral-cosine'), JSON.stringify(project));
    const r = await cli('train', ex.project('spiral-cosine'), '--json', '--epochs', '2', '--out', join(ex.dir, 'out', 'cosine.safetensors'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('note: the cosine schedule runs over training.epochs (4 epochs, 60 steps), not --epochs 2');
    // the second epoch ends at step 30: t = 29 of 60 steps, about halfway down from 1 to 0.1 of adam's 0.01
    const lines = jsonLines(r.stdout);
    expect((lines[1] as { lr: number }).lr).toBeCloseTo(0.01 * (0.1 + 0.9 * (1 + Math.cos((Math.PI * 29) / 60)) / 2), 10);
    const plain = await cli('train', ex.project('spiral-cosine'), '--json', '--out', join(ex.dir, 'out', 'cosine4.safetensors'));
    expect(plain.stderr).not.toContain('note:');
  });
});

describe('determinism', () => {
  test('the same file and seed train to byte-identical weights and identical epoch lines; another --seed differs', async () => {
    const a = await train('spiral', '--epochs', '2');
    const b = await train('spiral', '--epochs', '2', '--seed', '1'); // training.seed is 1: the same run
    const c = await train('spiral', '--epochs', '2', '--seed', '2');
    expect(Buffer.compare(readFileSync(a.out), readFileSync(b.out))).toBe(0);
    expect(a.lines.slice(0, -1)).toEqual(b.lines.slice(0, -1));
    const wa = readWeights(a.out).tensors;
    const wc = readWeights(c.out).tensors;
    expect(Object.keys(wc).sort()).toEqual(Object.keys(wa).sort());
    for (const name of Object.keys(wa)) {
      if (name.endsWith('.bias')) continue; // biases may start at zero under both seeds
      expect(Array.from(wc[name].data), name).not.toEqual(Array.from(wa[name].data));
    }
  });

  test('shuffled CSV data (iris) trains the same twice', async () => {
    const a = await train('iris', '--epochs', '3');
    const b = await train('iris', '--epochs', '3', '--seed', '1');
    expect(Buffer.compare(readFileSync(a.out), readFileSync(b.out))).toBe(0);
  });
});

describe('--steps', () => {
  test.each([
    ['spiral', 7], // inside the first epoch (15 steps per epoch)
    ['spiral', 20], // one epoch and part of the second
    ['iris', 3],
  ])('%s --steps %i stops after that many optimizer steps', async (name, steps) => {
    const { lines, out } = await train(name, '--steps', String(steps));
    const done = lines[lines.length - 1];
    expect(done.done).toBe(true);
    expect(done.steps).toBe(steps);
    const epochs = lines.slice(0, -1);
    expect(epochs.length).toBeGreaterThanOrEqual(1);
    expect(epochs[epochs.length - 1].step).toBe(steps);
    expect(readWeights(out).metadata.format).toBe('backprop-studio/weights');
  });

  test('--steps beyond --epochs: the epochs win', async () => {
    const { lines } = await train('iris', '--epochs', '1', '--steps', '1000');
    expect(lines).toHaveLength(2);
    expect(lines[1].steps).toBe(lines[0].step);
  });
});
