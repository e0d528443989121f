import { Builder } from '../ir/builder';
import type { IRNode } from '../ir/node';
import { ShapeError, type Dim, type Shape } from '../ir/shape';
import { checkAttr } from './attrs';
import { opSpec, type Attrs, type ExpandCtx, type LabelKind, type Mode } from './catalogue';
import type { InitSpec } from './init';
import type { ProjectNode } from '../io/project';

/** A node of a project file's graph (project-format.md). */
export type GraphNode = ProjectNode;

/** A problem with the graph, at a node (and port or attribute where it is that precise). */
export interface GraphError {
  node: string;
  port?: string;
  attr?: string;
  message: string;
}

/** A tensor the graph owns: a `parameter` node's, or a layer's (`ID.weight`, ...). */
export interface ParamInfo {
  name: string;
  shape: number[];
  init: InitSpec;
  /** false for state (batchnorm running statistics), which the optimizer does not touch. */
  trainable: boolean;
  /** The project node that owns it: the layer, or the parameter node. */
  node: string;
}

export interface Expansion {
  readonly builder: Builder;
  /** Each project node's output. Nodes with errors (or fed by one) are absent. */
  readonly outputs: ReadonlyMap<string, IRNode>;
  readonly batched: ReadonlyMap<string, boolean>;
  readonly params: readonly ParamInfo[];
  /** State updates that train mode runs after each step. */
  readonly assigns: readonly { target: string; value: IRNode }[];
  readonly errors: readonly GraphError[];
  /** Node ids in topological order (every node, when there is no cycle). */
  readonly order: readonly string[];
  /** Attributes with defaults filled in. */
  readonly attrs: ReadonlyMap<string, Attrs>;
}

const ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Validates a graph (ops, attributes, ports, references, cycles) and expands it into primitives, inferring
 * every shape. With `batch: null` the batch dimension stays symbolic (the editor and `check`); compiling for a
 * run passes the concrete batch size. Errors are collected, never thrown, and name the node and port.
 */
export function expandGraph(nodes: readonly GraphNode[], opts: { batch: Dim; mode: Mode }): Expansion {
  const errors: GraphError[] = [];
  const byId = new Map<string, GraphNode>();
  const attrs = new Map<string, Attrs>();
  const broken = new Set<string>();

  for (const n of nodes) {
    if (!ID.test(n.id)) errors.push({ node: n.id, message: `id "${n.id}" must match [A-Za-z_][A-Za-z0-9_]*` });
    if (byId.has(n.id)) errors.push({ node: n.id, message: `duplicate node id "${n.id}"` });
    byId.set(n.id, n);
  }
  for (const n of nodes) {
    const spec = opSpec(n.op);
    if (!spec) {
      errors.push({ node: n.id, message: `unknown op "${n.op}"` });
      broken.add(n.id);
      continue;
    }
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n.attrs ?? {})) {
      const a = spec.attrs.find((s) => s.name === k);
      if (!a) {
        const known = spec.attrs.map((s) => s.name).join(', ') || 'none';
        errors.push({ node: n.id, attr: k, message: `${n.op} has no attribute "${k}" (it has: ${known})` });
        broken.add(n.id);
        continue;
      }
      const msg = checkAttr(a, v);
      if (msg) {
        errors.push({ node: n.id, attr: k, message: `attribute ${k} ${msg}` });
        broken.add(n.id);
      }
      resolved[k] = v;
    }
    for (const a of spec.attrs) {
      if (resolved[a.name] !== undefined) continue;
      if (a.default !== undefined) resolved[a.name] = a.default;
      else if (!a.optional) {
        errors.push({ node: n.id, attr: a.name, message: `attribute ${a.name} is required` });
        broken.add(n.id);
      }
    }
    attrs.set(n.id, resolved);
    const inputs = n.inputs ?? {};
    for (const port of spec.inputs) {
      const src = inputs[port];
      if (src === undefined) {
        errors.push({ node: n.id, port, message: `input port "${port}" is not connected` });
        broken.add(n.id);
      } else if (!byId.has(src)) {
        errors.push({ node: n.id, port, message: `input port "${port}" refers to "${src}", which is not a node of the graph` });
        broken.add(n.id);
      }
    }
    for (const port of Object.keys(inputs)) {
      if (!spec.inputs.includes(port)) {
        const ports = spec.inputs.length ? spec.inputs.join(', ') : 'no inputs';
        errors.push({ node: n.id, port, message: `${n.op} has no input port "${port}" (it has ${ports})` });
        broken.add(n.id);
      }
    }
  }

  const order = topologicalOrder(nodes, byId);
  if (order.cycle) {
    errors.push({ node: order.cycle[0], message: `the graph has a cycle: ${[...order.cycle, order.cycle[0]].join(' -> ')}` });
  }

  const b = new Builder();
  const outputs = new Map<string, IRNode>();
  const batched = new Map<string, boolean>();
  // Whether each primitive carries the batch dimension: data inputs do, and so does what is computed from them,
  // unless the op says otherwise for its output (a reduction over the batch, a loss).
  const batchedIR = new Map<IRNode, boolean>();
  const batchedOf = (x: IRNode): boolean => {
    let v = batchedIR.get(x);
    if (v === undefined) batchedIR.set(x, (v = x.op === 'input' || x.inputs.some(batchedOf)));
    return v;
  };
  const params: ParamInfo[] = [];
  const assigns: { target: string; value: IRNode }[] = [];
  order.order.forEach((id, stream) => {
    const n = byId.get(id)!;
    const spec = opSpec(n.op);
    if (!spec || broken.has(id)) return;
    const ins: Record<string, IRNode> = {};
    for (const port of spec.inputs) {
      const src = outputs.get(n.inputs![port]);
      if (!src) return; // fed by a node that failed: its error is reported there
      ins[port] = src;
    }
    const a = attrs.get(id)!;
    const ctx: ExpandCtx = {
      b,
      nodeId: id,
      mode: opts.mode,
      batch: opts.batch,
      stream,
      batched: batchedOf,
      param: (local, shape, init, trainable = true) => {
        const name = local === null ? id : `${id}.${local}`;
        params.push({ name, shape: [...shape], init, trainable, node: id });
        return b.param(name, shape);
      },
      assign: (local, value) => {
        if (opts.mode === 'train') assigns.push({ target: `${id}.${local}`, value });
      },
      labelKind: (port) => {
        const src = byId.get(n.inputs![port]);
        return src?.op === 'label' ? ((attrs.get(src.id)?.kind as LabelKind | undefined) ?? 'class') : undefined;
      },
    };
    b.origin = id;
    const paramMark = params.length;
    try {
      const y = spec.expand(ctx, ins, a);
      const inInfo = Object.fromEntries(spec.inputs.map((p) => [p, { batched: batched.get(n.inputs![p])!, shape: ins[p].shape as Shape }]));
      const isBatched = spec.batched ? spec.batched(a, inInfo) : Object.values(inInfo).some((i) => i.batched);
      outputs.set(id, y);
      batched.set(id, isBatched);
      batchedIR.set(y, isBatched);
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      params.length = paramMark;
      if (e.attr) errors.push({ node: id, attr: e.attr, message: e.message });
      else errors.push({ node: id, port: e.port ?? (spec.inputs.length === 1 ? spec.inputs[0] : undefined), message: e.message });
    } finally {
      b.origin = undefined;
    }
  });
  return { builder: b, outputs, batched, params, assigns, errors, order: order.order, attrs };
}

/**
 * Kahn's algorithm over the references that exist. When a cycle remains, returns one of its cycles in edge order
 * (each node feeds the next) so that the message can name it.
 */
function topologicalOrder(nodes: readonly GraphNode[], byId: ReadonlyMap<string, GraphNode>): { order: string[]; cycle?: string[] } {
  const deps = (n: GraphNode) => Object.values(n.inputs ?? {}).filter((s) => byId.has(s));
  const indegree = new Map(nodes.map((n) => [n.id, new Set(deps(n)).size]));
  const consumers = new Map<string, string[]>();
  for (const n of nodes) for (const s of new Set(deps(n))) consumers.set(s, [...(consumers.get(s) ?? []), n.id]);
  const ready = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const c of consumers.get(id) ?? []) {
      indegree.set(c, indegree.get(c)! - 1);
      if (indegree.get(c) === 0) ready.push(c);
    }
  }
  if (order.length === byId.size) return { order };
  // Walk from a remaining node along its inputs until a node repeats: that loop is a cycle.
  const done = new Set(order);
  let cur = nodes.find((n) => !done.has(n.id))!.id;
  const path: string[] = [];
  const seen = new Map<string, number>();
  while (!seen.has(cur)) {
    seen.set(cur, path.length);
    path.push(cur);
    cur = deps(byId.get(cur)!).find((s) => !done.has(s))!;
  }
  return { order, cycle: path.slice(seen.get(cur)).reverse() };
}
