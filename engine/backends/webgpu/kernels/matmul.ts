/**
 * Matmul on the GPU, with the CPU kernel's semantics: the last two axes multiply, the leading (batch) axes
 * broadcast, and consecutive batches of A times one B run as one matmul of their rows stacked.
 *
 * The kernel is the classic register-blocked SGEMM. A workgroup of 16 x 16 threads computes one TILE x TILE block of
 * C: 128 x 128 (8 x 8 outputs a thread) for large problems, 64 x 64 (4 x 4) where 128-tiles would leave a big GPU
 * short of workgroups. K advances BK at a time (BK * TILE = 1024, so each thread stages exactly one 4-wide quad of A
 * and one of B per step): the step is loaded through registers into workgroup memory (A transposed, so that a thread
 * reads its column of A as vec4s), and the next step's quads are fetched into registers while this one is multiplied.
 * A thread owns rows `g*64 + ty*4 + 0..3` and columns `h*64 + tx*4 + 0..3` (g, h < TILE/64): its workgroup-memory
 * reads are vec4s that 16 neighbouring threads take from consecutive addresses (no bank conflicts), and its stores
 * of C are 16-byte runs that those threads write contiguously. Tiles are visited in groups of GROUP tile rows, so
 * that workgroups running at the same time share panels of A and B in L2 (matters from n ~ 2048).
 *
 * Everything shape-dependent is a uniform, so one pipeline serves every shape of a variant; the variants are the tile
 * size and whether k and n are multiples of 4 (then A, B and C are read and written as vec4s: 16-byte loads and
 * stores). Loads outside the matrices give zeros and stores outside them are skipped, so any m, n, k works.
 *
 * Expected behaviour (not measured here: llvmpipe runs this at ~1 GFLOP/s): a 128 x 128, 8 x 8 kernel of this
 * shape reached 30.7 TFLOP/s on an H100 at n = 2048 (../shared/docs/gpu.md), and the target is 0.8x PyTorch fp32
 * (~41 TFLOP/s at n = 4096). Weak spots: very small m or n (one row still costs a 64-row tile), and few output tiles
 * with a long k (no split-K: a batch-128 dense layer of 256 units is 8 workgroups, each walking all of k), which
 * leave most of a big GPU idle; at those sizes a training step is bound by dispatches rather than by the matmul.
 */
import type { KernelCall } from '../../kernel';
import { StudioError } from '../../../util/errors';
import { grid1d, packWords, type GpuKernel, type GpuKernelFor } from '../kernel';

/** Workgroups of 128-tiles from which the large tile is used: about two per SM of an H100-class GPU. */
const LARGE_TILE_FROM = 256;
/** Tile rows per group in the tile order (see above). */
const GROUP = 8;
const MAX_BATCH_RANK = 4;

/** A matmul step as the kernel runs it: batch dims and strides (in elements, 0 where broadcast) padded to 4. */
export interface MatmulLayout {
  m: number;
  n: number;
  k: number;
  batch: number;
  dims: number[];
  aStrides: number[];
  bStrides: number[];
  tile: 64 | 128;
  /** k and n are positive multiples of 4: rows of A, B and C start 16-byte aligned (and no binding is under 16 bytes). */
  vec4: boolean;
}

/** Strides of `shape`'s batch dims along the output batch `dims` (left-padded with ones), 0 where broadcast. */
function batchStrides(shape: readonly number[], dims: readonly number[], matrix: number): number[] {
  const own = [...new Array<number>(dims.length - (shape.length - 2)).fill(1), ...shape.slice(0, -2)];
  const strides = new Array<number>(dims.length);
  let s = matrix;
  for (let i = dims.length - 1; i >= 0; i--) {
    strides[i] = own[i] === 1 ? 0 : s;
    s *= own[i];
  }
  return strides;
}

export function matmulLayout(call: KernelCall): MatmulLayout {
  const [sa, sb] = call.inShapes;
  let m = sa[sa.length - 2];
  const k = sa[sa.length - 1];
  const n = sb[sb.length - 1];
  let dims = call.outShape.slice(0, -2);
  if (dims.length > MAX_BATCH_RANK) throw new StudioError(`the WebGPU matmul takes at most ${MAX_BATCH_RANK} batch axes, got ${dims.length}`);
  let batch = dims.reduce((p, d) => p * d, 1);
  let aStrides = batchStrides(sa, dims, m * k);
  let bStrides = batchStrides(sb, dims, k * n);
  const aBatch = sa.slice(0, -2).reduce((p, d) => p * d, 1);
  if (batch > 1 && aBatch === batch && bStrides.every((s) => s === 0)) {
    m *= batch;
    batch = 1;
    dims = aStrides = bStrides = [];
  }
  const pad = (xs: readonly number[], v: number) => [...new Array<number>(MAX_BATCH_RANK - xs.length).fill(v), ...xs];
  const tiles128 = Math.ceil(m / 128) * Math.ceil(n / 128) * batch;
  return {
    m,
    n,
    k,
    batch,
    dims: pad(dims, 1),
    aStrides: pad(aStrides, 0),
    bStrides: pad(bStrides, 0),
    tile: tiles128 >= LARGE_TILE_FROM ? 128 : 64,
    vec4: k > 0 && k % 4 === 0 && n % 4 === 0,
  };
}

/** Loads of A and B (4 values from (row, col), zeros outside) and the store of 4 values of C, per element type. */
function accessors(vec4: boolean): string {
  if (vec4) {
    return `
fn load_a(base: u32, row: u32, col: u32) -> vec4<f32> {
  if (row < p.m && col < p.k) { return a[(base + row * p.k + col) / 4u]; }
  return vec4<f32>();
}
fn load_b(base: u32, row: u32, col: u32) -> vec4<f32> {
  if (row < p.k && col < p.n) { return b[(base + row * p.n + col) / 4u]; }
  return vec4<f32>();
}
fn store(base: u32, row: u32, col: u32, v: vec4<f32>) {
  if (row < p.m && col < p.n) { c[(base + row * p.n + col) / 4u] = v; }
}`;
  }
  return `
fn load_a(base: u32, row: u32, col: u32) -> vec4<f32> {
  var v = vec4<f32>();
  if (row < p.m) {
    for (var j = 0u; j < 4u; j++) { if (col + j < p.k) { v[j] = a[base + row * p.k + col + j]; } }
  }
  return v;
}
fn load_b(base: u32, row: u32, col: u32) -> vec4<f32> {
  var v = vec4<f32>();
  if (row < p.k) {
    for (var j = 0u; j < 4u; j++) { if (col + j < p.n) { v[j] = b[base + row * p.n + col + j]; } }
  }
  return v;
}
fn store(base: u32, row: u32, col: u32, v: vec4<f32>) {
  if (row < p.m) {
    for (var j = 0u; j < 4u; j++) { if (col + j < p.n) { c[base + row * p.n + col + j] = v[j]; } }
  }
}`;
}

function matmulSource(tile: 64 | 128, vec4: boolean): string {
  const g = tile / 64; // 4-wide groups of rows (and of columns) per thread
  const bk = 1024 / tile;
  const type = vec4 ? 'vec4<f32>' : 'f32';
  const range = (n: number) => [...Array(n).keys()];
  // The multiply-adds and stores unrolled, so that the accumulators are indexed by constants (registers).
  const fma = range(g).flatMap((gi) =>
    range(4).flatMap((i) => range(g).map((h) => `      acc[${(gi * 4 + i) * g + h}] += a${gi}[${i}] * b${h};`)),
  );
  const stores = range(g).flatMap((gi) =>
    range(4).flatMap((i) =>
      range(g).map((h) => `  store(c_base, row0 + ${gi * 64 + i}u + ty * 4u, col0 + ${h * 64}u + tx * 4u, acc[${(gi * 4 + i) * g + h}]);`),
    ),
  );
  return `
struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  tiles_m: u32, tiles_n: u32, pad0: u32, pad1: u32,
  dims: vec4<u32>, a_strides: vec4<u32>, b_strides: vec4<u32>,
}
@group(0) @binding(0) var<storage, read> a: array<${type}>;
@group(0) @binding(1) var<storage, read> b: array<${type}>;
@group(0) @binding(2) var<storage, read_write> c: array<${type}>;
@group(0) @binding(3) var<uniform> p: Params;

const TILE = ${tile}u;
const BK = ${bk}u;
const GROUP = ${GROUP}u;
const AS = TILE + 4u; // row stride of the transposed A tile, padded so that its transposing stores spread over banks

var<workgroup> at: array<vec4<f32>, ${(bk * (tile + 4)) / 4}>; // A tile transposed: [BK][AS] as vec4s
var<workgroup> bt: array<vec4<f32>, ${(bk * tile) / 4}>; // B tile: [BK][TILE] as vec4s
${accessors(vec4)}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let per_batch = p.tiles_m * p.tiles_n;
  let flat = wid.x + wid.y * nwg.x;
  if (flat >= per_batch * p.batch) { return; }
  let z = flat / per_batch;
  var rest = z;
  var a_base = 0u;
  var b_base = 0u;
  for (var d = 3i; d >= 0; d--) {
    let i = rest % p.dims[d];
    rest /= p.dims[d];
    a_base += i * p.a_strides[d];
    b_base += i * p.b_strides[d];
  }
  let c_base = z * p.m * p.n;

  let tile = flat - z * per_batch;
  let in_group = GROUP * p.tiles_n;
  let first_m = tile / in_group * GROUP;
  let rows = min(p.tiles_m - first_m, GROUP);
  let row0 = (first_m + tile % in_group % rows) * TILE;
  let col0 = tile % in_group / rows * TILE;

  let tx = t % 16u;
  let ty = t / 16u;
  let a_row = t / (BK / 4u);
  let a_col = t % (BK / 4u) * 4u;
  let b_row = t / (TILE / 4u);
  let b_col = t % (TILE / 4u) * 4u;

  var acc: array<vec4<f32>, ${4 * g * g}>;
  var ra = load_a(a_base, row0 + a_row, a_col);
  var rb = load_b(b_base, b_row, col0 + b_col);
  let steps = (p.k + BK - 1u) / BK;
  for (var s = 0u; s < steps; s++) {
    for (var j = 0u; j < 4u; j++) { at[(a_col + j) * (AS / 4u) + a_row / 4u][a_row % 4u] = ra[j]; }
    bt[b_row * (TILE / 4u) + b_col / 4u] = rb;
    workgroupBarrier();
    if (s + 1u < steps) {
      let k1 = (s + 1u) * BK;
      ra = load_a(a_base, row0 + a_row, k1 + a_col);
      rb = load_b(b_base, k1 + b_row, col0 + b_col);
    }
    for (var kk = 0u; kk < BK; kk++) {
${range(g)
  .map((i) => `      let a${i} = at[kk * (AS / 4u) + ${i * 16}u + ty];\n      let b${i} = bt[kk * (TILE / 4u) + ${i * 16}u + tx];`)
  .join('\n')}
${fma.join('\n')}
    }
    workgroupBarrier();
  }
${stores.join('\n')}
}
`;
}

function matmul(call: KernelCall): GpuKernel {
  const l = matmulLayout(call);
  const tilesM = Math.ceil(l.m / l.tile);
  const tilesN = Math.ceil(l.n / l.tile);
  return {
    code: matmulSource(l.tile, l.vec4),
    workgroups: grid1d(tilesM * tilesN * l.batch, 1),
    params: packWords([l.m, l.n, l.k, l.batch, tilesM, tilesN, 0, 0, ...l.dims, ...l.aStrides, ...l.bStrides]),
  };
}

export const matmulKernels: Record<string, GpuKernelFor> = { matmul };
