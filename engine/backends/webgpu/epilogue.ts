/**
 * Epilogues, for the WebGPU backend: elementwise steps that the kernel of the step whose value they alone read
 * computes on each value as it stores it, writing their last value instead: a matmul's (./fold.ts: a dense layer's
 * bias and activation), a reduction's (./fuse.ts: a mean's scale, a loss's sign; a max pool's mask times the
 * gradient) or a window op's (a pooled gradient scattered back, times the activation's derivative). Whatever else
 * they read is computed before that step, and read per element of its value (`full`), per column of it (`col`, a
 * bias row), per row of it (`row`, a convolution's bias, one a filter; `col` and `row` from matmuls only), per slot
 * of a max_mask (`slot`: the value the mask selects for) or as one value (`scalar`). The WGSL is
 * kernels/epilogue.ts's.
 */
import type { KernelCall } from '../kernel';
import { numel } from '../../ir/shape';
import { layout, regrouped, type FusionGroup } from './fuse';

export type EpilogueInput = 'full' | 'col' | 'row' | 'slot' | 'scalar';
/** What an epilogue step reads: the kernel's value, an input, or an earlier step's value. */
export type EpilogueOperand = 'value' | { input: number } | { step: number };

export interface Epilogue {
  /** The values read besides the kernel's, bound after the kernel's own inputs. */
  readonly inputs: readonly EpilogueInput[];
  readonly steps: readonly { readonly call: KernelCall; readonly operands: readonly EpilogueOperand[] }[];
  /** Where an input is read per row: the rows and columns of each matrix of the kernel's value. */
  readonly matrix?: { readonly rows: number; readonly cols: number };
  /** Where an input is read per slot: how many slots the max_mask has. */
  readonly slots?: number;
}

/**
 * Group `g` (of the plan's `steps`) as the epilogue of the step that writes `value`, with the buffers of its inputs;
 * null where it cannot be: where anything else reads the value or it is a plan output, where the group's value has
 * another number of elements or its read of the value is laid out otherwise, where it reads a value not written
 * `before` the step or in no kind allowed (`matrix`: per column and per row; `slots`, a max_mask's slots with its
 * reduced axes kept as ones: per slot), or more than `maxInputs` values besides. A group over another shape of as
 * many elements (a reshape elided) reads what it reads over the value's (`regrouped`), where it can.
 */
export function asEpilogue(
  g: FusionGroup,
  steps: readonly { readonly call: KernelCall }[],
  value: { buffer: number; shape: readonly number[]; readers: ReadonlySet<number>; isOutput: boolean },
  options: { matrix: boolean; slots?: readonly number[]; maxInputs: number; before: (buffer: number) => boolean },
): { epilogue: Epilogue; inputs: number[] } | null {
  const out = layout(value.shape);
  const [rows, cols] = value.shape.slice(-2);
  if (value.isOutput || [...value.readers].some((r) => !g.steps.includes(r)) || numel(g.shape) !== numel(value.shape)) return null;
  const kinds: EpilogueInput[] = [];
  const inputs: number[] = [];
  const operand: EpilogueOperand[] = [];
  for (const read of g.inputs) {
    // What the group reads over its shape, read over the value's (a reshape between them elided).
    const shape = layout(g.shape) === out ? read.shape : regrouped(read.shape, g.shape, value.shape);
    if (!shape) return null;
    const x = { buffer: read.buffer, shape };
    if (x.buffer === value.buffer) {
      if (layout(x.shape) !== out) return null;
      operand.push('value');
      continue;
    }
    const along = options.matrix && value.shape.length >= 2 ? { [String(cols)]: 'col', [`${rows},1`]: 'row' }[layout(x.shape)] : undefined;
    const perSlot = options.slots && layout(x.shape) === layout(options.slots) ? 'slot' : undefined;
    const kind = numel(x.shape) === 1 ? 'scalar' : layout(x.shape) === out ? 'full' : ((along ?? perSlot) as EpilogueInput | undefined);
    if (!kind || !options.before(x.buffer)) return null;
    operand.push({ input: inputs.push(x.buffer) - 1 });
    kinds.push(kind);
  }
  if (inputs.length > options.maxInputs) return null;
  return {
    epilogue: {
      inputs: kinds,
      steps: g.steps.map((s, j) => ({ call: steps[s].call, operands: g.operands[j].map((o) => ('step' in o ? o : operand[o.input])) })),
      ...(kinds.includes('row') ? { matrix: { rows, cols } } : {}),
      ...(kinds.includes('slot') ? { slots: numel(options.slots!) } : {}),
    },
    inputs,
  };
}

/** The elements that each of an epilogue's inputs binds, for a kernel whose value has `shape`. */
export function epilogueInputSizes(e: Epilogue | undefined, shape: readonly number[]): number[] {
  const size = { full: numel(shape), col: shape[shape.length - 1], row: shape[shape.length - 2], slot: e?.slots ?? 0, scalar: 1 };
  return e?.inputs.map((kind) => size[kind]) ?? [];
}
