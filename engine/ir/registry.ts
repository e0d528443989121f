import type { Attrs, IRNode } from './node';
import type { Shape } from './shape';
import type { Builder } from './builder';

/**
 * A primitive op: its shape rule, and how derivatives pass through it: the VJP (reverse mode) and JVP (forward
 * mode) are written with other primitives, so every backend gets them for free. The forward computation is each
 * backend's kernel of the same name (engine/backends/*).
 */
export interface OpDef {
  readonly name: string;
  /** Number of inputs. */
  readonly arity: number;
  shape(inputs: readonly Shape[], attrs: Attrs): Shape;
  /**
   * Adjoints of the inputs given the adjoint `dy` of the output; `null` where the input gets no gradient.
   * Absent: the op is piecewise constant or a data source, and passes no gradient.
   */
  vjp?(b: Builder, y: IRNode, dy: IRNode): (IRNode | null)[];
  /** Tangent of the output given the inputs' tangents (`null` = zero tangent). Absent: zero tangent. */
  jvp?(b: Builder, y: IRNode, tangents: readonly (IRNode | null)[]): IRNode | null;
}

const registry = new Map<string, OpDef>();

export function defineOps(defs: readonly OpDef[]): void {
  for (const d of defs) {
    if (registry.has(d.name)) throw new Error(`op ${d.name} defined twice`);
    registry.set(d.name, d);
  }
}

export function getOp(name: string): OpDef {
  const d = registry.get(name);
  if (!d) throw new Error(`unknown primitive op ${name}`);
  return d;
}

export function allOps(): OpDef[] {
  return [...registry.values()];
}
