/** Automatic layout, left to right, with dagre (@dagrejs/dagre). */
import dagre from '@dagrejs/dagre';
import type { ProjectNode } from '../../../engine/io/project';
import { portsOf, type Positions } from './graph';

export interface Size {
  width: number;
  height: number;
}

/** A node's size before the canvas has measured it (close to what GraphNode renders). */
export function estimateSize(n: ProjectNode): Size {
  return { width: 168, height: 62 + 20 * Math.max(1, portsOf(n).length) };
}

/**
 * Top-left positions for every node: data flows left to right, in layers. `sizes` are measured sizes where the
 * canvas has them.
 */
export function layoutGraph(nodes: readonly ProjectNode[], sizes: ReadonlyMap<string, Size> = new Map(), spacing = { node: 24, rank: 52 }): Positions {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: spacing.node, ranksep: spacing.rank, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(nodes.map((n) => n.id));
  for (const n of nodes) g.setNode(n.id, { ...(sizes.get(n.id) ?? estimateSize(n)) });
  for (const n of nodes) {
    for (const src of Object.values(n.inputs ?? {})) if (ids.has(src) && src !== n.id) g.setEdge(src, n.id);
  }
  dagre.layout(g);
  const out: Positions = {};
  for (const n of nodes) {
    const v = g.node(n.id) as { x: number; y: number; width: number; height: number } | undefined;
    if (v) out[n.id] = { x: Math.round(v.x - v.width / 2), y: Math.round(v.y - v.height / 2) };
  }
  return out;
}
