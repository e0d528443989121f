/** How the UI writes numbers, counts, sizes and shapes: 4 significant digits, units for sizes (ui.md). */
import type { Shape } from '../../../engine/ir/shape';

/** A number at 4 significant digits, without trailing noise (0.1 not 0.1000, 12345 as 1.235e+4 only when huge). */
export function num4(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e6) {
    if (Number.isInteger(x) && a < 1e4) return String(x);
    return String(Number(x.toPrecision(4)));
  }
  return x.toExponential(3).replace(/\.?0+e/, 'e');
}

/** A count (parameters): exact below 10 000, else 4 significant digits with k / M / G. */
export function count(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (a < 10_000) return String(n);
  // The unit is chosen after rounding to 4 digits, so 999,999 reads 1.000M, not 1000k.
  const r = Number(a.toPrecision(4));
  const [div, unit] = r < 1e6 ? [1e3, 'k'] : r < 1e9 ? [1e6, 'M'] : [1e9, 'G'];
  return (n / div).toPrecision(4) + unit;
}

/** A size in bytes: B, KB, MB, GB (powers of 1024), 4 significant digits. */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  // Compare after rounding to 4 digits, so 1,048,575 B reads 1.000 MB, not 1024 KB.
  while (Number(v.toPrecision(4)) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toPrecision(4)} ${units[i]}`;
}

/** A shape as the UI shows it: `[B, 16]`, the symbolic batch dimension as B. */
export function shape(s: Shape): string {
  return '[' + s.map((d) => (d === null ? 'B' : String(d))).join(', ') + ']';
}

/** An attribute value, short, for a node's summary line. */
export function attrValue(v: unknown): string {
  if (typeof v === 'number') return num4(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) {
    const flat = v.flat(Infinity);
    if (flat.length > 6) return `[${v.length}…]`;
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' ? Number(num4(x)) : x)).replace(/,/g, ', ');
  }
  return JSON.stringify(v) ?? String(v);
}

/** The last segment of a path (either separator). */
export function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** The folder part of a path ('' for a bare name; either separator). */
export function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '' : i === 0 ? path.slice(0, 1) : path.slice(0, i);
}
