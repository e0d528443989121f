/**
 * The WebGPU matmul against the float32 CPU backend over shapes chosen for the kernel: tile multiples, one off
 * around the tile (64, 128), K step (16, 8) and vector (4) sizes, vectors, k = 1 and k = 0, tall and skinny, batched with
 * broadcasting on either side, and the matmuls of a dense layer's backward pass. Each shape names the variant it
 * must exercise (tile size, vec4 or scalar access), so that every variant is covered. Forward only: a plan of the
 * one matmul step, so this needs no other WebGPU kernel. Runs on Mesa's llvmpipe in CI (~1 GFLOP/s): the 128-tile
 * cases reach the large tile through batches and small k.
 */
import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import type { Backend } from '../../engine/backends/backend';
import { INPUT_GRADIENT_MIN_CHANNELS, MATMUL_CONFIGS, matmulKernel, matmulLayout, matmulSplits, matmulWorkgroupBytes, matmulPairKernel, splitSumKernel, takesSums, type KSums, type MatmulConfig, type MatmulOperands } from '../../engine/backends/webgpu/kernels/matmul';
import { planFolds } from '../../engine/backends/webgpu/fold';
import type { WebGpuExecutable } from '../../engine/backends/webgpu/webgpu-backend';
import { planFusion } from '../../engine/backends/webgpu/fuse';
import { epilogueText } from './epilogue-text';
import { ownBuffers } from '../../engine/backends/webgpu/share-buffers';
import type { IRNode } from '../../engine/ir/node';
import { useGpuBackend } from '../conformance/gpu';
import { Builder, type Window } from '../../engine/ir/builder';
import { compilePlan, type Plan } from '../../engine/plan/plan';
import { windowOutput } from '../../engine/ops/layout';
import { closeness, generate, NORMAL, rngFor } from '../conformance/tensor';

const backend = useGpuBackend();

const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

/** A, B, and the variant the kernel must pick: tile size and vec4 (k, n multiples of 4) or scalar access. */
type Case = [a: number[], b: number[], tile: 64 | 128, vec4: boolean];
const CASES: Case[] = [
  // tile multiples
  [[64, 64], [64, 64], 64, true],
  [[128, 128], [128, 128], 64, true],
  [[64, 16], [16, 64], 64, true],
  // one off around the 64 tile, the 16 K step and the 4-wide quads
  [[63, 64], [64, 65], 64, false],
  [[65, 63], [63, 64], 64, false],
  [[64, 65], [65, 63], 64, false],
  [[65, 17], [17, 65], 64, false],
  [[31, 15], [15, 33], 64, false],
  [[33, 20], [20, 12], 64, true],
  [[5, 3], [3, 7], 64, false],
  [[129, 5], [5, 131], 64, false],
  // vectors, k = 1 and k = 0, tall and skinny, long k
  [[1, 7], [7, 1], 64, false],
  [[1, 1], [1, 1], 64, false],
  [[1, 64], [64, 64], 64, true],
  [[37, 1], [1, 29], 64, false],
  [[3, 0], [0, 4], 64, false],
  [[300, 3], [3, 257], 64, false],
  [[1000, 3], [3, 2], 64, false],
  [[2, 3000], [3000, 3], 64, false],
  [[3, 4096], [4096, 8], 64, true],
  // batched, broadcasting either side (or both) and the rows of A's batches stacked under one B
  [[2, 37, 19], [2, 19, 23], 64, false],
  [[4, 8, 16], [16, 9], 64, false],
  [[3, 1, 5, 6], [2, 6, 7], 64, false],
  [[1, 5, 6], [3, 6, 4], 64, false],
  [[2, 1, 4, 3], [1, 3, 3, 5], 64, false],
  [[2, 1, 3, 1, 4, 5], [1, 2, 1, 3, 5, 2], 64, false],
  [[5, 9, 8], [1, 8, 12], 64, true],
  // the 128 tile (at least 256 of them), at multiples and one off, stacked, batched and broadcast
  [[16, 1024, 8], [8, 256], 128, true],
  [[4100, 12], [12, 1028], 128, true],
  [[4, 1025, 9], [9, 1023], 128, false],
  [[256, 129, 5], [256, 5, 130], 128, false],
  [[1, 129, 7], [300, 7, 127], 128, false],
  // a dense layer's backward (784-256-10 at batch 128): dx = g W^T, dW = x^T g
  [[128, 784], [784, 256], 64, true],
  [[784, 128], [128, 256], 64, true],
  [[128, 256], [256, 784], 64, true],
  [[256, 128], [128, 10], 64, false],
  [[128, 10], [10, 256], 64, false],
  // ... and over a sequence: x [2, 5, 3] times W [3, 4], then g W^T and the batched x^T g
  [[2, 5, 3], [3, 4], 64, false],
  [[2, 5, 4], [4, 3], 64, false],
  [[2, 3, 5], [2, 5, 4], 64, false],
];

async function matmulOn(backend: Backend, sa: number[], sb: number[], a: Float64Array, b: Float64Array): Promise<Float32Array> {
  const g = new Builder();
  const exe = backend.load(compilePlan({ c: g.matmul(g.input('a', sa), g.input('b', sb)) }));
  exe.setInput('a', Float32Array.from(a));
  exe.setInput('b', Float32Array.from(b));
  exe.run({ seed: 0, step: 0 });
  return exe.read('c');
}

describe('the WebGPU matmul matches the CPU backend', () => {
  test.each(CASES.map(([a, b, tile, vec4]) => [`${a.join('x')} @ ${b.join('x')}`, a, b, tile, vec4] as const))(
    '%s',
    async (name, sa, sb, tile, vec4) => {
      const g = new Builder();
      const c = g.matmul(g.input('a', sa), g.input('b', sb));
      const layout = matmulLayout({ op: 'matmul', attrs: {}, inShapes: [sa, sb], outShape: c.shape as number[] });
      expect({ tile: layout.tile, vec4: layout.vec4 }).toEqual({ tile, vec4 });

      const rng = rngFor(name);
      const a = generate(NORMAL, numel(sa), rng);
      const b = generate(NORMAL, numel(sb), rng);
      const want = await matmulOn(new CpuBackend('f32'), sa, sb, a, b);
      const got = await matmulOn(backend(), sa, sb, a, b);
      expect(got.length).toBe(want.length);
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const { ratio, at } = closeness(got, want, 1e-5, 1e-6 * scale + 1e-30);
      expect(ratio, `at ${at}: webgpu ${got[at]}, cpu ${want[at]}`).toBeLessThanOrEqual(1);
    },
    60_000,
  );

  test('A stacked under one B runs as one matmul of the stacked rows', () => {
    const l = matmulLayout({ op: 'matmul', attrs: {}, inShapes: [[3, 2, 5, 6], [6, 7]], outShape: [3, 2, 5, 7] });
    expect([l.m, l.batch]).toEqual([30, 1]);
  });
});

/**
 * The kernel's transposed variants, as fold.ts makes them: A and B as stored, which of them a transpose feeds to the
 * matmul (and whether the matmul's value is transposed after), the variant the fold must give (flags, tile, vec4).
 */
type TransposedCase = [
  a: number[],
  b: number[],
  ops: 'TN' | 'NT' | 'TT' | 'out' | 'dW' | 'TT2' | 'NN+bias' | 'NT+bias' | 'NN+relu' | 'NT+bias+relu' | 'NN+mix' | 'NN+rows+relu',
  flags: string,
  tile: 64 | 128,
  vec4: boolean,
];
const TRANSPOSED: TransposedCase[] = [
  [[64, 64], [64, 64], 'NT', 'NT', 64, true],
  [[33, 20], [12, 20], 'NT', 'NT', 64, true],
  [[63, 65], [67, 65], 'NT', 'NT', 64, false],
  [[4, 1025, 9], [1023, 9], 'NT', 'NT', 128, false],
  [[65, 63], [65, 64], 'TN', 'TN', 64, false],
  [[128, 784], [128, 256], 'TN', 'TN', 64, true],
  [[12, 4100], [12, 1028], 'TN', 'TN', 128, true],
  [[17, 31], [29, 17], 'TT', 'TT', 64, false],
  [[16, 64], [64, 16], 'TT', 'TT', 64, true],
  [[2, 1, 4, 3], [1, 3, 5, 4], 'TT', 'TT', 64, false],
  // (A B)^T, written by the matmul as B^T A^T; a weight gradient (x^T g)^T = g^T x; and a transpose of a transpose
  [[37, 19], [19, 23], 'out', 'TT', 64, false],
  [[50, 10], [50, 7], 'dW', 'TN', 64, false],
  [[6, 5], [6, 4], 'TT2', 'TN', 64, false],
  // a bias row added as C is stored (a dense layer's x W^T + b), vec4 and scalar, batched
  [[33, 20], [12, 20], 'NT+bias', 'NT', 64, true],
  [[67, 45], [45, 70], 'NN+bias', 'NN', 64, false],
  [[2, 37, 19], [19, 23], 'NN+bias', 'NN', 64, false],
  [[4, 1025, 9], [1023, 9], 'NT+bias', 'NT', 128, false],
  // split along k (few tiles, long k: see the next table), the bias added by the split sum, vec4 and scalar
  [[128, 784], [256, 784], 'NT+bias', 'NT', 64, true],
  [[20, 1001], [1001, 7], 'NN+bias', 'NN', 64, false],
  // a relu taken as C is stored (after the bias), vec4 and scalar, and by the split sum
  [[33, 20], [12, 20], 'NT+bias+relu', 'NT', 64, true],
  [[67, 45], [45, 70], 'NN+relu', 'NN', 64, false],
  [[128, 784], [256, 784], 'NT+bias+relu', 'NT', 64, true],
  [[20, 1001], [1001, 7], 'NN+relu', 'NN', 64, false],
  // an epilogue reading a value per element and one value, its op an attribute (leaky_relu(C * e, 0.2) * s), vec4,
  // scalar, batched, and split
  [[33, 20], [20, 12], 'NN+mix', 'NN', 64, true],
  [[2, 37, 19], [19, 23], 'NN+mix', 'NN', 64, false],
  [[20, 1001], [1001, 7], 'NN+mix', 'NN', 64, false],
  // a value per row (a convolution's bias: W times each image's columns), batched, stacked (A's batches over one B),
  // vec4, and by the split sum
  [[8, 9], [3, 9, 256], 'NN+rows+relu', 'NN', 64, false],
  [[8, 12], [2, 12, 64], 'NN+rows+relu', 'NN', 64, true],
  [[3, 37, 19], [19, 23], 'NN+rows+relu', 'NN', 64, false],
  [[20, 1001], [1001, 7], 'NN+rows+relu', 'NN', 64, false],
];

/** The graph of a case: the matmul of the operands, transposed as `ops` says. */
function transposedGraph(g: Builder, sa: number[], sb: number[], ops: TransposedCase[2]): IRNode {
  const t = (x: IRNode) => g.transposeLast2(x);
  const a = g.input('a', sa);
  const b = g.input('b', sb);
  if (ops === 'out') return t(g.matmul(a, b));
  if (ops === 'dW') return t(g.matmul(t(a), b));
  if (ops === 'TT2') return g.matmul(t(t(t(a))), b);
  const c = g.matmul(ops[0] === 'T' ? t(a) : a, ops[1] === 'T' ? t(b) : b);
  if (ops === 'NN+mix') return g.mul(g.leakyRelu(g.mul(c, g.input('e', c.shape as number[])), 0.2), g.input('s', []));
  const [rows, cols] = c.shape.slice(-2) as number[];
  const biased = ops.includes('+bias') ? g.add(c, g.input('bias', [cols])) : ops.includes('+rows') ? g.add(c, g.input('bias', [rows, 1])) : c;
  return ops.endsWith('+relu') ? g.relu(biased) : biased;
}

/** What the case's epilogue must be ('c': the matmul's value, x0: its first input). */
const EPILOGUES: Partial<Record<TransposedCase[2], string>> = {
  'NN+bias': 'add(c, x0:col)',
  'NT+bias': 'add(c, x0:col)',
  'NN+relu': 'relu(c)',
  'NT+bias+relu': 'add(c, x0:col) relu(v0)',
  'NN+mix': 'mul(c, x0:full) leaky_relu(v0) mul(v1, x1:scalar)',
  'NN+rows+relu': 'add(c, x0:row) relu(v0)',
};

describe('the WebGPU matmul reads transposed operands', () => {
  test.each(TRANSPOSED.map(([a, b, ops, flags, tile, vec4]) => [`${ops} ${a.join('x')}, ${b.join('x')}`, a, b, ops, flags, tile, vec4] as const))(
    '%s',
    async (name, sa, sb, ops, flags, tile, vec4) => {
      const g = new Builder();
      const plan = ownBuffers(compilePlan({ c: transposedGraph(g, sa, sb, ops) }));
      const fusion = planFusion(plan);
      const { rewrites, skipped } = planFolds(plan, [...fusion.groups, ...fusion.singles]);
      expect(rewrites.length).toBe(1);
      const layout = matmulLayout(rewrites[0]);
      expect({ flags: `${layout.transA ? 'T' : 'N'}${layout.transB ? 'T' : 'N'}`, tile: layout.tile, vec4: layout.vec4 }).toEqual({ flags, tile, vec4 });
      expect(skipped.length).toBe(plan.steps.length - 1);

      const rng = rngFor(name);
      const a = Float32Array.from(generate(NORMAL, numel(sa), rng));
      const b = Float32Array.from(generate(NORMAL, numel(sb), rng));
      const more = Object.fromEntries(['bias', 'e', 's'].flatMap((name) => {
        const x = plan.inputs.get(name);
        return x ? [[name, Float32Array.from(generate(NORMAL, numel(x.shape), rng))]] : [];
      }));
      expect(epilogueText(matmulLayout(rewrites[0]).epilogue)).toBe(EPILOGUES[ops]);
      const run = async (backend: Backend) => {
        const exe = backend.load(plan);
        exe.setInput('a', a);
        exe.setInput('b', b);
        for (const [name, v] of Object.entries(more)) exe.setInput(name, v);
        exe.run({ seed: 0, step: 0 });
        return exe.read('c');
      };
      const want = await run(new CpuBackend('f32'));
      const got = await run(backend());
      expect(got.length).toBe(want.length);
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const { ratio, at } = closeness(got, want, 1e-5, 1e-6 * scale + 1e-30);
      expect(ratio, `at ${at}: webgpu ${got[at]}, cpu ${want[at]}`).toBeLessThanOrEqual(1);
    },
    60_000,
  );
});

describe('which matmuls are split along k', () => {
  test.each([
    // The MLP bench's first layer at batch 128: 8 tiles over k = 784.
    [[128, 784], [784, 256], 6],
    [[20, 1001], [1001, 7], 7],
    [[3, 4096], [4096, 8], 8],
    [[64, 512], [512, 64], 4],
    [[2, 64, 600], [2, 600, 64], 4],
    // k too short, or enough tiles to fill a GPU
    [[128, 256], [256, 256], 1],
    [[64, 511], [511, 64], 1],
    [[320, 784], [784, 256], 1],
    [[17, 64, 600], [600, 64], 1],
  ])('%j @ %j: %i', (sa, sb, splits) => {
    const outShape = [...sa.slice(0, -1), sb[sb.length - 1]];
    expect(matmulSplits(matmulLayout({ aShape: sa, bShape: sb, outShape, transA: false, transB: false }))).toBe(splits);
  });
});

/** Shapes as stored (A [m, k] or [k, m], B [k, n] or [n, k]), odd and vec4, past a 128 tile, each way of transposing. */
const CONFIG_SHAPES: [a: number[], b: number[], transA: boolean, transB: boolean][] = [
  [[67, 45], [45, 70], false, false],
  [[130, 20], [20, 259], false, false],
  [[64, 40], [40, 132], false, false],
  [[37, 129], [37, 66], true, false],
  [[70, 33], [50, 33], false, true],
  [[2, 24, 36], [2, 40, 24], true, true],
];

/** The case's operands, and the CPU's product of them as the kernel reads them. */
async function configCase(name: string, [sa, sb, transA, transB]: (typeof CONFIG_SHAPES)[number]) {
  const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
  const logicalA = transA ? swap(sa) : sa;
  const logicalB = transB ? swap(sb) : sb;
  const outShape = [...sa.slice(0, -2), logicalA[logicalA.length - 2], logicalB[logicalB.length - 1]];
  const operands: MatmulOperands = { aShape: sa, bShape: sb, outShape, transA, transB };
  const rng = rngFor(`${name} ${sa} ${sb}`);
  const a = Float32Array.from(generate(NORMAL, numel(sa), rng));
  const b = Float32Array.from(generate(NORMAL, numel(sb), rng));
  const g = new Builder();
  const t = (x: IRNode, on: boolean) => (on ? g.transposeLast2(x) : x);
  const cpu = new CpuBackend('f32').load(compilePlan({ c: g.matmul(t(g.input('a', sa), transA), t(g.input('b', sb), transB)) }));
  cpu.setInput('a', a);
  cpu.setInput('b', b);
  cpu.run({ seed: 0, step: 0 });
  return { operands, a, b, want: await cpu.read('c') };
}

/** The kernel (and with split-K, the split sum) on the device; the product read back. */
async function onDevice(operands: MatmulOperands, a: Float32Array, b: Float32Array, config?: MatmulConfig, splits = 1): Promise<Float32Array> {
  const gpu = backend();
  const size = numel(operands.outShape);
  const storage = (x: Float32Array) => {
    const buffer = gpu.createStorage(x.length, 'an operand');
    gpu.write(buffer, x);
    return { buffer, bytes: x.byteLength };
  };
  const [ba, bb, parts, out] = [a, b, new Float32Array(size * splits), new Float32Array(size)].map(storage);
  const bound = [gpu.bindKernel(matmulKernel(operands, config, splits), [ba, bb, splits > 1 ? parts : out])];
  if (splits > 1) bound.push(gpu.bindKernel(splitSumKernel(size, splits), [parts, out]));
  gpu.dispatch(bound);
  const got = await gpu.readBuffer(out.buffer, size);
  for (const x of [ba, bb, parts, out]) x.buffer.destroy();
  return got;
}

/** A plan's outputs on the CPU and here, from the same random inputs (seeded by `name`), and its dispatches here. */
async function onBoth(plan: Plan, name: string) {
  const rng = rngFor(name);
  const feeds = [...plan.inputs].map(([input, x]) => [input, Float32Array.from(generate(NORMAL, numel(x.shape), rng))] as const);
  const run = async (on: Backend) => {
    const exe = on.load(plan);
    for (const [input, v] of feeds) exe.setInput(input, v);
    exe.run({ seed: 0, step: 0 });
    const outputs: Record<string, Float32Array> = {};
    for (const output of plan.outputs.keys()) outputs[output] = await exe.read(output);
    return { outputs, exe };
  };
  const want = (await run(new CpuBackend('f32'))).outputs;
  const { outputs: got, exe } = await run(backend());
  return { want, got, dispatches: (exe as WebGpuExecutable).dispatches() };
}

function expectClose(got: Float32Array, want: Float32Array, what: string) {
  expect(got.length).toBe(want.length);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const { ratio, at } = closeness(got, want, 1e-5, 1e-6 * scale + 1e-30);
  expect(ratio, `${what} at ${at}: webgpu ${got[at]}, cpu ${want[at]}`).toBeLessThanOrEqual(1);
}

describe('every kernel configuration that the matmul_variants bench measures computes the same', () => {
  test.each(MATMUL_CONFIGS.map((c) => [`tile ${c.tile}, k step ${c.bk}, ${c.stages} stage${c.stages > 1 ? 's' : ''}`, c] as const))(
    '%s',
    async (name, config) => {
      for (const shape of CONFIG_SHAPES) {
        expect(matmulWorkgroupBytes(config, shape[3])).toBeLessThanOrEqual(backend().device.limits.maxComputeWorkgroupStorageSize);
        const { operands, a, b, want } = await configCase(name, shape);
        expect(matmulLayout(operands, config)).toMatchObject(config);
        expectClose(await onDevice(operands, a, b, config), want, `${shape[0]} ${shape[1]}`);
      }
    },
    60_000,
  );

  // Split-K: k cut into ranges (more of them than k has steps, for the small shapes: the last ranges are empty).
  test.each([2, 3, 8])('split-K in %i ranges, then the split sum', async (splits) => {
    for (const shape of CONFIG_SHAPES) {
      const { operands, a, b, want } = await configCase(`split ${splits}`, shape);
      expectClose(await onDevice(operands, a, b, undefined, splits), want, `${shape[0]} ${shape[1]}`);
    }
  }, 60_000);
});

describe('sums over k beside the product (a bias gradient beside its weight gradient)', () => {
  /** Shapes as stored, each way of transposing, vec4 and scalar, with C's extra row or column in its last tile or not. */
  const SHAPES: (typeof CONFIG_SHAPES)[number][] = [
    ...CONFIG_SHAPES.filter(([sa]) => sa.length === 2),
    [[128, 64], [128, 64], true, false],
    [[32, 48], [48, 16], false, false],
    [[8, 16], [12, 16], false, true],
    [[20, 8], [20, 12], true, false],
  ];

  /** The sums over k of logical A's rows ('a') or B's columns ('b'), in float64, from the operands as stored. */
  function kSums(sums: KSums, [sa, sb, transA, transB]: (typeof SHAPES)[number], a: Float32Array, b: Float32Array): Float32Array {
    const [x, shape, kFirst] = sums === 'a' ? [a, sa, transA] : [b, sb, !transB];
    const [rows, cols] = shape;
    const out = new Float64Array(kFirst ? cols : rows);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[kFirst ? c : r] += x[r * cols + c];
    return Float32Array.from(out);
  }

  // The kernel alone, or split along k in 2 or 3 ranges (on a few of the shapes: llvmpipe compiles a pipeline a
  // case): the parts (C and the sums, 4 apart, a part each), then the split sum.
  test.each([
    [undefined, 1],
    [{ tile: 128, bk: 8, stages: 1 } as const, 1],
    [undefined, 2],
    [{ tile: 128, bk: 8, stages: 1 } as const, 3],
  ])('config %j, %i split(s)', async (config, splits) => {
    const gpu = backend();
    for (const shape of splits === 1 ? SHAPES : [SHAPES[0], SHAPES[5], SHAPES[7]]) {
      for (const sums of ['a', 'b'] as const) {
        const { operands, a, b, want } = await configCase(`sums ${sums}`, shape);
        const withSums = { ...operands, sums };
        const count = sums === 'a' ? want.length / withSums.outShape[1] : withSums.outShape[1];
        const storage = (x: Float32Array) => {
          const buffer = gpu.createStorage(x.length, 'an operand');
          gpu.write(buffer, x);
          return { buffer, bytes: x.byteLength };
        };
        const [ba, bb, bs, bc, parts] = [a, b, new Float32Array(count).fill(NaN), new Float32Array(want.length), new Float32Array(splits * (want.length + 4 * count))].map(storage);
        if (splits === 1) gpu.dispatch(gpu.bindKernel(matmulKernel(withSums, config), [ba, bb, bs, bc]));
        else gpu.dispatch([gpu.bindKernel(matmulKernel(withSums, config, splits), [ba, bb, parts]), gpu.bindKernel(splitSumKernel(want.length, splits, undefined, 1, count), [parts, bs, bc])]);
        const what = `${shape[0]} ${shape[1]} ${shape[2]} ${shape[3]}, sums of ${sums}`;
        expectClose(await gpu.readBuffer(bc.buffer, want.length), want, what);
        expectClose(await gpu.readBuffer(bs.buffer, count), kSums(sums, shape, a, b), what);
        for (const x of [ba, bb, bs, bc, parts]) x.buffer.destroy();
      }
    }
  }, 60_000);

  // Plans that the backend runs as one dispatch, against the CPU: a dense layer's weight and bias gradients, summed
  // before or after the matmul (scalar and vec4), and the sums of B under a matmul with a bias and relu epilogue.
  test.each([
    ['g^T x, g summed first', [37, 19], [37, 70], 'dW', true],
    ['g^T x, g summed after', [32, 64], [32, 16], 'dW', false],
    ['relu(a g + bias), g summed', [20, 33], [33, 12], 'B', false],
  ] as const)('%s: one dispatch', async (name, sa, sb, kind, sumFirst) => {
    const g = new Builder();
    const [a, b] = [g.input('a', [...sa]), g.input('b', [...sb])];
    const summed = kind === 'dW' ? a : b;
    const early = sumFirst ? g.sum(summed, [0]) : undefined;
    const c = kind === 'dW' ? g.matmul(g.transposeLast2(a), b) : g.relu(g.add(g.matmul(a, b), g.input('bias', [sb[1]])));
    const { want, got, dispatches } = await onBoth(compilePlan({ c, s: early ?? g.sum(summed, [0]) }), name);
    expect(dispatches).toBe(1);
    expectClose(got.c, want.c, 'the product');
    expectClose(got.s, want.s, 'the sums');
  });

  test.each([
    // a dense layer's weight gradient g^T x beside its bias gradient: in the last tile (784 columns), on idle cores
    [[128, 256], [128, 784], true, 'a', true],
    [[128, 256], [128, 256], true, 'a', true],
    [[128, 256], [256, 256], false, 'b', true],
    // split along k, the extra row in a tile of its own (the split sum adds the sums up too)
    [[128, 2048], [2048, 256], false, 'b', true],
    // too many tiles to add any, batched
    [[2048, 2048], [2048, 2048], false, 'a', false],
    [[1024, 2048], [1024, 2000], true, 'a', true],
    [[2, 8, 16], [2, 16, 8], false, 'a', false],
  ] as const)('A %j, B %j (A transposed: %s): sums of %s for free: %s', (sa, sb, transA, sums, free) => {
    const m = transA ? sa[sa.length - 1] : sa[sa.length - 2];
    const outShape = [...sa.slice(0, -2), m, sb[sb.length - 1]];
    expect(takesSums({ aShape: sa, bShape: sb, outShape, transA, transB: false }, sums)).toBe(free);
  });
});

describe("a batch's products summed (a convolution's weight gradient over the images)", () => {
  /** Operands as stored, [z, ...] both: a convolution's g times its columns transposed, scalar, each way transposed. */
  const SUMMED: (typeof CONFIG_SHAPES)[number][] = [
    [[3, 16, 64], [3, 72, 64], false, true],
    [[4, 9, 37], [4, 37, 10], false, false],
    [[2, 24, 36], [2, 24, 40], true, false],
    [[5, 7, 13], [5, 9, 7], true, true],
  ];

  /** The case's operands, and the CPU's sum over the batch of the products. */
  async function summedCase(name: string, [sa, sb, transA, transB]: (typeof SUMMED)[number]) {
    const rng = rngFor(`${name} ${sa} ${sb}`);
    const a = Float32Array.from(generate(NORMAL, numel(sa), rng));
    const b = Float32Array.from(generate(NORMAL, numel(sb), rng));
    const g = new Builder();
    const t = (x: IRNode, on: boolean) => (on ? g.transposeLast2(x) : x);
    const c = g.sum(g.matmul(t(g.input('a', sa), transA), t(g.input('b', sb), transB)), [0]);
    const cpu = new CpuBackend('f32').load(compilePlan({ c }));
    cpu.setInput('a', a);
    cpu.setInput('b', b);
    cpu.run({ seed: 0, step: 0 });
    const operands: MatmulOperands = { aShape: sa, bShape: sb, outShape: c.shape as number[], transA, transB, batchSummed: true };
    return { operands, a, b, want: await cpu.read('c') };
  }

  test.each([undefined, { tile: 128, bk: 8, stages: 1 } as const, { tile: 64, bk: 16, stages: 2 } as const])('config %j', async (config) => {
    for (const shape of SUMMED) {
      const { operands, a, b, want } = await summedCase('summed', shape);
      expect(matmulLayout(operands)).toMatchObject({ batch: 1, k: shape[0][0] * (shape[2] ? shape[0][1] : shape[0][2]) });
      expectClose(await onDevice(operands, a, b, config), want, `${shape[0]} ${shape[1]}`);
    }
  }, 60_000);

  test.each([2, 5])('split along the k of all matrices in %i ranges', async (splits) => {
    for (const shape of SUMMED) {
      const { operands, a, b, want } = await summedCase(`split ${splits}`, shape);
      expectClose(await onDevice(operands, a, b, undefined, splits), want, `${shape[0]} ${shape[1]}`);
    }
  }, 60_000);
});

describe("a convolution's matmuls, as the backend runs them", () => {
  test('forward: W times each image\'s columns, plus a bias per filter, as images, through a relu: one dispatch', async () => {
    const g = new Builder();
    const z = g.add(g.matmul(g.input('w', [8, 9]), g.input('cols', [3, 9, 36])), g.input('bias', [8, 1]));
    const { want, got, dispatches } = await onBoth(compilePlan({ y: g.relu(g.reshape(z, [3, 8, 6, 6])) }), 'conv forward');
    expect(dispatches).toBe(1);
    expectClose(got.y, want.y, 'the activations');
  });

  // Backward: g [z, filters, positions] times the columns transposed, summed over the images, and g summed over the
  // images and positions: one matmul that writes both, unsplit (k = 3 x 64) and split (9 x 64).
  test.each([
    [3, 1],
    [9, 2],
  ])('backward, %i images: %i dispatch(es)', async (images, dispatches) => {
    const g = new Builder();
    const grad = g.input('g', [images, 16, 64]);
    const plan = compilePlan({ dw: g.sum(g.matmul(grad, g.transposeLast2(g.input('cols', [images, 72, 64]))), [0]), db: g.sum(grad, [0, 2]) });
    const { want, got, dispatches: made } = await onBoth(plan, `conv gradients ${images}`);
    expect(made).toBe(dispatches);
    expectClose(got.dw, want.dw, 'the weight gradient');
    expectClose(got.db, want.db, 'the bias gradient');
  });
});

describe('a convolution as an implicit GEMM: the columns computed from the image as the matmul loads them', () => {
  test.each([
    { what: '3 x 3, padded, stride 1', image: [3, 2, 7, 7], window: { kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 } },
    { what: '3 x 2, stride 2, padded across only', image: [2, 3, 9, 8], window: { kh: 3, kw: 2, sh: 2, sw: 2, ph: 0, pw: 1 } },
    { what: '5 x 5 on 30 images of 16 x 16 (the weight gradient split along k)', image: [30, 1, 16, 16], window: { kh: 5, kw: 5, sh: 1, sw: 1, ph: 2, pw: 2 } },
  ])('$what: forward with bias and relu, and the weight and bias gradients, no im2col dispatched', async ({ image, window }) => {
    const g = new Builder();
    const [n, c] = image;
    const cols = g.im2col(g.input('x', image), window);
    const [, rows, positions] = cols.shape as number[];
    const y = g.relu(g.add(g.matmul(g.input('w', [6, rows]), cols), g.input('bias', [6, 1])));
    const grad = g.input('g', [n, 6, positions]);
    const plan = compilePlan({ y, dw: g.sum(g.matmul(grad, g.transposeLast2(cols)), [0]), db: g.sum(grad, [0, 2]) });
    const { want, got, dispatches } = await onBoth(plan, `implicit gemm ${image}`);
    for (const name of ['y', 'dw', 'db']) expectClose(got[name], want[name], name);
    // The forward, and the weight gradient with the bias gradient, no im2col: as a pair, or, the weight gradient split,
    // the forward, the parts and their sum.
    expect(dispatches).toBe(n * c >= 30 ? 3 : 1);
  });
});

describe("a convolution's input gradient as one implicit GEMM: g's columns times the filter flipped (kernels/matmul.ts aFilter)", () => {
  /** col2im(W^T g) as training builds it where the image's gradient is wanted, W [filters, c x kh x kw]. */
  function inputGradient(g: Builder, image: number[], filters: number, window: Window) {
    const cols = g.im2col(g.input('x', image), window);
    const [, rows, positions] = cols.shape as number[];
    return g.col2im(g.matmul(g.transposeLast2(g.input('w', [filters, rows])), g.input('g', [image[0], filters, positions])), window, image);
  }

  // Folded from INPUT_GRADIENT_MIN_CHANNELS channels; `times`: then times another value (an activation's
  // derivative), which the col2im, then the implicit GEMM, computes as it stores.
  test.each([
    { what: '3 x 3, padded, 64 -> 5 channels', image: [3, 64, 7, 7], filters: 5, window: { kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 }, times: false, dispatches: 1 },
    { what: '3 x 2, padded across only, 70 channels (past a tile), times a derivative', image: [2, 70, 6, 5], filters: 4, window: { kh: 3, kw: 2, sh: 1, sw: 1, ph: 0, pw: 1 }, times: true, dispatches: 1 },
    { what: '5 x 5, padded 2, on 3 images of 12 x 12', image: [3, 64, 12, 12], filters: 7, window: { kh: 5, kw: 5, sh: 1, sw: 1, ph: 2, pw: 2 }, times: true, dispatches: 1 },
    { what: '2 x 2, unpadded', image: [4, 64, 5, 6], filters: 3, window: { kh: 2, kw: 2, sh: 1, sw: 1, ph: 0, pw: 0 }, times: false, dispatches: 1 },
    // not folded (the product into the columns' gradient, then the col2im): a stride of 2, or few channels
    { what: '3 x 3, stride 2', image: [2, 64, 7, 7], filters: 3, window: { kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 }, times: true, dispatches: 2 },
    { what: '3 x 3, 8 channels', image: [2, 8, 6, 6], filters: 3, window: { kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 }, times: true, dispatches: 2 },
  ])('$what: $dispatches dispatch(es)', async ({ image, filters, window, times, dispatches }) => {
    expect(image[1] >= INPUT_GRADIENT_MIN_CHANNELS).toBe(dispatches === 1 || window.sh > 1);
    const g = new Builder();
    const dx = inputGradient(g, image, filters, window);
    const plan = compilePlan({ dx: times ? g.mul(dx, g.input('d', image)) : dx });
    const { want, got, dispatches: made } = await onBoth(plan, `input gradient ${image} ${JSON.stringify(window)}`);
    expectClose(got.dx, want.dx, 'the input gradient');
    expect(made).toBe(dispatches);
  });

  // The kernel alone, where the fold would not use it: few channels (rows of C), one; against the CPU's plan.
  test.each([
    { image: [3, 2, 5, 4], filters: 6, window: { kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 } },
    { image: [2, 1, 6, 3], filters: 2, window: { kh: 2, kw: 3, sh: 1, sw: 1, ph: 1, pw: 0 } },
  ])('the kernel alone: $image.1 channel(s), $window.kh x $window.kw', async ({ image, filters, window }) => {
    const g = new Builder();
    const plan = compilePlan({ dx: inputGradient(g, image, filters, window) });
    const [n, c, h, w] = image;
    const kk = window.kh * window.kw;
    const [oh, ow] = [windowOutput(h, window.kh, 1, window.ph), windowOutput(w, window.kw, 1, window.pw)];
    const rng = rngFor(`kernel ${image}`);
    const weights = Float32Array.from(generate(NORMAL, filters * c * kk, rng));
    const grad = Float32Array.from(generate(NORMAL, n * filters * oh * ow, rng));
    const cpu = new CpuBackend('f32').load(plan);
    cpu.setInput('w', weights);
    cpu.setInput('g', grad);
    cpu.setInput('x', new Float32Array(numel(image)));
    cpu.run({ seed: 0, step: 0 });
    const columns = { image: [n, filters, oh, ow], window: { ...window, ph: window.kh - 1 - window.ph, pw: window.kw - 1 - window.pw } };
    const operands: MatmulOperands = { aShape: [c, filters * kk], bShape: [n, filters * kk, h * w], outShape: [n, c, h * w], transA: false, transB: false, aFilter: kk, bColumns: columns };
    expectClose(await onDevice(operands, weights, grad), await cpu.read('dx'), 'the input gradient');
  });
});

describe('B as an image\'s columns, in each way the kernel reads them (kernels/matmul.ts ColumnsRead)', () => {
  const IMAGE = [3, 2, 6, 5];
  const WINDOW = { kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 0 };
  // The columns: [3, 2 x 3 x 2, 3 x 4] = [3, 12, 12].
  const [K, N] = [12, 12];
  test.each([
    // [what, A's shape, B as the matmul reads the columns, transB, batch summed, C's shape]
    ['a quad\'s row once, its image from the batch (W cols)', [5, K], [3, K, N], false, false, [3, 5, N]],
    ['summed over the images along k, B not transposed', [3, 5, K], [3, K, N], false, true, [5, N]],
    ['summed over the images along k, B transposed (g cols^T)', [3, 5, N], [3, K, N], true, true, [5, K]],
    ['another view of the columns: every element from its flat index', [7, 18], [18, 24], false, false, [7, 24]],
  ] as const)('%s', async (what, sa, sb, transB, batchSummed, outShape) => {
    const rng = rngFor(what);
    const a = Float32Array.from(generate(NORMAL, numel(sa), rng));
    const image = Float32Array.from(generate(NORMAL, numel(IMAGE), rng));
    const g = new Builder();
    const cols = g.reshape(g.im2col(g.input('x', IMAGE), WINDOW), [...sb]);
    const product = g.matmul(g.input('a', [...sa]), transB ? g.transposeLast2(cols) : cols);
    const c = batchSummed ? g.sum(product, [0]) : product;
    const cpu = new CpuBackend('f32').load(compilePlan({ c }));
    cpu.setInput('a', a);
    cpu.setInput('x', image);
    cpu.run({ seed: 0, step: 0 });
    const operands: MatmulOperands = { aShape: [...sa], bShape: [...sb], outShape: [...outShape], transA: false, transB, batchSummed, bColumns: { image: IMAGE, window: WINDOW } };
    expect(matmulKernel(operands).code).toContain(what.includes('flat') ? 'im2col_at(' : 'let w = im2col_row(');
    expectClose(await onDevice(operands, a, image), await cpu.read('c'), what);
  });
});

describe('two matmuls as one dispatch', () => {
  // Scalar and vec4, each way transposed, batched, with the sums of A's rows in the first.
  test.each([
    [0, 4, undefined],
    [6, 7, 'a'],
    [8, 3, 'b'],
    [5, 0, undefined],
  ] as const)('shapes %i and %i (sums of %s in the first)', async (i, j, sums) => {
    const gpu = backend();
    const shapes = [
      ...CONFIG_SHAPES,
      [[128, 64], [128, 64], true, false],
      [[32, 48], [48, 16], false, false],
      [[8, 16], [12, 16], false, true],
    ] as const;
    const cases = await Promise.all([shapes[i], shapes[j]].map((shape, k) => configCase(`pair ${k}`, [...shape] as (typeof CONFIG_SHAPES)[number])));
    const first = { ...cases[0].operands, ...(sums ? { sums } : {}) };
    const count = sums === 'a' ? first.outShape[first.outShape.length - 2] : sums === 'b' ? first.outShape[first.outShape.length - 1] : 0;
    const storage = (x: Float32Array) => {
      const buffer = gpu.createStorage(x.length, 'an operand');
      gpu.write(buffer, x);
      return { buffer, bytes: Math.max(4, x.byteLength) };
    };
    const [a0, b0, s0, c0, a1, b1, c1] = [cases[0].a, cases[0].b, new Float32Array(count), new Float32Array(cases[0].want.length), cases[1].a, cases[1].b, new Float32Array(cases[1].want.length)].map(storage);
    const bindings = sums ? [a0, b0, s0, c0, a1, b1, c1] : [a0, b0, c0, a1, b1, c1];
    gpu.dispatch(gpu.bindKernel(matmulPairKernel(first, cases[1].operands), bindings));
    expectClose(await gpu.readBuffer(c0.buffer, cases[0].want.length), cases[0].want, 'the first product');
    expectClose(await gpu.readBuffer(c1.buffer, cases[1].want.length), cases[1].want, 'the second product');
    if (sums) {
      const [sa, sb, transA, transB] = shapes[i];
      const x = sums === 'a' ? cases[0].a : cases[0].b;
      const [rows, cols] = sums === 'a' ? sa : sb;
      const kFirst = sums === 'a' ? transA : !transB;
      const want = new Float64Array(count);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[kFirst ? c : r] += x[r * cols + c];
      expectClose(await gpu.readBuffer(s0.buffer, count), Float32Array.from(want), 'the sums');
    }
    for (const x of [a0, b0, s0, c0, a1, b1, c1]) x.buffer.destroy();
  }, 60_000);
});
