import { reverseMode, type OnContribution } from '../autodiff/reverse';
import type { Builder } from '../ir/builder';
import type { IRNode } from '../ir/node';
import { formatShape } from '../ir/shape';
import { opSpec, type LabelKind, type Mode } from '../graph/catalogue';
import { expandGraph, type Expansion, type GraphError, type GraphNode, type ParamInfo } from '../graph/expand';
import { compilePlan, type Plan, type Update } from '../plan/plan';
import type { OptimizerSpec as FileOptimizerSpec } from '../io/project';
import { StudioError } from '../util/errors';

/** What a run of the graph is about: the node minimised, the model's answer, and the label it is scored against. */
export interface Targets {
  objective: string;
  prediction?: string;
  label?: { id: string; kind: LabelKind };
}

/** An optimizer as a program needs it: the project file's, with type and learning rate settled. */
export type OptimizerSpec = FileOptimizerSpec & Required<Pick<FileOptimizerSpec, 'type' | 'lr'>>;

/** Throws the first graph error as a StudioError naming the node and port (the CLI's and trainer's view). */
export function throwGraphErrors(errors: readonly GraphError[]): void {
  const e = errors[0];
  if (!e) return;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  throw new StudioError(e.message + more, { node: e.node, port: e.port ?? (e.attr ? `attrs.${e.attr}` : undefined) });
}

/** What predicting, exporting or accuracy needs where resolveTargets finds no prediction. */
export const NO_PREDICTION = "the project has no prediction node: set training.prediction (Prediction, in the app's Training section), or feed a loss";

/**
 * The objective (default: the one loss node), the prediction (default: the node feeding the loss's first port)
 * and the label node (the one label node feeding the objective, if any).
 */
export function resolveTargets(nodes: readonly GraphNode[], training: { objective?: string; prediction?: string } = {}): Targets {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  let objective = training.objective;
  if (objective === undefined) {
    const losses = nodes.filter((n) => opSpec(n.op)?.group === 'losses');
    const sinks = nodes.filter((n) => !nodes.some((m) => Object.values(m.inputs ?? {}).includes(n.id)));
    if (losses.length === 1) objective = losses[0].id;
    else if (losses.length === 0 && sinks.length === 1) objective = sinks[0].id;
    else if (losses.length === 0) throw new StudioError('the graph has no loss node: add one, or name the objective in training.objective (Objective, in the app\'s Training section)');
    else throw new StudioError(`the graph has ${losses.length} loss nodes (${losses.map((l) => l.id).join(', ')}): name the one to minimise in training.objective (Objective, in the app's Training section)`);
  }
  if (!byId.has(objective)) throw new StudioError(`training.objective names "${objective}", which is not a node of the graph`);
  let prediction = training.prediction;
  const objNode = byId.get(objective)!;
  if (prediction === undefined && opSpec(objNode.op)?.group === 'losses') {
    prediction = objNode.inputs?.[opSpec(objNode.op)!.inputs[0]];
  }
  if (prediction !== undefined && !byId.has(prediction)) throw new StudioError(`training.prediction names "${prediction}", which is not a node of the graph`);

  const ancestors = new Set<string>();
  const visit = (id: string) => {
    if (ancestors.has(id) || !byId.has(id)) return;
    ancestors.add(id);
    Object.values(byId.get(id)!.inputs ?? {}).forEach(visit);
  };
  visit(objective);
  const labels = nodes.filter((n) => n.op === 'label' && ancestors.has(n.id));
  const label = labels.length === 1 ? { id: labels[0].id, kind: ((labels[0].attrs?.kind as LabelKind | undefined) ?? 'class') } : undefined;
  return { objective, prediction, label };
}

/**
 * The label node that `data.standardizeLabel` standardises: the objective's label, when it is `real`. The one rule
 * that training (Session.labelScale), predict and the ONNX and PyTorch exports follow.
 */
export function standardizedLabel(data: { standardizeLabel?: boolean } | undefined, t: Targets): string | undefined {
  return data?.standardizeLabel === true && t.label?.kind === 'real' ? t.label.id : undefined;
}

/** A graph expanded for one batch size and mode, with errors thrown. */
export function expandOrThrow(nodes: readonly GraphNode[], batch: number, mode: Mode): Expansion {
  const e = expandGraph(nodes, { batch, mode });
  throwGraphErrors(e.errors);
  return e;
}

function outputOf(e: Expansion, id: string): IRNode {
  const n = e.outputs.get(id);
  if (!n) throw new StudioError(`node "${id}" has no value`, { node: id });
  return n;
}

/** The scalar minimised: the objective node, or its batch mean when it is per-example. */
export function objectiveNode(e: Expansion, t: Targets): IRNode {
  const y = outputOf(e, t.objective);
  const b = e.builder;
  if (e.batched.get(t.objective)) {
    if (y.shape.length !== 1) throw new StudioError(`the objective must be a scalar or one value per example, got ${formatShape(y.shape)}`, { node: t.objective });
    return b.mean(y, [0]);
  }
  if (y.shape.length !== 0) throw new StudioError(`the objective must be a scalar or one value per example, got ${formatShape(y.shape)}`, { node: t.objective });
  return y;
}

/**
 * How many examples of the batch the prediction gets right, as a node: argmax against class labels, or the sign
 * of a single score against a 0/1 or -1/+1 label (threshold 0.5 after a sigmoid, else 0). Undefined when the
 * targets have no accuracy (real labels, or shapes that do not fit).
 */
export function correctCount(e: Expansion, t: Targets, nodes: readonly GraphNode[]): IRNode | undefined {
  if (!t.prediction || !t.label || t.label.kind === 'real') return undefined;
  const b = e.builder;
  const p = e.outputs.get(t.prediction);
  const y = e.outputs.get(t.label.id);
  if (!p || !y || !e.batched.get(t.prediction) || y.shape.length !== 1) return undefined;
  if (p.shape.length === 2 && (p.shape[1] as number) > 1 && t.label.kind === 'class') {
    return b.sum(b.mul(b.maxMask(p, [1]), b.oneHot(y, p.shape[1] as number)), [0, 1]);
  }
  if (p.shape.length === 1 || (p.shape.length === 2 && p.shape[1] === 1)) {
    const s = b.reshape(p, [p.shape[0]]);
    const threshold = nodes.find((n) => n.id === t.prediction)?.op === 'sigmoid' ? 0.5 : 0;
    const positive = b.greater(s, threshold);
    const truth = t.label.kind === 'sign' ? b.greater(y, 0) : y;
    // right when both are 1 or both are 0
    const agree = b.add(b.mul(positive, truth), b.mul(b.sub(1, positive), b.sub(1, truth)));
    return b.sum(agree, [0]);
  }
  return undefined;
}

/**
 * The batch's sum of squared differences between the prediction and a `real` label, as a node (in the units the
 * label node is fed: standardised where the data standardises it): a regression's error, where accuracy has none.
 * Undefined unless the prediction is one value per example against a one-value label.
 */
export function squaredErrorSum(e: Expansion, t: Targets): IRNode | undefined {
  if (!t.prediction || t.label?.kind !== 'real') return undefined;
  const b = e.builder;
  const p = e.outputs.get(t.prediction);
  const y = e.outputs.get(t.label.id);
  const single = (x: IRNode) => x.shape.length <= 2 && x.shape.slice(1).every((d) => d === 1);
  if (!p || !y || !e.batched.get(t.prediction) || !e.batched.get(t.label.id) || !single(p) || !single(y)) return undefined;
  const batch = [p.shape[0]];
  const d = b.sub(b.reshape(p, batch), b.reshape(y, batch));
  return b.sum(b.mul(d, d), [0]);
}

/** Layer (or parameter node) id -> its trainable tensors, in graph order. */
export function layersOf(params: readonly ParamInfo[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const p of params) if (p.trainable) m.set(p.node, [...(m.get(p.node) ?? []), p.name]);
  return m;
}

const sumOfSquares = (b: Builder, g: IRNode): IRNode => b.sum(b.mul(g, g), [...g.shape.keys()]);

function gradNormNodes(b: Builder, grads: ReadonlyMap<string, IRNode>): Record<string, IRNode> {
  const out: Record<string, IRNode> = {};
  for (const [name, g] of grads) out[`gradsq:${name}`] = sumOfSquares(b, g);
  return out;
}

/** Gradients of the scalar objective with respect to every trainable tensor (zeros where it does not depend). */
export function gradients(
  e: Expansion,
  obj: IRNode,
  extraWrt: readonly IRNode[] = [],
  onContribution?: OnContribution,
): { grads: Map<string, IRNode>; adjoint: Map<IRNode, IRNode> } {
  const b = e.builder;
  const paramNodes = e.builder.nodes.filter((n) => n.op === 'param');
  const trainable = new Set(e.params.filter((p) => p.trainable).map((p) => p.name));
  const adjoint = reverseMode(b, obj, [...paramNodes.filter((n) => trainable.has(n.attrs.name as string)), ...extraWrt], { onContribution });
  const grads = new Map<string, IRNode>();
  for (const n of paramNodes) {
    const name = n.attrs.name as string;
    if (!trainable.has(name)) continue;
    const g = adjoint.get(n) ?? b.fullLike(n, 0);
    grads.set(name, grads.has(name) ? b.add(grads.get(name)!, g) : g);
  }
  return { grads, adjoint };
}

export interface TrainProgram {
  plan: Plan;
  expansion: Expansion;
  /** Output names: objective, correct or sqerr (if any), gradsq:TENSOR for each trainable tensor. */
  hasAccuracy: boolean;
}

/**
 * Forward, backward, gradient norms, accuracy and the optimizer update of one training step, as one plan. With
 * `clipNorm`, the update takes the gradients clipped to that global norm (the norms reported are the gradients').
 */
export function trainProgram(nodes: readonly GraphNode[], t: Targets, opt: OptimizerSpec, batch: number, opts: { clipNorm?: number } = {}): TrainProgram {
  const e = expandOrThrow(nodes, batch, 'train');
  const obj = objectiveNode(e, t);
  const correct = correctCount(e, t, nodes);
  const sqerr = squaredErrorSum(e, t);
  const { grads } = gradients(e, obj);
  const norms = gradNormNodes(e.builder, grads);
  const applied = opts.clipNorm === undefined ? grads : clipped(e.builder, grads, Object.values(norms), opts.clipNorm);
  const updates: Update[] = [...applied].map(([name, g]) => optimizerUpdate(name, g, opt));
  for (const a of e.assigns) updates.push({ op: 'assign', target: a.target, source: a.value });
  const outputs: Record<string, IRNode> = { objective: obj, ...norms };
  if (correct) outputs.correct = correct;
  if (sqerr) outputs.sqerr = sqerr;
  return { plan: compilePlan(outputs, updates), expansion: e, hasAccuracy: !!correct };
}

/**
 * The gradients scaled together so that their global L2 norm (the root of the sum of `squares`, each tensor's sum of
 * squares) is at most `maxNorm`, as torch.nn.utils.clip_grad_norm_ does: times min(1, maxNorm / (norm + 1e-6)).
 * Written with ops, so every backend clips alike.
 */
function clipped(b: Builder, grads: ReadonlyMap<string, IRNode>, squares: readonly IRNode[], maxNorm: number): Map<string, IRNode> {
  if (squares.length === 0) return new Map(grads);
  const norm = b.sqrt(squares.reduce((sum, s) => b.add(sum, s)));
  const scale = b.minimum(b.scalar(1), b.div(b.scalar(maxNorm), b.add(norm, b.scalar(1e-6))));
  return new Map([...grads].map(([name, g]) => [name, b.mul(g, scale)]));
}

function optimizerUpdate(name: string, g: IRNode, opt: OptimizerSpec): Update {
  const weightDecay = opt.weightDecay ?? 0;
  if (opt.type === 'sgd') {
    const momentum = opt.momentum ?? 0;
    return {
      op: 'sgd_update',
      target: name,
      source: g,
      // Plain SGD keeps no state; with momentum, the velocity.
      state: momentum !== 0 ? [`${name}@velocity`] : [],
      attrs: { lr: opt.lr, momentum, nesterov: opt.nesterov ?? false, weightDecay },
    };
  }
  return {
    op: 'adam_update',
    target: name,
    source: g,
    state: [`${name}@m`, `${name}@v`],
    attrs: { lr: opt.lr, beta1: opt.beta1 ?? 0.9, beta2: opt.beta2 ?? 0.999, eps: opt.eps ?? 1e-8, weightDecay, decoupled: opt.type === 'adamw' },
  };
}

/**
 * Prediction, and (where the data has labels) objective and accuracy of a batch, without gradients; inference mode
 * unless told.
 */
export function evalProgram(
  nodes: readonly GraphNode[],
  t: Targets,
  batch: number,
  opts: { mode?: Mode; scored: boolean },
): TrainProgram {
  const e = expandOrThrow(nodes, batch, opts.mode ?? 'infer');
  const outputs: Record<string, IRNode> = {};
  const correct = opts.scored ? correctCount(e, t, nodes) : undefined;
  const sqerr = opts.scored ? squaredErrorSum(e, t) : undefined;
  if (opts.scored) outputs.objective = objectiveNode(e, t);
  if (correct) outputs.correct = correct;
  if (sqerr) outputs.sqerr = sqerr;
  if (t.prediction) outputs.prediction = outputOf(e, t.prediction);
  return { plan: compilePlan(outputs), expansion: e, hasAccuracy: !!correct };
}

/**
 * One forward and backward pass: the objective, the gradient of every trainable tensor, and with `nodes` every
 * project node's value and adjoint (d objective / d node, inputs included).
 */
export function gradProgram(nodes: readonly GraphNode[], t: Targets, batch: number, opts: { nodes?: boolean } = {}): { plan: Plan; expansion: Expansion } {
  const e = expandOrThrow(nodes, batch, 'eval');
  const obj = objectiveNode(e, t);
  const inputs = e.builder.nodes.filter((n) => n.op === 'input');
  const { grads, adjoint } = gradients(e, obj, opts.nodes ? inputs : []);
  const outputs: Record<string, IRNode> = { objective: obj };
  for (const [name, g] of grads) outputs[`grad:${name}`] = g;
  if (opts.nodes) {
    for (const [id, y] of e.outputs) {
      outputs[`value:${id}`] = y;
      outputs[`adjoint:${id}`] = adjoint.get(y) ?? e.builder.fullLike(y, 0);
    }
  }
  return { plan: compilePlan(outputs), expansion: e };
}

/** An edge of the project graph: `source` feeds one or more of `target`'s input ports. */
export interface Edge {
  source: string;
  target: string;
}

/** Every edge of the graph once, by target in graph order (a source wired to two ports of a node is one edge). */
export function graphEdges(nodes: readonly GraphNode[]): Edge[] {
  return nodes.flatMap((n) => [...new Set(Object.values(n.inputs ?? {}))].map((source) => ({ source, target: n.id })));
}

/** The output of flowProgram that holds an edge's squared gradient norm. */
export const flowKey = (edge: Edge): string => `flowsq:${edge.source}>${edge.target}`;

/** The output of flowProgram that holds a node's largest |value| per unit (axis 1) over the batch and positions. */
export const unitsKey = (id: string): string => `units:${id}`;

/**
 * Whether project node `id`'s value `x` (its expansion's output) has units that can die: it is a ReLU's output
 * [B, units, ...] that the node computes itself (a dense or convolution layer with activation relu, or a relu node),
 * so a unit that is zero on every row passes no gradient back to what feeds it. Other zeros (a pooling or flatten
 * after it, a dropout off that passes the ReLU's value on, a product) are the ReLU's to report, or are not dead at all.
 */
export const hasReluUnits = (id: string, x: IRNode | undefined): boolean => x?.op === 'relu' && x.origin === id && x.shape.length >= 2;

/**
 * The gradient along each edge of the graph: for A -> B, the part of the objective's gradient with respect to A's
 * value (A's adjoint) that flows back from B, i.e. the sum of the VJP terms that B's primitives add to A's adjoint.
 * So the edges out of A sum, as tensors, to A's adjoint. Outputs `flowKey(edge)`: its squared L2 norm over the
 * whole tensor (the batch included); an edge without an output carries no gradient (from a label or constant, or
 * into nothing the objective depends on differentiably). Edges from `input` nodes carry d objective / d input.
 *
 * Also `unitsKey(id)` for each node whose value is a ReLU's [B, units, ...] (hasReluUnits: a dense layer's features,
 * a convolution's channels): the largest value of each unit over the batch, zero for a unit that is off on every row.
 *
 * Train mode, so that with the latest step's RunContext it is that step's backward pass (the same dropout masks,
 * batchnorm on the batch's statistics), but without the expansion's `assigns`: it changes no running statistics.
 * Not part of trainProgram, so that training steps cost what they cost in the CLI.
 */
export function flowProgram(nodes: readonly GraphNode[], t: Targets, batch: number): { plan: Plan; expansion: Expansion; edges: Edge[] } {
  const e = expandOrThrow(nodes, batch, 'train');
  const b = e.builder;
  const edges = graphEdges(nodes);
  const values = new Set(e.outputs.values());
  // per project node value: its adjoint's terms, by the project node whose primitives added them
  const terms = new Map<IRNode, Map<string | undefined, IRNode[]>>();
  gradients(e, objectiveNode(e, t), inputValues(e, nodes), (x, y, dx) => {
    if (!values.has(x)) return;
    let byOrigin = terms.get(x);
    if (!byOrigin) terms.set(x, (byOrigin = new Map()));
    byOrigin.set(y.origin, [...(byOrigin.get(y.origin) ?? []), dx]);
  });
  const targetsOf = (id: string) => edges.filter((d) => d.source === id).map((d) => d.target);
  // A node whose value is its input's (dropout off, a reshape to the same shape) adds no terms of its own: what
  // flows back through it is what its own targets add.
  const through = (target: string, x: IRNode): string[] =>
    e.outputs.get(target) === x ? targetsOf(target).flatMap((n) => through(n, x)) : [target];
  const outputs: Record<string, IRNode> = {};
  for (const edge of edges) {
    const x = outputOf(e, edge.source);
    const parts = [...new Set(through(edge.target, x))].flatMap((id) => terms.get(x)?.get(id) ?? []);
    if (parts.length) outputs[flowKey(edge)] = sumOfSquares(b, parts.reduce((sum, dx) => b.add(sum, dx)));
  }
  for (const [id, x] of e.outputs) {
    if (hasReluUnits(id, x)) outputs[unitsKey(id)] = b.max(x, [...x.shape.keys()].filter((k) => k !== 1));
  }
  return { plan: compilePlan(outputs), expansion: e, edges };
}

/** The values of the graph's `input` nodes (data, not labels). */
export function inputValues(e: Expansion, nodes: readonly GraphNode[]): IRNode[] {
  return nodes.filter((n) => n.op === 'input').map((n) => outputOf(e, n.id));
}
