/**
 * ONNX export of a project's prediction: the subgraph of project-level nodes that the prediction node
 * (training.prediction, or the node feeding the loss's first port) depends on, each node as its standard ONNX op
 * (opset 17), in inference mode (dropout off, batchnorm on its running statistics). Weights are initializers named
 * as in the weights file; each `input` node the prediction reads is a graph input named by its id, float32
 * [N, ...shape] with the batch N symbolic; the one output is named by the prediction node. Where the project
 * standardises its data (`data.standardize`), the model standardises each input itself with the weights' statistics
 * (`data.ID.mean`, `data.ID.std`), so it takes the data's raw features; where it standardises a `real` label that
 * the objective reads (`data.standardizeLabel`), it gives the prediction in the label's units (prediction * std +
 * mean). So it computes what the engine's predict does, which follows the same two settings.
 */
import { opSpec, tensorValue, type Attrs } from '../../graph/catalogue';
import { pair } from '../../graph/attrs';
import { expandGraph, type Expansion, type GraphNode } from '../../graph/expand';
import { lastTwoSwapped, normAxes, normAxis, type Shape } from '../../ir/shape';
import { NO_PREDICTION, resolveTargets, standardizedLabel, throwGraphErrors } from '../../train/program';
import { withTrainingDefaults, type Project } from '../project';
import type { Tensor } from '../safetensors';
import { StudioError } from '../../util/errors';
import { encodeModel, type OnnxAttr, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './onnx-proto';

/** opset 17: ReduceSum takes its axes as an input, ReduceMean and ReduceMax as an attribute. */
export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17 (ONNX 1.12). */
export const ONNX_IR_VERSION = 8;
/** The name of the batch dimension on the graph's inputs and output. */
export const BATCH_DIM = 'N';

export interface OnnxExport {
  /** The .onnx file. */
  bytes: Uint8Array;
  /** The graph inputs: the `input` nodes the prediction reads, in graph order, with their per-example shapes. */
  inputs: { id: string; shape: number[] }[];
  /** The graph output: the prediction node and its per-example shape. */
  output: { id: string; shape: number[] };
}

const ELEMENTWISE: Readonly<Record<string, string>> = {
  neg: 'Neg',
  exp: 'Exp',
  ln: 'Log',
  sin: 'Sin',
  cos: 'Cos',
  tanh: 'Tanh',
  sigmoid: 'Sigmoid',
  relu: 'Relu',
  softplus: 'Softplus',
  abs: 'Abs',
  sqrt: 'Sqrt',
  add: 'Add',
  sub: 'Sub',
  mul: 'Mul',
  div: 'Div',
  maximum: 'Max',
  minimum: 'Min',
  matmul: 'MatMul',
  dropout: 'Identity',
};

/** Layer activations as ONNX ops (leaky_relu with the layers' fixed slope). */
const ACTIVATIONS: Readonly<Record<string, { op: string; attrs?: Record<string, OnnxAttr> }>> = {
  relu: { op: 'Relu' },
  leaky_relu: { op: 'LeakyRelu', attrs: { alpha: { float: 0.01 } } },
  sigmoid: { op: 'Sigmoid' },
  tanh: { op: 'Tanh' },
  softplus: { op: 'Softplus' },
};

/** The prediction of `project` with these weights (Session.weights(): parameters and standardisation) as ONNX. */
export function exportOnnx(project: Project, weights: Readonly<Record<string, Tensor>>): OnnxExport {
  const { model, inputs, output } = onnxModel(project, weights);
  return { bytes: encodeModel(model), inputs, output };
}

/** The ONNX model of the project's prediction, as data (what exportOnnx encodes). */
export function onnxModel(project: Project, weights: Readonly<Record<string, Tensor>>): Omit<OnnxExport, 'bytes'> & { model: OnnxModel } {
  const nodes = project.graph.nodes;
  const targets = resolveTargets(nodes, withTrainingDefaults(project.training));
  const { prediction } = targets;
  if (prediction === undefined) {
    throw new StudioError(`there is nothing to export: ${NO_PREDICTION}`);
  }
  const e = expandGraph(nodes, { batch: null, mode: 'infer' });
  throwGraphErrors(e.errors);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const used = ancestors(byId, prediction);
  const order = e.order.filter((id) => used.has(id)).map((id) => byId.get(id)!);
  const unsupported = order.filter((n) => !hasOnnxEquivalent(n.op));
  if (unsupported.length) {
    const one = unsupported.length === 1;
    const training = unsupported.some((n) => n.op === 'label' || opSpec(n.op)?.group === 'losses');
    throw new StudioError(
      `cannot export the prediction "${prediction}" to ONNX: ${one ? 'node' : 'nodes'} ${unsupported.map((n) => `"${n.id}" (${n.op})`).join(', ')} ` +
        `${one ? 'has' : 'have'} no ONNX equivalent${training ? ' (labels and losses belong to training, not to a prediction)' : ''}`,
      { node: unsupported[0].id },
    );
  }
  if (!e.batched.get(prediction)) {
    throw new StudioError('the prediction does not depend on the data (it has no batch dimension), so there is no model to export', { node: prediction });
  }
  if (byId.get(prediction)!.op === 'input') throw new StudioError('the prediction is an input node itself: there is no model to export', { node: prediction });

  const g = new GraphWriter(e, weights, project.data?.standardize === true);
  for (const n of order) g.add(n);
  const labelId = standardizedLabel(project.data, targets);
  if (labelId !== undefined) g.unstandardize(prediction, labelId);
  const perExample = (id: string) => e.outputs.get(id)!.shape.slice(1) as number[];
  const model: OnnxModel = {
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    producerName: 'Backprop Studio',
    producerVersion: '1',
    graphName: project.name ?? 'prediction',
    docString: `The prediction "${prediction}" of a Backprop Studio project, exported in inference mode.`,
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: g.inputs,
    outputs: [{ name: prediction, shape: [BATCH_DIM, ...perExample(prediction)] }],
    metadata: { prediction, ...(project.name ? { project: project.name } : {}) },
  };
  return {
    model,
    inputs: g.inputs.map((i) => ({ id: i.name, shape: i.shape.slice(1) as number[] })),
    output: { id: prediction, shape: perExample(prediction) },
  };
}

/** The nodes that `id` depends on, itself included. */
function ancestors(byId: ReadonlyMap<string, GraphNode>, id: string): Set<string> {
  const seen = new Set<string>();
  const visit = (x: string) => {
    if (seen.has(x)) return;
    seen.add(x);
    Object.values(byId.get(x)!.inputs ?? {}).forEach(visit);
  };
  visit(id);
  return seen;
}

/** One project node as its emitter sees it. */
interface At {
  readonly id: string;
  readonly op: string;
  /** Its attributes, defaults filled in. */
  readonly a: Attrs;
  /** Its output shape (the batch dimension as null). */
  readonly shape: Shape;
  /** The ONNX tensor holding an input port's value. */
  x(port: string): string;
  /** An input port's shape. */
  shapeOf(port: string): Shape;
  /** Whether an input port's value carries the batch dimension. */
  batched(port: string): boolean;
}

/** Writes a project node's ONNX nodes and initializers; returns the tensor that holds its value. */
type Emitter = (g: GraphWriter, n: At) => string;

const elementwise =
  (onnx: string): Emitter =>
  (g, n) =>
    g.emit(onnx, n.id, opSpec(n.op)!.inputs.map((p) => n.x(p)), n.id);

const withAxis =
  (onnx: string, port: string): Emitter =>
  (g, n) =>
    g.emit(onnx, n.id, opSpec(n.op)!.inputs.map((p) => n.x(p)), n.id, { axis: { int: normAxis(n.a.axis as number, n.shapeOf(port).length) } });

const reshapeTo = (g: GraphWriter, n: At, shape: readonly (number | null)[]): string =>
  // 0 copies the input's dimension: the batch, whatever its size.
  g.emit('Reshape', n.id, [n.x('x'), g.int64s(`${n.id}/shape`, shape.map((d) => d ?? 0))], n.id);

/** Sum, mean or max over the op's axes (default: all but the batch dimension). */
const reduce: Emitter = (g, n) => {
  const r = n.shapeOf('x').length;
  const axes = n.a.axes !== undefined ? normAxes(n.a.axes as number[], r) : [...Array(r).keys()].filter((i) => !(i === 0 && n.batched('x')));
  // An empty list would mean "every axis" to ONNX; reducing over no axis leaves the tensor as it is.
  if (!axes.length) return g.emit('Identity', n.id, [n.x('x')], n.id);
  const keepdims = { int: n.a.keepdims ? 1 : 0 };
  if (n.op === 'sum') return g.emit('ReduceSum', n.id, [n.x('x'), g.int64s(`${n.id}/axes`, axes)], n.id, { keepdims });
  return g.emit(n.op === 'mean' ? 'ReduceMean' : 'ReduceMax', n.id, [n.x('x')], n.id, { axes: { ints: axes }, keepdims });
};

/** Gemm for a batch of vectors; otherwise MatMul with the transposed weight, and Add for the bias. */
const dense: Emitter = (g, n) => {
  const w = g.weight(`${n.id}.weight`, n.id);
  const bias = n.a.bias ? [g.weight(`${n.id}.bias`, n.id)] : [];
  return g.activate(n.id, n.a.activation, (out) => {
    if (n.shapeOf('x').length === 2 && n.batched('x')) return g.emit('Gemm', n.id, [n.x('x'), w, ...bias], out, { transB: { int: 1 } });
    const wt = g.emit('Transpose', `${n.id}/transpose`, [w], `${n.id}/weight_t`, { perm: { ints: [1, 0] } });
    if (!bias.length) return g.emit('MatMul', n.id, [n.x('x'), wt], out);
    return g.emit('Add', `${n.id}/bias`, [g.emit('MatMul', n.id, [n.x('x'), wt], `${n.id}/matmul`), bias[0]], out);
  });
};

const conv: Emitter = (g, n) => {
  const [kh, kw] = pair(n.a.kernel);
  const [sh, sw] = pair(n.a.stride);
  // The catalogue allows "same" only with an odd kernel and stride 1 (checked when the graph was expanded).
  const [ph, pw] = n.a.padding === 'same' ? [(kh - 1) / 2, (kw - 1) / 2] : pair(n.a.padding);
  const ins = [n.x('x'), g.weight(`${n.id}.weight`, n.id), ...(n.a.bias ? [g.weight(`${n.id}.bias`, n.id)] : [])];
  const attrs = { kernel_shape: { ints: [kh, kw] }, strides: { ints: [sh, sw] }, pads: { ints: [ph, pw, ph, pw] }, dilations: { ints: [1, 1] }, group: { int: 1 } };
  return g.activate(n.id, n.a.activation, (out) => g.emit('Conv', n.id, ins, out, attrs));
};

const pool =
  (onnx: string): Emitter =>
  (g, n) => {
    const [kh, kw] = pair(n.a.kernel);
    const [sh, sw] = pair(n.a.stride ?? n.a.kernel);
    return g.emit(onnx, n.id, [n.x('x')], n.id, { kernel_shape: { ints: [kh, kw] }, strides: { ints: [sh, sw] }, pads: { ints: [0, 0, 0, 0] } });
  };

/** Every catalogue op with an ONNX equivalent, by name: labels and losses (training's, not the prediction's) have none. */
const EMITTERS: Readonly<Record<string, Emitter>> = {
  ...Object.fromEntries(Object.entries(ELEMENTWISE).map(([op, onnx]) => [op, elementwise(onnx)])),
  input: (g, n) => g.input(n.id, n.a.shape as number[]),
  parameter: (g, n) => g.weight(n.id, n.id),
  constant: (g, n) => {
    const { values, shape } = tensorValue(n.a.value);
    return g.float(n.id, shape, values);
  },
  leaky_relu: (g, n) => g.emit('LeakyRelu', n.id, [n.x('x')], n.id, { alpha: { float: n.a.alpha as number } }),
  square: (g, n) => g.emit('Mul', n.id, [n.x('x'), n.x('x')], n.id),
  pow: (g, n) => g.emit('Pow', n.id, [n.x('x'), g.float(`${n.id}/exponent`, [], Float32Array.of(n.a.exponent as number))], n.id),
  softmax: withAxis('Softmax', 'x'),
  log_softmax: withAxis('LogSoftmax', 'x'),
  concat: withAxis('Concat', 'a'),
  transpose: (g, n) => {
    const perm = (n.a.perm as number[] | undefined) ?? lastTwoSwapped(n.shapeOf('x').length);
    return g.emit('Transpose', n.id, [n.x('x')], n.id, { perm: { ints: perm } });
  },
  reshape: (g, n) => reshapeTo(g, n, n.shape),
  flatten: (g, n) => (n.batched('x') ? g.emit('Flatten', n.id, [n.x('x')], n.id, { axis: { int: 1 } }) : reshapeTo(g, n, n.shape)),
  sum: reduce,
  mean: reduce,
  reduce_max: reduce,
  dense,
  conv2d: conv,
  maxpool2d: pool('MaxPool'),
  avgpool2d: pool('AveragePool'),
  batchnorm: (g, n) => {
    const ins = [n.x('x'), ...['weight', 'bias', 'running_mean', 'running_var'].map((t) => g.weight(`${n.id}.${t}`, n.id))];
    return g.emit('BatchNormalization', n.id, ins, n.id, { epsilon: { float: n.a.eps as number } });
  },
};

/** Whether an op of the catalogue can be part of an exported prediction. */
export function hasOnnxEquivalent(op: string): boolean {
  return Object.hasOwn(EMITTERS, op);
}

/** Builds the ONNX graph node by node; each project node's value is the tensor named by its id. */
class GraphWriter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly inputs: OnnxValueInfo[] = [];
  /** Project node id -> the ONNX tensor holding its value (the id itself, but for standardised inputs). */
  private readonly tensorOf = new Map<string, string>();

  constructor(
    private readonly e: Expansion,
    private readonly weights: Readonly<Record<string, Tensor>>,
    /** Whether the inputs are standardised (with the weights' statistics, where they carry them). */
    private readonly standardized: boolean,
  ) {}

  /** Writes the ONNX nodes of a project node (whose inputs are written already). */
  add(n: GraphNode): void {
    const port = (p: string) => n.inputs![p];
    const at: At = {
      id: n.id,
      op: n.op,
      a: this.e.attrs.get(n.id)!,
      shape: this.e.outputs.get(n.id)!.shape,
      x: (p) => this.tensorOf.get(port(p))!,
      shapeOf: (p) => this.e.outputs.get(port(p))!.shape,
      batched: (p) => this.e.batched.get(port(p))!,
    };
    this.tensorOf.set(n.id, EMITTERS[n.op](this, at));
  }

  emit(opType: string, name: string, inputs: string[], output: string, attrs?: Record<string, OnnxAttr>): string {
    this.nodes.push({ opType, name, inputs, outputs: [output], ...(attrs ? { attrs } : {}) });
    return output;
  }

  float(name: string, dims: readonly number[], data: Float32Array): string {
    this.initializers.push({ name, dims, data });
    return name;
  }

  int64s(name: string, values: readonly number[]): string {
    this.initializers.push({ name, dims: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) });
    return name;
  }

  /** A tensor of the weights, checked against the shape the graph gives it. */
  weight(name: string, node: string): string {
    const t = this.weights[name];
    const p = this.e.params.find((q) => q.name === name)!;
    if (!t) throw new StudioError(`the weights lack tensor ${name}`, { node });
    if (t.shape.join() !== p.shape.join()) {
      throw new StudioError(`tensor ${name} has shape [${t.shape.join(', ')}] in the weights, the graph needs [${p.shape.join(', ')}]`, { node });
    }
    return this.float(name, t.shape, t.data);
  }

  /** A graph input, standardised where the data is and the weights carry its statistics. */
  input(id: string, shape: number[]): string {
    this.inputs.push({ name: id, shape: [BATCH_DIM, ...shape] });
    const mean = this.weights[`data.${id}.mean`];
    const std = this.weights[`data.${id}.std`];
    if (!this.standardized || !mean || !std) return id;
    const centred = this.emit('Sub', `${id}/centre`, [id, this.float(`data.${id}.mean`, mean.shape, mean.data)], `${id}/centred`);
    return this.emit('Div', `${id}/scale`, [centred, this.float(`data.${id}.std`, std.shape, std.data)], `${id}/standardized`);
  }

  /**
   * For a standardised label whose statistics the weights carry: the prediction's value is renamed `ID/standardized`
   * and the tensor named by the prediction (the graph's output) becomes it times the label's std plus its mean.
   */
  unstandardize(prediction: string, label: string): void {
    const mean = this.weights[`data.${label}.mean`];
    const std = this.weights[`data.${label}.std`];
    if (!mean || !std) return;
    const inner = `${prediction}/standardized`;
    const rename = (names: readonly string[]) => names.map((t) => (t === prediction ? inner : t));
    this.nodes.forEach((n, i) => (this.nodes[i] = { ...n, inputs: rename(n.inputs), outputs: rename(n.outputs) }));
    const scaled = this.emit('Mul', `${prediction}/scale`, [inner, this.float(`data.${label}.std`, std.shape, std.data)], `${prediction}/scaled`);
    this.emit('Add', `${prediction}/uncentre`, [scaled, this.float(`data.${label}.mean`, mean.shape, mean.data)], prediction);
  }

  /** A layer's activation after `linear` (which writes `ID/linear`), or `linear` writing `ID` when there is none. */
  activate(id: string, activation: unknown, linear: (out: string) => string): string {
    const act = ACTIVATIONS[activation as string];
    if (!act) return linear(id);
    return this.emit(act.op, `${id}/activation`, [linear(`${id}/linear`)], id, act.attrs);
  }
}
