/**
 * Pure edits of a project document. Every function takes a Project and returns a new one (sharing what it did not
 * touch), never mutating its argument: the undo history keeps old documents by reference. Keys this code does not
 * know (top-level, in `graph`, in nodes, in `editor`) are carried over untouched.
 */
import { opSpec } from '../../../engine/graph/catalogue';
import { NODE_ID_PATTERN, PROJECT_FORMAT, PROJECT_VERSION, type Project, type ProjectNode } from '../../../engine/io/project';

export type XY = { x: number; y: number };
export type Positions = Record<string, XY>;

export function blankProject(name = 'Untitled'): Project {
  return {
    format: PROJECT_FORMAT,
    version: PROJECT_VERSION,
    name,
    graph: { nodes: [] },
    data: { kind: 'builtin', name: 'spiral', samples: 600, classes: 3, noise: 0.1 },
    training: { optimizer: { type: 'adam', lr: 0.01 }, batchSize: 32, epochs: 50, seed: 1, backend: 'auto' },
    editor: { positions: {} },
  };
}

export function positionsOf(p: Project): Positions {
  return p.editor?.positions ?? {};
}

/**
 * A node's position. Ids are keys of plain objects here, and an id may be `constructor` or `__proto__`: read own
 * properties only, and write with defineProperty (assignment to `__proto__` would set the prototype).
 */
export function positionOf(pos: Positions, id: string): XY | undefined {
  return Object.hasOwn(pos, id) ? pos[id] : undefined;
}

export function setPosition(pos: Positions, id: string, xy: XY): void {
  Object.defineProperty(pos, id, { value: xy, enumerable: true, writable: true, configurable: true });
}

function withNodes(p: Project, nodes: ProjectNode[]): Project {
  return { ...p, graph: { ...p.graph, nodes } };
}

function withPositions(p: Project, positions: Positions): Project {
  return { ...p, editor: { ...(p.editor ?? {}), positions } };
}

/** The id of a node's input edges, as the canvas names them. */
export function edgeId(source: string, target: string, port: string): string {
  return `${source}->${target}.${port}`;
}

/** A fresh id: `base` without trailing digits, then the first free number (dense1, dense2...). */
export function freshId(base: string, taken: ReadonlySet<string>): string {
  let stem = base.replace(/[^A-Za-z0-9_]/g, '_').replace(/\d+$/, '');
  if (!stem) stem = 'n';
  if (!/^[A-Za-z_]/.test(stem)) stem = '_' + stem;
  for (let i = 1; ; i++) {
    const id = `${stem}${i}`;
    if (!taken.has(id)) return id;
  }
}

export function idsOf(p: Project): Set<string> {
  return new Set(p.graph.nodes.map((n) => n.id));
}

export function addNode(p: Project, node: ProjectNode, at: XY): Project {
  return withPositions(withNodes(p, [...p.graph.nodes, node]), { ...positionsOf(p), [node.id]: round(at) });
}

/** A node of `op` with a fresh id (its attrs empty: the catalogue's defaults apply). */
export function newNode(p: Project, op: string): ProjectNode {
  return { id: freshId(op, idsOf(p)), op };
}

/** Removes nodes, the wires that they fed (those ports become unconnected) and their positions. */
export function removeNodes(p: Project, ids: ReadonlySet<string>): Project {
  if (ids.size === 0) return p;
  const nodes = p.graph.nodes
    .filter((n) => !ids.has(n.id))
    .map((n) => {
      if (!n.inputs || !Object.values(n.inputs).some((s) => ids.has(s))) return n;
      return { ...n, inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, s]) => !ids.has(s))) };
    });
  const positions = Object.fromEntries(Object.entries(positionsOf(p)).filter(([id]) => !ids.has(id)));
  return withPositions(withNodes(p, nodes), positions);
}

/** Wires `source`'s output into `target`'s `port`, replacing what fed it. */
export function connect(p: Project, source: string, target: string, port: string): Project {
  return withNodes(
    p,
    p.graph.nodes.map((n) => (n.id === target ? { ...n, inputs: { ...(n.inputs ?? {}), [port]: source } } : n)),
  );
}

export function disconnect(p: Project, wires: readonly { target: string; port: string }[]): Project {
  if (wires.length === 0) return p;
  return withNodes(
    p,
    p.graph.nodes.map((n) => {
      const ports = wires.filter((w) => w.target === n.id).map((w) => w.port);
      if (!ports.length || !n.inputs) return n;
      return { ...n, inputs: Object.fromEntries(Object.entries(n.inputs).filter(([k]) => !ports.includes(k))) };
    }),
  );
}

/** Sets (or, with undefined, removes so that the default applies) one attribute. */
export function setAttr(p: Project, id: string, name: string, value: unknown): Project {
  return withNodes(
    p,
    p.graph.nodes.map((n) => {
      if (n.id !== id) return n;
      const attrs = { ...(n.attrs ?? {}) };
      if (value === undefined) delete attrs[name];
      else attrs[name] = value;
      const next: ProjectNode = { ...n, attrs };
      if (Object.keys(attrs).length === 0) delete next.attrs;
      return next;
    }),
  );
}

export function setLabel(p: Project, id: string, label: string): Project {
  return withNodes(
    p,
    p.graph.nodes.map((n) => {
      if (n.id !== id) return n;
      const next: ProjectNode = { ...n, label };
      if (!label) delete next.label;
      return next;
    }),
  );
}

/** Why `next` cannot be node `id`'s new id, or null. */
export function checkRename(p: Project, id: string, next: string): string | null {
  if (next === id) return null;
  if (!NODE_ID_PATTERN.test(next)) return 'an id is letters, digits and _, not starting with a digit';
  if (idsOf(p).has(next)) return `there is already a node "${next}"`;
  return null;
}

/** Renames a node: its wires, position and the training settings that name it follow. */
export function renameNode(p: Project, id: string, next: string): Project {
  if (id === next) return p;
  const nodes = p.graph.nodes.map((n) => {
    const renamed = n.id === id ? { ...n, id: next } : n;
    if (!renamed.inputs || !Object.values(renamed.inputs).includes(id)) return renamed;
    return { ...renamed, inputs: Object.fromEntries(Object.entries(renamed.inputs).map(([k, s]) => [k, s === id ? next : s])) };
  });
  const positions = Object.fromEntries(Object.entries(positionsOf(p)).map(([k, v]) => [k === id ? next : k, v]));
  let out = withPositions(withNodes(p, nodes), positions);
  const t = out.training;
  if (t && (t.objective === id || t.prediction === id)) {
    out = {
      ...out,
      training: { ...t, ...(t.objective === id ? { objective: next } : {}), ...(t.prediction === id ? { prediction: next } : {}) },
    };
  }
  return out;
}

export function setPositions(p: Project, moved: Positions): Project {
  return withPositions(p, { ...positionsOf(p), ...Object.fromEntries(Object.entries(moved).map(([k, v]) => [k, round(v)])) });
}

function round(v: XY): XY {
  return { x: Math.round(v.x), y: Math.round(v.y) };
}

/**
 * When wiring `source` into `target` would close a loop, the loop (target ... source target), else null. A loop
 * exists when `source` already depends on `target`.
 */
export function cycleThrough(p: Project, source: string, target: string): string[] | null {
  if (source === target) return [source, source];
  const byId = new Map(p.graph.nodes.map((n) => [n.id, n]));
  // Walk upstream from source; `from` remembers which consumer reached each node.
  const from = new Map<string, string>();
  const stack = [source];
  const seen = new Set([source]);
  while (stack.length) {
    const cur = stack.pop()!;
    for (const up of Object.values(byId.get(cur)?.inputs ?? {})) {
      if (seen.has(up) || !byId.has(up)) continue;
      seen.add(up);
      from.set(up, cur);
      if (up === target) {
        // target feeds ... feeds source; the new wire source -> target closes it.
        const path = [target];
        for (let n = target; n !== source; ) {
          n = from.get(n)!;
          path.push(n);
        }
        return [...path, target];
      }
      stack.push(up);
    }
  }
  return null;
}

// ---- clipboard ------------------------------------------------------------------------------------------------

export interface Fragment {
  nodes: ProjectNode[];
  positions: Positions;
}

export function copyFragment(p: Project, ids: ReadonlySet<string>): Fragment {
  const pos = positionsOf(p);
  const nodes = p.graph.nodes.filter((n) => ids.has(n.id)).map((n) => structuredClone(n));
  return { nodes, positions: Object.fromEntries(nodes.filter((n) => positionOf(pos, n.id)).map((n) => [n.id, { ...positionOf(pos, n.id)! }])) };
}

/**
 * Adds a copied fragment: ids renamed where taken, wires inside the fragment follow the renames; wires from nodes
 * outside it are kept only with `keepLinks` (and when that node still exists). Returns the new ids.
 */
export function pasteFragment(p: Project, frag: Fragment, keepLinks: boolean, offset: XY): { project: Project; ids: string[] } {
  const taken = idsOf(p);
  const rename = new Map<string, string>();
  for (const n of frag.nodes) {
    const id = taken.has(n.id) || rename.has(n.id) ? freshId(n.id, taken) : n.id;
    taken.add(id);
    rename.set(n.id, id);
  }
  const existing = idsOf(p);
  const pos = { ...positionsOf(p) };
  const added = frag.nodes.map((n, i) => {
    const id = rename.get(n.id)!;
    const inputs: Record<string, string> = {};
    for (const [port, src] of Object.entries(n.inputs ?? {})) {
      if (rename.has(src)) inputs[port] = rename.get(src)!;
      else if (keepLinks && existing.has(src)) inputs[port] = src;
    }
    const node: ProjectNode = { ...structuredClone(n), id };
    if (Object.keys(inputs).length) node.inputs = inputs;
    else delete node.inputs;
    const at = positionOf(frag.positions, n.id) ?? { x: i * 40, y: i * 40 };
    setPosition(pos, id, round({ x: at.x + offset.x, y: at.y + offset.y }));
    return node;
  });
  return { project: withPositions(withNodes(p, [...p.graph.nodes, ...added]), pos), ids: added.map((n) => n.id) };
}

/** The input ports a node shows: its op's, plus any wired port the op does not have (so the error can point there). */
export function portsOf(n: ProjectNode): string[] {
  const spec = opSpec(n.op);
  const ports = spec ? [...spec.inputs] : [];
  for (const k of Object.keys(n.inputs ?? {})) if (!ports.includes(k)) ports.push(k);
  return ports;
}
