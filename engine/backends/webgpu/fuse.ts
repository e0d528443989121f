/**
 * Fusion of elementwise steps for the WebGPU backend: a run of consecutive elementwise steps of a plan's compute
 * phase (unary ops, binary ops with broadcasting, stop_gradient) whose intermediate values are read only inside the
 * run becomes one dispatch, which computes the whole expression per element of the run's last value and writes only
 * that. Each value from outside (an "external") is read with its own broadcast strides over the last value's shape.
 *
 * A group, or a single elementwise step, whose value only the reduction right after it reads is that reduction's
 * prologue: the reduction computes the expression at each element it would load (a gradient norm's g * g is never
 * written). The other groups, and the elementwise steps left alone (`singles`), may still be computed by the matmul
 * whose value they read (an epilogue, ./fold.ts).
 *
 * Two parts, both pure: `planFusion` decides the groups and prologues from a plan with every value in a buffer of its
 * own (`dataflow`; and says why neighbouring steps were not fused), `fusedExpression` writes a group's WGSL from
 * elementwise.ts's expression tables, for the fused kernel (`fusedKernel`) or a reduction (kernels/reduce.ts).
 *
 * What a group may hold, and so the reasons a run breaks (`BreakReason`):
 *   - `op`: only the ops of the elementwise tables fuse, and broadcast_to and reshapes that only add or drop leading
 *     ones (views that a group reads as it reads every value, broadcast); reductions, matmul, other layout ops,
 *     sources end a run;
 *   - `folded`: a step that another kernel computes (`FusionOptions.exclude`: the steps of rows.ts's row groups) is
 *     left to it (and a reduction among them takes no prologue);
 *   - `update`: the update phase (from `plan.updateStart`) is never fused;
 *   - `empty`: steps with no elements are not dispatched at all;
 *   - `uses`: every value but the last must be read only by steps of the group, updates included: nothing after
 *     the group reads it;
 *   - `output`: a plan output is written, so it ends its group;
 *   - `shape`: every value must broadcast to the last one's shape, and the broadcast layout fit MAX_RANK dims;
 *   - `inputs`: the externals and the output must fit the storage buffers of one shader stage;
 *   - `length`: at most `maxSteps` steps a group.
 */
import type { KernelCall } from '../kernel';
import type { Plan, PlanStep } from '../../plan/plan';
import { grid1d, packWords, perElementShader, type GpuKernel } from './kernel';
import { BINARY, broadcastIndexWgsl, broadcastLayout, MAX_RANK, UNARY, unaryWords } from './kernels/elementwise';
import { REDUCTION_OPS } from './kernels/reduce';
import { asEpilogue, type Epilogue } from './epilogue';
import { normAxes, numel } from '../../ir/shape';

export type BreakReason = 'op' | 'folded' | 'update' | 'empty' | 'uses' | 'output' | 'shape' | 'inputs' | 'length';

/** Where a fused step takes an operand: an external (index into `FusionGroup.inputs`) or an earlier step of the group. */
export type Operand = { input: number } | { step: number };

export interface FusionGroup {
  /** Plan step indices, consecutive, at least two; the last one's value is the group's output. */
  readonly steps: readonly number[];
  /** The values read from outside, once each: their buffer and shape. */
  readonly inputs: readonly { buffer: number; shape: readonly number[] }[];
  /** Per step of the group, its operands. */
  readonly operands: readonly (readonly Operand[])[];
  readonly output: number;
  readonly shape: readonly number[];
}

/** An elementwise group (of one step or more) that only the reduction right after it reads: computed in its loads. */
export interface Prologue {
  readonly group: FusionGroup;
  readonly reduce: number;
}

/**
 * A group (of one step or more) right after a reduction or a window op (`takesEpilogue`) that alone reads its value:
 * computed as that step writes it (./epilogue.ts). Its inputs besides the value are read per value of the step, per
 * slot of a max_mask, or as one value.
 */
export interface StepEpilogue {
  /** The reduction or window op. */
  readonly step: number;
  readonly group: FusionGroup;
  readonly epilogue: Epilogue;
  /** The buffers of the epilogue's inputs. */
  readonly inputs: readonly number[];
}

export interface Fusion {
  readonly groups: readonly FusionGroup[];
  /**
   * The candidates in no group, prologue or epilogue, each a group of its own (dispatched alone, or a matmul's
   * epilogue).
   */
  readonly singles: readonly FusionGroup[];
  /** Groups (or single elementwise steps) fused into the reduction that reads them; not in `groups`. */
  readonly prologues: readonly Prologue[];
  /** Groups (or single steps) that reductions and window ops compute as they write; not in `groups` or `singles`. */
  readonly epilogues: readonly StepEpilogue[];
  /**
   * Per compute step i (below updateStart), why steps i and i + 1 are not one group; null where they are. The
   * last compute step's entry is `update`.
   */
  readonly breaks: readonly (BreakReason | null)[];
}

export interface FusionOptions {
  /** Storage buffers one shader stage may bind (the device's maxStorageBuffersPerShaderStage); default 8. */
  maxStorageBuffers?: number;
  /** Steps a group may hold; default 16. */
  maxSteps?: number;
  /** Steps left out of every group and prologue (a row group computes them). */
  exclude?: ReadonlySet<number>;
}

/** Whether an op's kernels compute an epilogue (see StepEpilogue): the reductions and the window ops. */
export function takesEpilogue(op: string): boolean {
  return REDUCTION_OPS.includes(op) || op === 'im2col' || op === 'col2im';
}

/** A max_mask's slots: its input's shape with the reduced axes kept as ones. */
function maskSlots(call: KernelCall): number[] {
  const axes = normAxes(call.attrs.axes as number[], call.inShapes[0].length);
  return call.inShapes[0].map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * A shape without its leading ones, as a key: shapes with equal keys lay out their elements alike and are the same
 * under broadcasting.
 */
export function layout(s: readonly number[]): string {
  let k = 0;
  while (k < s.length && s[k] === 1) k++;
  return s.slice(k).join();
}

/**
 * Steps that only view their input the way the fused kernels read every value, broadcast to the group's shape: a
 * broadcast_to, and a reshape that only adds or drops leading ones. In a group they are the identity.
 */
function isBroadcastView(call: KernelCall): boolean {
  if (call.inShapes.length !== 1) return false;
  if (call.op === 'broadcast_to') return true;
  return call.op === 'reshape' && layout(call.inShapes[0]) === layout(call.outShape);
}

/** Whether the op is one the fused kernels compute (with the arity of its table), or a view they read through. */
export function isFusible(call: KernelCall): boolean {
  if (call.op in UNARY) return call.inShapes.length === 1;
  if (call.op in BINARY) return call.inShapes.length === 2;
  return isBroadcastView(call);
}

/** Whether `s` broadcasts to `to` (numpy's rule, right-aligned, without growing `to`). */
function broadcastsTo(s: readonly number[], to: readonly number[]): boolean {
  if (s.length > to.length) return false;
  return s.every((d, k) => d === 1 || d === to[to.length - s.length + k]);
}

/**
 * Shape `x`, broadcast over `from`, as a shape broadcast over `to`, which has as many elements (a reshape elided
 * between two steps: [16, 8, 256] read as [16, 8, 16, 16], or back): block by block of dims whose sizes multiply to
 * the same in both, x spans the block, or is one along it, or the block's dims are the same in both; else (x spans
 * part of a block that is regrouped) null.
 */
export function regrouped(x: readonly number[], from: readonly number[], to: readonly number[]): number[] | null {
  const xs = [...new Array<number>(from.length - x.length).fill(1), ...x];
  const out: number[] = [];
  for (let i = from.length, j = to.length; i > 0 || j > 0; ) {
    // The next block from the right: the fewest dims of each whose sizes multiply to the same.
    let [i0, j0, pf, pt] = [i, j, 1, 1];
    do {
      if ((pf <= pt || j0 === 0) && i0 > 0) pf *= from[--i0];
      else if (j0 > 0) pt *= to[--j0];
      else return null;
    } while (pf !== pt);
    const [own, other, read] = [from.slice(i0, i), to.slice(j0, j), xs.slice(i0, i)];
    if (read.every((d) => d === 1)) out.unshift(...other.map(() => 1));
    else if (read.join() === own.join()) out.unshift(...other);
    else if (own.join() === other.join()) out.unshift(...read);
    else return null;
    [i, j] = [i0, j0];
  }
  return out;
}

type PlanLike = Pick<Plan, 'buffers' | 'steps' | 'updateStart' | 'outputs'>;

/**
 * The plan's dataflow: for each step input, the step that wrote it (-1: none, a value from before the plan); for
 * each step, the steps that read its value (updates included); the compute steps whose value is a plan output; and
 * by buffer, the compute step that writes it (`writer`).
 *
 * The plan passes (fusion here, ./fold.ts, ./elide.ts) take plans with every pooled value in a buffer of its own
 * (./share-buffers.ts): then a value is its buffer, and no decision depends on which values share one. So this
 * throws on another plan: a compute step that writes a buffer that is not pooled or is written already, or that
 * reads a pooled buffer that no step wrote before it (its own output, say).
 */
export function dataflow(plan: PlanLike) {
  const writer = new Map<number, number>();
  const pooled = (b: number) => plan.buffers[b].role === 'pool';
  const writers = plan.steps.map((step, i) => {
    const from = step.inputs.map((b) => writer.get(b) ?? -1);
    if (i < plan.updateStart) {
      if (!pooled(step.output) || writer.has(step.output) || from.some((w, k) => w < 0 && pooled(step.inputs[k]))) {
        throw new Error(`step ${i} (${step.call.op}): the WebGPU plan passes need a buffer per value (ownBuffers)`);
      }
      writer.set(step.output, i);
    }
    return from;
  });
  const readers: Set<number>[] = plan.steps.map(() => new Set<number>());
  writers.forEach((from, i) => from.forEach((w) => w >= 0 && readers[w].add(i)));
  const isOutput = new Set([...plan.outputs.values()].flatMap((o) => (writer.has(o.buffer) ? [writer.get(o.buffer)!] : [])));
  return { writers, readers, isOutput, writer };
}

/**
 * The fused groups of a plan's compute steps. Runs of candidates (elementwise, non-empty, compute phase) are cut
 * greedily from the left: each group is the longest valid one starting where the last one ended.
 */
export function planFusion(plan: PlanLike, options: FusionOptions = {}): Fusion {
  const maxInputs = Math.max(1, (options.maxStorageBuffers ?? 8) - 1);
  const maxSteps = Math.max(2, options.maxSteps ?? 16);
  const { steps, updateStart } = plan;
  const { writers, readers, isOutput } = dataflow(plan);

  const candidate = (i: number): BreakReason | null => {
    if (i >= updateStart) return 'update';
    if (!isFusible(steps[i].call)) return 'op';
    if (options.exclude?.has(i)) return 'folded';
    if (numel(steps[i].call.outShape) === 0) return 'empty';
    return null;
  };

  /** The group of steps a..b (candidates all), or why it cannot be one. */
  const tryGroup = (a: number, b: number): FusionGroup | BreakReason => {
    if (b - a + 1 > maxSteps) return 'length';
    const sink = steps[b];
    const shape = sink.call.outShape;
    for (let j = a; j < b; j++) {
      if (isOutput.has(j)) return 'output';
      const r = readers[j];
      if (r.size === 0) return 'uses';
      for (const k of r) if (k < a || k > b) return 'uses';
    }
    // Each step is computed per element of the sink's value: its shape broadcasts to the sink's, or it has as many
    // elements, the same element at the same index (a reshape between them elided, ./elide.ts), and what it reads
    // broadcast is read in the sink's dims (`regrouped`).
    const n = numel(shape);
    const full = (s: readonly number[]) => numel(s) === n;
    for (let j = a; j <= b; j++) if (!broadcastsTo(steps[j].call.outShape, shape) && !full(steps[j].call.outShape)) return 'shape';
    const inputs: { buffer: number; shape: readonly number[] }[] = [];
    const operands: Operand[][] = [];
    let consistent = true;
    for (let j = a; j <= b; j++) {
      const own = steps[j].call.outShape;
      const reframed = !broadcastsTo(own, shape);
      operands.push(
        steps[j].inputs.map((buffer, k): Operand => {
          const w = writers[j][k];
          const inShape = steps[j].call.inShapes[k];
          if (w >= a) {
            // A value of the group is computed broadcast by its own shape: it must be read in that shape (an elided
            // reshape, ./elide.ts, may have changed it, [4] read as [4, 1]), leading ones aside, by a step over the
            // group's dims; or be whole, or one value.
            const asComputed = layout(steps[w].call.outShape) === layout(inShape) && !reframed;
            const whole = full(steps[w].call.outShape) && full(inShape);
            if (!asComputed && !whole && numel(inShape) !== 1) consistent = false;
            return { step: w - a };
          }
          const read = reframed ? regrouped(inShape, own, shape) : inShape;
          if (!read) {
            consistent = false;
            return { input: 0 };
          }
          let e = inputs.findIndex((x) => x.buffer === buffer);
          if (e < 0) e = inputs.push({ buffer, shape: read }) - 1;
          else if (layout(inputs[e].shape) !== layout(read)) consistent = false;
          return { input: e };
        }),
      );
    }
    if (!consistent || inputs.some((x) => !broadcastsTo(x.shape, shape))) return 'shape';
    if (inputs.length > maxInputs) return 'inputs';
    if (broadcastLayout(inputs.map((x) => x.shape), shape).shape.length > MAX_RANK) return 'shape';
    return {
      steps: Array.from({ length: b - a + 1 }, (_, k) => a + k),
      inputs,
      operands,
      output: sink.output,
      shape,
    };
  };

  let groups: FusionGroup[] = [];
  const breaks: (BreakReason | null)[] = [];
  for (let a = 0; a < updateStart; ) {
    let end = a;
    if (candidate(a) === null) {
      for (let b = a + 1; candidate(b) === null; b++) {
        const g = tryGroup(a, b);
        if (g === 'length') break;
        if (typeof g !== 'string') end = b;
      }
      if (end > a) groups.push(tryGroup(a, end) as FusionGroup);
    }
    const next = end + 1;
    const g = next >= updateStart ? 'update' : (candidate(end) ?? candidate(next) ?? tryGroup(a, next));
    for (let i = a; i < end; i++) breaks.push(null);
    breaks.push(typeof g === 'string' ? g : 'length');
    a = next;
  }

  const prologues: Prologue[] = [];
  for (let r = 1; r < updateStart; r++) {
    const j = r - 1;
    if (!REDUCTION_OPS.includes(steps[r].call.op) || options.exclude?.has(r) || numel(steps[r].call.outShape) === 0 || writers[r][0] !== j) continue;
    if (isOutput.has(j) || readers[j].size !== 1) continue;
    const at = groups.findIndex((g) => g.steps[g.steps.length - 1] === j);
    const group = at >= 0 ? groups[at] : candidate(j) === null ? tryGroup(j, j) : 'op';
    if (typeof group === 'string') continue;
    if (at >= 0) groups.splice(at, 1);
    prologues.push({ group, reduce: r });
  }
  const grouped = new Set([...groups, ...prologues.map((p) => p.group)].flatMap((g) => g.steps));
  let singles: FusionGroup[] = [];
  for (let i = 0; i < updateStart; i++) {
    const g = !grouped.has(i) && candidate(i) === null ? tryGroup(i, i) : 'op';
    if (typeof g !== 'string') singles.push(g);
  }

  // A group right after the step reads only what was written before it.
  const epilogues: StepEpilogue[] = [];
  for (const group of [...groups, ...singles]) {
    const r = group.steps[0] - 1;
    if (r < 0 || !takesEpilogue(steps[r].call.op) || options.exclude?.has(r) || numel(steps[r].call.outShape) === 0) continue;
    const reads = prologues.find((p) => p.reduce === r)?.group.inputs.length ?? 1;
    const value = { buffer: steps[r].output, shape: steps[r].call.outShape, readers: readers[r], isOutput: isOutput.has(r) };
    const slots = steps[r].call.op === 'max_mask' ? maskSlots(steps[r].call) : undefined;
    const e = asEpilogue(group, steps, value, { matrix: false, ...(slots ? { slots } : {}), maxInputs: maxInputs - reads, before: () => true });
    if (e) epilogues.push({ step: r, group, ...e });
  }
  const taken = new Set(epilogues.map((e) => e.group));
  groups = groups.filter((g) => !taken.has(g));
  singles = singles.filter((g) => !taken.has(g));
  return { groups, singles, prologues, epilogues, breaks };
}

// ---------------------------------------------------------------------------------------------------------------
// the kernel

/** The `fn` definitions of a functions string, by name, in order. */
function definitions(fns: string): [string, string][] {
  return fns
    .split(/\n(?=fn )/)
    .map((s) => s.trim())
    .filter((s) => s.startsWith('fn '))
    .map((s) => [/^fn (\w+)/.exec(s)![1], s]);
}

/** The functions of the parts of one kernel, each name once (the parts' definitions of a name are the same). */
export function mergeFunctions(...sources: string[]): string {
  return [...new Map(sources.flatMap(definitions)).values()].join('\n');
}

const PARAM = /\bp\.(\w+)/g;

/** The WGSL functions and Params fields (with their words) that the expressions of several steps need. */
export interface ExpressionParts {
  fns: Map<string, string>;
  fields: string[];
  words: number[];
}

/**
 * An elementwise step's value (the `j`th step of a kernel) as WGSL, from its operands' expressions `args`: a call of
 * a function that returns its table expression, added to `parts`; a view is its operand.
 *
 * Unary ops that read their attribute (`p.a`, `p.k`, `p.whole`) get functions of their own, named and reading
 * fields suffixed by `j`, so that two leaky_relus of different slopes can share a kernel. Attributes are uniforms:
 * the source depends only on the steps' ops and operands, so plans of other batch sizes share the pipeline.
 */
export function stepExpression(call: KernelCall, j: number | string, args: readonly string[], parts: ExpressionParts): string {
  if (isBroadcastView(call)) return args[0];
  const { fns, fields, words } = parts;
  let fn: string;
  if (call.op in BINARY) {
    fn = `op_${call.op}`;
    fns.set(fn, `fn ${fn}(a: f32, b: f32) -> f32 { return ${BINARY[call.op]}; }`);
  } else {
    const { expr, fns: helpers = '' } = UNARY[call.op];
    const used = new Set([...`${expr}\n${helpers}`.matchAll(PARAM)].map((m) => m[1]));
    if (used.size === 0) {
      for (const [name, def] of definitions(helpers)) fns.set(name, def);
      fn = `op_${call.op}`;
      fns.set(fn, `fn ${fn}(x: f32) -> f32 { return ${expr}; }`);
    } else {
      // This step's own copies of the functions that read p, renamed, reading its own fields.
      const own = definitions(helpers);
      const renamed = new Set(own.filter(([, def]) => /\bp\./.test(def)).map(([name]) => name));
      const rewrite = (src: string) => {
        let out = src.replace(PARAM, (_, f: string) => `p.${f}_${j}`);
        for (const name of renamed) out = out.replace(new RegExp(`\\b${name}\\(`, 'g'), `${name}s${j}(`);
        return out;
      };
      for (const [name, def] of own) fns.set(renamed.has(name) ? `${name}s${j}` : name, renamed.has(name) ? rewrite(def) : def);
      fn = `op_${call.op}_s${j}`;
      fns.set(fn, `fn ${fn}(x: f32) -> f32 { return ${rewrite(expr)}; }`);
      const w = unaryWords(call.op, call.attrs);
      for (const f of [...used].sort()) {
        if (!(f in w)) throw new Error(`fused ${call.op}: unknown parameter p.${f}`);
        fields.push(`${f}_${j}: ${f === 'a' ? 'f32' : 'u32'}`);
        words.push(w[f as keyof typeof w]);
      }
    }
  }
  return `${fn}(${args.join(', ')})`;
}

/**
 * A fused group's expression at one element, for a kernel to place: the externals' indices from the element's flat
 * index `i` in the group's shape (as the binary kernel does, for every external at once); then each step's value
 * (`stepExpression`), in plan order. The fused kernel writes the last value; a reduction takes it as the element it
 * reads (a prologue, see `planFusion`). Sizes and strides are uniforms, as attributes are: plans of other batch sizes
 * share the pipeline.
 *
 * Binding: the externals in order, from binding 0.
 */
export interface FusedExpression {
  /** Fields of the Params struct (a whole number of 16-byte rows), and their words. */
  fields: string;
  words: number[];
  /** The externals' bindings, from 0 (`count` of them), and the functions the body calls. */
  bindings: string;
  count: number;
  fns: string;
  /** WGSL statements that, with `i` in scope, leave the group's value in `value`. */
  body: string;
  value: string;
}

export function fusedExpression(group: FusionGroup, steps: readonly PlanStep[]): FusedExpression {
  const n = numel(group.shape);
  const { shape, strides } = broadcastLayout(
    group.inputs.map((x) => x.shape),
    group.shape,
  );
  const slots = (v: number[]) => [...v, ...new Array<number>(MAX_RANK - v.length).fill(0)];
  const externals = group.inputs.map((_, e) => e);

  const parts: ExpressionParts = { fns: new Map(), fields: [], words: [] };
  const lines = group.steps.map((s, j) => {
    const args = group.operands[j].map((o) => ('step' in o ? `v${o.step}` : `x${o.input}`));
    return `  let v${j} = ${stepExpression(steps[s].call, j, args, parts)};`;
  });
  return {
    fields: `n: u32, rank: u32, pad0: u32, pad1: u32, shape: array<vec4<u32>, 2>${externals.map((e) => `, s${e}: array<vec4<u32>, 2>`).join('')}${parts.fields.map((f) => `, ${f}`).join('')}`,
    words: [n, shape.length, 0, 0, ...slots(shape), ...externals.flatMap((e) => slots(strides[e])), ...parts.words],
    bindings: externals.map((e, k) => `@group(0) @binding(${k}) var<storage, read> in${e}: array<f32>;`).join('\n'),
    count: externals.length,
    fns: [...parts.fns.values()].join('\n'),
    body: `${broadcastIndexWgsl(externals.map((e) => [`j${e}`, `s${e}`] as const))}
${externals.map((e) => `  let x${e} = in${e}[j${e}];`).join('\n')}
${lines.join('\n')}`,
    value: `v${group.steps.length - 1}`,
  };
}

/** The dispatch of a fused group: one thread per element of the last value, which it writes. */
export function fusedKernel(group: FusionGroup, steps: readonly PlanStep[]): GpuKernel {
  const e = fusedExpression(group, steps);
  const code = perElementShader(
    /* wgsl */ `
struct Params { ${e.fields} }
${e.bindings}
@group(0) @binding(${e.count}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${e.count + 1}) var<uniform> p: Params;
${e.fns}`,
    `${e.body}
  out[i] = ${e.value};`,
  );
  return { code, workgroups: grid1d(numel(group.shape)), params: packWords(e.words) };
}

/** The plan step a fused group is bound as: the externals in, the last step's value out. */
export function fusedStep(group: FusionGroup, steps: readonly PlanStep[]): { step: PlanStep; inSizes: number[] } {
  const sink = steps[group.steps[group.steps.length - 1]];
  return {
    step: { call: sink.call, inputs: group.inputs.map((x) => x.buffer), output: group.output, node: sink.node },
    inSizes: group.inputs.map((x) => numel(x.shape)),
  };
}
