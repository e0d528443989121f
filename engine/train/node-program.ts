import { expandGraph, type Expansion, type GraphNode } from '../graph/expand';
import type { IRNode } from '../ir/node';
import { StudioError } from '../util/errors';
import type { PrimitiveLineInfo as PrimitiveLine, ProgramResult } from '../protocol/messages';
import { withTrainingDefaults, type Project } from '../io/project';
import { gradients, inputValues, objectiveNode, resolveTargets, throwGraphErrors, type Targets } from './program';

/** The primitives a project node expands into, and those reverse mode writes for its gradients (as the protocol has it). */
export type NodeProgram = ProgramResult;

/** The training step's forward and backward graph, before any backend fuses it. */
interface Written {
  nodes: readonly IRNode[];
  /** The first backward node's index. */
  split: number;
  e: Expansion;
  adjoint: Map<IRNode, IRNode>;
  /** The gradients of the trainable tensors and of the input nodes' values (as the gradient view takes them). */
  ends: IRNode[];
}

function write(nodes: readonly GraphNode[], t: Targets, batch: number | null): Written {
  const e = expandGraph(nodes, { batch, mode: 'train' });
  throwGraphErrors(e.errors);
  const objective = objectiveNode(e, t);
  const split = e.builder.nodes.length;
  const inputs = inputValues(e, nodes);
  const { grads, adjoint } = gradients(e, objective, inputs);
  return { nodes: e.builder.nodes, split, e, adjoint, ends: [...grads.values(), ...inputs.flatMap((x) => adjoint.get(x) ?? [])] };
}

/**
 * Project node `id`'s program in a training step: the primitives its expansion emits (forward), and the ones reverse
 * mode emits for it (backward: its VJPs, which take the gradient flowing into it and send gradients on to its
 * inputs and its own tensors, as far as the trainable tensors and the input nodes), named so that they read across
 * nodes: a node's value by its id, a tensor by its name, a gradient as `∇` and that name, anything else `%` and its
 * index in the step's graph.
 *
 * Shapes are per batch (null for the batch dimension); a constant that depends on the batch size (a mean's 1/n) is the
 * training batch's. Both come from writing the graph twice, once per batch size, where the two writes agree op for
 * op (they do unless a shape rule takes a different path at that size; then shapes are the training batch's too).
 */
export function nodeProgram(project: Project, id: string): NodeProgram {
  return stepProgram(project)(id);
}

/** nodeProgram of any node of the project's graph, at its training batch size, the step written once for all. */
export function stepProgram(project: Project): (id: string) => NodeProgram {
  const nodes = project.graph.nodes;
  const training = withTrainingDefaults(project.training);
  const t = resolveTargets(nodes, training);
  const batch = training.batchSize;
  const w = write(nodes, t, batch);
  const symbolic = write(nodes, t, null);
  const aligned = symbolic.nodes.length === w.nodes.length && symbolic.nodes.every((n, i) => n.op === w.nodes[i].op);
  const symbolicOf = (n: IRNode): IRNode => (aligned ? symbolic.nodes[n.id] : n);

  const names = new Map<IRNode, string>();
  const name = (n: IRNode, as: string) => {
    if (!names.has(n)) names.set(n, as);
  };
  for (const n of w.nodes.slice(0, w.split)) if (n.op === 'param' || n.op === 'input') name(n, n.attrs.name as string);
  for (const [node, value] of w.e.outputs) name(value, node);
  // A VJP that passes its gradient on unchanged (an add's) makes one node the gradient of several values: it is named
  // for the one nearest the loss, whose gradient it was written as.
  for (const [value, as] of [...names].sort(([a], [b]) => b.id - a.id)) {
    const g = w.adjoint.get(value);
    if (g) name(g, `∇${as}`);
  }
  const label = (n: IRNode) => names.get(n) ?? (isScalarConstant(n) ? String(Number((n.attrs.value as Float64Array)[0].toPrecision(6))) : `%${n.id}`);

  const needed = neededBackward(w);
  const line = (n: IRNode): PrimitiveLine => ({ name: label(n), op: n.op, args: n.inputs.map(label), attrs: attrText(symbolicOf(n)), shape: [...symbolicOf(n).shape] });
  return (id) => {
    if (!nodes.some((n) => n.id === id)) throw new StudioError(`"${id}" is not a node of the graph`);
    const listed = (n: IRNode) => n.origin === id && n.op !== 'param' && n.op !== 'input' && !isScalarConstant(n);
    return {
      node: id,
      batch,
      forward: w.nodes.slice(0, w.split).filter(listed).map(line),
      backward: w.nodes.slice(w.split).filter((n) => listed(n) && needed.has(n)).map(line),
    };
  };
}

function isScalarConstant(n: IRNode): boolean {
  return n.op === 'const' && n.shape.length === 0;
}

/** The backward nodes that the gradients `w.ends` read, directly or not. */
function neededBackward(w: Written): Set<IRNode> {
  const needed = new Set<IRNode>();
  const stack = [...w.ends];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.id < w.split || needed.has(n)) continue;
    needed.add(n);
    stack.push(...n.inputs);
  }
  return needed;
}

/** A primitive's attributes in words; the names of params and inputs, and constants' values, are shown elsewhere. */
function attrText(n: IRNode): string {
  return Object.entries(n.attrs)
    .filter(([k]) => !(k === 'name' || (n.op === 'const' && k === 'value')))
    .map(([k, v]) => (v === true ? k : v === false ? '' : `${k} ${JSON.stringify(v, (_, x: unknown) => (x === null ? 'B' : x)).replace(/"/g, '').replace(/,/g, ', ')}`))
    .filter(Boolean)
    .join(' · ');
}
