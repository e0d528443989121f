/**
 * The WebGPU tests' backend: one per test file, created before its tests (it fails, never skips, without an adapter:
 * CI installs Mesa's llvmpipe) and disposed after them.
 */
import { afterAll, beforeAll } from 'vitest';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';

export function useGpuBackend(): () => WebGpuBackend {
  let gpu: WebGpuBackend | undefined;
  beforeAll(async () => {
    gpu = await WebGpuBackend.create();
  }, 60_000);
  afterAll(() => gpu?.dispose());
  return () => gpu!;
}
