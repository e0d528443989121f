/**
 * The one-file runs for the GPU machine (scripts/gpu-bundle.mjs, ../shared/docs/gpu.md): the benchmarks and the WebGPU
 * conformance suite are bundled and run from a folder with no node_modules above it, as on that machine, with Dawn
 * next to them. A dependency that
 * cannot be bundled, or one the benchmarks load that is left out, fails here rather than in a session's scarce
 * minutes on the GPU. The device call's script, run.sh, runs them here too (with the Node and Dawn of this machine),
 * and is held to saving each part's output under $OUT.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { webgpuSuite } from '../conformance/webgpu-suite';
import { TEN_STEP_VARIANTS, TRAINING_BARS } from '../conformance/webgpu-training-checks';

const root = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bps-gpu-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the bundle runs the WebGPU benchmarks without node_modules', () => {
  execFileSync(process.execPath, [join(root, 'scripts', 'gpu-bundle.mjs'), '--out', dir, '--bundles-only'], { cwd: root, stdio: 'pipe' });
  mkdirSync(join(dir, 'dist', 'linux-x64'), { recursive: true });
  symlinkSync(join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node'), join(dir, 'dist', 'linux-x64', 'dawn.node'));
  const jsonLines = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const bench = (only: string) =>
    jsonLines(
      execFileSync(process.execPath, [join(dir, 'bench.mjs'), '--backend', 'webgpu', '--only', only], {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      }),
    ) as { bench: string; unit: string; value: number }[];

  // run.sh as the device runs it, but on the dispatch bench alone; its figures and the conformance report land in $OUT.
  const out = join(dir, 'out');
  const tail = execFileSync('bash', [join(dir, 'run.sh')], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, OUT: out, BENCH_ARGS: '--backend webgpu --only dispatch', CONFORMANCE_S: '300' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 360_000,
  });
  const lines = jsonLines(readFileSync(join(out, 'bench.jsonl'), 'utf8'));
  expect(lines).toEqual([expect.objectContaining({ bench: 'dispatch', unit: 'us/op' })]);
  expect(lines[0].value).toBeGreaterThan(0);
  expect(tail).toContain(JSON.stringify(lines[0]));
  // and the two tables last: no PyTorch here, and of our figures the dispatch alone
  expect(tail).toMatch(/Bar: n = 4096 at 0\.8x PyTorch fp32 or more: not measured\./);
  expect(tail).toContain(`Dispatch: ${(lines[0].value as number).toFixed(2)} us per op.`);
  expect(readFileSync(join(out, 'bench.err'), 'utf8')).toMatch(/bench exit 0\n$/);
  // The host's share, on the Null backend of the same dawn.node: a step of the MLP and a dispatch.
  const host = bench('host_cost');
  expect(host.map((l) => [l.bench, l.unit])).toEqual([
    ['host_cost', 'us/step'],
    ['host_cost', 'us/step'],
    ['host_cost', 'us/op'],
  ]);
  expect(host.every((l) => l.value > 0)).toBe(true);

  // The conformance suite, as the GPU machine runs it: every case passes here (llvmpipe), as in vitest.
  expect(readFileSync(join(out, 'conformance.err'), 'utf8')).toMatch(/conformance exit 0\n$/);
  const report = jsonLines(readFileSync(join(out, 'conformance.jsonl'), 'utf8'));
  const summary = report.find((r) => r.conformance === 'webgpu' && 'cases' in r);
  expect(summary).toMatchObject({ failed: 0, cases: webgpuSuite().length });
  // Then each example's two training checks, passed.
  expect(report.filter((r) => 'training' in r).map((r) => [r.training, r.pass])).toEqual([
    ...TRAINING_BARS.flatMap(([name]) => [
      [name, true],
      [name, true],
    ]),
    ...TEN_STEP_VARIANTS.map((v) => [v.name, true]),
  ]);
}, 420_000);
