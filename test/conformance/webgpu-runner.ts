/**
 * The WebGPU conformance suite (./webgpu-suite.ts) outside vitest, for the GPU machine, where the one-file bundle of
 * scripts/gpu-bundle.mjs runs it as `.gpu/conformance.mjs`: a JSON line for each case that differs from the CPU
 * beyond the tolerance, then one summary line; the exit status is 1 when any case failed.
 */
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { compareOnWebGpu, webgpuSuite } from './webgpu-suite';

const gpu = await WebGpuBackend.create();
const started = performance.now();
const cases = webgpuSuite();
let failed = 0;
for (const c of cases) {
  let failures: string[];
  try {
    failures = await compareOnWebGpu(c.name, c.build());
  } catch (e) {
    failures = [`threw: ${e instanceof Error ? e.message : String(e)}`];
  }
  if (failures.length > 0) {
    failed++;
    console.log(JSON.stringify({ conformance: 'webgpu', case: `${c.group} ${c.name}`, failures }));
  }
}
const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
console.log(JSON.stringify({ conformance: 'webgpu', adapter: gpu.adapter, cases: cases.length, failed, seconds }));
gpu.dispose();
process.exit(failed > 0 ? 1 : 0);
