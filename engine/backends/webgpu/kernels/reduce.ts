/**
 * Reductions over any axes: sum, max, max_mask. The input is seen as two strided views, one over the output slots
 * (the kept axes) and one over a slot's elements (the reduced axes), passed as uniform params, so that one pipeline
 * per op serves every shape. Long reductions take a workgroup per slot (each thread reduces a strided part, then a
 * tree in workgroup memory joins the parts), or where the slots are adjacent in memory (a sum down the columns, such
 * as a bias's gradient) a workgroup per COLUMNS slots, so that neighbouring threads read neighbouring addresses;
 * short ones a thread per slot; a few slots of many elements (a gradient norm) are split over workgroups a slot,
 * whose states a second dispatch joins (`reductionParts`, `reductionMode`). Several tensors'
 * sums of squares (a step's gradient norms) run together the same way (`sumSquaresKernels`).
 *
 * The CPU sums in float64. Here each partial sum carries its rounding error (Neumaier's compensation), through the
 * tree too, so that the float32 result is the float64 sum rounded but in rare last-bit cases.
 */
import { normAxes, strides } from '../../../ir/shape';
import type { KernelCall } from '../../kernel';
import { f32Bits, flatIndex, grid1d, packWords, WORKGROUP, type StepKernels } from '../kernel';
import { DIMS_FIELD, dimsWords, view, viewOffset } from './layout';
import { mergeFunctions, type FusedExpression } from '../fuse';
import type { Epilogue } from '../epilogue';
import { epilogueWgsl } from './epilogue';

/** Reduced extents from this length get a workgroup per output slot (or per COLUMNS adjacent ones). */
const LONG = 64;
/**
 * Adjacent slots a workgroup of the `columns` mode takes, each with LANES threads: 8 floats are a 32-byte memory
 * sector, which a step of the loop reads whole; 32 lanes join in a 5-level tree rather than 8.
 */
const COLUMNS = 8;
const LANES = WORKGROUP / COLUMNS;

export interface Reduction {
  /** Per-thread state: name, WGSL type, initial value. */
  state: [string, string, string][];
  /** Folds element `v` (index `r` within the slot, visited in increasing order) into the state. */
  take: string;
  /** Folds another thread's state (its names prefixed with `o_`; it covers later indices than this one) into this. */
  merge: string;
  /**
   * The slot's result from the state (`value`: a sum, a max), which thread `lid` 0 writes; or (`each`: max_mask's mask
   * over the slot) each element `r`'s result, which the threads write, each its `r`s. Through the epilogue, if any.
   */
  result: { value: string } | { each: string };
}

/** What a compensated sum needs. */
const SUM_HELPERS = /* wgsl */ `
fn is_finite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; }
// The rounding error of t = a + b (Neumaier).
fn add_error(a: f32, b: f32, t: f32) -> f32 { return select((b - t) + a, (a - t) + b, abs(a) >= abs(b)); }`;

export const REDUCE_HELPERS = /* wgsl */ `${SUM_HELPERS}
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
// The CPU's max: a NaN, once met, stays.
fn max_of(m: f32, v: f32) -> f32 { return select(m, v, v > m || is_nan(v)); }
// The CPU's max_mask takes the first element, then any greater one: a NaN wins only first. As a key for a
// (key, index) order that joins parts in any order: a NaN is +inf first, -inf elsewhere; ties go to the first.
fn mask_key(v: f32, r: u32) -> f32 { return select(v, select(p.lowest, -p.lowest, r == 0u), is_nan(v)); }
fn beats(k: f32, r: u32, m: f32, at: u32) -> bool { return k > m || (k == m && r < at); }`;

/** A compensated sum's value from its state: an infinite or NaN sum is the plain one (its compensation would be NaN). */
const SUM_VALUE = 'select(s + c, s, !is_finite(s))';

export const REDUCTIONS: Record<string, Reduction> = {
  sum: {
    state: [
      ['s', 'f32', '0.0'],
      ['c', 'f32', '0.0'],
    ],
    take: 'let t = s + v; c += add_error(s, v, t); s = t;',
    merge: 'let t = s + o_s; c += o_c + add_error(s, o_s, t); s = t;',
    result: { value: SUM_VALUE },
  },
  max: {
    state: [['m', 'f32', 'p.lowest']],
    take: 'm = max_of(m, v);',
    merge: 'm = max_of(m, o_m);',
    result: { value: 'm' },
  },
  max_mask: {
    state: [
      ['m', 'f32', 'p.lowest'],
      ['at', 'u32', '0xffffffffu'],
    ],
    take: 'let k = mask_key(v, r); if (beats(k, r, m, at)) { m = k; at = r; }',
    merge: 'if (beats(o_m, o_at, m, at)) { m = o_m; at = o_at; }',
    result: { each: 'select(0.0, 1.0, r == at)' },
  },
};

/** How a reduction's threads write its result, through an epilogue where it has one. */
function finish(op: Reduction, epilogue: boolean): string {
  if ('each' in op.result) {
    // (an epilogue reads per element of the output, or per slot: see ../epilogue.ts)
    const v = epilogue ? `epilogue(${op.result.each}, o, slot)` : op.result.each;
    return `for (var r = lid; r < p.extent; r += STRIDE) { let o = base + red_offset(r); out[o] = ${v}; }`;
  }
  return `if (lid == 0u) { out[slot] = ${epilogue ? `epilogue(${op.result.value}, slot, 0u)` : op.result.value}; }`;
}

/**
 * The tree join of a workgroup's states, over its `lanes` threads `lid` (of each of `width` columns `col`, whose
 * states lie `width` apart); afterwards every thread holds its column's whole reduction.
 */
export function join(op: Reduction, lanes = WORKGROUP, width = 1): string {
  const names = op.state.map(([n]) => n);
  const own = width === 1 ? 'lid' : `lid * ${width}u + col`;
  return /* wgsl */ `
  ${names.map((n) => `w_${n}[${own}] = ${n};`).join(' ')}
  for (var k = ${lanes / 2}u; k > 0u; k >>= 1u) {
    workgroupBarrier();
    if (lid < k) {
      ${names.map((n) => `let o_${n} = w_${n}[${own} + k${width === 1 ? '' : ` * ${width}u`}];`).join(' ')}
      ${op.merge}
      ${names.map((n) => `w_${n}[${own}] = ${n};`).join(' ')}
    }
  }
  workgroupBarrier();
  ${names.map((n) => `${n} = w_${n}[${width === 1 ? '0' : 'col'}];`).join(' ')}`;
}

/** How a reduction's kernel assigns threads: see the file's comment and `reductionMode`. */
export type Mode = 'short' | 'long' | 'columns' | 'parts';

/**
 * The WGSL of a reduction: a thread per slot (`short`), a workgroup per slot (`long`), a workgroup per COLUMNS
 * adjacent slots (`columns`: thread `lid` of column `col`; threads past the slots repeat the last and write nothing),
 * or (`parts`) a workgroup per chunk of p.chunk elements of a slot, which writes its state (Neumaier's sum and
 * compensation, or the max) to `out[wgi * STATE + k]` for the join (`joinSource`) to finish. Bindings: the input (or
 * the prologue's), the epilogue's inputs, out, params.
 */
function source(op: Reduction, mode: Mode, prologue?: FusedExpression, epilogue?: Epilogue): string {
  const lanes = { short: 1, long: WORKGROUP, columns: LANES, parts: WORKGROUP }[mode];
  const bindings = prologue?.count ?? 1;
  const e = epilogueWgsl(mode === 'parts' ? undefined : epilogue, bindings);
  const slot =
    mode === 'columns'
      ? // (a whole workgroup returns or none: the tree's barriers need that)
        `if (wgi * ${COLUMNS}u >= p.count) { return; }
  let col = local % ${COLUMNS}u;
  let valid = wgi * ${COLUMNS}u + col < p.count;
  let slot = min(wgi * ${COLUMNS}u + col, p.count - 1u);`
      : `let slot = ${{ short: flatIndex(), long: 'wgi', parts: 'wgi / p.parts' }[mode]};
  if (slot >= p.count) { return; }`;
  const written = mode === 'parts' ? `if (lid == 0u) { ${op.state.map(([n], k) => `out[wgi * ${op.state.length}u + ${k}u] = ${n};`).join(' ')} }` : finish(op, !!epilogue);
  return /* wgsl */ `
struct Params { count: u32, extent: u32, orank: u32, rrank: u32, lowest: f32, parts: u32, chunk: u32, ${DIMS_FIELD}${prologue ? `, ${prologue.fields}` : ''}${e.fields} }
${prologue ? prologue.bindings : '@group(0) @binding(0) var<storage, read> x: array<f32>;'}
${e.bindings}
@group(0) @binding(${bindings + e.count}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${bindings + e.count + 1}) var<uniform> p: Params;
${mergeFunctions(prologue?.fns ?? '', e.fns)}
${epilogue && mode !== 'parts' ? e.fn : ''}
const STRIDE = ${lanes}u;
${viewOffset('slot_offset', 'p.orank', 'x', 'y')}
${viewOffset('red_offset', 'p.rrank', 'z', 'w')}
${REDUCE_HELPERS}
${lanes > 1 ? op.state.map(([n, t]) => `var<workgroup> w_${n}: array<${t}, ${WORKGROUP}>;`).join('\n') : ''}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>,
        @builtin(local_invocation_index) local: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wgi = wg.x + wg.y * nwg.x;
  ${slot}
  let lid = ${{ short: '0u', long: 'local', columns: `local / ${COLUMNS}u`, parts: 'local' }[mode]};
  let base = slot_offset(slot);
  ${op.state.map(([n, t, init]) => `var ${n}: ${t} = ${init};`).join(' ')}
  let r0 = ${mode === 'parts' ? '(wgi % p.parts) * p.chunk' : '0u'};
  let r1 = ${mode === 'parts' ? 'min(p.extent, r0 + p.chunk)' : 'p.extent'};
  for (var r = r0 + lid; r < r1; r += STRIDE) {
    ${prologue ? `let i = base + red_offset(r);\n${prologue.body}\n    let v = ${prologue.value};` : 'let v = x[base + red_offset(r)];'}
    ${op.take}
  }
  ${lanes > 1 ? join(op, lanes, mode === 'columns' ? COLUMNS : 1) : ''}
  ${mode === 'columns' ? `if (valid) { ${written} }` : written}
}`;
}

/**
 * The join of a split reduction: a workgroup per slot merges the slot's p.parts states (see `source`), then
 * finishes. Bindings: the states, the epilogue's inputs, out, params.
 */
function joinSource(op: Reduction, epilogue?: Epilogue): string {
  const names = op.state.map(([n]) => n);
  const e = epilogueWgsl(epilogue, 1);
  return /* wgsl */ `
struct Params { count: u32, parts: u32, lowest: f32, pad: u32${e.fields} }
@group(0) @binding(0) var<storage, read> states: array<f32>;
${e.bindings}
@group(0) @binding(${1 + e.count}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${2 + e.count}) var<uniform> p: Params;
${e.fns}
${epilogue ? e.fn : ''}
${REDUCE_HELPERS}
${op.state.map(([n, t]) => `var<workgroup> w_${n}: array<${t}, ${WORKGROUP}>;`).join('\n')}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) local: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let slot = wg.x + wg.y * nwg.x;
  let lid = local;
  if (slot >= p.count) { return; }
  ${op.state.map(([n, t, init]) => `var ${n}: ${t} = ${init};`).join(' ')}
  for (var k = lid; k < p.parts; k += ${WORKGROUP}u) {
    let first = (slot * p.parts + k) * ${names.length}u;
    ${names.map((n, j) => `let o_${n} = states[first + ${j}u];`).join(' ')}
    ${op.merge}
  }
  ${join(op)}
  ${finish(op, !!epilogue)}
}`;
}

/** Reductions of fewer slots than this (a GPU has more cores to fill) over SPLIT_FROM elements or more are split. */
const SPLIT_SLOTS = 128;
const SPLIT_FROM = 16384;
/** Elements a workgroup of a split reduction takes; at most MAX_PARTS workgroups a slot. */
const CHUNK = 4096;
const MAX_PARTS = 256;

/** A reduction's input seen as slots (the kept axes) of elements (the reduced axes). */
function slotsOf(call: KernelCall) {
  const s = call.inShapes[0];
  const axes = normAxes(call.attrs.axes as number[], s.length);
  const st = strides(s);
  const pick = <T>(xs: readonly T[], reduced: boolean) => xs.filter((_x, i) => axes.includes(i) === reduced);
  return {
    slots: view(pick(s, false), pick(st, false)),
    elements: view(pick(s, true), pick(st, true)),
    count: pick(s, false).reduce((a, d) => a * d, 1),
    extent: pick(s, true).reduce((a, d) => a * d, 1),
  };
}

/**
 * How many workgroups each slot of the reduction is split over: 1 but for a sum or max of few slots over many
 * elements (a gradient norm: one slot, all of a weight), which one workgroup would read alone, a few loads in flight
 * at a time, while the rest of the GPU idles. max_mask writes its mask over the whole slot: never split.
 */
export function reductionParts(call: KernelCall): number {
  const { count, extent } = slotsOf(call);
  if (call.op === 'max_mask' || count >= SPLIT_SLOTS || extent < SPLIT_FROM) return 1;
  return Math.min(MAX_PARTS, Math.ceil(extent / CHUNK));
}

/**
 * How a reduction's threads are assigned: split (`parts`, see reductionParts); a thread per slot where the slot is
 * short; a workgroup per COLUMNS slots where there are that many and they are adjacent in memory (the kept axes end
 * with the input's last); else a workgroup per slot.
 */
export function reductionMode(call: KernelCall): Mode {
  const { slots, count, extent } = slotsOf(call);
  if (reductionParts(call) > 1) return 'parts';
  if (extent < LONG) return 'short';
  return count >= COLUMNS && slots[0]?.[1] === 1 ? 'columns' : 'long';
}

/**
 * The dispatches of a reduction step; with a prologue (an elementwise group that only this reduction reads, see
 * ../fuse.ts), each element it reads is that group's value there, computed in place of a load; with an epilogue
 * (../epilogue.ts), each result goes through it. One kernel, or where `reductionParts` splits it, two: `parts` writes
 * each chunk's state into a scratch buffer of `scratch` floats, bound as its output, and `join` reads that (its
 * input), then the epilogue's inputs, and writes the step's output.
 */
export function reduceKernels(call: KernelCall, prologue?: FusedExpression, epilogue?: Epilogue): StepKernels {
  const op = REDUCTIONS[call.op];
  const { slots, elements, count, extent } = slotsOf(call);
  const parts = reductionParts(call);
  const mode = reductionMode(call);
  const ends = epilogueWgsl(epilogue, 0).words;
  const words = (chunk: number, own: number[]) => [count, extent, slots.length, elements.length, f32Bits(-Infinity), parts, chunk, 0, ...dimsWords(slots, elements), ...(prologue?.words ?? []), ...own];
  if (mode !== 'parts') {
    const workgroups = { short: grid1d(count), long: grid1d(count, 1), columns: grid1d(count, COLUMNS) }[mode];
    return { kernel: { code: source(op, mode, prologue, epilogue), workgroups, params: packWords(words(extent, ends)) } };
  }
  return {
    parts: { code: source(op, 'parts', prologue), workgroups: grid1d(count * parts, 1), params: packWords(words(Math.ceil(extent / parts), [])) },
    join: { code: joinSource(op, epilogue), workgroups: grid1d(count, 1), params: packWords([count, parts, f32Bits(-Infinity), 0, ...ends]) },
    scratch: count * parts * op.state.length,
    joinReads: epilogue?.inputs.length ?? 0,
  };
}

export const REDUCTION_OPS: readonly string[] = Object.keys(REDUCTIONS);

/**
 * The sums of squares of several tensors (a training step's gradient norms, one a parameter) in two dispatches
 * whatever their number, rather than one or two each: `parts` takes a workgroup per chunk of CHUNK elements of every
 * tensor (tensor k's chunks from p.first[k]), each writing its Neumaier state to the scratch buffer, and `join` a
 * workgroup per tensor, which merges that tensor's states and writes its sum to out<k> (element 0). Bound: the
 * tensors, then the scratch (parts); the scratch, then the outputs (join).
 */
export function sumSquaresKernels(sizes: readonly number[]): StepKernels {
  const op = REDUCTIONS.sum;
  const n = sizes.length;
  const first = [0];
  for (const size of sizes) first.push(first[first.length - 1] + Math.max(1, Math.ceil(size / CHUNK)));
  const total = first[n];
  const table = (name: string) => `${name}: array<vec4<u32>, ${Math.ceil((n + 1) / 4)}>`;
  const at = (name: string, k: string) => `p.${name}[(${k}) / 4u][(${k}) % 4u]`;
  const words = (xs: readonly number[]) => [...xs, ...new Array<number>(4 * Math.ceil((n + 1) / 4) - xs.length).fill(0)];
  const names = op.state.map(([name]) => name);
  const each = (f: (k: number) => string) => sizes.map((_, k) => f(k)).join('\n');
  const common = /* wgsl */ `
struct Params { ${table('first')}, ${table('size')} }
${SUM_HELPERS}
${op.state.map(([name, t]) => `var<workgroup> w_${name}: array<${t}, ${WORKGROUP}>;`).join('\n')}`;
  const parts = /* wgsl */ `
${each((k) => `@group(0) @binding(${k}) var<storage, read> x${k}: array<f32>;`)}
@group(0) @binding(${n}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${n + 1}) var<uniform> p: Params;
${common}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) local: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wgi = wg.x + wg.y * nwg.x;
  let lid = local;
  if (wgi >= ${at('first', `${n}u`)}) { return; }
  var k = 0u;
  while (wgi >= ${at('first', 'k + 1u')}) { k++; }
  let r0 = (wgi - ${at('first', 'k')}) * ${CHUNK}u;
  let r1 = min(${at('size', 'k')}, r0 + ${CHUNK}u);
  ${op.state.map(([name, t, init]) => `var ${name}: ${t} = ${init};`).join(' ')}
  for (var r = r0 + lid; r < r1; r += ${WORKGROUP}u) {
    var x = 0.0;
    switch k {
${each((j) => `      case ${j}u: { x = x${j}[r]; }`)}
      default: {}
    }
    let v = x * x;
    ${op.take}
  }
  ${join(op)}
  if (lid == 0u) { ${names.map((name, j) => `out[wgi * ${names.length}u + ${j}u] = ${name};`).join(' ')} }
}`;
  const joined = /* wgsl */ `
@group(0) @binding(0) var<storage, read> states: array<f32>;
${each((k) => `@group(0) @binding(${k + 1}) var<storage, read_write> out${k}: array<f32>;`)}
@group(0) @binding(${n + 1}) var<uniform> p: Params;
${common}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) local: u32) {
  let k = wg.x;
  let lid = local;
  ${op.state.map(([name, t, init]) => `var ${name}: ${t} = ${init};`).join(' ')}
  for (var q = ${at('first', 'k')} + lid; q < ${at('first', 'k + 1u')}; q += ${WORKGROUP}u) {
    ${names.map((name, j) => `let o_${name} = states[q * ${names.length}u + ${j}u];`).join(' ')}
    ${op.merge}
  }
  ${join(op)}
  if (lid == 0u) {
    let total = ${SUM_VALUE};
    switch k {
${each((j) => `      case ${j}u: { out${j}[0] = total; }`)}
      default: {}
    }
  }
}`;
  const params = packWords([...words(first), ...words(sizes)]);
  return {
    parts: { code: parts, workgroups: grid1d(total, 1), params },
    join: { code: joined, workgroups: [n, 1, 1], params, bindOutput: false },
    scratch: total * names.length,
    joinReads: n,
  };
}
