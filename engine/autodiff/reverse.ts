import type { Builder } from '../ir/builder';
import type { IRNode } from '../ir/node';
import { getOp } from '../ir/registry';

/** Called with each term of an adjoint sum: `dx`, what the VJP of `y` adds to the adjoint of its input `x`. */
export type OnContribution = (x: IRNode, y: IRNode, dx: IRNode) => void;

/**
 * Reverse mode as a graph transformation: appends the backward graph to `b` and returns the adjoint of every node
 * that the output depends on and that depends on one of `wrt` (d output / d node, same shape as the node).
 *
 * Walk the nodes in reverse topological order (creation order), seed the output with 1, apply each op's VJP, and
 * sum the adjoints of nodes that feed several others. `onContribution` sees each term of those sums (the gradient
 * along each edge of the graph).
 */
export function reverseMode(b: Builder, output: IRNode, wrt: readonly IRNode[], opts: { onContribution?: OnContribution } = {}): Map<IRNode, IRNode> {
  const needed = dependsOn(b.nodes.slice(0, output.id + 1), wrt);
  const adjoint = new Map<IRNode, IRNode>([[output, b.fullLike(output, 1)]]);
  for (let i = output.id; i >= 0; i--) {
    const y = b.nodes[i];
    const dy = adjoint.get(y);
    const vjp = getOp(y.op).vjp;
    if (!dy || !vjp || !y.inputs.some((x) => needed.has(x))) continue;
    b.origin = y.origin;
    const dxs = vjp(b, y, dy);
    y.inputs.forEach((x, k) => {
      const dx = dxs[k];
      if (!dx || !needed.has(x)) return;
      opts.onContribution?.(x, y, dx);
      const prev = adjoint.get(x);
      adjoint.set(x, prev ? b.add(prev, dx) : dx);
    });
  }
  b.origin = undefined;
  return adjoint;
}

/** The nodes among `nodes` (in topological order) that are, or depend on, one of `roots`. */
export function dependsOn(nodes: readonly IRNode[], roots: readonly IRNode[]): Set<IRNode> {
  const set = new Set(roots);
  for (const n of nodes) if (n.inputs.some((x) => set.has(x))) set.add(n);
  return set;
}
