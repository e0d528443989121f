/**
 * Random graphs through the WebGPU backend's plan passes against the CPU: small DAGs of elementwise ops, broadcasts,
 * reshapes, transposes, matmuls (half of them plus a bias row; a weight by a batch of columns plus a bias per row, as
 * a convolution), sums (half of them through an op after), maxima and
 * their masks, concatenations, slices, pads and image columns (im2col: a graph that has them ends in them, so that
 * its backward pass has col2im), every other one with its backward pass (reverse mode, as training builds it) and the
 * gradients' sums of squares, compiled as training compiles them (compilePlan), then run on the device as the
 * backend runs them (a buffer per value, row groups, fusion, prologues, epilogues, folds, elided copies, buffers
 * shared in dispatch order) and on the CPU. Every output must agree. The cases are seeded, so a failure names its
 * graph. Stacks of dense layers and of convolution-like ones (some on an image's columns, with the image's gradient,
 * some with max pools) add the shapes of training.
 */
import { describe, expect, test } from 'vitest';
import { reverseMode } from '../../engine/autodiff/reverse';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { compilePlan } from '../../engine/plan/plan';
import { Rng } from '../../engine/util/rng';
import { useGpuBackend } from '../conformance/gpu';
import { disagreement, runOnBoth } from './gpu-against-cpu';

const CASES = 1000;
const STACKS = 100;
const DIMS = [1, 2, 3, 4, 5];
// No exp: exp of exp grows values to where sin of them turns WGSL's allowed error in exp into a different answer.
const UNARY = ['sin', 'tanh', 'neg', 'relu', 'sigmoid', 'abs'] as const;
const BINARY = ['add', 'sub', 'mul', 'maximum', 'minimum'] as const;

const dims = (n: IRNode) => n.shape as number[];
const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

/** Whether `s` broadcasts to `to`, right-aligned, without growing it. */
const broadcastsTo = (s: readonly number[], to: readonly number[]) => s.length <= to.length && s.every((d, k) => d === 1 || d === to[to.length - s.length + k]);

/** A random graph: its outputs, the ops it holds (to describe a failure), and its inputs' values. */
function randomGraph(seed: number) {
  const rng = new Rng(seed, 7);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const b = new Builder();
  const feeds: Record<string, Float32Array> = {};
  const values: IRNode[] = [];
  const input = (shape: number[]) => {
    const name = `x${Object.keys(feeds).length}`;
    feeds[name] = Float32Array.from({ length: numel(shape) }, () => rng.normal());
    values.push(b.input(name, shape));
  };
  input([pick(DIMS), pick(DIMS)]);
  input([pick(DIMS), pick(DIMS)]);
  input([pick(DIMS)]);
  // Every third graph has a batch of matrices too, two in five a batch of images (NCHW).
  if (seed % 3 === 0) input([pick([1, 2, 3]), pick(DIMS), pick(DIMS)]);
  if (seed % 5 < 2) input([pick([1, 2]), pick([1, 2]), pick([3, 4, 5]), pick([3, 4, 5])]);
  const ops: string[] = [];
  const steps = 6 + rng.int(8);
  while (ops.length < steps) {
    const a = pick(values);
    const kind = rng.int(14);
    const axis = rng.int(Math.max(1, a.shape.length));
    let y: IRNode | undefined;
    if (kind <= 1) y = b.emit(pick(UNARY), [a]);
    else if (kind <= 3) {
      const others = values.filter((v) => broadcastsTo(dims(v), dims(a)) || broadcastsTo(dims(a), dims(v)));
      y = b.emit(pick(BINARY), [a, pick(others)]);
    } else if (kind === 4 && a.shape.length >= 2) y = b.transposeLast2(a);
    else if (kind === 5 && a.shape.length >= 2) {
      // [..., m, k] by [..., k, n], the batch axes broadcast (a matrix by a batch, a batch by a matrix, or by one of its own).
      const [m, k] = dims(a).slice(-2);
      const batch = (v: IRNode) => dims(v).slice(0, -2);
      const right = values.filter((v) => v.shape.length >= 2 && v.shape[v.shape.length - 2] === k && (batch(v).length === 0 || batch(a).length === 0 || batch(v).join() === batch(a).join()));
      if (right.length && m > 0) {
        y = b.matmul(a, pick(right));
        // Half of them a dense layer's, plus a bias row (which the matmul may add as it stores).
        if (rng.int(2)) {
          input([dims(y)[y.shape.length - 1]]);
          y = b.add(y, values[values.length - 1]);
        }
      }
    } else if (kind === 6 && a.shape.length > 0) {
      // Half of them through an op after (which the sum may compute as it writes: a mean's scale, say).
      y = b.sum(a, [axis], rng.int(2) === 1);
      if (rng.int(2)) y = b.emit(pick(UNARY), [y]);
    }
    else if (kind === 7) {
      const s = dims(a);
      const shapes = [[numel(s)], [1, ...s], ...(s.length === 1 ? [[pick(DIMS), ...s]] : [])];
      const to = pick(shapes);
      y = to.length === s.length + 1 && to[0] !== 1 ? b.broadcastTo(a, to) : b.reshape(a, to);
    } else if (kind === 8 && a.shape.length > 0) y = rng.int(2) ? b.max(a, [axis], rng.int(2) === 1) : b.maxMask(a, [axis]);
    else if (kind === 9 && a.shape.length > 0) {
      const like = values.filter((v) => v.shape.length === a.shape.length && v.shape.every((d, k) => k === axis || d === a.shape[k]));
      y = b.concat(a, pick(like), axis);
    } else if (kind === 10 && a.shape.length > 0) {
      const n = dims(a)[axis];
      const start = rng.int(n);
      y = b.slice(a, axis, start, start + 1 + rng.int(n - start));
    } else if (kind === 11 && a.shape.length > 0) y = b.pad(a, axis, rng.int(3), rng.int(3));
    else if (kind === 12 && a.shape.length === 4) {
      // A convolution's or pooling's columns: a window of at most the image, a stride, a padding.
      const [h, w] = dims(a).slice(2);
      y = b.im2col(a, { kh: 1 + rng.int(Math.min(3, h)), kw: 1 + rng.int(Math.min(3, w)), sh: 1 + rng.int(2), sw: 1 + rng.int(2), ph: rng.int(2), pw: rng.int(2) });
    } else if (kind === 13 && a.shape.length === 3) {
      // A convolution as a matmul: a weight [filters, k] by a batch of columns [z, k, n], plus a bias per filter.
      const filters = pick(DIMS);
      input([filters, dims(a)[1]]);
      input([filters, 1]);
      y = b.add(b.matmul(values[values.length - 2], a), values[values.length - 1]);
    }
    if (!y || y === a) continue;
    values.push(y);
    ops.push(`${y.op}${JSON.stringify(y.shape)}`);
  }
  // A graph with image columns ends in them too, so that its backward pass has their VJP (col2im).
  const columns = values.filter((v) => v.op === 'im2col');
  const all = (v: IRNode) => v.shape.map((_, k) => k);
  const end = values[values.length - 1];
  const cols = columns.length ? pick(columns) : undefined;
  const last = cols ? b.add(b.sum(end, all(end)), b.sum(cols, all(cols))) : end;
  const outputs: Record<string, IRNode> = { last };
  for (let i = 0; i < 2; i++) outputs[`o${i}`] = pick(values.slice(3));
  // Every other graph with its backward pass: the gradients of the mean of the last value by the inputs, and their
  // sums of squares (as a training step's gradient norms).
  if (seed % 2 === 0) {
    const inputs = values.slice(0, Object.keys(feeds).length);
    const adjoint = reverseMode(b, b.mean(last, all(last)), inputs);
    const grads = inputs.flatMap((x) => (adjoint.has(x) ? [adjoint.get(x)!] : []));
    grads.forEach((g, k) => (outputs[`grad${k}`] = g));
    grads.forEach((g, k) => (outputs[`norm${k}`] = b.sum(b.mul(g, g), all(g))));
  }
  return { outputs, ops, feeds };
}

/**
 * A random stack of layers, as a training step's backward pass sees them: dense (x W^T + b, or W x per image of a
 * batch plus a bias per row, as a convolution), each through a random activation, odd sizes; the gradients of the mean
 * of the last by every weight and bias, and their sums of squares. What the matmuls take on there: bias gradients
 * summed beside weight gradients, batches of products summed, biases per row, split along k where k is long.
 */
function randomStack(seed: number) {
  const rng = new Rng(seed, 11);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const b = new Builder();
  const feeds: Record<string, Float32Array> = {};
  const input = (shape: number[], std = 1) => {
    const name = `x${Object.keys(feeds).length}`;
    feeds[name] = Float32Array.from({ length: numel(shape) }, () => std * rng.normal());
    return b.input(name, shape);
  };
  const images = seed % 2 === 0;
  const sizes = [1, 2, 3, 5, 8, 13];
  /**
   * An image's columns (as a convolution reads them: the first layer and its weight gradient read them in place);
   * the image's gradient is wanted too (its col2im of W^T g, one implicit GEMM where the stride is 1), half of
   * the time through an op on the image first (whose derivative the col2im's value is multiplied by: its epilogue).
   */
  let image: IRNode | undefined;
  const columns = () => {
    const [h, w] = [pick([1, 3, 5, 8]), pick([1, 4, 6])];
    const stride = () => pick([1, 1, 2]);
    const window = { kh: 1 + rng.int(Math.min(3, h)), kw: 1 + rng.int(Math.min(3, w)), sh: stride(), sw: stride(), ph: rng.int(2), pw: rng.int(2) };
    // (64 channels: enough for the input gradient's implicit GEMM, kernels/matmul.ts INPUT_GRADIENT_MIN_CHANNELS)
    image = input([pick([1, 2, 3, 9]), pick([1, 3, 64]), h, w]);
    return b.im2col(rng.int(2) === 1 ? b.emit(pick(UNARY), [image]) : image, window);
  };
  // Images: [z, channels, positions] (k = z x positions, from 1 to 600), or an image's columns; rows: [batch,
  // features] (batch up to 600).
  let x = images ? (rng.int(2) === 1 ? columns() : input([pick([1, 2, 3, 9]), pick(sizes), pick([1, 4, 7, 64])])) : input([pick([1, 3, 7, 32, 600]), pick(sizes)]);
  const params: IRNode[] = [];
  const ops: string[] = [];
  for (let layers = 1 + rng.int(3); layers > 0; layers--) {
    const units = pick(sizes);
    // Weights of a long fan-in (64 channels' columns) scaled as an init would, so that the CPU's and the GPU's sums
    // in their orders stay close where the activation is sin.
    const w = input([units, dims(x)[1]], Math.min(1, Math.sqrt(32 / dims(x)[1])));
    const bias = input(images ? [units, 1] : [units]);
    params.push(w, bias);
    const z = images ? b.matmul(w, x) : b.matmul(x, b.transposeLast2(w));
    x = b.emit(pick(UNARY), [b.add(z, bias)]);
    ops.push(`${x.op}${JSON.stringify(x.shape)}`);
    if (images && rng.int(2) === 1) {
      // A max pool as the catalogue's (the positions seen as an image 1 high): its backward pass is a max_mask times
      // the gradient per window, col2im, and the activation's derivative.
      const [n, c, positions] = dims(x);
      const kw = 1 + rng.int(Math.min(3, positions));
      const window = { kh: 1, kw, sh: 1, sw: rng.int(2) === 1 ? kw : 1, ph: 0, pw: 0 };
      const out = Math.floor((positions - kw) / window.sw) + 1;
      x = b.max(b.reshape(b.im2col(b.reshape(x, [n, c, 1, positions]), window), [n, c, kw, out]), [2]);
      ops.push(`maxpool ${kw}/${window.sw}${JSON.stringify(x.shape)}`);
    }
  }
  const all = (v: IRNode) => v.shape.map((_, k) => k);
  const adjoint = reverseMode(b, b.mean(x, all(x)), image ? [...params, image] : params);
  const outputs: Record<string, IRNode> = { last: x, ...(image ? { image: adjoint.get(image)! } : {}) };
  params.forEach((p, k) => {
    const g = adjoint.get(p)!;
    outputs[`grad${k}`] = g;
    outputs[`norm${k}`] = b.sum(b.mul(g, g), all(g));
  });
  return { outputs, ops, feeds };
}

const gpu = useGpuBackend();

describe('random graphs on the WebGPU backend', () => {
  test.each(Array.from({ length: CASES }, (_, i) => i + 1))('seed %i', async (seed) => {
    const { outputs, ops, feeds } = randomGraph(seed);
    await expectAgreement(outputs, ops, feeds);
  });

  test.each(Array.from({ length: STACKS }, (_, i) => i + 1))('a stack of layers, seed %i', async (seed) => {
    const { outputs, ops, feeds } = randomStack(seed);
    await expectAgreement(outputs, ops, feeds);
  });
});

async function expectAgreement(outputs: Record<string, IRNode>, ops: string[], feeds: Record<string, Float32Array>) {
  const { outputs: results } = await runOnBoth(gpu(), compilePlan(outputs), feeds);
  for (const { name, want, got } of results) {
    const bad = disagreement(got, want);
    expect(bad, `${name} of ${ops.join(' ')}: [${bad}] ${got[bad]} for ${want[bad]}`).toBe(-1);
  }
}
