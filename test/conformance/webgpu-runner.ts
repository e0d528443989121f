/**
 * The WebGPU conformance suite (./webgpu-suite.ts) and the training checks (./webgpu-training-checks.ts) outside
 * vitest, for the GPU machine, where the one-file bundle of scripts/gpu-bundle.mjs runs it as `.gpu/conformance.mjs`
 * with the examples it trains in `.gpu/examples`: a JSON line for each case that differs from the CPU beyond the
 * tolerance, a summary line, then a line per training check; the exit status is 1 when anything failed.
 */
import { fileURLToPath } from 'node:url';
import { runWebgpuSuite } from './webgpu-suite';
import { BAR, TEN_STEP_TOLERANCE, TEN_STEP_VARIANTS, TRAINING_BARS, tenStepAgreement, trainOnWebGpu } from './webgpu-training-checks';

const report = await runWebgpuSuite();
for (const f of report.failed) console.log(JSON.stringify({ conformance: 'webgpu', ...f }));
let failed = report.failed.length;
console.log(JSON.stringify({ conformance: 'webgpu', adapter: report.adapter, cases: report.cases, failed, seconds: report.seconds }));

const examples = fileURLToPath(new URL('./examples', import.meta.url));
/** An example's checks, each printing its line (and counting its failure); a throw is the example's failure. */
async function checked(name: string, checks: () => Promise<void>): Promise<void> {
  try {
    await checks();
  } catch (e) {
    failed++;
    console.log(JSON.stringify({ training: name, pass: false, error: e instanceof Error ? e.message : String(e) }));
  }
}
/** The weights after 10 steps of `example` (as `change` edits it) against the CPU's. */
async function agreement(name: string, example: string, change?: Parameters<typeof tenStepAgreement>[2]): Promise<void> {
  const worst = Math.max(...(await tenStepAgreement(examples, example, change)).map((a) => a.worst));
  const agrees = worst < TEN_STEP_TOLERANCE;
  if (!agrees) failed++;
  console.log(JSON.stringify({ training: name, check: 'weights after 10 steps, relative to the CPU', worst, pass: agrees }));
}
for (const [name, key] of TRAINING_BARS) {
  await checked(name, async () => {
    await agreement(name, name);
    const r = await trainOnWebGpu(examples, name, key);
    const reached = r.code === 0 && r.backend === 'webgpu' && typeof r.value === 'number' && r.value >= BAR;
    if (!reached) failed++;
    console.log(JSON.stringify({ training: name, check: `bpstudio train --backend webgpu: ${key} >= ${BAR}`, value: r.value, backend: r.backend, pass: reached, ...(r.code === 0 ? {} : { output: r.output }) }));
  });
}
for (const { name, example, change } of TEN_STEP_VARIANTS) await checked(name, () => agreement(name, example, change));
process.exit(failed > 0 ? 1 : 0);
