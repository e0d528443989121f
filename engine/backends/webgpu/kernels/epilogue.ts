/**
 * Epilogues (../epilogue.ts) as WGSL, for the kernels that compute them as they store: matmul, the reductions, im2col
 * and col2im.
 */
import type { Epilogue } from '../epilogue';
import { stepExpression, type ExpressionParts } from '../fuse';

/**
 * An epilogue (../epilogue.ts) as WGSL: its inputs' bindings (e0, e1, ... from `first`), Params fields and their
 * words, the functions its steps call (`fns`, to merge with the kernel's own: see mergeFunctions), and `fn`:
 * `fn epilogue(v: f32, at: u32, col: u32) -> f32`, the last step's value for the kernel's value v, at flat index `at`
 * of the kernel's output, in column `col` of it (of a max_mask's output: in slot `col`; the row, for an input read
 * per row, from `at` and the fields `ep_rows` and `ep_cols`, the size of the output's matrices). Its steps' fields
 * are suffixed e0, e1, ..., apart from a prologue's. Without an epilogue, the identity.
 */
export function epilogueWgsl(e: Epilogue | undefined, first: number): { bindings: string; count: number; fields: string; words: number[]; fns: string; fn: string } {
  if (!e) return { bindings: '', count: 0, fields: '', words: [], fns: '', fn: 'fn epilogue(v: f32, at: u32, col: u32) -> f32 { return v; }' };
  const parts: ExpressionParts = { fns: new Map(), fields: [], words: [] };
  const at = { full: 'at', col: 'col', row: '(at / p.ep_cols) % p.ep_rows', slot: 'col', scalar: '0u' };
  const lines = e.steps.map(({ call, operands }, j) => {
    const args = operands.map((o) => (o === 'value' ? 'v' : 'input' in o ? `x${o.input}` : `v${o.step}`));
    return `  let v${j} = ${stepExpression(call, `e${j}`, args, parts)};`;
  });
  return {
    bindings: e.inputs.map((_, k) => `@group(0) @binding(${first + k}) var<storage, read> e${k}: array<f32>;`).join('\n'),
    count: e.inputs.length,
    fields: [...parts.fields, ...(e.matrix ? ['ep_rows: u32', 'ep_cols: u32'] : [])].map((f) => `, ${f}`).join(''),
    words: [...parts.words, ...(e.matrix ? [e.matrix.rows, e.matrix.cols] : [])],
    fns: [...parts.fns.values()].join('\n'),
    fn: `fn epilogue(v: f32, at: u32, col: u32) -> f32 {
${e.inputs.map((kind, k) => `  let x${k} = e${k}[${at[kind]}];`).join('\n')}
${lines.join('\n')}
  return v${e.steps.length - 1};
}`,
  };
}
