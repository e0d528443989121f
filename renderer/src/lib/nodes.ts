/**
 * The canvas's view of the document: xyflow nodes and edges derived from the project, the analysis and the errors.
 * Pure functions; the controller calls them after every change, carrying over what only the canvas knows
 * (selection, measured sizes).
 */
import type { Edge, Node } from '@xyflow/svelte';
import { opSpec, type Group } from '../../../engine/graph/catalogue';
import type { Project, ProjectNode } from '../../../engine/io/project';
import type { Analysis } from './analysis';
import { attrValue, num4, shape as fmtShape } from './format';
import { edgeKey, type Badge, type EdgeGrad, type GradientOverlay, type NodeGrad } from './gradient-view';
import { edgeId, portsOf, positionOf, positionsOf, type XY } from './graph';

export interface UiError {
  node: string | null;
  port?: string;
  attr?: string;
  message: string;
}

export interface OpNodeData extends Record<string, unknown> {
  op: string;
  label?: string;
  group: Group | 'unknown';
  ports: string[];
  summary: string;
  shape: string | null;
  params: number | null;
  /** Messages about the node as a whole (and its attributes). */
  errors: string[];
  /** Messages about one input port. */
  portErrors: Record<string, string>;
  /** The training run's latest gradient norm of the node's parameters (layers only), with its badge. */
  grad?: NodeGrad;
  /** A badge of a node without a chip (a relu node with dead units). */
  badge?: Badge;
}

export type OpNode = Node<OpNodeData, 'op'>;
export interface ShapeEdgeData extends Record<string, unknown> {
  shape: string | null;
  /** The training run's latest gradient flowing back along the edge (from target to source). */
  grad?: EdgeGrad;
}
export type ShapeEdge = Edge<ShapeEdgeData, 'shape'>;

export const OUT_HANDLE = 'out';

/** A short line of a node's key settings: `units 16 · relu`. */
export function summarize(n: ProjectNode): string {
  const spec = opSpec(n.op);
  const attrs = n.attrs ?? {};
  const names = spec ? [...spec.attrs.map((a) => a.name).filter((k) => k in attrs), ...Object.keys(attrs).filter((k) => !spec.attrs.some((a) => a.name === k))] : Object.keys(attrs);
  const parts: string[] = [];
  for (const k of names) {
    const v = attrs[k];
    const kind = spec?.attrs.find((a) => a.name === k)?.kind.type;
    if (kind === 'enum' && typeof v === 'string') {
      if (v !== 'none') parts.push(k === 'init' ? `init ${v}` : v);
    } else if (kind === 'bool' && typeof v === 'boolean') parts.push(v ? k : `no ${k}`);
    else parts.push(`${k} ${attrValue(v)}`);
  }
  const shown = parts.slice(0, 3).join(' · ');
  return parts.length > 3 ? shown + ' …' : shown;
}

export function fallbackPosition(index: number): XY {
  return { x: 40 + (index % 6) * 220, y: 40 + Math.floor(index / 6) * 140 };
}

export function buildNodes(
  p: Project,
  a: Analysis,
  errorsByNode: ReadonlyMap<string, UiError[]>,
  prev: readonly OpNode[],
  select: ReadonlySet<string> | null,
  overlay?: GradientOverlay | null,
): OpNode[] {
  const prevById = new Map(prev.map((n) => [n.id, n]));
  const pos = positionsOf(p);
  return p.graph.nodes.map((n, i) => {
    const old = prevById.get(n.id);
    const spec = opSpec(n.op);
    const errs = errorsByNode.get(n.id) ?? [];
    const portErrors: Record<string, string> = {};
    const errors: string[] = [];
    for (const e of errs) {
      if (e.port && !(e.port in portErrors)) portErrors[e.port] = e.message;
      else if (!e.port) errors.push(e.attr && !e.message.includes(e.attr) ? `${e.attr}: ${e.message}` : e.message);
    }
    const s = a.shapes.get(n.id);
    const data: OpNodeData = {
      op: n.op,
      ...(n.label ? { label: n.label } : {}),
      group: spec?.group ?? 'unknown',
      ports: portsOf(n),
      summary: summarize(n),
      shape: s ? fmtShape(s) : null,
      params: a.params.has(n.id) ? (a.paramCount.get(n.id) ?? 0) : null,
      errors,
      portErrors,
    };
    const grad = overlay?.nodes.get(n.id);
    if (grad) data.grad = grad;
    const badge = overlay?.badges.get(n.id);
    if (badge) data.badge = badge;
    // Mid-drag (the gradient overlay redraws during training, when moving nodes is allowed): the canvas's position
    // and drag state stay until the drag ends and is committed to the document.
    if (old?.dragging) return JSON.stringify(old.data) === JSON.stringify(data) ? old : { ...old, data };
    const position = positionOf(pos, n.id) ?? fallbackPosition(i);
    const selected = select ? select.has(n.id) : (old?.selected ?? false);
    if (
      old &&
      old.selected === selected &&
      old.position.x === position.x &&
      old.position.y === position.y &&
      JSON.stringify(old.data) === JSON.stringify(data)
    ) {
      return old;
    }
    const node: OpNode = {
      id: n.id,
      type: 'op',
      position: { ...position },
      data,
      selected,
      ariaLabel: `${n.op} node ${n.id}${n.label ? ` (${n.label})` : ''}`,
    };
    if (old?.measured) node.measured = old.measured;
    return node;
  });
}

export function buildEdges(
  p: Project,
  a: Analysis,
  prev: readonly ShapeEdge[],
  select: ReadonlySet<string> | null,
  overlay?: GradientOverlay | null,
): ShapeEdge[] {
  const prevById = new Map(prev.map((e) => [e.id, e]));
  const ids = new Set(p.graph.nodes.map((n) => n.id));
  const out: ShapeEdge[] = [];
  for (const n of p.graph.nodes) {
    for (const [port, src] of Object.entries(n.inputs ?? {})) {
      if (!ids.has(src)) continue;
      const id = edgeId(src, n.id, port);
      const s = a.shapes.get(src);
      const shape = s ? fmtShape(s) : null;
      const grad = overlay?.edges.get(edgeKey(src, n.id));
      const old = prevById.get(id);
      const selected = select ? false : (old?.selected ?? false);
      if (old && old.data?.shape === shape && (old.selected ?? false) === selected && sameGrad(old.data?.grad, grad)) {
        out.push(old);
        continue;
      }
      const gradText = grad ? `, gradient norm ${grad.norm === null ? 'not finite' : num4(grad.norm)}` : '';
      out.push({
        id,
        type: 'shape',
        source: src,
        target: n.id,
        sourceHandle: OUT_HANDLE,
        targetHandle: port,
        data: grad ? { shape, grad } : { shape },
        selected,
        ariaLabel: `Wire from ${src} to ${n.id}, port ${port}${shape ? `, shape ${shape}` : ''}${gradText}`,
      });
    }
  }
  return out;
}

function sameGrad(a: EdgeGrad | undefined, b: EdgeGrad | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.norm === b.norm && a.colour === b.colour && a.width === b.width && a.alarm === b.alarm && a.scale?.lo === b.scale?.lo && a.scale?.hi === b.scale?.hi;
}
