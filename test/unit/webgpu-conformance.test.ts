/**
 * The op conformance tables on the WebGPU backend (../conformance/webgpu-suite.ts: every primitive and catalogue
 * case, forward value and every gradient, against the float32 CPU backend; shapes around the tile sizes). In CI this
 * runs on Mesa's software Vulkan (llvmpipe, installed by .ci/run); it never skips: a machine without an adapter fails
 * here with the reason. The GPU machine runs the same suite from the bundle (../conformance/webgpu-runner.ts).
 */
import { describe, expect, test } from 'vitest';
import { GpuOutOfMemoryError } from '../../engine/backends/webgpu/gpu';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { useGpuBackend } from '../conformance/gpu';
import { compareOnWebGpu, webgpuSuite } from '../conformance/webgpu-suite';

/** The first backend (the adapter check); each case gets a fresh one (compareOnWebGpu). */
const backend = useGpuBackend();

describe('WebGPU matches the CPU backend', () => {
  test('an adapter is found (Mesa llvmpipe in CI)', () => {
    expect(backend().adapter).toMatch(/\w/);
  });

  test.each(webgpuSuite().map((c) => [`${c.group} ${c.name}`, c] as const))('%s', async (_title, c) => {
    expect(await compareOnWebGpu(c.name, c.build())).toEqual([]);
  });
});

describe('WebGPU errors', () => {
  test('a kernel that does not compile fails the next read with the compiler message, not a silent stale output', async () => {
    const b = await WebGpuBackend.create();
    b.pipeline('@compute @workgroup_size(1) fn main() { let target = 1; }');
    b.writeTensor('t', Float32Array.of(1));
    await expect(b.readTensor('t')).rejects.toThrow(/WebGPU failed: .*reserved/);
    // Reported once: the next read is clean.
    expect(await b.readTensor('t')).toEqual(Float32Array.of(1));
    b.dispose();
  });
});

describe('WebGPU memory', () => {
  test('a tensor larger than the adapter allows is an error naming it, not a hang or a crash', async () => {
    const b = await WebGpuBackend.create();
    const tooMany = Math.floor(b.device.limits.maxBufferSize / 4) + 1;
    expect(() => b.persistent('huge', tooMany)).toThrow(/tensor huge needs \d+ bytes, more than this adapter's largest buffer \(\d+ bytes\): use the cpu backend or a smaller batch/);
    // the error a training job takes as the cue to go on on the CPU
    expect(() => b.persistent('huge', tooMany)).toThrow(GpuOutOfMemoryError);
    expect(b.hasTensor('huge')).toBe(false);
    b.dispose();
  });
});
