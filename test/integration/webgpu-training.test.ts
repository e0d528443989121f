/**
 * Training on the WebGPU backend against the CPU backend (in CI on Mesa's llvmpipe): the spiral and digits examples'
 * weights after 10 steps agree within 1e-4, and `bpstudio train --backend webgpu` reaches the same accuracy bars as
 * the CPU (spiral: training accuracy >= 0.95; digits: validation accuracy >= 0.95).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../engine/backends/backend';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import { WebGpuBackend } from '../../engine/backends/webgpu/webgpu-backend';
import { main } from '../../engine/cli/main';
import { parseProject } from '../../engine/io/project';
import { Session } from '../../engine/train/session';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const out = mkdtempSync(join(tmpdir(), 'bps-webgpu-train-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function tenSteps(name: string, backend: Backend): Promise<Map<string, Float32Array>> {
  const project = parseProject(readFileSync(join(EXAMPLES, `${name}.bpstudio`), 'utf8'));
  const s = new Session(project, { baseDir: EXAMPLES, backend });
  await s.train({ steps: 10 });
  expect(s.step).toBe(10);
  const w = await s.weights();
  return new Map(Object.entries(w).map(([k, t]) => [k, Float32Array.from(t.data)]));
}

describe('WebGPU training matches the CPU', () => {
  it.each(['spiral', 'digits'])('%s: every tensor after 10 steps within 1e-4 of the CPU', async (name) => {
    const cpu = await tenSteps(name, new CpuBackend());
    const gpu = await tenSteps(name, await WebGpuBackend.create());
    expect([...gpu.keys()].sort()).toEqual([...cpu.keys()].sort());
    for (const [k, want] of cpu) {
      const got = gpu.get(k)!;
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
      expect(worst, `${name} ${k}`).toBeLessThan(1e-4);
    }
  });

  it.each([
    ['spiral', 'accuracy'],
    ['digits', 'valAccuracy'],
  ] as const)('bpstudio train %s --backend webgpu reaches the CPU bar (%s >= 0.95)', async (name, key) => {
    const lines: string[] = [];
    const io = { stdout: (s: string) => void lines.push(s), stderr: () => {}, tty: false };
    const code = await main(['train', join(EXAMPLES, `${name}.bpstudio`), '--backend', 'webgpu', '--json', '--out', join(out, `${name}.safetensors`)], io);
    expect(code, lines.join('')).toBe(0);
    const rows = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = rows.pop()!;
    expect(done.backend).toBe('webgpu');
    expect(rows[rows.length - 1][key]).toBeGreaterThanOrEqual(0.95);
  });
});
