/**
 * The inspector's Jacobian of a node: what it can be taken with respect to, the engine's reply as a matrix (the node's
 * elements down, the source's across), its cells' colours and labels, and its CSV. Pure, for node-side tests.
 */
import type { JacobianResult } from '../../../engine/protocol/messages';
import type { Project } from '../../../engine/io/project';
import type { Cell } from './charts/csv';

/**
 * What a node's Jacobian can be taken with respect to: the input nodes it reads (through any path), then its own
 * trainable tensors (`params`, by their weights-file names), in graph order.
 */
export function jacobianSources(project: Project, id: string, params: readonly { name: string; trainable: boolean }[]): string[] {
  const byId = new Map(project.graph.nodes.map((n) => [n.id, n]));
  const reads = new Set<string>();
  const visit = (k: string) => {
    if (reads.has(k)) return;
    reads.add(k);
    for (const src of Object.values(byId.get(k)?.inputs ?? {})) visit(src);
  };
  visit(id);
  const inputs = project.graph.nodes.filter((n) => n.op === 'input' && n.id !== id && reads.has(n.id)).map((n) => n.id);
  return [...inputs, ...params.filter((p) => p.trainable).map((p) => p.name)];
}

export interface JacobianMatrix {
  rows: number;
  cols: number;
  ofShape: number[];
  wrtShape: number[];
  /** The largest magnitude among the finite values (0 when there is none). */
  maxAbs: number;
}

/** The reply as a matrix: d of[i] / d wrt[j] at row i, column j, both flattened row-major. */
export function jacobianMatrix(r: Pick<JacobianResult, 'shape' | 'ofRank' | 'values'>): JacobianMatrix {
  const ofShape = r.shape.slice(0, r.ofRank);
  const wrtShape = r.shape.slice(r.ofRank);
  const size = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
  let maxAbs = 0;
  for (const v of r.values) if (v !== null && Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
  return { rows: size(ofShape), cols: size(wrtShape), ofShape, wrtShape, maxAbs };
}

/** Element `flat` (row-major) of a tensor of this shape, as its index: `[0, 2]` (a scalar's is `[]`). */
export function indexLabel(shape: readonly number[], flat: number): string {
  const index: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    index.unshift(flat % shape[k]);
    flat = Math.floor(flat / shape[k]);
  }
  return `[${index.join(', ')}]`;
}

/**
 * A cell's colour as RGBA bytes: blue for a negative derivative, red for a positive one, its opacity the magnitude
 * against the largest (so zero is the background); a value that is not finite is solid grey.
 */
export function cellRgba(v: number | null, maxAbs: number): [number, number, number, number] {
  if (v === null) return [128, 128, 128, 255];
  const a = maxAbs > 0 ? Math.min(1, Math.abs(v) / maxAbs) : 0;
  return v < 0 ? [33, 102, 172, Math.round(255 * a)] : [178, 24, 43, Math.round(255 * a)];
}

/** The matrix as a table: a row per element of `of` (its index first), a column per element of `wrt`. */
export function jacobianTable(r: JacobianResult): { header: string[]; rows: Cell[][] } {
  const m = jacobianMatrix(r);
  const header = [`${r.of} \\ ${r.wrt}`, ...Array.from({ length: m.cols }, (_, j) => indexLabel(m.wrtShape, j))];
  const rows = Array.from({ length: m.rows }, (_, i) => [indexLabel(m.ofShape, i), ...r.values.slice(i * m.cols, (i + 1) * m.cols)]);
  return { header, rows };
}

/** Where the matrix's cells go in the picture drawn (before scaling): one pixel each. */
export interface Layout {
  width: number;
  height: number;
  /** The pixel of d of[i] / d wrt[j]. */
  at(i: number, j: number): [number, number];
  /** The cell at a pixel, or null (the gap between images). */
  cellAt(x: number, y: number): [number, number] | null;
}

/** The matrix itself: the node's elements down, the source's across. */
export function matrixLayout(m: JacobianMatrix): Layout {
  return {
    width: m.cols,
    height: m.rows,
    at: (i, j) => [j, i],
    cellAt: (x, y) => (x >= 0 && y >= 0 && x < m.cols && y < m.rows ? [y, x] : null),
  };
}

/** The pixels between two images. */
const GAP = 1;

/**
 * Each row as an image of the source (a saliency map: which of an input image's pixels move that element most), where
 * the source is one: its last two dimensions [H, W] both more than 1, the ones before them (channels) side by side,
 * the images `perRow` to a row. Null where the source is no image.
 */
export function imagesLayout(m: JacobianMatrix, perRow: number): Layout | null {
  const s = m.wrtShape;
  if (s.length < 2 || s[s.length - 1] < 2 || s[s.length - 2] < 2) return null;
  const [h, w] = [s[s.length - 2], s[s.length - 1]];
  const channels = m.cols / (h * w);
  const tile = { width: channels * w, height: h };
  const across = Math.max(1, Math.min(perRow, m.rows));
  const down = Math.ceil(m.rows / across);
  return {
    width: across * tile.width + (across - 1) * GAP,
    height: down * tile.height + (down - 1) * GAP,
    at: (i, j) => {
      const [c, y, x] = [Math.floor(j / (h * w)), Math.floor(j / w) % h, j % w];
      return [(i % across) * (tile.width + GAP) + c * w + x, Math.floor(i / across) * (tile.height + GAP) + y];
    },
    cellAt: (px, py) => {
      const [col, row] = [Math.floor(px / (tile.width + GAP)), Math.floor(py / (tile.height + GAP))];
      const [x, y] = [px - col * (tile.width + GAP), py - row * (tile.height + GAP)];
      const i = row * across + col;
      if (col >= across || x < 0 || y < 0 || x >= tile.width || y >= tile.height || i >= m.rows) return null;
      const [c, xi] = [Math.floor(x / w), x % w];
      return [i, c * h * w + y * w + xi];
    },
  };
}
