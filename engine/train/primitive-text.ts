/**
 * A node's primitives as text, one op a line (node-program.ts writes them): what `bpstudio program` prints and the
 * app's Primitives section copies. Pure, for the renderer too.
 */
import type { PrimitiveLineInfo as PrimitiveLine } from '../protocol/messages';

/** A primitive as one line of text: `name = op(args)  attrs  [shape]` (B for the batch). */
export function primitiveText(l: PrimitiveLine): string {
  return `${l.name} = ${l.op}(${l.args.join(', ')})${l.attrs ? `  ${l.attrs}` : ''}  [${l.shape.map((d) => d ?? 'B').join(', ')}]`;
}

/** A node's block: `id (op)`, then its forward and backward ops indented (`: none` where it has none). */
export function programText(p: { node: string; forward: readonly PrimitiveLine[]; backward: readonly PrimitiveLine[] }, op: string): string {
  const part = (title: string, lines: readonly PrimitiveLine[]) => [`  ${title}${lines.length ? '' : ': none'}`, ...lines.map((l) => `    ${primitiveText(l)}`)];
  return [`${p.node} (${op})`, ...part('forward', p.forward), ...part('backward', p.backward)].join('\n') + '\n';
}
