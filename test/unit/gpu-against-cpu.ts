/**
 * A plan run on the WebGPU backend as it runs plans (fused, folded, grouped) and on the CPU, the oracle, with the
 * same inputs; and where their outputs disagree.
 */
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { WebGpuExecutable, type WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import type { Plan } from '../../engine/plan/plan';

/** Every output of the plan on both backends, by name, and the WebGPU executable. */
export async function runOnBoth(gpu: WebGpuBackend, plan: Plan, feeds: Record<string, Float32Array>) {
  const cpu = new CpuBackend('f32').load(plan);
  const exe = new WebGpuExecutable(gpu, plan);
  for (const [name, v] of Object.entries(feeds)) {
    cpu.setInput(name, v);
    exe.setInput(name, v);
  }
  cpu.run({ seed: 1, step: 1 });
  exe.run({ seed: 1, step: 1 });
  const outputs: { name: string; want: Float32Array; got: Float32Array }[] = [];
  for (const name of plan.outputs.keys()) outputs.push({ name, want: Float32Array.from(cpu.readSync(name)), got: await exe.read(name) });
  return { outputs, exe };
}

/**
 * The first element where `got` differs from `want` by more than `rtol` of the largest finite |want| (at least 1),
 * or is not the same non-finite value; -1 where none does.
 */
export function disagreement(got: Float32Array, want: Float32Array, rtol = 1e-5): number {
  if (got.length !== want.length) return 0;
  const scale = want.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 1);
  return [...want].findIndex((w, i) => !(Object.is(w, got[i]) || Math.abs(w - got[i]) <= rtol * scale));
}
