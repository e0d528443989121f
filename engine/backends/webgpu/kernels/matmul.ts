/**
 * Matmul on the GPU, with the CPU kernel's semantics: the last two axes multiply, the leading (batch) axes
 * broadcast, and consecutive batches of A times one B run as one matmul of their rows stacked.
 *
 * The kernel is the classic register-blocked SGEMM. A workgroup of 16 x 16 threads computes one TILE x TILE block of
 * C: 128 x 128 (8 x 8 outputs a thread) for large problems, 64 x 64 (4 x 4) where 128-tiles would leave a big GPU
 * short of workgroups. K advances BK at a time (by default BK * TILE = 1024, so each thread stages exactly one
 * 4-wide quad of A and one of B per step; a longer step, BK * TILE / 1024 quads each, is a MatmulConfig): the step is
 * loaded through registers into workgroup memory (A transposed, so that a thread reads its column of A as vec4s),
 * and the next step's quads are fetched into registers while this one is multiplied.
 * A thread owns rows `g*64 + ty*4 + 0..3` and columns `h*64 + tx*4 + 0..3` (g, h < TILE/64): its workgroup-memory
 * reads are vec4s that 16 neighbouring threads take from consecutive addresses (no bank conflicts), and its stores
 * of C are 16-byte runs that those threads write contiguously. Tiles are visited in groups of GROUP tile rows, so
 * that workgroups running at the same time share panels of A and B in L2 (matters from n ~ 2048).
 *
 * Either operand may be stored transposed (A as [k, m], B as [n, k]; ../fold.ts reads through the transposes of a
 * dense layer this way): a thread then stages its quad along the other axis of the tile, so the loads stay 16-byte
 * runs of consecutive addresses, and the tile is still stored k-major in workgroup memory (B's, where transposed,
 * padded like A's), so the inner loop is the same. Elementwise steps may be computed on C's elements as they are
 * stored (an epilogue, ../fold.ts): a dense layer's relu(x W^T + b) is one dispatch, and so is its backward's
 * g W * step(y).
 *
 * The kernel can also sum, over k, the rows of A or the columns of B as it multiplies (`sums`: a dense layer's bias
 * gradient, which is the sum over the batch of the gradient that its weight gradient multiplies): it reads B with a
 * column of ones after its last (A with a row of ones under its last), so that C's extra column (row) is that sum,
 * which it writes to a binding of its own. That costs no dispatch, and no time where the extra column fits the last
 * tile or the matmul leaves a GPU's cores idle (`takesSums`).
 *
 * A batch of products summed (`batchSummed`: C = sum over z of A_z B_z, a convolution's weight gradient over the
 * images) runs as one product over the batch's k's end to end, each load finding its matrix from its k.
 *
 * B may be an image's columns (`bColumns`: a convolution as an implicit GEMM, forward W cols and the weight gradient
 * g cols^T): each load computes its element of the columns from the image (./layout.ts's im2colExpression), so the
 * columns, kh x kw times the image where windows overlap, are never written. Those loads are scalar gathers; a
 * thread's quad lies along a row of the columns, whose channel and window offset it works out once (`ColumnsRead`),
 * so that each element costs one division (its output position), or two where the images are summed along k.
 * A convolution's input gradient (stride 1) is the same product over the gradient's columns, with A the filter read
 * flipped and transposed (`aFilter`): its col2im and the columns' gradient are never written either.
 *
 * Everything shape-dependent is a uniform, so one pipeline serves every shape of a variant; the variants are the tile
 * size, the transposes, and whether the rows of A, B and C (as stored) are multiples of 4 long (then they are read
 * and written as vec4s: 16-byte loads and stores), for image columns, how they are read, and whether A is a filter
 * read flipped. Loads outside the matrices give zeros and stores outside them are skipped, so any m, n, k works.
 *
 * Expected behaviour (not measured here: llvmpipe runs this at ~1 GFLOP/s): a 128 x 128, 8 x 8 kernel of this
 * shape reached 30.7 TFLOP/s on an H100 at n = 2048 (../shared/docs/gpu.md), and the target is 0.8x PyTorch fp32
 * (~41 TFLOP/s at n = 4096). Weak spots: very small m or n (one row still costs a 64-row tile), and few output tiles
 * with a long k (a batch-128 dense layer of 256 units is 8 workgroups, each walking all of k), which leave most of a
 * big GPU idle. Such matmuls are split along k (`matmulSplits`: matmulKernel's `splits`, each range into its own
 * copy of C in a scratch buffer, then splitSumKernel, which also computes the epilogue): a judgement, not
 * yet a measurement, which the `matmul_variants` bench gives beside the unsplit kernel on the MLP's shapes.
 * The default k steps (8 for the 128-tile, 16 for the 64-tile, one stage) are that H100 kernel's; a backend on a GPU
 * times every configuration on its device and runs the fastest (MatmulTuning, ../tune.ts), and the `matmul_variants`
 * bench measures them all side by side.
 */
import type { KernelCall } from '../../kernel';
import { StudioError } from '../../../util/errors';
import { grid1d, packWords, perElementShader, type GpuKernel, type StepKernels } from '../kernel';
import type { Epilogue } from '../epilogue';
import { epilogueWgsl } from './epilogue';
import { im2colExpression } from './layout';
import type { Window } from '../../../ir/builder';
import { windowOutput } from '../../../ops/layout';

/** Workgroups of 128-tiles from which the large tile is used: about two per SM of an H100-class GPU. */
const LARGE_TILE_FROM = 256;

/**
 * A kernel configuration: the tile (64: 4 x 4 outputs a thread; 128: 8 x 8) and the k step. Each thread stages
 * `bk * tile / 1024` quads of A and of B per step, so the k step is at least 1024 / tile. The defaults keep both
 * tiles within WebGPU's default 16 KiB of workgroup memory; the others need up to 17 KiB (the backend asks for the
 * adapter's limit). The `matmul_variants` bench measures them all.
 */
export interface MatmulConfig {
  tile: 64 | 128;
  bk: 8 | 16 | 32;
  /** Workgroup-memory stages: 2 stores the next step in one while the other is multiplied (one barrier a step). */
  stages: 1 | 2;
}
export const MATMUL_CONFIGS: readonly MatmulConfig[] = [
  { tile: 64, bk: 16, stages: 1 },
  { tile: 64, bk: 32, stages: 1 },
  { tile: 64, bk: 16, stages: 2 },
  { tile: 128, bk: 8, stages: 1 },
  { tile: 128, bk: 16, stages: 1 },
  { tile: 128, bk: 8, stages: 2 },
];

/**
 * The k step and stages of each tile size. Every configuration sums each element of C over k in the same order, so
 * they compute the same bits and differ in speed only: the backend measures its device's (../tune.ts) where it is a
 * GPU, and keeps these, the H100 kernel's, elsewhere.
 */
export type MatmulTuning = Readonly<Record<MatmulConfig['tile'], Pick<MatmulConfig, 'bk' | 'stages'>>>;
export const DEFAULT_TUNING: MatmulTuning = { 64: { bk: 16, stages: 1 }, 128: { bk: 8, stages: 1 } };

/** Bytes of workgroup memory a configuration uses (B's tile is padded where B is read transposed). */
export function matmulWorkgroupBytes({ tile, bk, stages }: MatmulConfig, transB: boolean): number {
  return stages * bk * (2 * tile + 4 + (transB ? 4 : 0)) * 4;
}
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
  /** The k step: columns of A (rows of B) staged in workgroup memory at a time. */
  bk: number;
  /** k of each matrix: k, but where the batch is summed into k (`batchSummed`), k over the batch. */
  kper: number;
  /** Where the batch is summed: the strides of A's and B's matrices (else 0). */
  za: number;
  zb: number;
  stages: 1 | 2;
  /**
   * The rows of A, B (as stored) and C are positive multiples of 4 long: they start 16-byte aligned (and no binding is
   * under 16 bytes), so the kernel reads and writes vec4s.
   */
  vec4: boolean;
  /** A is stored transposed ([..., k, m]): the kernel reads A^T's rows. */
  transA: boolean;
  /** B is stored transposed ([..., n, k]). */
  transB: boolean;
  /** Steps computed on C's elements as they are stored. */
  epilogue?: Epilogue;
  /** The sums over k that it also writes (see MatmulOperands). */
  sums?: KSums;
  /** B is an image's columns (see MatmulOperands). */
  bColumns?: ImageColumns;
  /** A is a convolution's filter read flipped (see MatmulOperands): its window's kh * kw. */
  aFilter?: number;
}

/**
 * How a matmul reads B as an image's columns ([z, rows, positions] as im2col writes them), quad by quad along a row
 * of B as stored: where B's columns are the positions, a quad's row is worked out once, its image found from the
 * batch offset (`rows`) or, where the batch is summed into k, from the row (`summed along rows`, B not transposed) or
 * per element (`summed along columns`, B transposed); else (another view of the columns) every element from its flat
 * index (`flat`).
 */
type ColumnsRead = 'rows' | 'summed along rows' | 'summed along columns' | 'flat';

function columnsRead(l: Pick<MatmulLayout, 'bColumns' | 'n' | 'kper' | 'za' | 'zb' | 'transB'>): ColumnsRead | undefined {
  if (!l.bColumns) return undefined;
  const { image, window: w } = l.bColumns;
  const positions = windowOutput(image[2], w.kh, w.sh, w.ph) * windowOutput(image[3], w.kw, w.sw, w.pw);
  // The length of B's rows as stored, and along which axis of them k runs.
  const [cols, kAlongCols] = l.transB ? [l.kper, true] : [l.n, false];
  if (cols !== positions) return 'flat';
  if (l.za + l.zb === 0) return 'rows';
  return kAlongCols ? 'summed along columns' : 'summed along rows';
}

/** An im2col's columns, computed where a kernel loads them: the image's shape and the window. */
export interface ImageColumns {
  readonly image: readonly number[];
  readonly window: Window;
}

/**
 * Sums over k that a matmul also computes: of each row of A (`a`: m of them, C's column n where B has a column of
 * ones), or of each column of B (`b`: n of them, C's row m where A has a row of ones).
 */
export type KSums = 'a' | 'b';

/** What a matmul dispatch computes: C = A B from A and B as stored, either of them transposed (see ../fold.ts). */
export interface MatmulOperands {
  /** The operands' shapes as stored: [..., m, k] and [..., k, n], or [..., k, m] and [..., n, k] where transposed. */
  aShape: readonly number[];
  bShape: readonly number[];
  outShape: readonly number[];
  transA: boolean;
  transB: boolean;
  /** Steps computed on C's elements as they are stored, their inputs bound after B. */
  epilogue?: Epilogue;
  /** Sums over k that it writes too, to a binding after the epilogue's inputs (no batch axes). */
  sums?: KSums;
  /** C is the sum of the products of A's and B's matrices ([z, ...] both, one z): C has no batch axes. */
  batchSummed?: boolean;
  /**
   * B (as stored: `bShape`) is the columns of an image (im2col), which the kernel computes as it loads them from the
   * image, bound as B: a convolution as an implicit GEMM, its columns never written.
   */
  bColumns?: ImageColumns;
  /**
   * A (as given: `aShape` [c, o * kk], not transposed) is bound as a convolution's filter W [o, c * kk] (kk = kh * kw:
   * the window's elements), read flipped and transposed: A[c, o * kk + r] = W[o, c * kk + kk - 1 - r]. With B the
   * columns of the gradient of the convolution's output under the window padded by kh - 1 - ph (kw - 1 - pw), stride
   * 1, C is the gradient of its input (the col2im of W^T g): a convolution of g with the flipped filter (../fold.ts).
   */
  aFilter?: number;
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

/** A step's layout: with `config` a MatmulConfig, that one; else the tile for its size, with `config`'s tuning. */
export function matmulLayout(call: KernelCall | MatmulOperands, config: MatmulConfig | MatmulTuning = DEFAULT_TUNING): MatmulLayout {
  const { aShape: sa, bShape: sb, outShape, transA, transB } =
    'op' in call ? { aShape: call.inShapes[0], bShape: call.inShapes[1], outShape: call.outShape, transA: false, transB: false } : call;
  const epilogue = 'op' in call ? undefined : call.epilogue;
  const sums = 'op' in call ? undefined : call.sums;
  const summed = 'op' in call ? false : !!call.batchSummed;
  const bColumns = 'op' in call ? undefined : call.bColumns;
  const aFilter = 'op' in call ? undefined : call.aFilter;
  if (aFilter && (transA || summed || sa.length !== 2)) throw new Error('a filter read flipped is a plain, untransposed A');
  const last2 = (s: readonly number[]) => [s[s.length - 2], s[s.length - 1]];
  const [aRows, aCols] = last2(sa);
  const [bRows, bCols] = last2(sb);
  let m = transA ? aCols : aRows;
  const kper = transA ? aRows : aCols;
  const n = transB ? bRows : bCols;
  if (summed && (sa.length !== 3 || sb.length !== 3 || sa[0] !== sb[0])) throw new Error('a batch summed is [z, ...] in both operands');
  const k = summed ? sa[0] * kper : kper;
  let dims = summed ? [] : outShape.slice(0, -2);
  if (dims.length > MAX_BATCH_RANK) throw new StudioError(`the WebGPU matmul takes at most ${MAX_BATCH_RANK} batch axes, got ${dims.length}`);
  let batch = dims.reduce((p, d) => p * d, 1);
  let aStrides = summed ? [] : batchStrides(sa, dims, m * kper);
  let bStrides = summed ? [] : batchStrides(sb, dims, kper * n);
  const aBatch = sa.slice(0, -2).reduce((p, d) => p * d, 1);
  if (batch > 1 && !transA && aBatch === batch && bStrides.every((s) => s === 0)) {
    m *= batch;
    batch = 1;
    dims = aStrides = bStrides = [];
  }
  const pad = (xs: readonly number[], v: number) => [...new Array<number>(MAX_BATCH_RANK - xs.length).fill(v), ...xs];
  if (sums && batch > 1) throw new Error('a matmul with batch axes computes no sums over k');
  const tiles128 = tilesOf({ m, n, batch, sums }, 128);
  const tile = 'tile' in config ? config.tile : tiles128 >= LARGE_TILE_FROM ? 128 : 64;
  const { bk, stages } = 'tile' in config ? config : config[tile];
  return {
    m,
    n,
    k,
    batch,
    dims: pad(dims, 1),
    aStrides: pad(aStrides, 0),
    bStrides: pad(bStrides, 0),
    tile,
    bk,
    kper,
    za: summed ? m * kper : 0,
    zb: summed ? kper * n : 0,
    stages,
    vec4: k > 0 && aCols % 4 === 0 && bCols % 4 === 0 && n % 4 === 0 && !bColumns && !aFilter,
    transA,
    transB,
    ...(epilogue ? { epilogue } : {}),
    ...(sums ? { sums } : {}),
    ...(bColumns ? { bColumns } : {}),
    ...(aFilter ? { aFilter } : {}),
  };
}

/** The output tiles of a matmul (of its C with the extra row or column of `sums`) for a tile size, down and across. */
function tileGrid({ m, n, sums }: Pick<MatmulLayout, 'm' | 'n' | 'sums'>, tile: number): [number, number] {
  return [Math.ceil((m + (sums === 'b' ? 1 : 0)) / tile), Math.ceil((n + (sums === 'a' ? 1 : 0)) / tile)];
}

/** All output tiles of a matmul, its batch's too. */
function tilesOf(l: Pick<MatmulLayout, 'm' | 'n' | 'batch' | 'sums'>, tile: number): number {
  const [down, across] = tileGrid(l, tile);
  return down * across * l.batch;
}

/**
 * Loads of A and B (4 values from (row, col) of the matrix as stored, zeros outside) and the store of 4 values of C,
 * through the epilogue where there is one, per element type. A stored matrix is `rows` x `cols` (A: m x k, or k x m
 * where transposed; B: k x n, or n x k). With `sums`, B's column n (A's row m) reads as ones, and C's column n (row
 * m) is stored to `sums`.
 */
function accessors(vec4: boolean, transA: boolean, transB: boolean, epilogue: boolean, sums?: KSums, summed = false, sumsInParts = false, bColumns?: ColumnsRead, aFilter = false): string {
  // [rows, cols] bounds, then the row stride, then the axis along k: along k the bound is this split's end, k_hi (k
  // without split-K).
  const a = transA ? ['k_hi', 'p.m', 'p.m', 'row'] : ['p.m', 'k_hi', 'p.kper', 'col'];
  const b = transB ? ['p.n', 'k_hi', 'p.kper', 'col'] : ['k_hi', 'p.n', 'p.n', 'row'];
  /** The offset of (row, col) of the matrix as stored; where the batch is summed, the k given is into all matrices. */
  const offset = (name: string, stride: string, along: string, row: string, col: string) => {
    if (!summed) return `base + ${row} * ${stride} + ${col}`;
    return along === 'col' ? `base + (${col} / p.kper) * p.z${name} + ${row} * ${stride} + ${col} % p.kper` : `base + (${row} / p.kper) * p.z${name} + (${row} % p.kper) * ${stride} + ${col}`;
  };
  // The stored axis that the ones lie past the end of: across the rows (after the last row) or the columns.
  const ones = sums === 'b' ? { name: 'a', across: transA ? 'cols' : 'rows' } : sums === 'a' ? { name: 'b', across: transB ? 'rows' : 'cols' } : undefined;
  /**
   * A quad of A or B as stored, along a row: what is worked out once for the row (`pre`), element `j`'s value, and
   * what moves on to the next element (`next`). Where B is an image's columns (vec4 is then off), each is computed
   * from the image: the row's part once where the matrix's columns are the output positions (`ColumnsRead`), the
   * first element's position once, each next one's by a step (no division an element); else all of it per element.
   * Where A is a filter read flipped (`aFilter`), each element is found in it, its filter and window offset stepped
   * the same way.
   */
  const quad = (name: string, stride: string, along: string): { pre: string; element: (j: string) => string; next?: string } => {
    const flat = (j: string) => offset(name, stride, along, 'row', `(col + ${j})`);
    if (name === 'a' && aFilter) {
      return {
        pre: 'let w = row * p.a_kk + p.a_kk - 1u;\n    var o = col / p.a_kk;\n    var r = col % p.a_kk;',
        element: () => 'a[o * p.m * p.a_kk + w - r]',
        next: 'r++; if (r == p.a_kk) { r = 0u; o++; }',
      };
    }
    if (name !== 'b' || !bColumns) return { pre: '', element: (j) => `${name}[${flat(j)}]` };
    /** The positions of a quad along a row of the columns: the first's output row and column, then a step each. */
    const positions = { pre: '\n    var oy = col / p.ow;\n    var ox = col % p.ow;', element: () => 'im2col_yx(w, oy, ox)', next: 'ox++; if (ox == p.ow) { ox = 0u; oy++; }' };
    return {
      'rows': { ...positions, pre: `let w = im2col_row(base / (p.oh * p.ow) + row);${positions.pre}` },
      'summed along rows': { ...positions, pre: `let w = im2col_row(row % p.kper) + vec3<i32>(i32(row / p.kper * p.win_image), 0, 0);${positions.pre}` },
      'summed along columns': { pre: 'let w = im2col_row(row);', element: (j: string) => `im2col_pos(w + vec3<i32>(i32((col + ${j}) / p.kper * p.win_image), 0, 0), (col + ${j}) % p.kper)` },
      flat: { pre: '', element: (j: string) => `im2col_at(${flat(j)})` },
    }[bColumns];
  };
  const load = (name: string, [rows, cols, stride, along]: string[]) => {
    const past = ones?.name === name ? ones.across : undefined;
    const q = quad(name, stride, along);
    // (in vec4 mode the bounds are multiples of 4: a quad past the last column starts at it)
    const onesVec4 = past === 'rows' ? `\n  if (row == ${rows} && col < ${cols}) { return vec4<f32>(1.0); }` : past === 'cols' ? `\n  if (col == ${cols} && row < ${rows}) { return vec4<f32>(1.0, 0.0, 0.0, 0.0); }` : '';
    return vec4
      ? `
fn load_${name}(base: u32, row: u32, col: u32) -> vec4<f32> {
  if (row < ${rows} && col < ${cols}) { return ${name}[(${offset(name, stride, along, 'row', 'col')}) / 4u]; }${onesVec4}
  return vec4<f32>();
}`
      : `
fn load_${name}(base: u32, row: u32, col: u32) -> vec4<f32> {
  var v = vec4<f32>();
  if (row < ${rows}) {${q.pre ? `
    ${q.pre}` : ''}
    for (var j = 0u; j < 4u; j++) { if (col + j < ${cols}) { v[j] = ${q.element('j')}; }${past === 'cols' ? ` else if (col + j == ${cols}) { v[j] = 1.0; }` : ''}${q.next ? ` ${q.next}` : ''} }
  }${past === 'rows' ? ` else if (row == ${rows}) {\n    for (var j = 0u; j < 4u; j++) { if (col + j < ${cols}) { v[j] = 1.0; } }\n  }` : ''}
  return v;
}`;
  };
  const through = (j: string) => (epilogue ? `epilogue(v[${j}], at + ${j}, col + ${j})` : `v[${j}]`);
  // Sum `i` of the sums over k: to their binding, or where split along k, after this split's part of C (4 apart).
  const sumAt = (i: string, x: string) =>
    !sumsInParts ? `sums[${i}] = ${x};` : vec4 ? `c[(base + p.m * p.n) / 4u + ${i}] = vec4<f32>(${x}, 0.0, 0.0, 0.0);` : `c[base + p.m * p.n + 4u * ${i}] = ${x};`;
  // C's row m: B's column sums, each of the quad's columns in C.
  const sumRow = sums === 'b' ? ` else if (row == p.m) {\n    for (var j = 0u; j < 4u; j++) { if (col + j < p.n) { ${sumAt('(col + j)', 'v[j]')} } }\n  }` : '';
  const store = vec4
    ? `
fn store(base: u32, row: u32, col: u32, v: vec4<f32>) {
  if (row < p.m && col < p.n) {
    let at = base + row * p.n + col;
    c[at / 4u] = ${epilogue ? `vec4<f32>(${[0, 1, 2, 3].map((j) => through(`${j}u`)).join(', ')})` : 'v'};
  }${sums === 'a' ? ` else if (row < p.m && col == p.n) {\n    ${sumAt('row', 'v[0]')}\n  }` : sumRow}
}`
    : `
fn store(base: u32, row: u32, col: u32, v: vec4<f32>) {
  if (row < p.m) {
    let at = base + row * p.n + col;
    for (var j = 0u; j < 4u; j++) {
      if (col + j < p.n) { c[at + j] = ${through('j')}; }${sums === 'a' ? ` else if (col + j == p.n) { ${sumAt('row', 'v[j]')} }` : ''}
    }
  }${sumRow}
}`;
  return load('a', a) + load('b', b) + store;
}

/**
 * The kernel's WGSL but for what a pair of matmuls in one kernel share (`matmulPairKernel`): its Params struct, its
 * storage bindings (`storage` of them, from 0), constants and functions, and `fn tiles(all: u32, t: u32)`, which
 * computes output tile `all` with thread `t`; it reads its params as `p` and the tiles' workgroup memory as `at`
 * (`atSize` vec4s) and `bt` (`btSize`), which the kernel declares. `split`: split along k (C's binding then holds
 * the splits' parts, and their sums over k).
 */
function matmulDeclarations(
  { tile, bk, stages, vec4, transA, transB, epilogue, sums, za, zb, bColumns, n, kper, aFilter }: Pick<MatmulLayout, 'tile' | 'bk' | 'stages' | 'vec4' | 'transA' | 'transB' | 'epilogue' | 'sums' | 'za' | 'zb' | 'bColumns' | 'n' | 'kper' | 'aFilter'>,
  split: boolean,
): { decls: string; storage: number; atSize: number; btSize: number } {
  const e = epilogueWgsl(epilogue, 2);
  const columns = bColumns && im2colExpression(bColumns.image, bColumns.window, 'b');
  const sumsBound = !!sums && !split;
  const own = 2 + e.count + (sumsBound ? 1 : 0); // C's binding
  const g = tile / 64; // 4-wide groups of rows (and of columns) per thread
  const quads = (bk * tile) / 1024; // 4-wide quads of each tile that a thread stages per k step
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
  // Per staged quad q: its load from A or B, and its store into the tile (k-major; a quad along k is transposed).
  const loadA = (k0: string, q: number) => (transA ? `load_a(a_base, ${k0} + kr${q}, row0 + kc${q})` : `load_a(a_base, row0 + qr${q}, ${k0} + qc${q})`);
  const loadB = (k0: string, q: number) => (transB ? `load_b(b_base, col0 + qr${q}, ${k0} + qc${q})` : `load_b(b_base, ${k0} + kr${q}, col0 + kc${q})`);
  // The tiles' stores go to the stage at offset `ao` (A) and `bo` (B), in vec4s.
  const storeAlongK = (tileName: string, off: string, stride: string, reg: string, q: number) =>
    `for (var j = 0u; j < 4u; j++) { ${tileName}[${off} + (qc${q} + j) * (${stride} / 4u) + qr${q} / 4u][qr${q} % 4u] = ${reg}${q}[j]; }`;
  const storeA = (q: number) => (transA ? `at[ao + kr${q} * (AS / 4u) + kc${q} / 4u] = ra${q};` : storeAlongK('at', 'ao', 'AS', 'ra', q));
  const storeB = (q: number) => (transB ? storeAlongK('bt', 'bo', 'BS', 'rb', q) : `bt[bo + kr${q} * (BS / 4u) + kc${q} / 4u] = rb${q};`);
  const each = (f: (q: number) => string, indent: string) => range(quads).map(f).join(`\n${indent}`);
  const stage = (indent: string) => each((q) => `${storeA(q)}\n${indent}${storeB(q)}`, indent);
  const prefetch = each((q) => `ra${q} = ${loadA('k1', q)};\n      rb${q} = ${loadB('k1', q)};`, '      ');
  const multiply = `    for (var kk = 0u; kk < BK; kk++) {
${range(g)
  .map((i) => `      let a${i} = at[ac + kk * (AS / 4u) + ${i * 16}u + ty];\n      let b${i} = bt[bc + kk * (BS / 4u) + ${i * 16}u + tx];`)
  .join('\n')}
${fma.join('\n')}
    }`;
  // One stage: store the step, wait, fetch the next step's quads while multiplying, wait before the next store.
  // Two stages: the next step is stored into the other stage while this one is multiplied: one wait a step.
  const loop =
    stages === 1
      ? `  let ac = 0u;
  let bc = 0u;
  let ao = 0u;
  let bo = 0u;
  for (var s = 0u; s < steps; s++) {
    ${stage('    ')}
    workgroupBarrier();
    if (s + 1u < steps) {
      let k1 = k_lo + (s + 1u) * BK;
      ${prefetch}
    }
${multiply}
    workgroupBarrier();
  }`
      : `  {
    let ao = 0u;
    let bo = 0u;
    ${stage('    ')}
  }
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    let ac = s % 2u * A_STAGE;
    let bc = s % 2u * B_STAGE;
    let more = s + 1u < steps;
    if (more) {
      let k1 = k_lo + (s + 1u) * BK;
      ${prefetch}
    }
${multiply}
    if (more) {
      let ao = A_STAGE - ac;
      let bo = B_STAGE - bc;
      ${stage('      ')}
    }
    workgroupBarrier();
  }`;
  const decls = `
struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  tiles_m: u32, tiles_n: u32, k_split: u32, splits: u32,
  kper: u32, za: u32, zb: u32, a_kk: u32,
  dims: vec4<u32>, a_strides: vec4<u32>, b_strides: vec4<u32>${e.fields}${columns ? `, ${columns.fields}` : ''}
}
@group(0) @binding(0) var<storage, read> a: array<${type}>;
@group(0) @binding(1) var<storage, read> b: array<${type}>;
${e.bindings}${sumsBound ? `\n@group(0) @binding(${2 + e.count}) var<storage, read_write> sums: array<f32>;` : ''}
@group(0) @binding(${own}) var<storage, read_write> c: array<${type}>;

const TILE = ${tile}u;
const BK = ${bk}u;
const GROUP = ${GROUP}u;
// Row strides of the tiles, padded where a tile is stored transposed so that the transposing stores spread over banks.
const AS = TILE + 4u;
const BS = TILE + ${transB ? 4 : 0}u;

const A_STAGE = ${(bk * (tile + 4)) / 4}u;
const B_STAGE = ${(bk * (tile + (transB ? 4 : 0))) / 4}u;
${epilogue ? `${e.fns}\n${e.fn}` : ''}${columns ? columns.fns : ''}
${accessors(vec4, transA, transB, !!epilogue, sums, za + zb > 0, !!sums && split, columnsRead({ bColumns, n, kper, za, zb, transB }), !!aFilter)}

fn tiles(all: u32, t: u32) {
  let per_batch = p.tiles_m * p.tiles_n;
  if (all >= per_batch * p.batch * p.splits) { return; }
  // Split-K: workgroups come in p.splits sets, set number split summing k in [k_lo, k_hi) into its own part of c.
  let split = all / (per_batch * p.batch);
  let flat = all - split * per_batch * p.batch;
  let k_lo = split * p.k_split;
  // A let, so that the loop's bound is uniform (the barriers need it); the loads read the private copy.
  let k_end = max(k_lo, min(p.k, k_lo + p.k_split));
  k_hi = k_end;
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
  let c_base = ${sums && split ? `split * (p.m * p.n + 4u * p.${sums === 'a' ? 'm' : 'n'})` : '(split * p.batch + z) * p.m * p.n'};

  let tile = flat - z * per_batch;
  let in_group = GROUP * p.tiles_n;
  let first_m = tile / in_group * GROUP;
  let rows = min(p.tiles_m - first_m, GROUP);
  let row0 = (first_m + tile % in_group % rows) * TILE;
  let col0 = tile % in_group / rows * TILE;

  let tx = t % 16u;
  let ty = t / 16u;
  // Each thread stages quads t, t + 256, ... of each tile: along k (qr, qc: a row of a TILE x BK tile, as A or B^T
  // is stored) or along the tile (kr, kc: a row of a BK x TILE tile, as B or A^T is stored).
  ${each((q) => `let qr${q} = (t + ${256 * q}u) / (BK / 4u);\n  let qc${q} = (t + ${256 * q}u) % (BK / 4u) * 4u;\n  let kr${q} = (t + ${256 * q}u) / (TILE / 4u);\n  let kc${q} = (t + ${256 * q}u) % (TILE / 4u) * 4u;`, '  ')}

  var acc: array<vec4<f32>, ${4 * g * g}>;
  ${each((q) => `var ra${q} = ${loadA('k_lo', q)};\n  var rb${q} = ${loadB('k_lo', q)};`, '  ')}
  let steps = (k_end - k_lo + BK - 1u) / BK;
${loop}
${stores.join('\n')}
}
`;
  // A tile, k-major: [stage][BK][AS] as vec4s; B's: [stage][BK][BS].
  return { decls, storage: own + 1, atSize: (stages * bk * (tile + 4)) / 4, btSize: (stages * bk * (tile + (transB ? 4 : 0))) / 4 };
}

/** The workgroup memory and thread index of a matmul kernel, and its entry point, whose body is `body`. */
function entry(atSize: number, btSize: number, body: string): string {
  return `
var<workgroup> at: array<vec4<f32>, ${atSize}>;
var<workgroup> bt: array<vec4<f32>, ${btSize}>;
var<private> k_hi: u32;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let all = wid.x + wid.y * nwg.x;
${body}
}`;
}

/** The kernel's WGSL (see matmulDeclarations). */
function matmulSource(l: MatmulLayout, split: boolean): string {
  const { decls, storage, atSize, btSize } = matmulDeclarations(l, split);
  return `${decls}@group(0) @binding(${storage}) var<uniform> p: Params;\n${entry(atSize, btSize, '  tiles(all, t);')}`;
}

/**
 * A matmul's declarations (matmulDeclarations) as the `q`th of a pair: every name they declare at module scope
 * suffixed `_q`, their params read from `p.q<q>`, their bindings numbered from `first`. The renaming is textual:
 * every use of a name but a member access (after a `.`), so a local or a parameter of the same name (a binary op's
 * `fn mul_(a: f32, b: f32)` beside the bindings a and b) is renamed alike throughout. A struct field of such a name
 * would be renamed where it is declared and not where it is read: such declarations are refused.
 */
export function asPairPart(decls: string, q: number, first: number): string {
  const names = [...decls.matchAll(/^(?:fn|const|struct)\s+(\w+)|var<[^>]+>\s+(\w+)\s*:/gm)].map((m) => m[1] ?? m[2]);
  const fields = new Set([...decls.matchAll(/\bstruct\s+\w+\s*\{([^}]*)\}/g)].flatMap((m) => [...m[1].matchAll(/(\w+)\s*:/g)].map((f) => f[1])));
  const clash = names.find((name) => fields.has(name));
  if (clash) throw new Error(`a matmul's WGSL has a struct field named as its module-scope ${clash}`);
  let out = decls;
  for (const name of new Set(names)) out = out.replace(new RegExp(`(?<![.\\w])${name}\\b`, 'g'), `${name}_${q}`);
  return out.replace(/(?<![.\w])p\./g, `p.q${q}.`).replace(/@binding\((\d+)\)/g, (_, b: string) => `@binding(${Number(b) + first})`);
}

/**
 * The dispatch of C = A B, either operand stored transposed (a plain matmul step: neither); `config`: a configuration,
 * or the tuning to pick one by (matmulLayout). With `splits` > 1 (split-K, see matmulSplits), k is cut into that many ranges, each summed by
 * workgroups of its own into its own copy of C: the output binding holds `splits` of them, which splitSumKernel then
 * adds up.
 */
export function matmulKernel(operands: KernelCall | MatmulOperands, config?: MatmulConfig | MatmulTuning, splits = 1): GpuKernel {
  const l = matmulLayout(operands, config);
  if (l.epilogue && splits > 1) throw new Error('a split-K matmul computes no epilogue: the split sum does');
  return { code: matmulSource(l, splits > 1), workgroups: grid1d(tilesOf(l, l.tile) * splits, 1), params: matmulParams(l, splits) };
}

/** A matmul kernel's Params words. */
function matmulParams(l: MatmulLayout, splits: number): Uint32Array {
  const [tilesM, tilesN] = tileGrid(l, l.tile);
  const kSplit = Math.ceil(l.k / splits / l.bk) * l.bk;
  const columns = l.bColumns ? im2colExpression(l.bColumns.image, l.bColumns.window).words : [];
  return packWords([l.m, l.n, l.k, l.batch, tilesM, tilesN, Math.max(kSplit, 1), splits, l.kper, l.za, l.zb, l.aFilter ?? 0, ...l.dims, ...l.aStrides, ...l.bStrides, ...epilogueWgsl(l.epilogue, 2).words, ...columns]);
}

/**
 * Two matmuls as one dispatch (neither split): the first's output tiles, then the second's, each workgroup computing
 * one tile of one of them, each matmul's bindings as its own kernel's, the first's before the second's, then their
 * params. Where two small matmuls do not depend on each other (a dense layer's input gradient g W and weight
 * gradient g^T x), that is one launch and one barrier fewer, and the two fill a GPU together.
 */
export function matmulPairKernel(first: KernelCall | MatmulOperands, second: KernelCall | MatmulOperands, tuning = DEFAULT_TUNING): GpuKernel {
  const layouts = [first, second].map((operands) => matmulLayout(operands, tuning));
  const parts = layouts.map((l) => matmulDeclarations(l, false));
  const params = layouts.map((l) => matmulParams(l, 1));
  const body = `  let first = p.q0.tiles_m * p.q0.tiles_n * p.q0.batch;
  if (all < first) { tiles_0(all, t); } else { tiles_1(all - first, t); }`;
  const code = `${asPairPart(parts[0].decls, 0, 0)}${asPairPart(parts[1].decls, 1, parts[0].storage)}
struct Params { q0: Params_0, q1: Params_1 }
@group(0) @binding(${parts[0].storage + parts[1].storage}) var<uniform> p: Params;
${entry(Math.max(...parts.map((x) => x.atSize)), Math.max(...parts.map((x) => x.btSize)), body)}`;
  const tiles = layouts.map((l) => tilesOf(l, l.tile));
  return { code, workgroups: grid1d(tiles[0] + tiles[1], 1), params: Uint32Array.from([...params[0], ...params[1]]), bindOutput: false };
}

/**
 * Split-K's second dispatch: out[i] = the sum of the `splits` parts' element i, in order, through the epilogue
 * where there is one (its C `cols` columns wide; bound: the parts, the epilogue's inputs, then out). With `sums` sums
 * over k (kept 4 apart after each part's C), those summed too, into a binding before out.
 */
export function splitSumKernel(elements: number, splits: number, epilogue?: Epilogue, cols = 1, sums = 0): GpuKernel {
  const e = epilogueWgsl(epilogue, 1);
  const add = (at: string) => `  var s = 0.0;\n  for (var j = 0u; j < p.splits; j++) { s += parts[j * part + ${at}]; }`;
  return {
    code: perElementShader(
      `struct Params { n: u32, splits: u32, cols: u32, elements: u32${e.fields} }
@group(0) @binding(0) var<storage, read> parts: array<f32>;
${e.bindings}${sums ? `\n@group(0) @binding(${1 + e.count}) var<storage, read_write> sums: array<f32>;` : ''}
@group(0) @binding(${1 + e.count + (sums ? 1 : 0)}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${2 + e.count + (sums ? 1 : 0)}) var<uniform> p: Params;
${e.fns}
${e.fn}`,
      sums
        ? `  let part = p.elements + 4u * (p.n - p.elements);
  if (i < p.elements) {
  ${add('i')}
    out[i] = epilogue(s, i, i % p.cols);
  } else {
  ${add('p.elements + 4u * (i - p.elements)')}
    sums[i - p.elements] = s;
  }`
        : `  let part = p.n;
${add('i')}
  out[i] = epilogue(s, i, i % p.cols);`,
    ),
    workgroups: grid1d(elements + sums),
    params: packWords([elements + sums, splits, cols, elements, ...e.words]),
  };
}

/** A matmul is split along k where it has at most this many output tiles (of 64) and k is at least SPLIT_K_FROM. */
const SPLIT_K_TILES = 16;
const SPLIT_K_FROM = 512;
/** Each split sums at least this much of k, and there are at most MAX_SPLITS (each a copy of C in the scratch). */
const SPLIT_K_MIN = 128;
const MAX_SPLITS = 8;

/**
 * How many ranges of k a matmul is split into: 1 but where few output tiles would each walk a long k, leaving most
 * of a big GPU idle (a batch-128 dense layer of 256 units on 784 inputs is 8 tiles): then k is cut so that each
 * split sums at least SPLIT_K_MIN of it.
 */
export function matmulSplits(l: MatmulLayout): number {
  const tiles = Math.ceil(l.m / l.tile) * Math.ceil(l.n / l.tile) * l.batch;
  if (tiles > SPLIT_K_TILES || l.k < SPLIT_K_FROM) return 1;
  return Math.min(MAX_SPLITS, Math.floor(l.k / SPLIT_K_MIN));
}

/**
 * A convolution's input gradient is one implicit GEMM (`aFilter`) from this many input channels: its rows are the
 * channels, and fewer than a 64-tile's leave most of each tile's work wasted. Measured on llvmpipe (conv_variants,
 * against the product into the columns' gradient then col2im, 3 x 3 filters): 0.26x, 0.35x, 0.36x, 0.40x at 1, 8, 16
 * and 32 channels; from 64 channels 0.57x to 1.24x by shape (0.73x for 32 images of 64 x 16 x 16, 64 filters).
 * What it buys is memory: the columns' gradient, kh x kw times the image's gradient, the largest value of a
 * convolution's backward pass, is never written. A GPU, where writing and reading that back costs more beside the
 * arithmetic than on llvmpipe, may find it faster too: conv_variants says.
 */
export const INPUT_GRADIENT_MIN_CHANNELS = 64;

/** Output tiles that a big GPU runs beside the others at no cost: fewer than an H100-class GPU has SMs. */
const FREE_TILES = 128;

/**
 * Whether a matmul computes `sums` (see MatmulOperands) for free: it has no batch axes, and C's extra row or column
 * fits its last tiles, or leaves it at most FREE_TILES tiles (on idle cores, beside the others).
 */
export function takesSums(operands: MatmulOperands, sums: KSums): boolean {
  const plain = matmulLayout({ ...operands, sums: undefined });
  if (plain.batch > 1) return false;
  const l = matmulLayout({ ...operands, sums });
  return tilesOf(l, l.tile) === tilesOf(plain, l.tile) || tilesOf(l, l.tile) <= FREE_TILES;
}

/**
 * A matmul step's dispatches: the kernel, or (matmulSplits) the split-K kernel and the split sum, which computes the
 * epilogue; the kernel's k step and stages by `tuning`.
 */
export function matmulStepKernels(operands: KernelCall | MatmulOperands, tuning = DEFAULT_TUNING): StepKernels {
  const l = matmulLayout(operands, tuning);
  const splits = matmulSplits(l);
  if (splits === 1) return { kernel: matmulKernel(operands, tuning) };
  const elements = l.m * l.n * l.batch;
  const sums = { a: l.m, b: l.n, none: 0 }[l.sums ?? 'none'];
  return {
    parts: matmulKernel('op' in operands ? operands : { ...operands, epilogue: undefined }, tuning, splits),
    join: splitSumKernel(elements, splits, l.epilogue, l.n, sums),
    scratch: splits * (elements + 4 * sums),
    joinReads: (l.epilogue?.inputs.length ?? 0) + (sums ? 1 : 0),
  };
}
