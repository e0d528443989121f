/**
 * Hand-made plans, for the WebGPU plan passes' buffer rules (fuse, fold, elide), which compilePlan's plans only
 * exercise by chance: buffers of the given roles, 4 floats each, and steps on [2, 2] values.
 */
import type { BufferRole, Plan } from '../../engine/plan/plan';

/** The attributes and output shape of the ops whose step is not elementwise on [2, 2]. */
const OPS: Record<string, { attrs: Record<string, unknown>; shape: number[] }> = {
  transpose: { attrs: { perm: [1, 0] }, shape: [2, 2] },
  sum: { attrs: { axes: [0, 1] }, shape: [] },
  reshape: { attrs: { shape: [4] }, shape: [4] },
};

/**
 * A plan over buffers of these roles, steps as [op, inputs, output] (compute steps all), and outputs by buffer
 * (shaped as the last step that writes them). The input buffers are named x, x1, x2... by their place.
 */
export function handmadePlan(roles: readonly BufferRole[], steps: readonly (readonly [string, number[], number])[], outputs: Record<string, number>): Plan {
  const shapeOf = (op: string) => OPS[op]?.shape ?? [2, 2];
  const written = (buffer: number) => steps.findLast(([, , out]) => out === buffer);
  return {
    buffers: roles.map((role) => ({ size: 4, role })),
    steps: steps.map(([op, inputs, output]) => ({
      call: { op, attrs: OPS[op]?.attrs ?? {}, inShapes: inputs.map(() => [2, 2]), outShape: shapeOf(op) },
      inputs,
      output,
    })),
    updateStart: steps.length,
    outputs: new Map(Object.entries(outputs).map(([k, buffer]) => [k, { buffer, shape: shapeOf(written(buffer)?.[0] ?? '') }])),
    inputs: new Map(roles.flatMap((role, i) => (role === 'input' ? [[i === 0 ? 'x' : `x${i}`, { buffer: i, shape: [2, 2] }] as const] : []))),
    peakBytes: 0,
  };
}
