/**
 * The data panel's grid of image samples (DataPreview `images`): for each class, the first few examples in file
 * order as small PNGs (pngjs), so that the renderer shows them as plain <img>s.
 */
import { PNG } from 'pngjs';
import { resizePlanes } from '../data/image-resize';
import type { Dataset } from '../data/types';
import type { DataPreview } from '../protocol/messages';

export const SAMPLES_PER_CLASS = 8;
export const MAX_GROUPS = 20;
/** The largest thumbnail side: bigger images are shrunk (area averaging), keeping their aspect ratio. */
export const THUMB_MAX = 64;

export function imageGrid(ds: Dataset): DataPreview['images'] {
  if (!ds.imageShape) return undefined;
  const [C, H, W] = ds.imageShape;
  const label = ds.label?.kind === 'class' ? ds.label : undefined;
  const names = label ? (label.classes ?? []) : ['all'];
  const rows: number[][] = names.map(() => []);
  for (let r = 0; r < ds.rows; r++) {
    const k = label ? label.values[r] : 0;
    if (k < MAX_GROUPS && rows[k] && rows[k].length < SAMPLES_PER_CLASS) rows[k].push(r);
  }
  const shown = names.slice(0, MAX_GROUPS).map((name, k) => ({ name, rows: rows[k] }));
  const per = C * H * W;
  const [lo, hi] = displayRange(shown.flatMap((g) => g.rows.map((r) => ds.features.subarray(r * per, (r + 1) * per))));
  const groups = shown.map((g) => ({
    name: g.name,
    rows: g.rows.map((r) => r + 1),
    png: g.rows.map((r) => thumbnail(ds.features.subarray(r * per, (r + 1) * per), [C, H, W], lo, hi)),
  }));
  return { shape: [C, H, W], groups, hiddenClasses: Math.max(0, names.length - MAX_GROUPS) };
}

/**
 * The values shown black and white: from min(0, the smallest value) to 1 when no value exceeds 1 (pixels scaled to
 * [0, 1]), else to 255 when none exceeds 255 (bytes, as MNIST's IDX files hold), else to the largest.
 */
export function displayRange(samples: Float32Array[]): [number, number] {
  let min = 0;
  let max = -Infinity;
  for (const s of samples) {
    for (const v of s) {
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const hi = max <= 1 ? 1 : max <= 255 ? 255 : max;
  return [min, hi];
}

/** One example (NCHW planes of C 1 or 3) as a base64 PNG, grayscale or RGB, shrunk to fit THUMB_MAX. */
export function thumbnail(values: Float32Array, [C, H, W]: [number, number, number], lo: number, hi: number): string {
  const scale = Math.min(1, THUMB_MAX / Math.max(H, W));
  const h = Math.max(1, Math.round(H * scale));
  const w = Math.max(1, Math.round(W * scale));
  const planes = resizePlanes(values, C, H, W, h, w);
  const png = new PNG({ width: w, height: h });
  const byte = (v: number) => (Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * 255) : 0);
  const n = h * w;
  for (let i = 0; i < n; i++) {
    const r = byte(planes[i]);
    png.data[4 * i] = r;
    png.data[4 * i + 1] = C === 3 ? byte(planes[n + i]) : r;
    png.data[4 * i + 2] = C === 3 ? byte(planes[2 * n + i]) : r;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: C === 3 ? 2 : 0 }).toString('base64');
}
