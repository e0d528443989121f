import { describe, expect, test } from 'vitest';
import { readSafetensors, weightsMetadata, writeSafetensors } from '../../engine/io/safetensors';
import type { Where } from '../../engine/util/errors';

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

/** A safetensors file from a header (object or raw text) and data bytes; `length` overrides the header length. */
function file(header: unknown, data: ArrayLike<number> = [], length?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

describe('writeSafetensors', () => {
  const tensors = {
    'h1.weight': { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
    'h1.bias': { shape: [2], data: Float32Array.of(-1, 0.5) },
    scale: { shape: [], data: Float32Array.of(3.25) },
    empty: { shape: [0, 4], data: new Float32Array(0) },
  };

  test('layout: u64 header length, space-padded JSON header, F32 little-endian data sorted by name', () => {
    const bytes = writeSafetensors(tensors, { format: 'x' });
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text).toMatch(/^\{.*\} *$/);
    const header = JSON.parse(text);
    expect(header).toEqual({
      __metadata__: { format: 'x' },
      empty: { dtype: 'F32', shape: [0, 4], data_offsets: [0, 0] },
      'h1.bias': { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      'h1.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [8, 32] },
      scale: { dtype: 'F32', shape: [], data_offsets: [32, 36] },
    });
    expect(Object.keys(header).slice(1)).toEqual(['empty', 'h1.bias', 'h1.weight', 'scale']);
    expect(bytes.length).toBe(8 + n + 36);
    expect(view.getFloat32(8 + n, true)).toBe(-1);
    expect(view.getFloat32(8 + n + 32, true)).toBe(3.25);
  });

  test.each([
    ['with metadata', weightsMetadata('Spiral, two hidden layers')],
    ['with empty metadata', {}],
  ])('round trip %s (including a 0-d scalar and an empty tensor)', (_, metadata) => {
    expect(readSafetensors(writeSafetensors(tensors, metadata))).toEqual({ tensors, metadata });
  });

  test('empty metadata writes no __metadata__ key; no tensors is a valid file', () => {
    const bytes = writeSafetensors({}, {});
    expect(new TextDecoder().decode(bytes.subarray(8)).trim()).toBe('{}');
    expect(readSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  test('a shape that does not match the data is refused', () => {
    expect(() => writeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }, {})).toThrow(studioError({}, /"w" has 3 values for shape \[2, 2\]/));
  });
});

test('weightsMetadata follows project-format.md', () => {
  expect(weightsMetadata('My net')).toEqual({ format: 'backprop-studio/weights', version: '1', name: 'My net' });
});

describe('readSafetensors', () => {
  test('reads other dtypes as float32', () => {
    const data = new Uint8Array(8 + 2 + 2 + 4 + 8);
    const v = new DataView(data.buffer);
    v.setFloat64(0, 1.25, true);
    v.setUint16(8, 0x3c00, true); // F16 1.0
    v.setUint16(10, 0xc049, true); // BF16 -3.140625
    v.setInt32(12, -7, true);
    v.setBigInt64(16, 123456789n, true);
    const bytes = file(
      {
        a: { dtype: 'F64', shape: [], data_offsets: [0, 8] },
        b: { dtype: 'F16', shape: [1], data_offsets: [8, 10] },
        c: { dtype: 'BF16', shape: [1], data_offsets: [10, 12] },
        d: { dtype: 'I32', shape: [1], data_offsets: [12, 16] },
        e: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      },
      data,
    );
    const t = readSafetensors(bytes).tensors;
    expect([t.a, t.b, t.c, t.d, t.e].map((x) => x.data[0])).toEqual([1.25, 1, -3.140625, -7, 123456792]);
  });

  test('F16 subnormals, infinities and NaN', () => {
    const data = Uint8Array.of(0x01, 0x00, 0x00, 0xfc, 0x01, 0x7e);
    const t = readSafetensors(file({ h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] } }, data)).tensors.h.data;
    expect(t[0]).toBe(Math.fround(2 ** -24));
    expect(t[1]).toBe(-Infinity);
    expect(t[2]).toBeNaN();
  });

  test('unaligned data in a view into a larger buffer', () => {
    const inner = file({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(new Float32Array([2.5]).buffer));
    const outer = new Uint8Array(inner.length + 1);
    outer.set(inner, 1);
    expect(readSafetensors(outer.subarray(1)).tensors.w.data[0]).toBe(2.5);
  });

  const w = (extra: Record<string, unknown>) => ({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...extra } });
  test.each([
    ['shorter than 8 bytes', Uint8Array.of(1, 0, 0), /3 bytes, too few/],
    ['header length past the end', file({}, [], 100), /header length 100 runs past the end of the file \(10 bytes\)/],
    ['huge header length', file({}, [], 2 ** 60), /runs past the end/],
    ['header not JSON', file('{"w": '), /not JSON/],
    ['header not UTF-8', file('\uFFFF').map((b, i) => (i === 8 ? 0xff : b)), /not JSON/],
    ['header an array', file([]), /not a JSON object/],
    ['metadata not an object', file({ __metadata__: 'x' }), /__metadata__ is not an object/],
    ['metadata value not a string', file({ __metadata__: { version: 1 } }), /__metadata__ "version" is not a string/],
    ['entry not an object', file({ w: 5 }), /tensor "w": the entry is not an object/],
    ['dtype missing', file(w({ dtype: undefined }), new Uint8Array(8)), /tensor "w": dtype is not a string/],
    ['unknown dtype', file(w({ dtype: 'F8_E4M3' }), new Uint8Array(8)), /tensor "w": unsupported dtype F8_E4M3/],
    ['shape not an array', file(w({ shape: '2' }), new Uint8Array(8)), /tensor "w": shape is not an array/],
    ['negative dim', file(w({ shape: [-2] }), new Uint8Array(8)), /tensor "w": shape/],
    ['offsets not a pair', file(w({ data_offsets: [0] }), new Uint8Array(8)), /tensor "w": data_offsets is not a pair/],
    ['offsets not numbers', file(w({ data_offsets: ['0', '8'] }), new Uint8Array(8)), /tensor "w": data_offsets is not a pair/],
    ['offsets past the data', file(w({}), new Uint8Array(4)), /tensor "w": data_offsets \[0, 8\] are outside the 4 bytes of data/],
    ['offsets reversed', file(w({ data_offsets: [8, 0] }), new Uint8Array(8)), /tensor "w": data_offsets \[8, 0\]/],
    ['byte length mismatch', file(w({ shape: [3] }), new Uint8Array(8)), /tensor "w": 8 bytes of data, but F32 \[3\] needs 12/],
    [
      'overlapping offsets',
      file({ ...w({}), v: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /tensor "v": its data overlaps tensor "w"/,
    ],
  ])('%s', (_, bytes, message) => {
    expect(() => readSafetensors(bytes, 'w.safetensors')).toThrow(studioError({ file: 'w.safetensors' }, message));
  });
});
