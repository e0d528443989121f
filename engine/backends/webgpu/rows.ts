/**
 * Row groups, for the WebGPU backend: a softmax, a cross-entropy and their backward pass in one dispatch.
 *
 * Those reduce each row of a [rows, len] value (a batch of logits) to one number (its max, its sum of exps) and read
 * that number back across the row; elementwise fusion (./fuse.ts) stops at every reduction, so a training step's
 * loss and accuracy took 14 dispatches of a few hundred threads each. A row group takes a thread per row instead: the
 * thread computes the row's reductions in loops over its elements, the per-row values between them in registers,
 * and writes the values that steps after the group read, as a whole row, one number a row, or sums over all rows.
 *
 * A group's full shape S is the row ([..., len], len from 2 to MAX_LEN: short rows, which one thread reads whole, as
 * the reduction kernels do below 64) of its anchors: sums and maxima over the last axis alone, max_masks over it,
 * one_hots of len classes. A step may join when its value is per element of S (`full`) or per row ([..., 1]: `row`; a
 * reduction's may drop the axis) and it reads its operands as one of those, per column ([len]: `col`) or one value
 * (`scalar`): elementwise ops and broadcasts by numpy's rules, reshapes between the two forms of one kind. Where the
 * rows fit one workgroup (a batch of up to 256), so may a sum of all of a value per row or per element (the loss and
 * the accuracy count over the batch) and the elementwise steps on such totals (the mean's scale): the workgroup's
 * threads join their rows' parts in a tree in workgroup memory, with Neumaier's compensation as the reductions do.
 * So may a sum per column over all the rows of a value per element (a bias's gradient), which is only written. The
 * constants a group reads as one value (1 / batch) are its params, not bindings. From each anchor not yet taken,
 * a group grows by the steps that write or read its values, while:
 *   - no step outside the group both reads a value of the group (through other steps or not) and writes one that the
 *     group reads: the group must be able to run as one dispatch (`closed`);
 *   - its reads and writes fit the storage buffers of one shader stage;
 *   - its span of plan steps overlaps no other group's.
 * Update steps stay out. Row groups are planned first: fusion (./fuse.ts) and matmul epilogues (./fold.ts) take
 * the steps that they leave.
 *
 * `planRows` returns the plan with each group's steps moved together (a pure reordering of compute steps, in a plan
 * with every value in a buffer of its own: the steps between a group's first and last that read its values move
 * after it, the others before), so that the backend dispatches the group in place of a run of steps, as it does a
 * fused group.
 */
import type { KernelCall } from '../kernel';
import type { Plan } from '../../plan/plan';
import { normAxes, numel } from '../../ir/shape';
import { dataflow, isFusible, layout, stepExpression, type ExpressionParts, type Operand } from './fuse';
import { f32Bits, grid1d, packWords, perElementShader, WORKGROUP, type GpuKernel } from './kernel';
import { join, REDUCE_HELPERS, REDUCTIONS, type Reduction } from './kernels/reduce';

/** Rows longer than this stay with the reduction kernels, which take a workgroup per row of 64 or more. */
export const MAX_LEN = 64;

/** How a row group reads a value: per element of S, per row, per column, or one value. */
export type RowKind = 'full' | 'row' | 'col' | 'scalar';
/**
 * What a row group's step computes: a value per element, per row, one for all the rows (a total), or one per column
 * for all the rows (`columns`: a bias's gradient).
 */
export type StepKind = 'full' | 'row' | 'total' | 'columns';

export interface RowInput {
  readonly buffer: number;
  readonly kind: RowKind;
  readonly value?: number;
}

export interface RowGroup {
  /** Plan step indices, ascending. */
  readonly steps: readonly number[];
  readonly rows: number;
  readonly len: number;
  /**
   * The values read from outside, once per buffer and kind; a constant of one value (a mean's 1 / n) is its `value`,
   * read from the params rather than bound.
   */
  readonly inputs: readonly RowInput[];
  /** Per step of the group, its operands (an earlier step of the group: its position in `steps`). */
  readonly operands: readonly (readonly Operand[])[];
  /** Per step of the group, whether its value is per element, per row or one for all. */
  readonly kinds: readonly StepKind[];
  /** The positions (in `steps`) of the steps whose values are written: read after the group, or plan outputs. */
  readonly outputs: readonly number[];
}

type PlanLike = Pick<Plan, 'buffers' | 'steps' | 'updateStart' | 'outputs'>;

const ROW_REDUCTIONS = new Set(['sum', 'max']);

/** Whether the reduction-like call works on the last axis alone. */
function overLastAxis(call: KernelCall): boolean {
  const rank = call.inShapes[0].length;
  return rank >= 1 && normAxes(call.attrs.axes as number[], rank).join() === String(rank - 1);
}

/** A group's inputs that it binds (not the constants that its params hold). */
export const bound = (g: RowGroup) => g.inputs.filter((x) => x.value === undefined);

/** The full shape S that an anchor step sets (of two rows or more), or null where the step is no anchor. */
function anchorShape(call: KernelCall): readonly number[] | null {
  const s = call.op === 'one_hot' ? call.outShape : call.inShapes[0];
  const len = s[s.length - 1];
  if (!(len >= 2 && len <= MAX_LEN) || numel(s) < 2 * len) return null;
  if (ROW_REDUCTIONS.has(call.op) || call.op === 'max_mask') return overLastAxis(call) ? s : null;
  return call.op === 'one_hot' ? s : null;
}

/**
 * A step's place in a group of full shape S: the kind of its value and how it reads each operand; null: none. With
 * `across` (the rows fit one workgroup), also a sum of all of a value per row or per element, and the elementwise
 * steps on such totals (`total`: one value for the whole group).
 */
function roleIn(call: KernelCall, S: readonly number[], across: boolean): { kind: StepKind; reads: RowKind[] } | null {
  const full = layout(S);
  const row = layout([...S.slice(0, -1), 1]);
  const rowDropped = layout(S.slice(0, -1));
  const col = String(S[S.length - 1]);
  const is = (s: readonly number[], t: string) => layout(s) === t;
  const [x] = call.inShapes;
  if (numel(call.outShape) === 0) return null;
  if (ROW_REDUCTIONS.has(call.op)) {
    if (overLastAxis(call) && is(x, full) && (is(call.outShape, row) || is(call.outShape, rowDropped))) return { kind: 'row', reads: ['full'] };
    if (!across || call.op !== 'sum') return null;
    if (numel(call.outShape) !== 1) {
      // Over every axis but the last, of a value per element: a value per column.
      const axes = normAxes(call.attrs.axes as number[], x.length);
      const allButLast = axes.length === x.length - 1 && !axes.includes(x.length - 1);
      return allButLast && is(x, full) ? { kind: 'columns', reads: ['full'] } : null;
    }
    const kind = is(x, full) ? 'full' : is(x, row) || is(x, rowDropped) ? 'row' : null;
    return kind && { kind: 'total', reads: [kind] };
  }
  if (call.op === 'max_mask') return overLastAxis(call) && is(x, full) ? { kind: 'full', reads: ['full'] } : null;
  if (call.op === 'one_hot') return is(call.outShape, full) && is(x, rowDropped) ? { kind: 'full', reads: ['row'] } : null;
  if (across && numel(call.outShape) === 1 && isFusible(call) && call.inShapes.every((s) => numel(s) === 1)) {
    return { kind: 'total', reads: call.inShapes.map(() => 'scalar') };
  }
  const kind = is(call.outShape, full) ? 'full' : is(call.outShape, row) ? 'row' : null;
  if (!kind) return null;
  if (call.op === 'reshape' && call.inShapes.length === 1) {
    // Between the forms of one kind ([n, 1] and [n] a row, say): the same values in the same order.
    return numel(x) === numel(call.outShape) ? { kind, reads: [kind] } : null;
  }
  if (!isFusible(call)) return null;
  const reads = call.inShapes.map((s): RowKind | null => {
    if (numel(s) === 1) return 'scalar';
    if (kind === 'row') return is(s, row) ? 'row' : null;
    return is(s, full) ? 'full' : is(s, row) ? 'row' : is(s, col) ? 'col' : null;
  });
  return reads.every((r) => r !== null) ? { kind, reads: reads as RowKind[] } : null;
}

export interface RowOptions {
  /** Storage buffers one shader stage may bind; default 8. */
  maxStorageBuffers?: number;
}

/**
 * The plan's row groups, and the plan with each group's steps together (the groups' `steps` are positions in that
 * plan). From a plan with every value in a buffer of its own.
 */
export function planRows<P extends PlanLike>(plan: P, options: RowOptions = {}): { plan: P; groups: RowGroup[] } {
  const maxBuffers = options.maxStorageBuffers ?? 8;
  /** Whether the rows of S fit one workgroup, which can then sum across them. */
  const across = (S: readonly number[]) => numel(S) / S[S.length - 1] <= WORKGROUP;
  const { steps, updateStart } = plan;
  const { writers, readers, isOutput } = dataflow(plan);
  const taken = new Set<number>();
  const spans: [number, number][] = [];

  /** The group of these steps (S its full shape), or null where its reads do not fit together. */
  const describe = (members: ReadonlySet<number>, S: readonly number[]): RowGroup | null => {
    const list = [...members].sort((a, b) => a - b);
    const at = new Map(list.map((s, k) => [s, k]));
    const inputs: RowInput[] = [];
    const kinds: StepKind[] = [];
    const operands: Operand[][] = [];
    for (const s of list) {
      const role = roleIn(steps[s].call, S, across(S))!;
      kinds.push(role.kind);
      const ops: Operand[] = [];
      for (const [k, buffer] of steps[s].inputs.entries()) {
        const w = writers[s][k];
        const kind = role.reads[k];
        if (at.has(w)) {
          // A value of the group is a variable: per element, per row or one for all (a scalar read of one of those);
          // the sums per column are only written.
          const theirs = kinds[at.get(w)!];
          if (theirs === 'columns' || !(theirs === kind || (theirs !== 'full' && kind === 'scalar'))) return null;
          ops.push({ step: at.get(w)! });
        } else {
          let e = inputs.findIndex((x) => x.buffer === buffer && x.kind === kind);
          const b = plan.buffers[buffer];
          if (e < 0) e = inputs.push(b.role === 'const' && b.value?.length === 1 ? { buffer, kind, value: b.value[0] } : { buffer, kind }) - 1;
          ops.push({ input: e });
        }
      }
      operands.push(ops);
    }
    const outputs = list.flatMap((s, k) => (isOutput.has(s) || [...readers[s]].some((r) => !members.has(r)) ? [k] : []));
    const len = S[S.length - 1];
    return { steps: list, rows: numel(S) / len, len, inputs, operands, kinds, outputs };
  };

  /** The steps after the group's first that read its values, directly or through other such steps. */
  const dependents = (members: ReadonlySet<number>) => {
    const found = new Set<number>();
    for (let i = Math.min(...members); i < updateStart; i++) {
      if (!members.has(i) && writers[i].some((w) => members.has(w) || found.has(w))) found.add(i);
    }
    return found;
  };
  /** Whether no member reads a dependent: the group can run as one dispatch. */
  const closed = (members: ReadonlySet<number>) => {
    const after = dependents(members);
    return [...members].every((s) => !writers[s].some((w) => after.has(w)));
  };
  const free = (i: number) => i >= 0 && i < updateStart && !taken.has(i);
  const clear = (lo: number, hi: number) => spans.every(([a, b]) => hi < a || b < lo);

  const fits = (g: RowGroup | null): g is RowGroup => !!g && bound(g).length + g.outputs.length <= maxBuffers;
  /** The group grown from an anchor, step by step in plan order, each step kept where the group is still valid. */
  const grow = (anchor: number, S: readonly number[], limited: boolean) => {
    const members = new Set([anchor]);
    for (let grew = true; grew; ) {
      grew = false;
      const near = [...members].flatMap((s) => [...writers[s], ...readers[s]]).filter((c) => free(c) && !members.has(c));
      for (const c of [...new Set(near)].sort((a, b) => a - b)) {
        if (!roleIn(steps[c].call, S, across(S))) continue;
        const trial = new Set([...members, c]);
        const g = describe(trial, S);
        if (!g || (limited && !fits(g)) || !clear(Math.min(...trial), Math.max(...trial)) || !closed(trial)) continue;
        members.add(c);
        grew = true;
      }
    }
    return describe(members, S);
  };

  const groups: RowGroup[] = [];
  for (let anchor = 0; anchor < updateStart; anchor++) {
    const S = free(anchor) ? anchorShape(steps[anchor].call) : null;
    if (!S) continue;
    // As far as it goes; where that binds too many buffers, as far as it goes within them (a step at a time, so
    // it may stop short of a larger group that fits).
    let g = grow(anchor, S, false);
    if (!fits(g)) g = grow(anchor, S, true);
    if (!fits(g) || g.steps.length < 2) continue;
    for (const s of g.steps) taken.add(s);
    spans.push([g.steps[0], g.steps[g.steps.length - 1]]);
    groups.push(g);
  }
  if (groups.length === 0) return { plan, groups };

  // Each group's steps together, where its last one was: the steps in its span that read its values after it.
  const groupAt = new Map<number, RowGroup>(groups.map((g) => [g.steps[g.steps.length - 1], g]));
  const moved = new Set(groups.flatMap((g) => g.steps));
  const deferred = new Map(groups.map((g) => [g, [...dependents(new Set(g.steps))].filter((i) => i < g.steps[g.steps.length - 1])]));
  const late = new Set([...deferred.values()].flat());
  const order: number[] = [];
  const placed = new Map<RowGroup, number>();
  for (let i = 0; i < steps.length; i++) {
    const g = groupAt.get(i);
    if (g) {
      placed.set(g, order.length);
      order.push(...g.steps, ...deferred.get(g)!);
    } else if (!moved.has(i) && !late.has(i)) order.push(i);
  }
  return {
    plan: { ...plan, steps: order.map((i) => steps[i]) },
    groups: groups.map((g) => ({ ...g, steps: g.steps.map((_, k) => placed.get(g)! + k) })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// the kernel

/**
 * The dispatch of a row group: a thread per row (`i`), which computes the group's steps in plan order. A per-row
 * value is a variable; a reduction, or the max_mask's argmax, a loop over the row (`r`, its element index) that
 * computes in place the per-element values it reads; the per-element values written, one more loop at the end.
 *
 * Binding: the externals in order (but the constants, which the params hold), then the outputs in order, then the
 * params.
 */
export function rowKernel(group: RowGroup, steps: readonly Pick<Plan['steps'][number], 'call'>[]): GpuKernel {
  const parts: ExpressionParts = { fns: new Map(), fields: [], words: [] };
  const calls = group.steps.map((s) => steps[s].call);
  const full = (j: number) => group.kinds[j] === 'full';
  const INDEX: Record<RowKind, string> = { full: 'base + r', row: 'i', col: 'r', scalar: '0u' };
  const arg = (o: Operand) => ('step' in o ? `v${o.step}` : `x${o.input}`);

  /** Step j's value as an expression of its operands (a per-element one inside a loop); made once a step. */
  const exprs = new Map<number, string>();
  const valueAt = (j: number): string => {
    if (!exprs.has(j)) {
      const call = calls[j];
      const args = group.operands[j].map(arg);
      if (call.op === 'max_mask') exprs.set(j, `select(0.0, 1.0, r == at${j})`);
      else if (call.op === 'one_hot') exprs.set(j, `select(0.0, 1.0, f32(r) == ${args[0]})`);
      else if (call.op === 'reshape') exprs.set(j, args[0]);
      else exprs.set(j, stepExpression(call, j, args, parts));
    }
    return exprs.get(j)!;
  };
  /** Statements that leave, at element r of the row, the per-element values of `wanted` (and those they read). */
  const inLoop = (wanted: readonly Operand[]) => {
    const need = new Set<number>();
    const reads = new Set<number>();
    const visit = (o: Operand) => {
      if ('input' in o) {
        const kind = group.inputs[o.input].kind;
        if (kind === 'full' || kind === 'col') reads.add(o.input);
      } else if (full(o.step) && !need.has(o.step)) {
        need.add(o.step);
        group.operands[o.step].forEach(visit);
      }
    };
    wanted.forEach(visit);
    const sorted = (xs: Set<number>) => [...xs].sort((a, b) => a - b);
    return [
      ...sorted(reads).map((e) => `    let x${e} = in${e}[${INDEX[group.inputs[e].kind]}];`),
      ...sorted(need).map((j) => `    let v${j} = ${valueAt(j)};`),
    ].join('\n');
  };

  /** A reduction's result from its state: its value (a sum, a max), or max_mask's argmax. */
  const resultOf = (op: Reduction) => ('value' in op.result ? op.result.value : 'at');
  const declare = (op: Reduction) => op.state.map(([n, t, init]) => `var ${n}: ${t} = ${init};`).join(' ');
  const sum = REDUCTIONS.sum;
  /**
   * A sum over all the rows: this thread's part (`part`, statements that take its elements in), none for a thread
   * past the rows, then the workgroup's tree, after which every thread holds the sum.
   */
  const acrossRows = (part: string[]) => [
    `    ${declare(sum)}`,
    ...part,
    `    if (!valid) { ${sum.state.map(([n, , init]) => `${n} = ${init};`).join(' ')} }`,
    join(sum).replace(/^/gm, '  '),
  ];

  const body: string[] = [];
  const constants = group.inputs.flatMap((x, e) => (x.value === undefined ? [] : [e]));
  group.inputs.forEach((x, e) => {
    if (x.value !== undefined) body.push(`  let x${e} = p.k${e};`);
    else if (x.kind === 'row' || x.kind === 'scalar') body.push(`  let x${e} = in${e}[${INDEX[x.kind]}];`);
  });
  calls.forEach((call, j) => {
    const [input] = group.operands[j];
    if (group.kinds[j] === 'total' && call.op === 'sum') {
      // This thread's row's part: its value per row, or its elements summed.
      const part = 'input' in input ? group.inputs[input.input].kind : group.kinds[input.step];
      body.push(
        `  var v${j}: f32;`,
        '  {',
        ...acrossRows(
          part === 'full'
            ? ['    for (var r = 0u; r < p.len; r++) {', inLoop([input]).replace(/^/gm, '  '), `      let v = ${arg(input)};`, `      ${sum.take}`, '    }']
            : [`    let v = ${arg(input)};`, `    ${sum.take}`],
        ),
        `    v${j} = ${resultOf(sum)};`,
        '  }',
        // (the tree's memory is used again by the next total)
        '  workgroupBarrier();',
      );
    } else if (group.kinds[j] === 'columns') {
      // Column by column: a thread's element of it, then the tree, whose sum thread 0 writes.
      body.push(
        '  for (var r = 0u; r < p.len; r++) {',
        ...acrossRows([inLoop([input]), `    let v = ${arg(input)};`, `    ${sum.take}`]),
        `    if (lid == 0u) { out${j}[r] = ${resultOf(sum)}; }`,
        '    workgroupBarrier();',
        '  }',
      );
    } else if (ROW_REDUCTIONS.has(call.op) || call.op === 'max_mask') {
      const op = REDUCTIONS[call.op];
      const result = call.op === 'max_mask' ? `at${j}` : `v${j}`;
      body.push(
        `  var ${result}: ${call.op === 'max_mask' ? 'u32' : 'f32'};`,
        '  {',
        `    ${declare(op)}`,
        '    for (var r = 0u; r < p.len; r++) {',
        inLoop([input]).replace(/^/gm, '  '),
        `      let v = ${arg(input)};`,
        `      ${op.take}`,
        '    }',
        `    ${result} = ${resultOf(op)};`,
        '  }',
      );
    } else if (!full(j)) body.push(`  let v${j} = ${valueAt(j)};`);
  });
  const totals = group.kinds.includes('total') || group.kinds.includes('columns');
  const fullOut = group.outputs.filter(full);
  const writes: string[] = [];
  if (fullOut.length) {
    writes.push('  for (var r = 0u; r < p.len; r++) {', inLoop(fullOut.map((step) => ({ step }))), ...fullOut.map((j) => `    out${j}[base + r] = v${j};`), '  }');
  }
  for (const j of group.outputs) if (group.kinds[j] === 'row') writes.push(`  out${j}[i] = v${j};`);
  if (totals) {
    // One workgroup: its threads past the rows compute the first row's values (nothing out of bounds), write none.
    body.push(`  if (valid) {\n${writes.join('\n')}\n  }`);
    for (const j of group.outputs) if (group.kinds[j] === 'total') body.push(`  if (gid.x == 0u) { out${j}[0] = v${j}; }`);
  } else body.push(...writes);

  const reads = group.inputs.flatMap((x, e) => (x.value === undefined ? [e] : []));
  const n = reads.length;
  const bindings = [
    ...reads.map((e, k) => `@group(0) @binding(${k}) var<storage, read> in${e}: array<f32>;`),
    ...group.outputs.map((j, k) => `@group(0) @binding(${n + k}) var<storage, read_write> out${j}: array<f32>;`),
    `@group(0) @binding(${n + group.outputs.length}) var<uniform> p: Params;`,
  ];
  const fields = [...parts.fields, ...constants.map((e) => `k${e}: f32`)];
  const decls = /* wgsl */ `
struct Params { n: u32, len: u32, lowest: f32, pad0: u32${fields.map((f) => `, ${f}`).join('')} }
${bindings.join('\n')}
${REDUCE_HELPERS}
${[...parts.fns.values()].join('\n')}`;
  // With totals, no thread returns early: every one takes part in the trees (barriers want uniform control flow).
  const code = totals
    ? `${decls}
${sum.state.map(([n, t]) => `var<workgroup> w_${n}: array<${t}, ${WORKGROUP}>;`).join('\n')}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let valid = gid.x < p.n;
  let i = select(0u, gid.x, valid);
  let base = i * p.len;
${body.join('\n')}
}`
    : perElementShader(decls, `  let base = i * p.len;\n${body.join('\n')}`);
  const words = [group.rows, group.len, f32Bits(-Infinity), 0, ...parts.words, ...constants.map((e) => f32Bits(group.inputs[e].value!))];
  return { code, workgroups: grid1d(group.rows), params: packWords(words), bindOutput: false };
}
