/** The two GPU tables (scripts/gpu-tables.mjs), from hand-made lines of torch_peer.py and the bench. */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script, without types
import { gpuTables, jsonLines } from '../../scripts/gpu-tables.mjs';

const torch = [
  { torch: '2.5.0', gpu: 'NVIDIA H200' },
  { bench: 'torch_matmul_f32', tf32: false, n: 4096, gflops: 50000 },
  { bench: 'torch_matmul_f32', tf32: true, n: 4096, gflops: 330000 },
  { bench: 'torch_matmul_f32', tf32: false, n: 512, gflops: 8000 },
  { bench: 'torch_mlp_step', batch: 128, steps_per_s: 800, us_per_step: 1250, gflops: 165 },
  { bench: 'torch_mlp_step_with_loss_item', batch: 128, steps_per_s: 700 },
];
const bench = [
  { bench: 'matmul', backend: 'webgpu', adapter: 'NVIDIA H200 (Vulkan)', n: 512, tile: 64, bk: 8, stages: 1, value: 6000, unit: 'GFLOP/s' },
  { bench: 'matmul', backend: 'webgpu', adapter: 'NVIDIA H200 (Vulkan)', n: 4096, tile: 128, bk: 8, stages: 2, value: 42000, unit: 'GFLOP/s' },
  { bench: 'mlp_step', backend: 'webgpu', adapter: 'NVIDIA H200 (Vulkan)', batch: 128, readEvery: 10, value: 2000, unit: 'steps/s' },
  { bench: 'mlp_step', backend: 'webgpu', adapter: 'NVIDIA H200 (Vulkan)', batch: 128, readEvery: 10, value: 11, unit: 'dispatches/step' },
  { bench: 'mlp_step', backend: 'webgpu', adapter: 'NVIDIA H200 (Vulkan)', batch: 128, readEvery: 10, of: 'pooled buffers', value: 123, unit: 'bytes' },
  { bench: 'dispatch', backend: 'webgpu', adapter: 'NVIDIA H200 (Vulkan)', ops: 1000, value: 2.345, unit: 'us/op' },
];

describe('the GPU tables', () => {
  const md = gpuTables(torch, bench) as string;
  const row = (first: string) => md.split('\n').find((l) => l.startsWith(`| ${first} |`));

  it('puts our matmul beside PyTorch fp32 (TF32 off), with the ratio, and says whether n = 4096 meets 0.8x', () => {
    expect(md.split('\n')[0]).toBe('GPU: NVIDIA H200 (PyTorch 2.5.0); our adapter: NVIDIA H200 (Vulkan)');
    expect(row('4096')).toBe('| 4096 | 42000.0 | 128, 8, 2 | 50000.0 | 0.84x | 330000.0 |');
    expect(row('512')).toBe('| 512 | 6000.0 | 64, 8, 1 | 8000.0 | 0.75x | — |');
    expect(row('1024')).toBe('| 1024 | — | — | — | — | — |');
    expect(md).toContain('Bar: n = 4096 at 0.8x PyTorch fp32 or more: met.');
  });

  it("puts our MLP step beside PyTorch eager's, and says whether batch 128 meets 3x", () => {
    // 2000 / 800 = 2.5x: short of 3x
    expect(row('128')).toBe('| 128 | 2000.0 | 11 | 800.0 | 2.50x | 700.0 |');
    expect(row('1024')).toBe('| 1024 | — | — | — | — | — |');
    expect(md).toContain("Bar: batch 128 at 3x PyTorch eager's steps/s or more: missed.");
    expect(md).toContain('Dispatch: 2.35 us per op.');
  });

  it('says what was not measured, and reads JSON lines past anything else', () => {
    const none = gpuTables([], []) as string;
    expect(none.split('\n')[0]).toBe('GPU: unknown (PyTorch not run); our adapter: none found');
    expect(none).toContain('Bar: n = 4096 at 0.8x PyTorch fp32 or more: not measured.');
    expect(none).toContain('Dispatch: not measured.');
    expect(jsonLines('{"a":1}\nSegmentation fault\n\n[1]\n{"b":2}')).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
