/** Auto-layout (renderer/src/lib/layout.ts, dagre), left to right. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProject, type ProjectNode } from '../../engine/io/project';
import { estimateSize, layoutGraph, type Size } from '../../renderer/src/lib/layout';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

const n = (id: string, op: string, inputs?: Record<string, string>): ProjectNode => ({ id, op, ...(inputs ? { inputs } : {}) });

/** Every wire (source -> target) whose ends both exist and differ. */
const wires = (nodes: readonly ProjectNode[]) => {
  const ids = new Set(nodes.map((x) => x.id));
  return nodes.flatMap((t) => Object.values(t.inputs ?? {}).filter((s) => ids.has(s) && s !== t.id).map((s) => [s, t.id] as const));
};

/** Do the boxes of two laid-out nodes overlap? */
function overlap(a: { x: number; y: number }, sa: Size, b: { x: number; y: number }, sb: Size): boolean {
  return a.x < b.x + sb.width && b.x < a.x + sa.width && a.y < b.y + sb.height && b.y < a.y + sa.height;
}

const graphs: [string, ProjectNode[]][] = [
  ['one node', [n('x', 'input')]],
  ['a chain', [n('x', 'input'), n('a', 'relu', { x: 'x' }), n('b', 'relu', { x: 'a' }), n('c', 'relu', { x: 'b' })]],
  ['a diamond', [n('x', 'input'), n('a', 'relu', { x: 'x' }), n('b', 'tanh', { x: 'x' }), n('c', 'add', { a: 'a', b: 'b' })]],
  ['two components', [n('x', 'input'), n('a', 'relu', { x: 'x' }), n('y', 'input'), n('b', 'relu', { x: 'y' }), n('lone', 'label')]],
  ['listed out of order', [n('c', 'add', { a: 'a', b: 'b' }), n('b', 'tanh', { x: 'x' }), n('a', 'relu', { x: 'x' }), n('x', 'input')]],
  ['a residual block', [
    n('x', 'input'),
    n('h1', 'dense', { x: 'x' }),
    n('h2', 'dense', { x: 'h1' }),
    n('r', 'add', { a: 'h2', b: 'x' }),
    n('o', 'dense', { x: 'r' }),
  ]],
  ...readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.bpstudio'))
    .sort()
    .map((f): [string, ProjectNode[]] => [`example ${f}`, parseProject(readFileSync(join(EXAMPLES, f), 'utf8')).graph.nodes]),
];

describe('layoutGraph', () => {
  it.each(graphs)('%s: every node gets an integer position, data flows left to right, no boxes overlap', (_name, nodes) => {
    const pos = layoutGraph(nodes);
    expect(Object.keys(pos).sort()).toEqual(nodes.map((x) => x.id).sort());
    for (const id of Object.keys(pos)) {
      expect(Number.isInteger(pos[id].x) && Number.isInteger(pos[id].y), id).toBe(true);
    }
    for (const [s, t] of wires(nodes)) expect(pos[s].x, `${s} -> ${t}`).toBeLessThan(pos[t].x);
    for (const a of nodes) {
      for (const b of nodes) {
        if (a.id < b.id) expect(overlap(pos[a.id], estimateSize(a), pos[b.id], estimateSize(b)), `${a.id} and ${b.id}`).toBe(false);
      }
    }
  });

  it('is deterministic', () => {
    for (const [, nodes] of graphs) expect(layoutGraph(nodes)).toEqual(layoutGraph(nodes));
  });

  it('a rank is one column: nodes at the same depth share x, the next depth is right of the widest', () => {
    const nodes = graphs.find(([k]) => k === 'a diamond')![1];
    const pos = layoutGraph(nodes);
    expect(pos.a.x).toBe(pos.b.x);
    expect(pos.a.y).not.toBe(pos.b.y);
    expect(pos.c.x).toBeGreaterThanOrEqual(pos.a.x + 168 + 52);
  });

  it('uses measured sizes where the canvas has them', () => {
    const nodes = graphs.find(([k]) => k === 'a chain')![1];
    const wide = new Map<string, Size>([['a', { width: 600, height: 40 }]]);
    const pos = layoutGraph(nodes, wide);
    expect(pos.b.x - pos.a.x).toBeGreaterThanOrEqual(600);
    expect(layoutGraph(nodes).b.x - layoutGraph(nodes).a.x).toBeLessThan(600);
  });

  it('does not fail on what a broken document holds: a cycle, a self-loop, a dangling wire, duplicate ids', () => {
    const nodes = [
      n('x', 'input'),
      n('a', 'relu', { x: 'c' }),
      n('b', 'relu', { x: 'a' }),
      n('c', 'add', { a: 'b', b: 'x' }),
      n('s', 'relu', { x: 's' }),
      n('d', 'relu', { x: 'ghost' }),
      n('d', 'tanh'),
    ];
    const pos = layoutGraph(nodes);
    expect(Object.keys(pos).sort()).toEqual(['a', 'b', 'c', 'd', 's', 'x']);
    for (const p of Object.values(pos)) expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
  });

  it('lays out 300 nodes quickly', () => {
    const nodes: ProjectNode[] = [n('x', 'input')];
    for (let i = 1; i < 300; i++) {
      const inputs: Record<string, string> = { a: nodes[i - 1].id, b: nodes[Math.max(0, i - 3)].id };
      nodes.push(n(`n${i}`, i % 3 ? 'add' : 'relu', i % 3 ? inputs : { x: nodes[i - 1].id }));
    }
    const t0 = performance.now();
    const pos = layoutGraph(nodes);
    expect(Object.keys(pos)).toHaveLength(300);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it.each([
    [n('x', 'input'), { width: 168, height: 82 }],
    [n('h', 'dense'), { width: 168, height: 82 }],
    [n('l', 'softmax_cross_entropy'), { width: 168, height: 102 }],
    [n('q', 'dense', { x: 'a', extra: 'b', more: 'c' }), { width: 168, height: 122 }],
  ])('estimateSize(%j) makes room for each port', (node, size) => {
    expect(estimateSize(node)).toEqual(size);
  });

  // Ids that are names on Object.prototype are valid; dagre gets index keys, so they lay out like any other.
  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])('a wired node named %j is laid out like any other', (id) => {
    const before = Object.getOwnPropertyNames(Object.prototype);
    try {
      const nodes = [n('x', 'input'), n(id, 'relu', { x: 'x' }), n('y', 'relu', { x: id })];
      const pos = layoutGraph(nodes);
      expect(Object.keys(pos).sort()).toEqual([id, 'x', 'y'].sort());
      for (const p of Object.values(pos)) expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
    } finally {
      const added = Object.getOwnPropertyNames(Object.prototype).filter((k) => !before.includes(k));
      for (const k of added) delete (Object.prototype as Record<string, unknown>)[k];
      expect(added).toEqual([]);
    }
  });
});
