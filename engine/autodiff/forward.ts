import type { Builder } from '../ir/builder';
import type { IRNode } from '../ir/node';
import { getOp } from '../ir/registry';

/**
 * Forward mode: pushes tangents (directions for some source nodes) through every op's JVP, appending the tangent
 * graph to `b`. Returns the tangent of each node reached (d node along the direction).
 */
export function forwardMode(b: Builder, tangents: ReadonlyMap<IRNode, IRNode>, upTo: IRNode): Map<IRNode, IRNode> {
  const tangent = new Map(tangents);
  for (const y of b.nodes.slice(0, upTo.id + 1)) {
    if (tangent.has(y)) continue;
    const ts = y.inputs.map((x) => tangent.get(x) ?? null);
    const jvp = getOp(y.op).jvp;
    if (!jvp || ts.every((t) => t === null)) continue;
    b.origin = y.origin;
    const t = jvp(b, y, ts);
    if (t) tangent.set(y, t);
  }
  b.origin = undefined;
  return tangent;
}
