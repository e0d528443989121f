/**
 * A folder of images with one sub-folder per class (data kind `images`, docs/format-extensions.md): PNG and JPEG
 * files decoded, converted to grayscale (ITU-R BT.601 luma) or RGB, resized to `size`, scaled to [0, 1] and
 * flattened in NCHW order, one example per file. The classes are the sub-folders' names in sorted order, or
 * `classes` when it lists them (then the other sub-folders are left out). Examples come in "file order": by class,
 * then by file name. Hidden entries (a leading dot), other files and links are ignored. Errors name the file or
 * folder as `folder/CLASS/FILE`, `folder` written as the project writes it.
 */
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { extname, join } from 'node:path';
import { throwIfCanceled } from '../util/cancel';
import { StudioError } from '../util/errors';
import { decodeImage, type RgbaImage } from './image-decode';
import { resizePlanes } from './image-resize';
import type { DataSpec, Dataset } from './types';

export type ImagesSpec = Extract<DataSpec, { kind: 'images' }>;

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];
/** The largest height or width images are resized to. */
export const MAX_IMAGE_SIZE = 1024;

/** One image file of the folder: its class index and where it is. */
export interface ImageFile {
  label: number;
  /** `folder/CLASS/FILE` as errors name it. */
  name: string;
  path: string;
}

/** The classes and files of an image folder in file order (class, then file name), checked but not read. */
export function listImageFolder(dir: string, folderName: string, classes?: readonly string[]): { classes: string[]; files: ImageFile[] } {
  const subFolders = entries(dir, folderName, 'data.folder')
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byCodeUnits);
  let names: string[];
  if (classes) {
    if (new Set(classes).size !== classes.length) throw new StudioError('data.classes lists a class twice', { file: folderName, path: 'data.classes' });
    const missing = classes.find((c) => !subFolders.includes(c));
    if (missing !== undefined) {
      const have = subFolders.length ? `the sub-folders are ${subFolders.join(', ')}` : 'it has no sub-folders';
      throw new StudioError(`class ${JSON.stringify(missing)} has no sub-folder in the image folder; ${have}`, { file: folderName, path: 'data.classes' });
    }
    names = classes.slice();
  } else names = subFolders;
  if (names.length === 0) {
    throw new StudioError('the image folder has no class sub-folders: put each class in a sub-folder named after it', { file: folderName, path: 'data.folder' });
  }

  const files: ImageFile[] = [];
  names.forEach((cls, label) => {
    const classFolder = `${folderName}/${cls}`;
    const images = entries(join(dir, cls), classFolder)
      .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort(byCodeUnits);
    if (images.length === 0) {
      throw new StudioError(`class ${JSON.stringify(cls)} has no images (.png, .jpg or .jpeg files) in its sub-folder`, { file: classFolder });
    }
    for (const f of images) files.push({ label, name: `${classFolder}/${f}`, path: join(dir, cls, f) });
  });
  return { classes: names, files };
}

/**
 * The last folder read and what it was read from (every file's path, size and modification time, and the
 * settings): the data panel's previews and the training that follows decode a folder once, not on every edit of
 * the split settings. Datasets are never modified, so sharing one is safe.
 */
let lastRead: { key: string; dataset: Dataset } | undefined;

/** Reads every image of the folder `dir` (written `spec.folder` in the project) into a Dataset. */
export function imagesDataset(dir: string, spec: ImagesRead): Dataset {
  const read = readFolder(dir, spec);
  for (;;) {
    const r = read.next();
    if (r.done) return r.value;
  }
}

/**
 * imagesDataset for the engine host: it yields to the event loop every YIELD_MS, so the host answers other
 * requests while a big folder is decoded, reports progress in bytes of the files read, and stops before the next
 * file once `signal` is aborted (a CanceledError naming the folder).
 */
export async function imagesDatasetAsync(
  dir: string,
  spec: ImagesRead,
  onProgress: (bytes: number, total: number) => void,
  signal?: AbortSignal,
): Promise<Dataset> {
  const read = readFolder(dir, spec);
  let since = performance.now();
  for (;;) {
    throwIfCanceled(signal, { file: spec.folder });
    const r = read.next();
    if (r.done) return r.value;
    onProgress(r.value.bytes, r.value.total);
    if (performance.now() - since >= YIELD_MS) {
      await new Promise((go) => setImmediate(go));
      since = performance.now();
    }
  }
}

/** The most float32 feature bytes an image folder may come to (what the engine holds in memory to train on). */
export const MAX_FEATURE_BYTES = 2 ** 31;

/** An error naming data.size when `count` examples of `shape` [C, H, W] would be more than `limit` bytes of features. */
export function checkFits(count: number, shape: readonly [number, number, number], limit = MAX_FEATURE_BYTES): void {
  const bytes = count * shape[0] * shape[1] * shape[2] * 4;
  if (bytes <= limit) return;
  const gb = (n: number) => `${(n / 2 ** 30).toFixed(1)} GB`;
  throw new StudioError(`${count} images of ${shape.join(' x ')} values come to ${gb(bytes)}, more than the ${gb(limit)} the engine holds: choose a smaller size, or grayscale`, {
    path: 'data.size',
  });
}

/** How long the host decodes images before it lets other work in. */
const YIELD_MS = 20;

type ImagesRead = Pick<ImagesSpec, 'folder' | 'size' | 'channels' | 'classes'>;

/** Decodes the folder one file at a time, saying after each how many of the files' bytes are read; returns the Dataset. */
function* readFolder(dir: string, spec: ImagesRead): Generator<{ bytes: number; total: number }, Dataset> {
  const [height, width] = checkSize(spec.size);
  const channels = spec.channels ?? 1;
  if (channels !== 1 && channels !== 3) {
    throw new StudioError(`channels must be 1 (grayscale) or 3 (RGB), not ${JSON.stringify(channels)}`, { path: 'data.channels' });
  }
  const { classes, files } = listImageFolder(dir, spec.folder, spec.classes);
  const stamps = files.map(stamp);
  const key = JSON.stringify([spec.folder, height, width, channels, classes, files.map((f, i) => [f.path, ...stamps[i]])]);
  if (lastRead?.key === key) return lastRead.dataset;

  const total = stamps.reduce((a, st) => a + (st[0] ?? 0), 0);
  let bytes = 0;
  const per = channels * height * width;
  checkFits(files.length, [channels, height, width]);
  const features = new Float32Array(files.length * per);
  const values = new Float32Array(files.length);
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    const image = decodeImage(readImage(f), f.name);
    const planes = toPlanes(image, channels);
    features.set(resizePlanes(planes, channels, image.height, image.width, height, width), i * per);
    values[i] = f.label;
    bytes += stamps[i][0] ?? 0;
    yield { bytes, total };
  }
  const dataset: Dataset = {
    name: spec.folder,
    rows: files.length,
    featureNames: pixelNames(channels, height, width),
    features,
    label: { name: 'class', kind: 'class', values, classes },
    imageShape: [channels, height, width],
  };
  lastRead = { key, dataset };
  return dataset;
}

/** A file's size and modification time (what tells that it changed), or nothing when it cannot be read (reading it fails later, naming it). */
function stamp(f: ImageFile): number[] {
  try {
    const s = statSync(f.path);
    return [s.size, s.mtimeMs];
  } catch {
    return [];
  }
}

/**
 * The features' names: `pixel_ROW_COL` for grayscale (as IDX images and digits.csv name them), `r_ROW_COL`,
 * `g_ROW_COL`, `b_ROW_COL` for RGB, in NCHW order.
 */
export function pixelNames(channels: 1 | 3, height: number, width: number): string[] {
  const prefixes = channels === 1 ? ['pixel'] : ['r', 'g', 'b'];
  const names: string[] = [];
  for (const p of prefixes) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) names.push(`${p}_${y}_${x}`);
  return names;
}

/**
 * The image as `channels` planes of values in [0, 1]: grayscale is BT.601 luma (0.299 R + 0.587 G + 0.114 B), RGB
 * the three colours. Alpha is dropped (as torchvision's loader does: PIL's convert('RGB')).
 */
export function toPlanes(image: RgbaImage, channels: 1 | 3): Float32Array {
  const n = image.width * image.height;
  const out = new Float32Array(channels * n);
  const d = image.data;
  for (let i = 0; i < n; i++) {
    const r = d[4 * i];
    const g = d[4 * i + 1];
    const b = d[4 * i + 2];
    if (channels === 1) out[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    else {
      out[i] = r / 255;
      out[n + i] = g / 255;
      out[2 * n + i] = b / 255;
    }
  }
  return out;
}

function checkSize(size: unknown): [number, number] {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_IMAGE_SIZE;
  if (!Array.isArray(size) || size.length !== 2 || !ok(size[0]) || !ok(size[1])) {
    throw new StudioError(`size must be [height, width], whole numbers from 1 to ${MAX_IMAGE_SIZE}, not ${JSON.stringify(size)}`, { path: 'data.size' });
  }
  return [size[0], size[1]];
}

/** A folder's entries; a folder that is missing or not a folder is an error naming it. */
function entries(dir: string, name: string, path?: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why =
      code === 'ENOENT' ? 'folder not found' : code === 'ENOTDIR' ? 'not a folder' : `cannot read the folder (${e instanceof Error ? e.message : String(e)})`;
    throw new StudioError(`${why}: ${dir}`, { file: name, ...(path ? { path } : {}) });
  }
}

function readImage(f: ImageFile): Uint8Array {
  try {
    return readFileSync(f.path);
  } catch (e) {
    throw new StudioError(`cannot read the file (${e instanceof Error ? e.message : String(e)})`, { file: f.name });
  }
}

/** Sorting by UTF-16 code units: the same order on every machine and locale. */
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
