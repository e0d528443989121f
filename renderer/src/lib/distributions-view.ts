/**
 * The inspector's Distributions of a node: a histogram's bins (over the full or the central range), its bars in a
 * box, where zero falls, the bin under the pointer, and its numbers in words.
 * Pure, for node-side tests.
 */
import type { HistogramInfo } from '../../../engine/protocol/messages';
import { num4 } from './format';

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The bins drawn of a histogram: over its values' full range, or their central range (with those outside it). */
export interface Binning {
  lo: number;
  hi: number;
  counts: readonly number[];
  below: number;
  above: number;
}

/** `h`'s bins over its full range, or with `central` over its central range where it has one; null without values. */
export function binningOf(h: HistogramInfo, central: boolean): Binning | null {
  if (h.min === null || h.max === null) return null;
  if (central && h.central) return h.central;
  return { lo: h.min, hi: h.max, counts: h.counts, below: 0, above: 0 };
}

/**
 * The bars of `b` in a box of `width` by `height`, the fullest bin reaching the top (no bar for an empty bin); with
 * `log`, heights go by log(1 + count), so that a bin of a few values beside one of thousands still shows.
 */
export function histogramBars(b: Binning, width: number, height: number, log = false): Bar[] {
  const scale = (c: number) => (log ? Math.log1p(c) : c);
  const most = scale(Math.max(0, ...b.counts));
  if (most === 0) return [];
  const w = width / b.counts.length;
  return b.counts.flatMap((c, k) => {
    const tall = (height * scale(c)) / most;
    return c === 0 ? [] : [{ x: k * w, y: height - tall, width: w, height: tall }];
  });
}

/** Where zero falls across the box, when it lies strictly inside the bins' range. */
export function zeroAt(b: Binning, width: number): number | null {
  if (!(b.lo < 0 && b.hi > 0)) return null;
  return (width * -b.lo) / (b.hi - b.lo);
}

/** The bin under `x` across a box of `width`, in words: its range and how many values it holds. */
export function binAt(b: Binning, x: number, width: number): string {
  const bins = b.counts.length;
  const k = Math.min(bins - 1, Math.max(0, Math.floor((x / width) * bins)));
  const step = (b.hi - b.lo) / bins;
  const values = (count: number) => `${count} ${count === 1 ? 'value' : 'values'}`;
  // every value equal: the middle bin holds them all, wherever the pointer is
  if (step === 0) return `${num4(b.lo)}: ${values(b.counts.reduce((a, c) => a + c, 0))}`;
  return `${num4(b.lo + k * step)} … ${num4(b.lo + (k + 1) * step)}: ${values(b.counts[k])}`;
}

/** The range the bins cover. */
export function binRange(b: Binning): string {
  return `${num4(b.lo)} … ${num4(b.hi)}`;
}

/** How many values lie outside the bins (of a central range), in words; '' when none. */
export function binsOutside(b: Binning): string {
  const parts = [b.below ? `${b.below} below` : '', b.above ? `${b.above} above` : ''].filter(Boolean);
  return parts.length ? `${parts.join(', ')} the bins` : '';
}

/** Mean, standard deviation and the share of exact zeros (and of values that are not finite), in words. */
export function histogramSummary(h: HistogramInfo): string {
  const total = h.n + h.nonFinite;
  if (h.n === 0) return h.nonFinite ? `${h.nonFinite} values, none finite` : 'no values';
  const parts = [`mean ${num4(h.mean!)}`, `std ${num4(h.std!)}`];
  if (h.zeros) parts.push(`${percent(h.zeros, total)} zero`);
  if (h.nonFinite) parts.push(`${percent(h.nonFinite, total)} not finite`);
  return parts.join(' · ');
}

function percent(part: number, total: number): string {
  const p = (100 * part) / total;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}
