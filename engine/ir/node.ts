import type { Shape } from './shape';

export type Attrs = Readonly<Record<string, unknown>>;

/** One primitive operation in the engine's intermediate representation. Nodes are created in topological order. */
export interface IRNode {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly IRNode[];
  readonly attrs: Attrs;
  readonly shape: Shape;
  /** The project node this primitive was expanded from, for per-layer metrics and for error messages. */
  readonly origin?: string;
}
