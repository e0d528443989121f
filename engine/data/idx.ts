/**
 * IDX files (the MNIST format): bytes 0-1 zero, byte 2 the element type, byte 3 the number of dimensions, then each
 * dimension as a big-endian uint32, then the elements, big-endian, row-major. Values are kept as stored (MNIST
 * pixels 0..255); `standardize` in the data section rescales them.
 */
import { StudioError } from '../util/errors';
import type { Dataset } from './types';

export interface IdxArray {
  dims: number[];
  data: Float32Array;
}

/** Element types by their type byte: size in bytes and a big-endian reader. */
const TYPES: Record<number, { name: string; size: number; read: (v: DataView, at: number) => number }> = {
  0x08: { name: 'unsigned byte', size: 1, read: (v, at) => v.getUint8(at) },
  0x09: { name: 'signed byte', size: 1, read: (v, at) => v.getInt8(at) },
  0x0b: { name: 'short', size: 2, read: (v, at) => v.getInt16(at) },
  0x0c: { name: 'int', size: 4, read: (v, at) => v.getInt32(at) },
  0x0d: { name: 'float', size: 4, read: (v, at) => v.getFloat32(at) },
  0x0e: { name: 'double', size: 8, read: (v, at) => v.getFloat64(at) },
};

export function readIdx(bytes: Uint8Array, fileName: string): IdxArray {
  function fail(message: string): never {
    throw new StudioError(message, { file: fileName });
  }
  if (bytes.length < 4) fail(`not an IDX file: it has ${bytes.length} bytes, too few for the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail('not an IDX file: the magic number does not start with two zero bytes');
  const type = Object.hasOwn(TYPES, bytes[2]) ? TYPES[bytes[2]] : undefined;
  if (!type) fail(`not an IDX file: unknown element type 0x${bytes[2].toString(16).padStart(2, '0')}`);
  const rank = bytes[3];
  if (rank === 0) fail('the file declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) fail(`the file is truncated inside its header (${rank} dimensions need ${headerBytes} bytes, it has ${bytes.length})`);
  const dims = Array.from({ length: rank }, (_, d) => view.getUint32(4 + 4 * d));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.size;
  if (bytes.length !== expected) {
    const problem = bytes.length < expected ? 'is truncated' : 'has extra bytes at the end';
    fail(`the file ${problem}: dimensions [${dims.join(', ')}] of ${type.name}s need ${expected} bytes, it has ${bytes.length}`);
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = type.read(view, headerBytes + i * type.size);
  return { dims, data };
}

/**
 * An IDX images file (first dimension: the examples) and optionally a 1-D labels file of class indices 0..K-1, K
 * being the largest label + 1. Features are named `pixel_R_C` for [n, rows, cols] images, `pixel_I` otherwise.
 */
export function idxDataset(images: Uint8Array, labels: Uint8Array | undefined, names: { images: string; labels?: string }): Dataset {
  const img = readIdx(images, names.images);
  const [n, ...shape] = img.dims;
  if (n === 0) throw new StudioError('the file holds no images', { file: names.images });
  const width = shape.reduce((a, b) => a * b, 1);
  const featureNames =
    shape.length === 2
      ? Array.from({ length: width }, (_, i) => `pixel_${Math.floor(i / shape[1])}_${i % shape[1]}`)
      : Array.from({ length: width }, (_, i) => `pixel_${i}`);
  const dataset: Dataset = { name: names.images, rows: n, featureNames, features: img.data };
  // [n, H, W] grayscale images, or [n, C, H, W] with 1 or 3 channels: the preview shows them as images.
  if (shape.length === 2) dataset.imageShape = [1, shape[0], shape[1]];
  else if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3)) dataset.imageShape = [shape[0], shape[1], shape[2]];
  if (!labels) return dataset;

  const file = names.labels ?? 'labels';
  const lab = readIdx(labels, file);
  if (lab.dims.length !== 1) throw new StudioError(`a labels file must be 1-D, this one is [${lab.dims.join(', ')}]`, { file });
  if (lab.dims[0] !== n) throw new StudioError(`the file has ${lab.dims[0]} labels for ${n} images in ${names.images}`, { file });
  let max = 0;
  lab.data.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0) throw new StudioError(`label ${v} is not a class index (a whole number >= 0)`, { file, row: i + 1 });
    max = Math.max(max, v);
  });
  const classes = Array.from({ length: max + 1 }, (_, k) => String(k));
  return { ...dataset, label: { name: 'label', kind: 'class', values: lab.data, classes } };
}
