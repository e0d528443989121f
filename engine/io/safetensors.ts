/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 N, an N-byte JSON
 * header `{NAME: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}` (padded with spaces
 * to a multiple of 8), then the tensor data, offsets counted from the end of the header. Pure TypeScript, so the
 * browser can use it too.
 */
import { StudioError } from '../util/errors';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface Safetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** project-format.md, "Parameters and weights files". */
export function weightsMetadata(projectName: string): Record<'format' | 'version' | 'name', string> {
  return { format: 'backprop-studio/weights', version: '1', name: projectName };
}

/** F32 little-endian, tensors sorted by name and stored back to back; no `__metadata__` key when it is empty. */
export function writeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors[name];
    if (name === '__metadata__') throw new StudioError('a tensor cannot be named __metadata__');
    if (shapeSize(shape) !== data.length) {
      throw new StudioError(`tensor "${name}" has ${data.length} values for shape [${shape.join(', ')}]`);
    }
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * data.length] };
    offset += 4 * data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const name of names) {
    for (const v of tensors[name].data) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  return out;
}

/** Bytes per element and a little-endian reader, for the dtypes read (all converted to float32). */
const DTYPES: Record<string, { size: number; read: (v: DataView, at: number) => number }> = {
  F32: { size: 4, read: (v, at) => v.getFloat32(at, true) },
  F64: { size: 8, read: (v, at) => v.getFloat64(at, true) },
  F16: { size: 2, read: (v, at) => halfToNumber(v.getUint16(at, true)) },
  BF16: { size: 2, read: (v, at) => bfloat16ToNumber(v.getUint16(at, true)) },
  I32: { size: 4, read: (v, at) => v.getInt32(at, true) },
  I64: { size: 8, read: (v, at) => Number(v.getBigInt64(at, true)) },
};

/**
 * Reads a safetensors file. F32 tensors come back as they are; F64, F16, BF16, I32 and I64 are converted to float32
 * (rounding to nearest; I64 beyond 2^53 loses precision); any other dtype is an error. Every problem with the file
 * is a StudioError naming `fileName` and, where it is one tensor's, the tensor.
 */
export function readSafetensors(bytes: Uint8Array, fileName?: string): Safetensors {
  function fail(message: string, tensor?: string): never {
    throw new StudioError(tensor === undefined ? message : `tensor "${tensor}": ${message}`, { file: fileName });
  }
  if (bytes.length < 8) fail(`the file has ${bytes.length} bytes, too few for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail(`the header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    fail(`the header is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(header)) fail('the header is not a JSON object');

  const metadata: Record<string, string> = {};
  if (header.__metadata__ !== undefined) {
    const raw = header.__metadata__;
    if (!isObject(raw)) fail('__metadata__ is not an object');
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value !== 'string') fail(`__metadata__ "${key}" is not a string`);
      metadata[key] = value;
    }
  }

  const dataLength = bytes.length - dataStart;
  const entries: { name: string; shape: number[]; begin: number; end: number; dtype: string }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!isObject(info)) fail('the entry is not an object', name);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') fail('dtype is not a string', name);
    if (!Object.hasOwn(DTYPES, dtype)) fail(`unsupported dtype ${dtype} (supported: ${Object.keys(DTYPES).join(', ')})`, name);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail('shape is not an array of whole numbers >= 0', name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail('data_offsets is not a pair of whole numbers >= 0', name);
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > dataLength) {
      fail(`data_offsets [${begin}, ${end}] are outside the ${dataLength} bytes of data`, name);
    }
    const expected = shapeSize(shape) * DTYPES[dtype].size;
    if (end - begin !== expected) {
      fail(`${end - begin} bytes of data, but ${dtype} [${shape.join(', ')}] needs ${expected}`, name);
    }
    entries.push({ name, shape, begin, end, dtype });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].begin < entries[i - 1].end) fail(`its data overlaps tensor "${entries[i - 1].name}"`, entries[i].name);
  }

  const tensors: Record<string, Tensor> = {};
  for (const { name, shape, begin, dtype } of entries) {
    const { size, read } = DTYPES[dtype];
    const data = new Float32Array(shapeSize(shape));
    for (let i = 0; i < data.length; i++) data[i] = read(view, dataStart + begin + i * size);
    tensors[name] = { shape, data };
  }
  return { tensors, metadata };
}

function shapeSize(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** IEEE 754 half precision. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** bfloat16: the top 16 bits of a float32. */
function bfloat16ToNumber(b: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, b << 16);
  return view.getFloat32(0);
}
