/**
 * data.preview's grid of image samples (engine/host/image-preview.ts): the first samples of each class in file
 * order, as PNGs whose pixels are the data's, for image folders and IDX images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, test } from 'vitest';
import { idxDataset } from '../../engine/data/idx';
import type { Dataset } from '../../engine/data/types';
import { displayRange, imageGrid, MAX_GROUPS, THUMB_MAX } from '../../engine/host/image-preview';
import { previewData } from './preview-sync';
import { parseProject } from '../../engine/io/project';
import { dataPreview } from '../../engine/protocol/messages';

const REPO = join(__dirname, '..', '..');

/** A thumbnail's pixels: width, height and each pixel's [r, g, b]. */
function pixels(base64: string): { width: number; height: number; rgb: number[][] } {
  const png = PNG.sync.read(Buffer.from(base64, 'base64'));
  const rgb: number[][] = [];
  for (let i = 0; i < png.width * png.height; i++) rgb.push([png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]]);
  return { width: png.width, height: png.height, rgb };
}

/** `labels.length` one-pixel grayscale images of value `value(row)`, labelled as given. */
function dataset(labels: number[], classes: string[], value: (r: number) => number, shape: [number, number, number] = [1, 1, 1]): Dataset {
  const per = shape[0] * shape[1] * shape[2];
  return {
    name: 'imgs',
    rows: labels.length,
    featureNames: Array.from({ length: per }, (_, i) => `pixel_${i}`),
    features: Float32Array.from({ length: labels.length * per }, (_, i) => value(Math.floor(i / per))),
    label: { name: 'class', kind: 'class', values: Float32Array.from(labels), classes },
    imageShape: shape,
  };
}

describe('imageGrid', () => {
  test('up to 8 samples per class, the first in file order, 1-based rows, pixels as the data holds them', () => {
    const labels = [...new Array(10).fill(0), 1, 0, 1, 1];
    const grid = imageGrid(dataset(labels, ['zero', 'one'], (r) => r / 20))!;
    expect(grid.shape).toEqual([1, 1, 1]);
    expect(grid.hiddenClasses).toBe(0);
    expect(grid.groups.map((g) => [g.name, g.rows])).toEqual([
      ['zero', [1, 2, 3, 4, 5, 6, 7, 8]],
      ['one', [11, 13, 14]],
    ]);
    // Values in [0, 1] are shown from 0 (black) to 1 (white): row 11 is 10/20 = 0.5 -> 128.
    expect(pixels(grid.groups[1].png[0])).toEqual({ width: 1, height: 1, rgb: [[128, 128, 128]] });
  });

  test('RGB images keep their colours (NCHW planes)', () => {
    const ds = dataset([0], ['c'], () => 0, [3, 1, 2]);
    ds.features = Float32Array.of(1, 0, 0, 0.5, 0, 1);
    expect(pixels(imageGrid(ds)!.groups[0].png[0]).rgb).toEqual([
      [255, 0, 0],
      [0, 128, 255],
    ]);
  });

  test(`more than ${MAX_GROUPS} classes: the first ${MAX_GROUPS} shown, the rest counted`, () => {
    const classes = Array.from({ length: 23 }, (_, k) => `c${k}`);
    const grid = imageGrid(dataset(classes.map((_, k) => k), classes, () => 0))!;
    expect(grid.groups).toHaveLength(MAX_GROUPS);
    expect(grid.hiddenClasses).toBe(3);
  });

  test(`images larger than ${THUMB_MAX} pixels are shrunk to fit, keeping their aspect ratio`, () => {
    const grid = imageGrid(dataset([0], ['c'], () => 1, [1, 128, 32]))!;
    const p = pixels(grid.groups[0].png[0]);
    expect([p.height, p.width]).toEqual([64, 16]);
    expect(p.rgb.every(([v]) => v === 255)).toBe(true);
  });

  test('no grid for data that is not images', () => {
    const { imageShape: _, ...tabular } = dataset([0], ['c'], () => 0);
    expect(imageGrid(tabular)).toBeUndefined();
  });

  test.each([
    ['pixels in [0, 1]', [0.2, 1], [0, 1]],
    ['bytes (MNIST)', [0, 17, 255], [0, 255]],
    ['larger values', [3, 300], [0, 300]],
    ['negative values', [-2, 0.5], [-2, 1]],
  ])('displayRange: %s', (_name, values, want) => {
    expect(displayRange([Float32Array.from(values)])).toEqual(want);
  });
});

describe('IDX images in the preview', () => {
  /** An IDX file of unsigned bytes. */
  const idx = (dims: number[], values: number[]) => {
    const bytes = new Uint8Array(4 + 4 * dims.length + values.length);
    const view = new DataView(bytes.buffer);
    bytes.set([0, 0, 0x08, dims.length]);
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
    bytes.set(values, 4 + 4 * dims.length);
    return bytes;
  };

  test('[n, H, W] images are grayscale [1, H, W], shown as bytes 0..255, grouped by label', () => {
    const ds = idxDataset(idx([3, 1, 2], [0, 255, 128, 64, 9, 9]), idx([3], [1, 0, 1]), { images: 'img', labels: 'lab' });
    expect(ds.imageShape).toEqual([1, 1, 2]);
    const grid = imageGrid(ds)!;
    expect(grid.groups.map((g) => [g.name, g.rows])).toEqual([
      ['0', [2]],
      ['1', [1, 3]],
    ]);
    expect(pixels(grid.groups[1].png[0]).rgb).toEqual([
      [0, 0, 0],
      [255, 255, 255],
    ]);
    expect(pixels(grid.groups[0].png[0]).rgb).toEqual([
      [128, 128, 128],
      [64, 64, 64],
    ]);
  });

  test('without labels, one group of the first rows; [n, k] vectors and [n, 2, H, W] are no images', () => {
    const grid = imageGrid(idxDataset(idx([2, 1, 1], [5, 6]), undefined, { images: 'img' }))!;
    expect(grid.groups).toEqual([expect.objectContaining({ name: 'all', rows: [1, 2] })]);
    expect(idxDataset(idx([2, 3], [1, 2, 3, 4, 5, 6]), undefined, { images: 'v' }).imageShape).toBeUndefined();
    expect(idxDataset(idx([1, 2, 1, 1], [1, 2]), undefined, { images: 'v' }).imageShape).toBeUndefined();
    expect(idxDataset(idx([1, 3, 1, 1], [1, 2, 3]), undefined, { images: 'v' }).imageShape).toEqual([3, 1, 1]);
  });
});

describe('previewData of the digit-images example', () => {
  test('five classes of 40, a grid of 8 samples each, 16 x 16 grayscale; the reply passes the protocol check', () => {
    const file = join(REPO, 'examples', 'digit-images.bpstudio');
    const project = parseProject(readFileSync(file, 'utf8'), file);
    const preview = dataPreview(previewData(project, join(REPO, 'examples')), 'preview');
    expect(preview.rows).toBe(200);
    expect(preview.classes).toEqual(['0', '1', '2', '3', '4'].map((name) => ({ name, count: 40 })));
    expect(preview.inputs).toEqual([{ id: 'image', features: preview.features }]);
    expect(preview.images?.shape).toEqual([1, 16, 16]);
    expect(preview.images?.groups.map((g) => g.png.length)).toEqual([8, 8, 8, 8, 8]);
    expect(pixels(preview.images!.groups[0].png[0])).toMatchObject({ width: 16, height: 16 });
  });
});
