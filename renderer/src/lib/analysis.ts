/**
 * Shape inference and validation of the document, in the renderer, on every edit: the engine's pure graph
 * expansion (no round trip). What the canvas and the inspector show about each node comes from here.
 */
import { expandGraph, type GraphError, type ParamInfo } from '../../../engine/graph/expand';
import type { Attrs } from '../../../engine/graph/catalogue';
import type { Shape } from '../../../engine/ir/shape';
import type { ProjectNode } from '../../../engine/io/project';

export interface Analysis {
  /** Each node's output shape (batch dimension null); absent for nodes with errors or fed by one. */
  shapes: Map<string, Shape>;
  /** Tensors each node owns. */
  params: Map<string, ParamInfo[]>;
  /** Trainable parameter count per node. */
  paramCount: Map<string, number>;
  totalParams: number;
  errors: GraphError[];
  /** Errors by node id. */
  byNode: Map<string, GraphError[]>;
  /** Attributes with defaults filled in. */
  attrs: Map<string, Attrs>;
  order: string[];
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

export function analyze(nodes: readonly ProjectNode[]): Analysis {
  let e: ReturnType<typeof expandGraph>;
  try {
    e = expandGraph(nodes, { batch: null, mode: 'train' });
  } catch (err) {
    // A bug in the engine, not the user's graph: say so rather than lose the editor.
    const message = `internal error while checking the graph: ${err instanceof Error ? err.message : String(err)}`;
    const errors = [{ node: nodes[0]?.id ?? '', message }];
    return { shapes: new Map(), params: new Map(), paramCount: new Map(), totalParams: 0, errors, byNode: group(errors), attrs: new Map(), order: [] };
  }
  const shapes = new Map<string, Shape>();
  for (const [id, n] of e.outputs) shapes.set(id, n.shape);
  const params = new Map<string, ParamInfo[]>();
  const paramCount = new Map<string, number>();
  let totalParams = 0;
  for (const p of e.params) {
    params.set(p.node, [...(params.get(p.node) ?? []), p]);
    if (p.trainable) {
      const k = numel(p.shape);
      paramCount.set(p.node, (paramCount.get(p.node) ?? 0) + k);
      totalParams += k;
    }
  }
  const errors = [...e.errors];
  return { shapes, params, paramCount, totalParams, errors, byNode: group(errors), attrs: new Map(e.attrs), order: [...e.order] };
}

function group(errors: GraphError[]): Map<string, GraphError[]> {
  const m = new Map<string, GraphError[]>();
  for (const x of errors) m.set(x.node, [...(m.get(x.node) ?? []), x]);
  return m;
}

/**
 * Whether `op`, with its default attributes, takes a tensor of `shape` (batch first as null) at its first input port:
 * what search-to-add lists for a wire dropped from an output (ui.md: "ops with a fitting input port"). Shape inference
 * on two nodes, a source of that shape (an input where batched, else a parameter) and the op wired to it; only an
 * error at that port counts, not its other ports (unconnected) nor its attributes (which the user sets next).
 */
export function takesShape(op: string, inputs: readonly string[], shape: Shape): boolean {
  if (!inputs.length) return false;
  const batched = shape.length > 0 && shape[0] === null;
  const source: ProjectNode = batched ? { id: 'source', op: 'input', attrs: { shape: shape.slice(1) as number[] } } : { id: 'source', op: 'parameter', attrs: { shape: [...shape] as number[] } };
  const { errors } = expandGraph([source, { id: 'candidate', op, inputs: { [inputs[0]]: 'source' } }], { batch: null, mode: 'train' });
  return !errors.some((e) => e.node === 'candidate' && e.port === inputs[0]);
}

