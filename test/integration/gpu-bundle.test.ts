/**
 * The one-file benchmark run for the GPU machine (scripts/gpu-bundle.mjs, ../shared/docs/gpu.md): the bundle is built
 * and run from a folder with no node_modules above it, as on that machine, with Dawn next to it. A dependency that
 * cannot be bundled, or one the benchmarks load that is left out, fails here rather than in a session's scarce
 * minutes on the GPU.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const root = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bps-gpu-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the bundle runs the WebGPU benchmarks without node_modules', () => {
  execFileSync(process.execPath, [join(root, 'scripts', 'gpu-bundle.mjs'), '--out', dir, '--no-dawn'], { cwd: root, stdio: 'pipe' });
  mkdirSync(join(dir, 'dist', 'linux-x64'), { recursive: true });
  symlinkSync(join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node'), join(dir, 'dist', 'linux-x64', 'dawn.node'));
  const stdout = execFileSync(process.execPath, [join(dir, 'bench.mjs'), '--backend', 'webgpu', '--only', 'dispatch'], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { bench: string; unit: string; value: number });
  expect(lines).toEqual([expect.objectContaining({ bench: 'dispatch', unit: 'us/op' })]);
  expect(lines[0].value).toBeGreaterThan(0);
}, 180_000);
