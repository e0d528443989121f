/** Automatic layout, left to right, with dagre (@dagrejs/dagre). */
import dagre from '@dagrejs/dagre';
import type { Project, ProjectNode } from '../../../engine/io/project';
import { portsOf, positionOf, setPosition, type Positions } from './graph';

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
  // dagre keeps nodes as keys of plain objects, so it gets index keys, never the ids (`constructor` is a valid id).
  const key = new Map(nodes.map((n, i) => [n.id, `n${i}`]));
  nodes.forEach((n) => g.setNode(key.get(n.id)!, { ...(sizes.get(n.id) ?? estimateSize(n)) }));
  for (const n of nodes) {
    for (const src of Object.values(n.inputs ?? {})) if (key.has(src) && src !== n.id) g.setEdge(key.get(src)!, key.get(n.id)!);
  }
  dagre.layout(g);
  const out: Positions = {};
  for (const n of nodes) {
    const v = g.node(key.get(n.id)!) as { x: number; y: number; width: number; height: number } | undefined;
    if (v) setPosition(out, n.id, { x: Math.round(v.x - v.width / 2), y: Math.round(v.y - v.height / 2) });
  }
  return out;
}

/** The project with positions for every node: all laid out when it has none, the missing ones placed otherwise. */
export function withLayout(project: Project): Project {
  const nodes = project.graph.nodes;
  const pos = project.editor?.positions ?? {};
  const missing = nodes.filter((n) => !positionOf(pos, n.id));
  if (!missing.length) return project;
  const laid = layoutGraph(nodes);
  let placed: Positions;
  if (missing.length === nodes.length) placed = { ...pos, ...laid };
  else {
    // Place the missing ones below what is there, in the layout's arrangement.
    placed = { ...pos };
    const maxY = Math.max(...Object.values(pos).map((q) => q.y)) + 160;
    for (const n of missing) setPosition(placed, n.id, { x: positionOf(laid, n.id)?.x ?? 0, y: maxY + (positionOf(laid, n.id)?.y ?? 0) });
  }
  return { ...project, editor: { ...(project.editor ?? {}), positions: placed } };
}
