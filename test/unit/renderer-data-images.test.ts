/**
 * The data panel's image folder edits (renderer/src/lib/data-edit.ts): the folder, the size and the channels, the
 * image-shaped input nodes following them in the same edit, all held to the project schema; the preview's "no
 * folder yet"; and choosing the folder (a folder picker in web mode, the native folder dialog in Electron).
 */
import { describe, expect, it } from 'vitest';
import { MAX_IMAGE_SIZE as ENGINE_MAX_IMAGE_SIZE } from '../../engine/data/images';
import { validateProject, type DataSpec, type Project } from '../../engine/io/project';
import {
  DEFAULT_IMAGES,
  MAX_IMAGE_SIZE,
  imageShapeOf,
  imageSizeProblem,
  setImagesChannels,
  setImagesFolder,
  setImagesSize,
  setInputImageShape,
  switchDataKind,
} from '../../renderer/src/lib/data-edit';
import { PICK_FILTERS, chooseFile, previewRequest } from '../../renderer/src/lib/data.svelte';
import { fakeFileChooser } from './fake-file-chooser';

/** Freezes a document all the way down, so that an edit that mutates it throws. */
function frozen<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) frozen(v);
  }
  return o;
}

const NODES: Project['graph']['nodes'] = [
  { id: 'image', op: 'input', attrs: { shape: [1, 28, 28] } },
  { id: 'picked', op: 'input', attrs: { shape: [1, 28, 28], features: ['pixel_0_0'] } },
  { id: 'flat', op: 'input', attrs: { shape: [784] } },
  { id: 'y', op: 'label' },
];

function project(data: DataSpec | undefined): Project {
  const p: Project = { format: 'backprop-studio/project', version: 1, graph: { nodes: NODES } };
  if (data) p.data = data;
  return frozen(p);
}

const images = (more: Partial<Extract<DataSpec, { kind: 'images' }>> = {}): DataSpec => ({ ...DEFAULT_IMAGES, size: [28, 28], folder: 'data/shapes', ...more });
const shapes = (p: Project) => Object.fromEntries(p.graph.nodes.map((n) => [n.id, n.attrs?.shape]));

describe('image folder edits', () => {
  it('switching to an image folder: no folder yet, 28 x 28 grayscale, the split kept', () => {
    const p = switchDataKind(project({ kind: 'builtin', name: 'spiral', validation: 0.3, shuffle: false }), 'images');
    expect(p.data).toEqual({ kind: 'images', folder: '', size: [28, 28], channels: 1, validation: 0.3, shuffle: false });
    expect(previewRequest(p, '/p').missing).toBe('no-file');
    // The default's size array is the section's own, not the shared constant's.
    expect((p.data as { size: number[] }).size).not.toBe(DEFAULT_IMAGES.size);
  });

  it('another folder drops a classes list; the same folder changes nothing', () => {
    const p = project(images({ classes: ['a', 'b'] }));
    expect(setImagesFolder(p, 'data/other').data).toEqual(images({ folder: 'data/other' }));
    expect(setImagesFolder(p, 'data/shapes')).toBe(p);
    expect(previewRequest(setImagesFolder(p, 'data/other'), '/p').missing).toBeNull();
  });

  it('size and channels: image-shaped inputs that read every pixel follow; others are left alone', () => {
    const p = project(images());
    const q = setImagesSize(p, [16, 12]);
    expect(q.data).toEqual(images({ size: [16, 12] }));
    expect(shapes(q)).toEqual({ image: [1, 16, 12], picked: [1, 28, 28], flat: [784], y: undefined });
    const r = setImagesChannels(q, 3);
    expect(imageShapeOf(r.data as Extract<DataSpec, { kind: 'images' }>)).toEqual([3, 16, 12]);
    expect(shapes(r).image).toEqual([3, 16, 12]);
    for (const x of [q, r]) expect(validateProject(x)).toEqual([]);
  });

  it('edits that change nothing return the document itself (no undo step)', () => {
    const p = project(images());
    expect(setImagesSize(p, [28, 28])).toBe(p);
    expect(setImagesChannels(p, 1)).toBe(p);
    const csv = project({ kind: 'csv', path: 'a.csv' });
    expect(setImagesSize(csv, [8, 8])).toBe(csv);
    expect(setImagesFolder(csv, 'x')).toBe(csv);
  });

  it('setInputImageShape sets one input node\'s shape', () => {
    const p = project(images());
    expect(shapes(setInputImageShape(p, 'flat', [1, 28, 28])).flat).toEqual([1, 28, 28]);
    expect(setInputImageShape(p, 'image', [1, 28, 28])).toBe(p);
    expect(setInputImageShape(p, 'y', [1, 2, 2])).toBe(p);
  });

  it.each([
    [1, null],
    [1024, null],
    [0, 'a whole number from 1 to 1024'],
    [1025, 'a whole number from 1 to 1024'],
    [2.5, 'a whole number from 1 to 1024'],
    [NaN, 'a whole number from 1 to 1024'],
  ])('imageSizeProblem(%s)', (v, want) => {
    expect(imageSizeProblem(v)).toBe(want);
  });

  it('allows the sizes the engine and the schema allow', () => {
    expect(MAX_IMAGE_SIZE).toBe(ENGINE_MAX_IMAGE_SIZE);
    const p = project(images({ size: [MAX_IMAGE_SIZE, 1] }));
    expect(validateProject(p)).toEqual([]);
    expect(validateProject(project(images({ size: [MAX_IMAGE_SIZE + 1, 1] })))).not.toEqual([]);
  });
});

describe('choosing the image folder', () => {

  it('web mode: the picker in folder mode, then the shell checks the folder', async () => {
    const { h, requests, picks } = fakeFileChooser('web', { pick: 'data/shapes', shell: { path: 'data/shapes' }, baseDir: '' });
    expect(await chooseFile(h, 'images')).toBe('data/shapes');
    expect(picks).toEqual([{ mode: 'open', name: '', filter: { title: 'Choose an image folder', extensions: ['png', 'jpg', 'jpeg'], folders: true } }]);
    expect(PICK_FILTERS.images.folders).toBe(true);
    expect(requests).toEqual([{ type: 'chooseFile', purpose: 'images', path: 'data/shapes' }]);
  });

  it('Electron: the native dialog, asked for an image folder', async () => {
    const { h, requests } = fakeFileChooser('electron', { shell: { path: '/p/shapes' }, baseDir: '/p' });
    expect(await chooseFile(h, 'images')).toBe('/p/shapes');
    expect(requests).toEqual([{ type: 'chooseFile', purpose: 'images', path: '/p' }]);
  });
});
