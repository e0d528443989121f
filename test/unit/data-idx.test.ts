import { describe, expect, test } from 'vitest';
import { idxDataset, readIdx } from '../../engine/data/idx';
import type { Where } from '../../engine/util/errors';

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

/** An IDX file: type byte, dims, and values written big-endian with the type's setter. */
function idx(type: number, dims: number[], values: number[]): Uint8Array {
  const sizes: Record<number, [number, (v: DataView, at: number, x: number) => void]> = {
    0x08: [1, (v, at, x) => v.setUint8(at, x)],
    0x09: [1, (v, at, x) => v.setInt8(at, x)],
    0x0b: [2, (v, at, x) => v.setInt16(at, x)],
    0x0c: [4, (v, at, x) => v.setInt32(at, x)],
    0x0d: [4, (v, at, x) => v.setFloat32(at, x)],
    0x0e: [8, (v, at, x) => v.setFloat64(at, x)],
  };
  const [size, set] = sizes[type];
  const header = 4 + 4 * dims.length;
  const bytes = new Uint8Array(header + size * values.length);
  const view = new DataView(bytes.buffer);
  bytes.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  values.forEach((x, i) => set(view, header + i * size, x));
  return bytes;
}

describe('readIdx', () => {
  test.each([
    [0x08, [0, 255, 7]],
    [0x09, [-128, 127, 0]],
    [0x0b, [-300, 30000, 1]],
    [0x0c, [-70000, 2 ** 30, 5]],
    [0x0d, [1.5, -0.25, 1e-3]],
    [0x0e, [1.5, -2.75, 1e10]],
  ])('element type %i round trip', (type, values) => {
    expect(readIdx(idx(type, [3], values), 'f')).toEqual({ dims: [3], data: Float32Array.from(values) });
  });

  test('dims are big-endian uint32s, data row-major', () => {
    const a = readIdx(idx(0x08, [2, 3, 260], Array.from({ length: 1560 }, (_, i) => i % 256)), 'f');
    expect(a.dims).toEqual([2, 3, 260]);
    expect(a.data[261]).toBe(5);
  });

  const good = idx(0x08, [2, 2], [1, 2, 3, 4]);
  test.each([
    ['empty', new Uint8Array(0), /0 bytes/],
    ['3 bytes', good.subarray(0, 3), /too few/],
    ['bad magic', Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 0), /two zero bytes/],
    ['unknown type', Uint8Array.of(0, 0, 0x0a, 1, 0, 0, 0, 0), /unknown element type 0x0a/],
    ['zero dimensions', Uint8Array.of(0, 0, 8, 0), /0 dimensions/],
    ['truncated header', good.subarray(0, 10), /truncated inside its header/],
    ['truncated data', good.subarray(0, good.length - 1), /is truncated: dimensions \[2, 2\] of unsigned bytes need 16 bytes, it has 15/],
    ['extra bytes', Uint8Array.of(...good, 0), /extra bytes/],
    ['huge dims', idx(0x0d, [0xffffffff, 0xffffffff], []), /truncated/],
  ])('%s', (_, bytes, message) => {
    expect(() => readIdx(bytes, 'x.idx')).toThrow(studioError({ file: 'x.idx' }, message));
  });

  test('a view into a larger buffer reads from its own offset', () => {
    const padded = new Uint8Array(good.length + 3);
    padded.set(good, 3);
    expect(readIdx(padded.subarray(3), 'f').data).toEqual(Float32Array.of(1, 2, 3, 4));
  });
});

describe('idxDataset', () => {
  const images = idx(0x08, [3, 2, 2], [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
  const labels = idx(0x08, [3], [2, 0, 2]);
  const names = { images: 'img', labels: 'lab' };

  test('images [n, r, c] -> pixel_R_C features; labels -> classes 0..max', () => {
    const d = idxDataset(images, labels, names);
    expect(d).toEqual({
      name: 'img',
      rows: 3,
      featureNames: ['pixel_0_0', 'pixel_0_1', 'pixel_1_0', 'pixel_1_1'],
      features: Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]),
      label: { name: 'label', kind: 'class', values: Float32Array.of(2, 0, 2), classes: ['0', '1', '2'] },
      imageShape: [1, 2, 2],
    });
  });

  test('other ranks -> pixel_I; no labels file -> no label', () => {
    const d = idxDataset(idx(0x0d, [2, 3], [1, 2, 3, 4, 5, 6]), undefined, { images: 'v' });
    expect(d.featureNames).toEqual(['pixel_0', 'pixel_1', 'pixel_2']);
    expect(d.label).toBeUndefined();
    expect(idxDataset(idx(0x08, [1, 2, 1, 2], [1, 2, 3, 4]), undefined, { images: 'v' }).featureNames).toHaveLength(4);
  });

  test.each([
    ['label count', images, idx(0x08, [2], [0, 1]), /2 labels for 3 images in img/, { file: 'lab' }],
    ['2-D labels', images, idx(0x08, [3, 1], [0, 1, 2]), /must be 1-D/, { file: 'lab' }],
    ['negative label', images, idx(0x09, [3], [0, -1, 2]), /-1 is not a class index/, { file: 'lab', row: 2 }],
    ['fractional label', images, idx(0x0d, [3], [0, 1, 2.5]), /2.5 is not a class index/, { file: 'lab', row: 3 }],
    ['no images', idx(0x08, [0, 2, 2], []), idx(0x08, [0], []), /no images/, { file: 'img' }],
    ['corrupt labels file', images, labels.subarray(0, 9), /truncated/, { file: 'lab' }],
  ])('%s', (_, imgs, labs, message, where) => {
    expect(() => idxDataset(imgs, labs, names)).toThrow(studioError(where, message));
  });
});
