/**
 * Image folders (engine/data/images.ts) and what they are made of: PNG and JPEG decoding, resizing (area averaging
 * down, bilinear up), grayscale and RGB planes; errors that name the file or folder. Images are made in the test
 * with pngjs and jpeg-js, so the expected pixels are known.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeImage } from '../../engine/data/image-decode';
import { axisTaps, resizePlanes } from '../../engine/data/image-resize';
import { checkFits, imagesDataset, imagesDatasetAsync, pixelNames, toPlanes } from '../../engine/data/images';
import { loadDataset } from '../../engine/data/load';
import type { DataSpec } from '../../engine/data/types';
import type { Where } from '../../engine/util/errors';
import { connect } from './host-harness';

const FIXTURES = join(__dirname, '..', 'fixtures', 'images');

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

/** RGBA bytes of a width x height image whose pixels are given as [r, g, b] in row-major order. */
function rgba(pixels: [number, number, number][]): Buffer {
  const b = Buffer.alloc(pixels.length * 4);
  pixels.forEach(([r, g, bl], i) => b.set([r, g, bl, 255], 4 * i));
  return b;
}

function png(width: number, height: number, pixels: [number, number, number][], colorType: 0 | 2 | 6 = 6): Buffer {
  const img = new PNG({ width, height });
  rgba(pixels).copy(img.data);
  return PNG.sync.write(img, { colorType });
}

function jpeg(width: number, height: number, pixels: [number, number, number][]): Buffer {
  return encodeJpeg({ width, height, data: rgba(pixels) }, 100).data;
}

const fill = (n: number, p: [number, number, number]) => Array.from({ length: n }, () => p);
const close = (a: ArrayLike<number>, b: number[], tol: number) => {
  expect(a.length).toBe(b.length);
  Array.from(a).forEach((v, i) => expect(Math.abs(v - b[i]), `value ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol));
};

describe('decodeImage', () => {
  test('a PNG (RGBA, RGB and grayscale) gives its pixels as RGBA bytes', () => {
    const pixels: [number, number, number][] = [
      [200, 100, 50],
      [0, 255, 7],
    ];
    expect(decodeImage(png(2, 1, pixels), 'a.png')).toEqual({ width: 2, height: 1, data: new Uint8Array(rgba(pixels)) });
    expect(decodeImage(png(2, 1, pixels, 2), 'a.png').data).toEqual(new Uint8Array(rgba(pixels)));
    expect(Array.from(decodeImage(png(1, 1, [[90, 90, 90]], 0), 'g.png').data)).toEqual([90, 90, 90, 255]);
  });

  test('a 16-bit PNG is scaled to 8 bits (25700 = 100 x 257 -> 100)', () => {
    const img = new PNG({ width: 2, height: 1, bitDepth: 16, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    img.data = Buffer.from(new Uint16Array([25700, 65535]).buffer);
    const bytes = PNG.sync.write(img, { bitDepth: 16, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    expect(Array.from(decodeImage(bytes, 'deep.png').data)).toEqual([100, 100, 100, 255, 255, 255, 255, 255]);
  });

  test('a JPEG (quality 100) gives its pixels within 2 levels', () => {
    const d = decodeImage(jpeg(8, 8, fill(64, [200, 100, 50])), 'a.jpg');
    expect([d.width, d.height]).toEqual([8, 8]);
    close(d.data.subarray(0, 4), [200, 100, 50, 255], 2);
  });

  test.each([
    ['CMYK', 'cmyk.jpg', [255, 0, 0]],
    ['progressive', 'progressive.jpg', [10, 200, 30]],
    ['one-component grayscale', 'gray.jpg', [77, 77, 77]],
  ])('a %s JPEG (made with Pillow: test/fixtures/images/make_images.py) decodes to its colour', (_kind, file, rgb) => {
    const d = decodeImage(readFileSync(join(FIXTURES, file)), file);
    expect([d.width, d.height]).toEqual([8, 8]);
    close(d.data.subarray(0, 4), [...rgb, 255], 2);
  });

  const good = png(2, 2, fill(4, [1, 2, 3]));
  const goodJpeg = jpeg(8, 8, fill(64, [1, 2, 3]));
  const flipped = Buffer.from(good);
  flipped[flipped.length - 20] ^= 0xff;
  test.each([
    ['text', Buffer.from('hello, world'), /not a PNG or JPEG image/],
    ['empty', Buffer.alloc(0), /not a PNG or JPEG image/],
    ['a PNG cut short', good.subarray(0, good.length - 20), /cannot decode this PNG file: it is damaged/],
    ['a PNG with a damaged chunk', flipped, /cannot decode this PNG file/],
    ['a JPEG cut short', goodJpeg.subarray(0, 40), /cannot decode this JPEG file/],
    ['a JPEG signature then garbage', Buffer.concat([goodJpeg.subarray(0, 3), Buffer.alloc(64, 7)]), /cannot decode this JPEG file/],
  ])('%s is an error naming the file', (_name, bytes, message) => {
    expect(() => decodeImage(bytes, 'cls/x.png')).toThrow(studioError({ file: 'cls/x.png' }, message));
  });

  test('a PNG that declares more than 40 megapixels is refused before decoding', () => {
    const huge = Buffer.from(png(1, 1, [[0, 0, 0]]));
    huge.writeUInt32BE(10_000, 16);
    huge.writeUInt32BE(5_000, 20);
    expect(() => decodeImage(huge, 'big.png')).toThrow(studioError({ file: 'big.png' }, /10000 x 5000 pixels, more than the 40 megapixels/));
  });
});

describe('resizing', () => {
  const taps = (src: number, dst: number) => axisTaps(src, dst).map((t) => Array.from(t.index, (i, k) => [i, t.weight[k]]));
  test.each([
    ['same size: identity', 3, 3, [[[0, 1]], [[1, 1]], [[2, 1]]]],
    ['halving: pairs averaged', 4, 2, [[[0, 0.5], [1, 0.5]], [[2, 0.5], [3, 0.5]]]],
    ['3 -> 2: by covered area', 3, 2, [[[0, 2 / 3], [1, 1 / 3]], [[1, 1 / 3], [2, 2 / 3]]]],
    ['2 -> 4: bilinear between centres, edges clamped', 2, 4, [[[0, 1]], [[0, 0.75], [1, 0.25]], [[0, 0.25], [1, 0.75]], [[1, 1]]]],
    ['1 -> 3: constant', 1, 3, [[[0, 1]], [[0, 1]], [[0, 1]]]],
  ])('%s', (_name, src, dst, want) => {
    const got = taps(src, dst);
    expect(got.length).toBe(want.length);
    got.forEach((t, i) => t.forEach(([idx, w], k) => expect([idx, w]).toEqual([want[i][k][0], expect.closeTo(want[i][k][1], 12)])));
  });

  test('2x2 -> 1x1 is the mean; 4x4 -> 2x2 averages blocks; two planes apart', () => {
    close(resizePlanes(Float32Array.of(0, 1, 2, 3), 1, 2, 2, 1, 1), [1.5], 1e-7);
    const big = Float32Array.from({ length: 32 }, (_, i) => i);
    // Plane 0: rows 0..3 of 0..15; block (0,0) = mean(0, 1, 4, 5) = 2.5; plane 1 adds 16.
    close(resizePlanes(big, 2, 4, 4, 2, 2), [2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5], 1e-6);
  });

  test('growing one axis and shrinking the other: bilinear across, area down', () => {
    // 2 rows x 1 column [0; 1] -> 1 row x 2 columns: the rows averaged (0.5), then constant across.
    close(resizePlanes(Float32Array.of(0, 1), 1, 2, 1, 1, 2), [0.5, 0.5], 1e-7);
    close(resizePlanes(Float32Array.of(0, 1), 1, 1, 2, 1, 4), [0, 0.25, 0.75, 1], 1e-7);
  });
});

describe('toPlanes', () => {
  const img = { width: 4, height: 1, data: new Uint8Array(rgba([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]])) };
  test('grayscale is BT.601 luma over 255', () => {
    close(toPlanes(img, 1), [0.299, 0.587, 0.114, (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255], 1e-6);
  });
  test('RGB is three planes (NCHW), alpha dropped', () => {
    const half = { width: 1, height: 1, data: Uint8Array.of(255, 51, 0, 0) };
    close(toPlanes(half, 3), [1, 0.2, 0], 1e-7);
    close(toPlanes(img, 3), [1, 0, 0, 10 / 255, 0, 1, 0, 20 / 255, 0, 0, 1, 30 / 255], 1e-7);
  });
});

describe('image folders', () => {
  const base = mkdtempSync(join(tmpdir(), 'bpstudio-images-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  /** Makes `name` under base with files { 'CLASS/FILE': bytes } (a string value: a text file; null: a folder). */
  function folder(name: string, files: Record<string, Buffer | string | null>): string {
    const dir = join(base, name);
    for (const [path, bytes] of Object.entries(files)) {
      const full = join(dir, path);
      if (bytes === null) mkdirSync(full, { recursive: true });
      else {
        mkdirSync(join(full, '..'), { recursive: true });
        writeFileSync(full, bytes);
      }
    }
    return dir;
  }
  const load = (spec: Partial<Extract<DataSpec, { kind: 'images' }>>) =>
    loadDataset({ kind: 'images', folder: 'imgs', size: [1, 1], ...spec } as DataSpec, { baseDir: join(base, 'p'), seed: 1 });

  folder('p/imgs', {
    'b/x.PNG': png(2, 2, fill(4, [255, 255, 255])),
    'a/1.png': png(2, 1, [[0, 0, 0], [255, 255, 255]]),
    'a/0.jpg': jpeg(8, 8, fill(64, [128, 128, 128])),
    'a/notes.txt': 'not an image',
    'a/.hidden.png': 'ignored: hidden',
    '.git/config': 'ignored: a hidden folder',
    'readme.md': 'files beside the class folders are ignored',
  });
  symlinkSync(join(base, 'p/imgs/b/x.PNG'), join(base, 'p/imgs/b/link.png'));

  test('classes are the sorted sub-folders; examples by class then file name; other files, hidden ones and links ignored', () => {
    const d = load({});
    expect(d.name).toBe('imgs');
    expect(d.rows).toBe(3);
    expect(d.label).toEqual({ name: 'class', kind: 'class', values: Float32Array.of(0, 0, 1), classes: ['a', 'b'] });
    // a/0.jpg (gray 128), a/1.png (black and white: mean 0.5), b/x.PNG (white).
    close(d.features, [128 / 255, 0.5, 1], 2 / 255);
    expect(d.featureNames).toEqual(['pixel_0_0']);
    expect(d.imageShape).toEqual([1, 1, 1]);
  });

  test('`classes` chooses the sub-folders and their order', () => {
    const d = load({ classes: ['b', 'a'] });
    expect(d.label?.classes).toEqual(['b', 'a']);
    expect(Array.from(d.label!.values)).toEqual([0, 1, 1]);
    expect(load({ classes: ['b'] }).rows).toBe(1);
  });

  test('RGB at another size: NCHW planes, named r_/g_/b_ROW_COL', () => {
    const dir = folder('rgb', { 'k/i.png': png(2, 1, [[255, 0, 0], [0, 0, 255]]) });
    const d = imagesDataset(dir, { folder: 'rgb', size: [1, 4], channels: 3 });
    expect(d.imageShape).toEqual([3, 1, 4]);
    expect(d.featureNames).toEqual(pixelNames(3, 1, 4));
    expect(d.featureNames.slice(0, 5)).toEqual(['r_0_0', 'r_0_1', 'r_0_2', 'r_0_3', 'g_0_0']);
    close(d.features, [1, 0.75, 0.25, 0, 0, 0, 0, 0, 0, 0.25, 0.75, 1], 1e-6);
  });

  test('the host\'s read decodes the same pixels, saying after each file how many of the bytes are read', async () => {
    const files = { 'a/0.png': png(2, 2, fill(4, [10, 20, 30])), 'a/1.jpg': jpeg(8, 8, fill(64, [200, 200, 200])), 'b/2.png': png(1, 3, fill(3, [0, 255, 0])) };
    const sizes = Object.values(files).map((b) => b.length);
    const total = sizes.reduce((a, n) => a + n, 0);
    const seen: [number, number][] = [];
    const spec = { size: [2, 2] as [number, number], channels: 3 as const };
    const got = await imagesDatasetAsync(folder('async', files), { folder: 'async', ...spec }, (bytes, t) => seen.push([bytes, t]));
    // by class, then file name: a/0.png, a/1.jpg, b/2.png
    expect(seen).toEqual([
      [sizes[0], total],
      [sizes[0] + sizes[1], total],
      [total, total],
    ]);
    const want = imagesDataset(folder('sync', files), { folder: 'sync', ...spec });
    expect(got.features).toEqual(want.features);
    expect(got.label).toEqual(want.label);
  });

  test("the host's read stops before the next file once canceled, naming the folder", async () => {
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`c/${i}.png`, png(2, 2, fill(4, [i * 40, 0, 0]))]));
    const stop = new AbortController();
    const seen: number[] = [];
    const read = imagesDatasetAsync(folder('cancel', files), { folder: 'cancel', size: [2, 2] }, (bytes) => {
      seen.push(bytes);
      if (seen.length === 2) stop.abort();
    }, stop.signal);
    await expect(read).rejects.toThrow(expect.objectContaining({ name: 'CanceledError', where: { file: 'cancel' } }));
    expect(seen).toHaveLength(2);
  });

  test('a folder whose features would pass the memory limit is an error naming data.size, before anything is decoded', () => {
    expect(() => checkFits(1000, [3, 1024, 1024])).toThrow(studioError({ path: 'data.size' }, /1000 images of 3 x 1024 x 1024 values come to 11\.7 GB, more than the 2\.0 GB/));
    expect(() => checkFits(10, [1, 16, 16], 10 * 256 * 4)).not.toThrow();
    expect(() => checkFits(11, [1, 16, 16], 10 * 256 * 4)).toThrow(/choose a smaller size/);
  });

  test.each([
    ['a corrupt image', { 'c/ok.png': png(1, 1, [[0, 0, 0]]), 'c/bad.png': 'hello' }, {}, /not a PNG or JPEG/, { file: 'F/c/bad.png' }],
    ['an empty class folder', { 'c/ok.png': png(1, 1, [[0, 0, 0]]), 'd/readme.txt': 'x' }, {}, /class "d" has no images/, { file: 'F/d' }],
    ['no class folders', { 'x.png': png(1, 1, [[0, 0, 0]]) }, {}, /no class sub-folders/, { file: 'F', path: 'data.folder' }],
    ['an unknown class in classes', { 'c/ok.png': png(1, 1, [[0, 0, 0]]) }, { classes: ['c', 'e'] }, /class "e" has no sub-folder.*the sub-folders are c/, { file: 'F', path: 'data.classes' }],
    ['a class listed twice', { 'c/ok.png': png(1, 1, [[0, 0, 0]]) }, { classes: ['c', 'c'] }, /lists a class twice/, { file: 'F', path: 'data.classes' }],
    ['a size that is not [height, width]', { 'c/ok.png': png(1, 1, [[0, 0, 0]]) }, { size: [0, 4] }, /size must be \[height, width\]/, { path: 'data.size' }],
    ['a channel count of 2', { 'c/ok.png': png(1, 1, [[0, 0, 0]]) }, { channels: 2 }, /channels must be 1 \(grayscale\) or 3 \(RGB\)/, { path: 'data.channels' }],
  ])('%s is an error that says so', (name, files, spec, message, where) => {
    const id = `bad-${name.replace(/\W+/g, '-')}`;
    const dir = folder(id, files);
    const named = Object.fromEntries(Object.entries(where).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/^F/, id) : v]));
    expect(() => imagesDataset(dir, { folder: id, size: [2, 2], ...spec } as never)).toThrow(studioError(named as Where, message));
  });

  test('train.start decodes a folder not previewed yet streamed, with progress under its request id', async () => {
    folder('p/train', { 'a/0.png': png(2, 2, fill(4, [0, 0, 0])), 'b/1.png': png(2, 2, fill(4, [255, 255, 255])) });
    const c = connect();
    const project = {
      format: 'backprop-studio/project',
      version: 1,
      graph: {
        nodes: [
          { id: 'image', op: 'input', attrs: { shape: [1, 2, 2] } },
          { id: 'y', op: 'label', attrs: { kind: 'class' } },
          { id: 'flat', op: 'flatten', inputs: { x: 'image' } },
          { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: 'flat' } },
          { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
        ],
      },
      data: { kind: 'images', folder: 'train', size: [2, 2], validation: 0 },
      training: { optimizer: { type: 'sgd', lr: 0.1 }, batchSize: 2, epochs: 1, seed: 1, backend: 'cpu' },
    };
    const reply = await c.call({ type: 'train.start', project, baseDir: join(base, 'p') });
    expect(reply.ok, JSON.stringify(reply.error)).toBe(true);
    const progress = c.of('data.progress').filter((e) => e.requestId === reply.id);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.bytes).toBe(progress.at(-1)!.total);
    await c.host.close();
  });

  test('a folder read again unchanged is not decoded again; a changed file, or other settings, are', () => {
    const dir = folder('again', { 'k/i.png': png(1, 1, [[0, 0, 0]]) });
    const first = imagesDataset(dir, { folder: 'again', size: [1, 1] });
    expect(imagesDataset(dir, { folder: 'again', size: [1, 1] })).toBe(first);
    expect(imagesDataset(dir, { folder: 'again', size: [1, 2] }).rows).toBe(1);
    writeFileSync(join(dir, 'k', 'i.png'), png(2, 1, [[255, 255, 255], [255, 255, 255]]));
    expect(Array.from(imagesDataset(dir, { folder: 'again', size: [1, 1] }).features)).toEqual([1]);
  });

  test('a missing folder, or a file given as the folder, names it', () => {
    expect(() => load({ folder: 'nope' })).toThrow(studioError({ file: 'nope', path: 'data.folder' }, /folder not found: .*nope$/));
    expect(() => load({ folder: 'imgs/readme.md' })).toThrow(studioError({ file: 'imgs/readme.md', path: 'data.folder' }, /not a folder/));
    expect(() => load({ folder: '' })).toThrow(studioError({ path: 'data.folder' }, /folder must be a folder path/));
  });
});
