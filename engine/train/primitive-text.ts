/**
 * A node's primitives as text, one op a line (node-program.ts writes them): what `bpstudio program` prints and the
 * app's Primitives section copies. Pure, for the renderer too.
 */
import type { Dim } from '../ir/shape';

/** One primitive of a node's program: `name = op(args) attrs`, of `shape` (null: the batch dimension). */
export interface PrimitiveLine {
  /** The value's name: a node's id, a tensor's name, `∇` and one of those for its gradient, else `%` and an index. */
  name: string;
  op: string;
  /** Its inputs by name; a scalar constant as its number. */
  args: string[];
  /** Its attributes in words (`axes [1] keepdims`); '' when none. */
  attrs: string;
  shape: Dim[];
}

/** A primitive as one line of text: `name = op(args)  attrs  [shape]` (B for the batch). */
export function primitiveText(l: PrimitiveLine): string {
  return `${l.name} = ${l.op}(${l.args.join(', ')})${l.attrs ? `  ${l.attrs}` : ''}  [${l.shape.map((d) => d ?? 'B').join(', ')}]`;
}

/** A node's block: `id (op)`, then its forward and backward ops indented (`: none` where it has none). */
export function programText(p: { node: string; forward: readonly PrimitiveLine[]; backward: readonly PrimitiveLine[] }, op: string): string {
  const part = (title: string, lines: readonly PrimitiveLine[]) => [`  ${title}${lines.length ? '' : ': none'}`, ...lines.map((l) => `    ${primitiveText(l)}`)];
  return [`${p.node} (${op})`, ...part('forward', p.forward), ...part('backward', p.backward)].join('\n') + '\n';
}
