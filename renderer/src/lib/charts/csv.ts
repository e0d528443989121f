/**
 * CSV for the charts' "Export CSV": a header row, then one row per x, numbers at full precision (JavaScript's
 * shortest round-trip form), an empty cell where a series has no value. RFC 4180 quoting, `\n` line ends.
 */

export type Cell = number | string | null | undefined;

/** One cell: numbers as the shortest string that reads back to the same double; text quoted when it must be. */
export function csvCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

/** A CSV document: the header, then the rows (each ended by a newline). */
export function buildCsv(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  let out = header.map(csvCell).join(',') + '\n';
  for (const r of rows) out += r.map(csvCell).join(',') + '\n';
  return out;
}

/** A column keyed by x: its header and, per point, x and the value. */
export interface XColumn {
  name: string;
  x: readonly number[];
  values: readonly Cell[];
}

/**
 * Columns over different x grids (a per-step log, per-epoch numbers) as one table: the union of their x values,
 * ascending, one row each; a column's cell is empty where it has no point at that x (a repeated x: the later wins).
 */
export function mergeColumns(xName: string, columns: readonly XColumn[]): { header: string[]; rows: Cell[][] } {
  const xs = new Set<number>();
  const maps = columns.map((c) => {
    const m = new Map<number, Cell>();
    for (let i = 0; i < c.x.length; i++) {
      m.set(c.x[i], c.values[i]);
      xs.add(c.x[i]);
    }
    return m;
  });
  const sorted = [...xs].sort((a, b) => a - b);
  return { header: [xName, ...columns.map((c) => c.name)], rows: sorted.map((x) => [x, ...maps.map((m) => m.get(x))]) };
}

/** A SeriesLog-shaped metric as three columns: NAME_min, NAME_max, NAME_last. */
export function rangeColumns(name: string, s: { x: readonly number[]; min: readonly Cell[]; max: readonly Cell[]; last: readonly Cell[] }): XColumn[] {
  return [
    { name: `${name}_min`, x: s.x, values: s.min },
    { name: `${name}_max`, x: s.x, values: s.max },
    { name: `${name}_last`, x: s.x, values: s.last },
  ];
}

/** A file name from a title: lower case, words joined by '-', nothing a file system minds. */
export function fileSlug(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'chart'
  );
}
