/**
 * The inspector's Distributions of a node: a histogram's bars in a box, where zero falls, and its numbers in words.
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

/**
 * The bars of `h` in a box of `width` by `height`, the fullest bin reaching the top (no bar for an empty bin); with
 * `log`, heights go by log(1 + count), so that a bin of a few values beside one of thousands still shows.
 */
export function histogramBars(h: HistogramInfo, width: number, height: number, log = false): Bar[] {
  const scale = (c: number) => (log ? Math.log1p(c) : c);
  const most = scale(Math.max(0, ...h.counts));
  if (most === 0) return [];
  const w = width / h.counts.length;
  return h.counts.flatMap((c, k) => {
    const tall = (height * scale(c)) / most;
    return c === 0 ? [] : [{ x: k * w, y: height - tall, width: w, height: tall }];
  });
}

/** Where zero falls across the box, when it lies strictly inside the values' range. */
export function zeroAt(h: HistogramInfo, width: number): number | null {
  if (h.min === null || h.max === null || !(h.min < 0 && h.max > 0)) return null;
  return (width * -h.min) / (h.max - h.min);
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
