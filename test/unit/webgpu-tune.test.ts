/**
 * The matmul kernel's tuning (engine/backends/webgpu/tune.ts): which configuration a device's timings choose, the
 * timing itself (here on llvmpipe, at small sizes: the backend keeps the defaults on a software adapter), and that a
 * tuning changes the kernels a plan runs but not one bit of what they compute.
 */
import { describe, expect, test, vi } from 'vitest';
import { chooseTuning, deviceTuning, timeConfigurations } from '../../engine/backends/webgpu/tune';
import { DEFAULT_TUNING, MATMUL_CONFIGS, matmulStepKernels, type MatmulTuning } from '../../engine/backends/webgpu/kernels/matmul';
import { resolveTargets, trainProgram } from '../../engine/train/program';
import { MLP_OPTIMIZER, mlpGraph } from '../../bench/mlp';
import { useGpuBackend } from '../conformance/gpu';
import { generate, NORMAL, rngFor } from '../conformance/tensor';

const gpu = useGpuBackend();
const config = (tile: 64 | 128, bk: number, stages: number) => MATMUL_CONFIGS.find((c) => c.tile === tile && c.bk === bk && c.stages === stages)!;

describe('chooseTuning: per tile, the fastest, where it beats the default by 5%', () => {
  test.each([
    ['the defaults fastest', [[64, 16, 1, 1.0], [64, 32, 1, 1.2], [128, 8, 1, 2.0], [128, 8, 2, 2.5]], DEFAULT_TUNING],
    ['another 10% faster, for one tile', [[64, 16, 1, 1.0], [64, 16, 2, 0.9], [128, 8, 1, 2.0], [128, 16, 1, 2.05]], { 64: { bk: 16, stages: 2 }, 128: { bk: 8, stages: 1 } }],
    ['the fastest of several faster ones, for both', [[64, 16, 1, 1.0], [64, 32, 1, 0.8], [64, 16, 2, 0.7], [128, 8, 1, 2.0], [128, 8, 2, 1.5]], { 64: { bk: 16, stages: 2 }, 128: { bk: 8, stages: 2 } }],
    ['3% faster: within the noise, the default kept', [[64, 16, 1, 1.0], [64, 32, 1, 0.97], [128, 8, 1, 2.0], [128, 16, 1, 1.94]], DEFAULT_TUNING],
    ['exactly 5% faster', [[64, 16, 1, 1.0], [64, 32, 1, 0.95]], { ...DEFAULT_TUNING, 64: { bk: 32, stages: 1 } }],
    ['the default not timed (it did not fit): the fastest', [[128, 16, 1, 3.0], [128, 8, 2, 2.0]], { ...DEFAULT_TUNING, 128: { bk: 8, stages: 2 } }],
    ['nothing timed', [], DEFAULT_TUNING],
  ] as [string, [64 | 128, number, number, number][], MatmulTuning][])('%s', (_, times, want) => {
    expect(chooseTuning(new Map(times.map(([tile, bk, stages, s]) => [config(tile, bk, stages), s])))).toEqual(want);
  });
});

describe('the tuning on this device', () => {
  test('a software adapter keeps the defaults', async () => {
    expect(gpu().software).toBe(true);
    expect(gpu().matmulTuning).toBe(DEFAULT_TUNING);
    expect(await deviceTuning(gpu())).toBe(DEFAULT_TUNING);
  });

  test('every configuration that fits is timed, at the sizes given, each tile\'s default first', async () => {
    const seconds = await timeConfigurations(gpu(), { 64: 64, 128: 128 }, 60_000);
    expect([...seconds.keys()]).toEqual(MATMUL_CONFIGS);
    for (const s of seconds.values()) expect(s).toBeGreaterThan(0);
  }, 60_000);

  test('no more after a slow default (llvmpipe at n = 512: ~100 ms), and none after the budget', async () => {
    const seconds = await timeConfigurations(gpu(), { 64: 512, 128: 128 }, 60_000);
    expect([...seconds.keys()]).toEqual([config(64, 16, 1), ...MATMUL_CONFIGS.filter((c) => c.tile === 128)]);
    expect(seconds.get(config(64, 16, 1))).toBeGreaterThan(0.02);
    expect((await timeConfigurations(gpu(), { 64: 64, 128: 128 }, 0)).size).toBe(0);
  }, 60_000);

  test("a tuning changes the kernels a training step's plan runs, not one bit of what they compute", async () => {
    const tuned: MatmulTuning = { 64: { bk: 32, stages: 1 }, 128: { bk: 16, stages: 1 } };
    expect(matmulStepKernels({ op: 'matmul', attrs: {}, inShapes: [[70, 50], [50, 30]], outShape: [70, 30] }, tuned)).toMatchObject({ kernel: { code: expect.stringContaining('const BK = 32u;') } });
    const nodes = mlpGraph({ input: 40, hidden: [24, 24], classes: 5 });
    const { plan } = trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, 16);
    const rng = rngFor('tuning');
    const feeds = [...plan.inputs].map(([name, x]) => [name, Float32Array.from(generate(NORMAL, x.shape.reduce((a, d) => a * d, 1), rng))] as const);
    const backend = gpu();
    const run = async (tuning: MatmulTuning) => {
      backend.matmulTuning = tuning;
      const codes: string[] = [];
      const pipeline = backend.pipeline.bind(backend);
      const spy = vi.spyOn(backend, 'pipeline').mockImplementation((code: string) => {
        codes.push(code);
        return pipeline(code);
      });
      try {
        const exe = backend.load(plan);
        for (const [name, v] of feeds) exe.setInput(name, v);
        exe.run({ seed: 1, step: 1 });
        const outputs = await Promise.all([...plan.outputs.keys()].map((o) => exe.read(o)));
        exe.dispose();
        return { outputs, bk: codes.flatMap((c) => /const BK = (\d+)u;/.exec(c)?.[1] ?? []) };
      } finally {
        spy.mockRestore();
        backend.matmulTuning = DEFAULT_TUNING;
      }
    };
    const plain = await run(DEFAULT_TUNING);
    const other = await run(tuned);
    expect(new Set(plain.bk)).toEqual(new Set(['16']));
    expect(new Set(other.bk)).toEqual(new Set(['32']));
    other.outputs.forEach((values, i) => expect([...values], [...plan.outputs.keys()][i]).toEqual([...plain.outputs[i]]));
  }, 60_000);
});
