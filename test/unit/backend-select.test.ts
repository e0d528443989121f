/**
 * Choosing the backend (engine/backends/select.ts): the step's matmul work that `auto` weighs, and what each choice
 * gives on this machine (in CI: Mesa's llvmpipe, a software adapter that `auto` never picks).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUTO_MIN_STEP_FLOPS, availableBackends, chooseBackend, stepFlops } from '../../engine/backends/select';
import { parseProject, type Project } from '../../engine/io/project';
import { isSoftwareAdapter } from '../../engine/backends/webgpu/gpu';
import { mlpGraph } from '../../bench/mlp';

const example = (name: string): Project => parseProject(readFileSync(join(__dirname, '..', '..', 'examples', `${name}.bpstudio`), 'utf8'));

describe('stepFlops', () => {
  it('counts forward and both backward products of every matmul: 3 x 2 B (sum of in x out)', () => {
    expect(stepFlops(mlpGraph(), 128)).toBe(3 * 2 * 128 * (784 * 256 + 256 * 256 + 256 * 10));
    // spiral: 2 -> 32 -> 32 -> 3 at batch 32
    expect(stepFlops(example('spiral').graph.nodes, 32)).toBe(3 * 2 * 32 * (2 * 32 + 32 * 32 + 32 * 3));
  });
});

describe('isSoftwareAdapter', () => {
  it.each([
    ['mesa llvmpipe (llvmpipe (LLVM 15.0.6, 256 bits))', false, true],
    ['google swiftshader (SwiftShader Device (Subzero))', false, true],
    ['mesa (lavapipe)', false, true],
    ['some vendor (Microsoft Basic Render Driver)', true, true],
    ['nvidia hopper (NVIDIA H200)', false, false],
    ['apple metal-3 (Apple M2)', false, false],
  ])('%s, flagged a fallback: %s -> %s', (name, fallback, software) => {
    expect(isSoftwareAdapter(name, fallback)).toBe(software);
  });
});

describe('chooseBackend', () => {
  it('keeps small networks on the CPU under auto, without starting the GPU', async () => {
    const c = await chooseBackend('auto', example('spiral'));
    expect(c.name).toBe('cpu');
    expect(c.reason).toMatch(/^auto: a step is 0\.227 MFLOP, under the 4 MFLOP/);
    expect(AUTO_MIN_STEP_FLOPS).toBe(4e6);
  });

  it('gives the CPU when asked, and WebGPU on the adapter found when asked', async () => {
    expect((await chooseBackend('cpu', example('spiral'))).backend.name).toBe('cpu');
    const g = await chooseBackend('webgpu', example('spiral'));
    expect(g.name).toBe('webgpu');
    expect(g.backend.name).toBe('webgpu');
    expect(g.adapter).toMatch(/\w/);
  });

  it('never picks a software adapter under auto, however big the network', async () => {
    const { webgpu } = await availableBackends();
    expect(webgpu).not.toBeNull();
    const big: Project = { format: 'backprop-studio/project', version: 1, graph: { nodes: mlpGraph() }, data: { kind: 'builtin', name: 'spiral' }, training: { batchSize: 128 } };
    const c = await chooseBackend('auto', big);
    if (webgpu!.software) {
      expect(c.name).toBe('cpu');
      expect(c.reason).toMatch(/software/);
    } else expect(c.name).toBe('webgpu');
  });
});
