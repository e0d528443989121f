/**
 * The part of ONNX's ModelProto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) that an exported
 * prediction graph needs, as plain data, and its encoding. Field numbers are onnx.proto's.
 */
import { ProtoWriter } from './protobuf';

/** TensorProto.DataType values used here. */
export const FLOAT = 1;
export const INT64 = 7;

export interface OnnxTensor {
  name: string;
  dims: readonly number[];
  /** float32 (FLOAT) or int64 (INT64) values, stored as raw little-endian bytes. */
  data: Float32Array | BigInt64Array;
}

/** An attribute of a node: a float, an int, or a list of ints. */
export type OnnxAttr = { float: number } | { int: number } | { ints: readonly number[] };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Readonly<Record<string, OnnxAttr>>;
}

/** A float32 tensor's name and shape: a number, or a name for a symbolic dimension (the batch). */
export interface OnnxValueInfo {
  name: string;
  shape: readonly (number | string)[];
}

export interface OnnxModel {
  irVersion: number;
  opset: number;
  producerName: string;
  producerVersion: string;
  graphName: string;
  docString?: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  /** ModelProto.metadata_props. */
  metadata?: Readonly<Record<string, string>>;
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function tensorProto(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.data instanceof Float32Array ? FLOAT : INT64);
  w.string(8, t.name);
  const raw = new Uint8Array(t.data.byteLength);
  const view = new DataView(raw.buffer);
  if (t.data instanceof Float32Array) t.data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  else t.data.forEach((v, i) => view.setBigInt64(8 * i, v, true));
  return w.bytes(9, raw);
}

function attributeProto(name: string, a: OnnxAttr): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if ('float' in a) return w.float(2, a.float).int(20, ATTR_FLOAT);
  if ('int' in a) return w.int(3, a.int).int(20, ATTR_INT);
  for (const v of a.ints) w.int(8, v);
  return w.int(20, ATTR_INTS);
}

function nodeProto(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const [k, a] of Object.entries(n.attrs ?? {})) w.message(5, attributeProto(k, a));
  return w;
}

function valueInfoProto(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function graphProto(m: OnnxModel): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of m.nodes) w.message(1, nodeProto(n));
  w.string(2, m.graphName);
  for (const t of m.initializers) w.message(5, tensorProto(t));
  for (const i of m.inputs) w.message(11, valueInfoProto(i));
  for (const o of m.outputs) w.message(12, valueInfoProto(o));
  return w;
}

/** The serialized ModelProto (the bytes of a .onnx file). */
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter().int(1, m.irVersion).string(2, m.producerName).string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, graphProto(m));
  w.message(8, new ProtoWriter().string(1, '').int(2, m.opset));
  for (const [k, v] of Object.entries(m.metadata ?? {})) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w.finish();
}
