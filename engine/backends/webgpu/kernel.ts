/**
 * A WebGPU kernel is one compute dispatch, described as data: its WGSL, how many workgroups, and the uniform
 * parameters fixed by the plan step's shapes and attributes. The backend compiles each distinct source once
 * (pipelines are cached by source) and encodes every step of a plan into one command buffer.
 *
 * Binding convention (group 0, in this order, every one used by the shader):
 *   - one storage buffer per step input, `var<storage, read>` (or `read_write` where `access` says so);
 *   - the step's output, `var<storage, read_write>`, unless `bindOutput` is false (in-place updates write their
 *     first input, the target);
 *   - `var<uniform> p: Params` when `params` is given (packed 32-bit words; pad the struct to 16 bytes);
 *   - `var<uniform> ctx: Ctx` (CTX_STRUCT: the seed, the step, the schedule's factor on lr) when `usesContext`.
 */
import type { KernelCall, RunContext } from '../kernel';

export interface GpuKernel {
  code: string;
  /** Workgroups in x, y, z (each at most 65535: spread big grids over y). */
  workgroups: readonly [number, number, number];
  /** Uniform words (u32 or f32 bit patterns, as the WGSL struct lays them out). */
  params?: Uint32Array;
  /** Per input: how the shader declares it (default read). */
  access?: readonly ('read' | 'read_write')[];
  /** Default true; false: the output is the first input (updates in place). */
  bindOutput?: boolean;
  usesContext?: boolean;
}

/** Makes the kernel of one plan step; undefined when the op has none. */
export type GpuKernelFor = (call: KernelCall) => GpuKernel;

/**
 * A step's dispatches: one kernel, or two where the step is split (a reduction of many elements into few values,
 * kernels/reduce.ts; a matmul of few output tiles and a long k, kernels/matmul.ts): `parts` reads the step's inputs
 * but the last `joinReads` (default 0) and writes `scratch` floats into a buffer of the step's own, bound as its
 * output; `join` reads that buffer, then those last inputs (a matmul's bias), and writes the step's output.
 */
export type StepKernels = { kernel: GpuKernel } | { parts: GpuKernel; join: GpuKernel; scratch: number; joinReads?: number };

/** WGSL's uniform context struct, for kernels that read the seed, the step or the schedule's factor on lr. */
export const CTX_STRUCT = 'struct Ctx { seed: u32, step: u32, lr_scale: f32, pad0: u32 }';

export function contextWords(ctx: RunContext): Uint32Array {
  return Uint32Array.of(ctx.seed >>> 0, ctx.step >>> 0, f32Bits(ctx.lrScale ?? 1), 0);
}

/** A float as the u32 word a uniform struct holds it in. */
export function f32Bits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}

/** Words padded to a multiple of 4 (16 bytes), as uniform buffers want. */
export function packWords(words: readonly number[]): Uint32Array {
  const out = new Uint32Array(Math.max(4, Math.ceil(words.length / 4) * 4));
  out.set(words.map((w) => w >>> 0));
  return out;
}

export const WORKGROUP = 256;
const MAX_GROUPS = 65535;

/**
 * Workgroups for `n` threads of `size` per group, spread over x and y when x alone would pass the limit; a shader
 * then computes its flat index as `gid.x + gid.y * (nx * size)` (see `flatIndex`).
 */
export function grid1d(n: number, size = WORKGROUP): readonly [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / size));
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, 1];
}

/** WGSL that turns `gid` (and `nwg`, the num_workgroups builtin) into a flat thread index, for grid1d grids. */
export function flatIndex(size = WORKGROUP): string {
  return `gid.x + gid.y * (nwg.x * ${size}u)`;
}

/**
 * The WGSL of a kernel with one thread per element (dispatched with grid1d): `decls` (its Params struct, which
 * starts with the element count `n`, its bindings and functions), then a main that takes the flat index `i` and
 * returns past `p.n` before `body`.
 */
export function perElementShader(decls: string, body: string): string {
  return `${decls}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex()};
  if (i >= p.n) { return; }
${body}
}`;
}
