/**
 * Layout ops. Reshape, broadcast_to, slice and most transposes are one gather, out[i] = x[base + offset(i)], where
 * offset walks a strided view of the input given as uniform params (so one pipeline serves every shape); a transpose
 * of matrices (the last two axes, say) goes through workgroup memory in tiles so that reads and writes both stay
 * contiguous. Concat and pad split the tensor around their axis; im2col gathers windows and col2im sums them back.
 */
import { normAxis, numel, strides } from '../../../ir/shape';
import type { Window } from '../../../ir/builder';
import { windowOutput } from '../../../ops/layout';
import { transposeSplit } from '../../cpu/index-maps';
import type { KernelCall } from '../../kernel';
import { grid1d, packWords, perElementShader, type GpuKernel, type GpuKernelFor } from '../kernel';
import type { Epilogue } from '../epilogue';
import { mergeFunctions, type FusedExpression } from '../fuse';
import { epilogueWgsl } from './epilogue';

/** Views hold at most this many dims after merging (tensors have rank 6 at most). */
export const MAX_RANK = 6;
/** The params field holding views: per dim d (innermost first), one view's size and stride in .xy, another's in .zw. */
export const DIMS_FIELD = `dims: array<vec4<u32>, ${MAX_RANK}>`;

/** A strided view of a tensor: (size, stride) per dim, innermost first. */
export type View = [number, number][];

/** The view of dims `sizes` with strides `st`: size-1 dims dropped, a dim merged into the next inner one where the strides allow. */
export function view(sizes: readonly number[], st: readonly number[]): View {
  const out: View = [];
  for (let d = sizes.length - 1; d >= 0; d--) {
    if (sizes[d] === 1) continue;
    const inner = out[out.length - 1];
    if (inner && st[d] === inner[0] * inner[1]) inner[0] *= sizes[d];
    else out.push([sizes[d], st[d]]);
  }
  if (out.length > MAX_RANK) throw new Error(`WebGPU kernels take tensors of rank ${MAX_RANK} at most`);
  return out;
}

/** The words of DIMS_FIELD: view `a` in .xy, `b` in .zw. */
export function dimsWords(a: View, b: View = []): number[] {
  const words: number[] = [];
  for (let d = 0; d < MAX_RANK; d++) words.push(...(a[d] ?? [1, 0]), ...(b[d] ?? [1, 0]));
  return words;
}

/** WGSL `fn name(i: u32) -> u32`: the offset of row-major index i of the view in `p.dims[d].<size><stride>`. */
export function viewOffset(name: string, rank: string, size: 'x' | 'z', stride: 'y' | 'w'): string {
  return /* wgsl */ `
fn ${name}(i: u32) -> u32 {
  var rem = i;
  var off = 0u;
  for (var d = 0u; d < ${rank}; d++) {
    let dim = p.dims[d];
    off += (rem % dim.${size}) * dim.${stride};
    rem /= dim.${size};
  }
  return off;
}`;
}

/**
 * One thread per output element, with inputs `names` bound in order, the epilogue's inputs (if any), the output, then
 * `p: Params` (`n`, then `fields` holding `words`, then the epilogue's); `body` sets out[i], calling functions that
 * `helpers` defines (and, where there is an epilogue, `epilogue`, which computes it).
 */
function perElement(call: KernelCall, names: string[], fields: string, words: number[], body: string, helpers = '', epilogue?: Epilogue): GpuKernel {
  const n = numel(call.outShape);
  const inputs = names.map((x, k) => `@group(0) @binding(${k}) var<storage, read> ${x}: array<f32>;`).join('\n');
  const e = epilogueWgsl(epilogue, names.length);
  return {
    code: perElementShader(
      /* wgsl */ `
struct Params { n: u32, ${fields}${e.fields} }
${inputs}
${e.bindings}
@group(0) @binding(${names.length + e.count}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${names.length + e.count + 1}) var<uniform> p: Params;
${mergeFunctions(helpers, e.fns)}
${epilogue ? e.fn : ''}`,
      `  ${body}`,
    ),
    workgroups: grid1d(n),
    params: packWords([n, ...words, ...e.words]),
  };
}

/** out[i] = x[base + offset of i in the view]. */
function gather(call: KernelCall, v: View, base = 0): GpuKernel {
  const fields = `rank: u32, base: u32, ${DIMS_FIELD}`;
  return perElement(call, ['x'], fields, [v.length, base, 0, ...dimsWords(v)], 'out[i] = x[p.base + offset(i)];', viewOffset('offset', 'p.rank', 'x', 'y'));
}

const TILE = 16;
const MAX_GROUPS = 65535;

/** `batches` transposes of rows x cols matrices, a TILE x TILE block per workgroup. */
function tiledTranspose(batches: number, rows: number, cols: number): GpuKernel {
  return {
    code: /* wgsl */ `
const T = ${TILE}u;
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
// One padding column, so that reading a column of the tile does not hit one memory bank.
var<workgroup> tile: array<f32, ${TILE * (TILE + 1)}>;
@compute @workgroup_size(${TILE}, ${TILE})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let base = wg.z * p.rows * p.cols;
  let r = wg.y * T + l.y;
  let c = wg.x * T + l.x;
  if (r < p.rows && c < p.cols) { tile[l.y * (T + 1u) + l.x] = x[base + r * p.cols + c]; }
  workgroupBarrier();
  let orow = wg.x * T + l.y;
  let ocol = wg.y * T + l.x;
  if (orow < p.cols && ocol < p.rows) { out[base + orow * p.rows + ocol] = tile[l.x * (T + 1u) + l.y]; }
}`,
    workgroups: [Math.ceil(cols / TILE), Math.ceil(rows / TILE), batches],
    params: packWords([rows, cols]),
  };
}

/** The tensor seen as [outer, shape[axis] * inner] around an axis: outer, and the row length. */
function aroundAxis(shape: readonly number[], axis: number): [number, number] {
  return [numel(shape.slice(0, axis)), numel(shape.slice(axis))];
}

const WINDOW_FIELDS = 'h: u32, w: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32, oh: u32, ow: u32';

/** A window op's window, from its attributes. */
export const windowAttrs = (call: KernelCall): Window => call.attrs as unknown as Window;

function windowWords(image: readonly number[], w: Window): number[] {
  const [, , h, wd] = image;
  return [h, wd, w.kh, w.kw, w.sh, w.sw, w.ph, w.pw, windowOutput(h, w.kh, w.sh, w.ph), windowOutput(wd, w.kw, w.sw, w.pw)];
}

/**
 * im2col's values as a kernel computes them in place of loads (a reduction's prologue, ../fuse.ts's FusedExpression;
 * a matmul's B), reading the image from the binding named `source` (bound at 0 as `bindings` declares it) and the
 * window's fields (whole 16-byte rows of them, `win_image` the size of one image of the batch). out[b, (ch, ky, kx),
 * (oy, ox)] = image[b, ch, oy * sh - ph + ky, ox * sw - pw + kx], zero outside the image. Its functions:
 *   - `im2col_row(r)`: of the columns' row r (of all images' rows), the offset of its image plane and its window
 *     offsets (ky - ph, kx - pw);
 *   - `im2col_yx(w, oy, ox)`: that row's value at output row oy and column ox: a matmul reading a quad along a row
 *     works out the row once, the first position once and steps to the next (kernels/matmul.ts);
 *   - `im2col_pos(w, pos)`: the same at output position `pos` (oy * ow + ox);
 *   - `im2col_at(i)`: the value at flat index i of the columns.
 */
export function im2colExpression(image: readonly number[], window: Window, source = 'image'): FusedExpression {
  const [, c, h, w] = image;
  return {
    fields: `${WINDOW_FIELDS}, win_image: u32, win_pad: u32`,
    words: [...windowWords(image, window), c * h * w, 0],
    bindings: `@group(0) @binding(0) var<storage, read> ${source}: array<f32>;`,
    count: 1,
    fns: /* wgsl */ `
fn im2col_row(r: u32) -> vec3<i32> {
  let kk = r % (p.kh * p.kw);
  return vec3<i32>(i32(r / (p.kh * p.kw) * p.h * p.w), i32(kk / p.kw) - i32(p.ph), i32(kk % p.kw) - i32(p.pw));
}
fn im2col_yx(w: vec3<i32>, oy: u32, ox: u32) -> f32 {
  let y = i32(oy * p.sh) + w.y;
  let x = i32(ox * p.sw) + w.z;
  if (y < 0 || y >= i32(p.h) || x < 0 || x >= i32(p.w)) { return 0.0; }
  return ${source}[u32(w.x) + u32(y) * p.w + u32(x)];
}
fn im2col_pos(w: vec3<i32>, pos: u32) -> f32 { return im2col_yx(w, pos / p.ow, pos % p.ow); }
fn im2col_at(i: u32) -> f32 { return im2col_pos(im2col_row(i / (p.oh * p.ow)), i % (p.oh * p.ow)); }`,
    body: '',
    value: 'im2col_at(i)',
  };
}

export const layoutKernels: Record<string, GpuKernelFor> = {
  reshape: (call) => gather(call, view([numel(call.outShape)], [1])),
  broadcast_to: (call) => {
    const [s, out] = [call.inShapes[0], call.outShape];
    const st = strides(s);
    const lead = out.length - s.length;
    return gather(call, view(out, out.map((_d, i) => (i < lead || s[i - lead] === 1 ? 0 : st[i - lead]))));
  },
  transpose: (call) => {
    const s = call.inShapes[0];
    const perm = call.attrs.perm as number[];
    const split = transposeSplit(s, perm);
    if (split && split.rows > 1 && split.cols > 1 && split.batches <= MAX_GROUPS && Math.max(split.rows, split.cols) <= MAX_GROUPS * TILE) {
      return tiledTranspose(split.batches, split.rows, split.cols);
    }
    const st = strides(s);
    return gather(
      call,
      view(
        perm.map((q) => s[q]),
        perm.map((q) => st[q]),
      ),
    );
  },
  slice: (call) => {
    const s = call.inShapes[0];
    const axis = normAxis(call.attrs.axis as number, s.length);
    const { start, end } = call.attrs as { start: number; end: number };
    const inner = strides(s)[axis];
    const outer = numel(s.slice(0, axis));
    return gather(call, view([outer, (end - start) * inner], [s[axis] * inner, 1]), start * inner);
  },
  pad: (call) => {
    const s = call.inShapes[0];
    const axis = normAxis(call.attrs.axis as number, s.length);
    const inner = strides(s)[axis];
    const rowIn = aroundAxis(s, axis)[1];
    return perElement(
      call,
      ['x'],
      'row_in: u32, row_out: u32, before: u32',
      [rowIn, aroundAxis(call.outShape, axis)[1], (call.attrs.before as number) * inner],
      `let j = i % p.row_out;
  var v = 0.0;
  if (j >= p.before && j - p.before < p.row_in) { v = x[(i / p.row_out) * p.row_in + j - p.before]; }
  out[i] = v;`,
    );
  },
  // The op has two inputs, so a concat binds three storage buffers (the default per-stage limit is 8).
  concat: (call) => {
    const [sa, sb] = call.inShapes;
    const axis = normAxis(call.attrs.axis as number, sa.length);
    return perElement(
      call,
      ['a', 'b'],
      'na: u32, nb: u32',
      [aroundAxis(sa, axis)[1], aroundAxis(sb, axis)[1]],
      `let o = i / (p.na + p.nb);
  let j = i % (p.na + p.nb);
  if (j < p.na) { out[i] = a[o * p.na + j]; } else { out[i] = b[o * p.nb + j - p.na]; }`,
    );
  },
  im2col: (call) => windowKernels.im2col(call),
  col2im: (call) => windowKernels.col2im(call),
};

/**
 * The window ops, which may compute an epilogue (../epilogue.ts: read per element or as one value) on each value
 * as they write it: the gradient that col2im scatters back through a max pool, times the activation's derivative.
 */
export const windowKernels: Record<'im2col' | 'col2im', (call: KernelCall, epilogue?: Epilogue) => GpuKernel> = {
  im2col: (call, epilogue) => {
    const { fields, words, fns } = im2colExpression(call.inShapes[0], windowAttrs(call));
    return perElement(call, ['image'], fields, words, `out[i] = ${epilogue ? 'epilogue(im2col_at(i), i, 0u)' : 'im2col_at(i)'};`, fns, epilogue);
  },
  // One thread per pixel sums the column entries that came from it, in the CPU's order (window row, then column),
  // so that the float32 sums agree bit for bit.
  col2im: (call, epilogue) =>
    perElement(
      call,
      ['cols'],
      WINDOW_FIELDS,
      windowWords(call.outShape, windowAttrs(call)),
      `let x0 = i % p.w;
  let y = (i / p.w) % p.h;
  let plane = i / (p.w * p.h);
  var acc = 0.0;
  for (var ky = 0u; ky < p.kh; ky++) {
    let ty = i32(y + p.ph) - i32(ky);
    if (ty < 0 || u32(ty) % p.sh != 0u || u32(ty) / p.sh >= p.oh) { continue; }
    for (var kx = 0u; kx < p.kw; kx++) {
      let tx = i32(x0 + p.pw) - i32(kx);
      if (tx < 0 || u32(tx) % p.sw != 0u || u32(tx) / p.sw >= p.ow) { continue; }
      acc += cols[((plane * p.kh + ky) * p.kw + kx) * p.oh * p.ow + (u32(ty) / p.sh) * p.ow + u32(tx) / p.sw];
    }
  }
  out[i] = ${epilogue ? 'epilogue(acc, i, 0u)' : 'acc'};`,
      '',
      epilogue,
    ),
};

