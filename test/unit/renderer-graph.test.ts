/**
 * The editor's pure document edits (renderer/src/lib/graph.ts): add, connect, disconnect, delete, rename, cycle
 * refusal, copy and paste; and what the canvas derives from a document (analysis.ts, nodes.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProject, serializeProject, type Project, type ProjectNode } from '../../engine/io/project';
import { analyze, takesShape } from '../../renderer/src/lib/analysis';
import { CATALOGUE } from '../../engine/graph/catalogue';
import {
  addNode,
  blankProject,
  checkRename,
  connect,
  copyFragment,
  cycleThrough,
  disconnect,
  edgeId,
  freshId,
  idsOf,
  newNode,
  pasteFragment,
  portsOf,
  positionsOf,
  removeNodes,
  renameNode,
  setAttr,
  setLabel,
  setPositions,
} from '../../renderer/src/lib/graph';
import { buildEdges, buildNodes, fallbackPosition, summarize, type UiError } from '../../renderer/src/lib/nodes';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const spiral = (): Project => parseProject(readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8'), 'spiral.bpstudio');

/** A document from a compact list of nodes: `[id, op, inputs?, attrs?]`, at made-up positions. */
function doc(...specs: [string, string, Record<string, string>?, Record<string, unknown>?][]): Project {
  let p = blankProject('t');
  specs.forEach(([id, op, inputs, attrs], i) => {
    const n: ProjectNode = { id, op, ...(attrs ? { attrs } : {}), ...(inputs ? { inputs } : {}) };
    p = addNode(p, n, { x: i * 100, y: 0 });
  });
  return p;
}

/** input x[2] -> h1 dense -> h2 dense -> out dense(3) -> loss <- y label. */
const chain = () =>
  doc(
    ['x', 'input', undefined, { shape: [2] }],
    ['y', 'label'],
    ['h1', 'dense', { x: 'x' }, { units: 4 }],
    ['h2', 'dense', { x: 'h1' }, { units: 4 }],
    ['out', 'dense', { x: 'h2' }, { units: 3 }],
    ['loss', 'softmax_cross_entropy', { logits: 'out', labels: 'y' }],
  );

const node = (p: Project, id: string) => p.graph.nodes.find((n) => n.id === id);
const deepFreeze = <T>(v: T): T => {
  if (v && typeof v === 'object') {
    Object.values(v).forEach(deepFreeze);
    Object.freeze(v);
  }
  return v;
};

describe('graph edits are immutable', () => {
  // Every edit on a deeply frozen document: any mutation would throw (strict mode), and the old one stays as it was.
  const edits: [string, (p: Project) => Project][] = [
    ['addNode', (p) => addNode(p, { id: 'z', op: 'relu', inputs: { x: 'h1' } }, { x: 1.4, y: 2.6 })],
    ['connect', (p) => connect(p, 'x', 'h2', 'x')],
    ['disconnect', (p) => disconnect(p, [{ target: 'loss', port: 'labels' }])],
    ['removeNodes', (p) => removeNodes(p, new Set(['h1']))],
    ['setAttr', (p) => setAttr(p, 'h1', 'units', 8)],
    ['setAttr (unset)', (p) => setAttr(p, 'h1', 'units', undefined)],
    ['setLabel', (p) => setLabel(p, 'h1', 'first')],
    ['renameNode', (p) => renameNode(p, 'h1', 'hidden')],
    ['setPositions', (p) => setPositions(p, { h1: { x: 5, y: 5 } })],
    ['pasteFragment', (p) => pasteFragment(p, copyFragment(p, new Set(['h1', 'h2'])), true, { x: 10, y: 10 }).project],
  ];
  it.each(edits)('%s returns a new document and leaves the old one untouched', (_name, edit) => {
    const before = deepFreeze(chain());
    const snapshot = JSON.stringify(before);
    const after = edit(before);
    expect(after).not.toBe(before);
    expect(JSON.stringify(before)).toBe(snapshot);
  });

  it('shares what an edit did not touch, and keeps unknown keys everywhere', () => {
    const p = { ...chain(), extra: { keep: 1 } } as Project;
    p.graph = { ...p.graph, note: 'graph key' } as Project['graph'];
    const q = setAttr(p, 'h2', 'units', 5);
    expect(q.extra).toBe(p.extra);
    expect((q.graph as Record<string, unknown>).note).toBe('graph key');
    expect(node(q, 'h1')).toBe(node(p, 'h1'));
    expect(node(q, 'h2')).not.toBe(node(p, 'h2'));
    expect(q.training).toBe(p.training);
  });
});

describe('graph edits', () => {
  it('addNode appends the node and its position, rounded', () => {
    const p = addNode(blankProject(), { id: 'a', op: 'input' }, { x: 10.4, y: -3.6 });
    expect(p.graph.nodes).toEqual([{ id: 'a', op: 'input' }]);
    expect(positionsOf(p)).toEqual({ a: { x: 10, y: -4 } });
  });

  it.each([
    ['dense', [], 'dense1'],
    ['dense', ['dense1'], 'dense2'],
    ['dense', ['dense1', 'dense2', 'dense4'], 'dense3'],
    ['dense7', ['dense1'], 'dense2'],
    ['softmax_cross_entropy', [], 'softmax_cross_entropy1'],
    ['h1', ['h1'], 'h2'],
    ['x', ['x'], 'x1'],
    ['2d', [], '_2d1'],
    ['123', [], 'n1'],
    ['my-node', [], 'my_node1'],
    ['', [], 'n1'],
  ])('freshId(%j, taken %j) is %j', (base, taken, want) => {
    expect(freshId(base, new Set(taken))).toBe(want);
  });

  it('newNode numbers by op, past the ids in use', () => {
    const p = doc(['dense1', 'dense'], ['dense2', 'dense']);
    expect(newNode(p, 'dense')).toEqual({ id: 'dense3', op: 'dense' });
    expect(newNode(p, 'relu')).toEqual({ id: 'relu1', op: 'relu' });
  });

  it.each([
    ['wires a free port', 'x', 'h2', 'x', { x: 'x' }],
    ['replaces what fed the port', 'h1', 'h2', 'x', { x: 'h1' }],
    ['adds a second port beside the first', 'out', 'loss', 'labels', { logits: 'out', labels: 'out' }],
  ])('connect %s', (_what, source, target, port, inputs) => {
    const p = connect(chain(), source, target, port);
    expect(node(p, target)!.inputs).toEqual(inputs);
  });

  it('connect on a node without inputs creates them', () => {
    const p = connect(chain(), 'x', 'y', 'x');
    expect(node(p, 'y')!.inputs).toEqual({ x: 'x' });
  });

  it.each([
    ['one wire', [{ target: 'loss', port: 'labels' }], { loss: { logits: 'out' } }],
    ['two wires of one node', [{ target: 'loss', port: 'labels' }, { target: 'loss', port: 'logits' }], { loss: {} }],
    ['wires of two nodes', [{ target: 'h2', port: 'x' }, { target: 'out', port: 'x' }], { h2: {}, out: {} }],
    ['a port that is not wired (no change)', [{ target: 'h2', port: 'nope' }], { h2: { x: 'h1' } }],
  ])('disconnect %s', (_what, wires, want) => {
    const p = disconnect(chain(), wires);
    for (const [id, inputs] of Object.entries(want)) expect(node(p, id)!.inputs).toEqual(inputs);
  });

  it('disconnect of nothing returns the same document', () => {
    const p = chain();
    expect(disconnect(p, [])).toBe(p);
    expect(removeNodes(p, new Set())).toBe(p);
  });

  it('removeNodes drops the nodes, their positions and the wires they fed', () => {
    const p = removeNodes(chain(), new Set(['h2', 'y']));
    expect([...idsOf(p)]).toEqual(['x', 'h1', 'out', 'loss']);
    expect(Object.keys(positionsOf(p))).toEqual(['x', 'h1', 'out', 'loss']);
    expect(node(p, 'out')!.inputs).toEqual({});
    expect(node(p, 'loss')!.inputs).toEqual({ logits: 'out' });
    // The ports it fed are now reported as unconnected by the analysis.
    const a = analyze(p.graph.nodes);
    expect(a.errors.map((e) => [e.node, e.port])).toEqual(expect.arrayContaining([['out', 'x'], ['loss', 'labels']]));
  });

  it.each([
    ['sets a value', 'units', 8, { units: 8 }],
    ['unset removes the key', 'units', undefined, undefined],
    ['a second attribute', 'activation', 'relu', { units: 4, activation: 'relu' }],
  ])('setAttr %s', (_what, name, value, want) => {
    const p = setAttr(chain(), 'h1', name, value);
    expect(node(p, 'h1')!.attrs).toEqual(want);
    if (want === undefined) expect('attrs' in node(p, 'h1')!).toBe(false);
  });

  it('setLabel sets and, empty, removes the label', () => {
    const p = setLabel(chain(), 'h1', 'first layer');
    expect(node(p, 'h1')!.label).toBe('first layer');
    expect('label' in node(setLabel(p, 'h1', ''), 'h1')!).toBe(false);
  });

  it.each([
    ['h1', 'h1', null],
    ['h1', 'hidden_1', null],
    ['h1', 'h2', 'there is already a node "h2"'],
    ['h1', '1h', 'an id is letters, digits and _, not starting with a digit'],
    ['h1', 'a b', 'an id is letters, digits and _, not starting with a digit'],
    ['h1', '', 'an id is letters, digits and _, not starting with a digit'],
    ['h1', 'hé', 'an id is letters, digits and _, not starting with a digit'],
  ])('checkRename(%j -> %j) is %j', (from, to, want) => {
    expect(checkRename(chain(), from, to)).toBe(want);
  });

  it('renameNode carries the wires, the position and the training targets along', () => {
    let p = chain();
    p = { ...p, training: { ...p.training, objective: 'loss', prediction: 'out' } };
    const q = renameNode(renameNode(p, 'out', 'logits'), 'loss', 'objective');
    expect(node(q, 'logits')).toBeDefined();
    expect(node(q, 'out')).toBeUndefined();
    expect(node(q, 'objective')!.inputs).toEqual({ logits: 'logits', labels: 'y' });
    expect(positionsOf(q).logits).toEqual(positionsOf(p).out);
    expect(positionsOf(q).out).toBeUndefined();
    expect(q.training).toMatchObject({ objective: 'objective', prediction: 'logits' });
    expect(renameNode(p, 'h1', 'h1')).toBe(p);
    // The graph is as valid as before.
    expect(analyze(q.graph.nodes).errors).toEqual([]);
  });

  it('setPositions moves some nodes, rounded, and keeps the others', () => {
    const p = setPositions(chain(), { h1: { x: 1.5, y: 2.49 } });
    expect(positionsOf(p).h1).toEqual({ x: 2, y: 2 });
    expect(positionsOf(p).x).toEqual({ x: 0, y: 0 });
  });

  it.each([
    ['dense', ['x']],
    ['softmax_cross_entropy', ['logits', 'labels']],
    ['input', []],
    ['frobnicate', []],
  ])('portsOf a %s node', (op, ports) => {
    expect(portsOf({ id: 'n', op })).toEqual(ports);
  });

  it('portsOf lists a wired port the op lacks, so that the error can point at it', () => {
    expect(portsOf({ id: 'n', op: 'dense', inputs: { x: 'a', extra: 'b' } })).toEqual(['x', 'extra']);
  });

  it('edgeId names a wire by its ends and port', () => {
    expect(edgeId('h1', 'h2', 'x')).toBe('h1->h2.x');
  });

  it('a new document is valid JSON for the file format, with no nodes', () => {
    const p = blankProject('Mine');
    expect(parseProject(serializeProject(p))).toEqual(p);
    expect(p.name).toBe('Mine');
  });
});

describe('cycle refusal', () => {
  it.each([
    ['a self-loop', 'h1', 'h1', ['h1', 'h1']],
    ['a wire back to the previous node', 'h2', 'h1', ['h1', 'h2', 'h1']],
    ['a wire back across the chain', 'out', 'h1', ['h1', 'h2', 'out', 'h1']],
    ['a wire back to the start', 'loss', 'x', ['x', 'h1', 'h2', 'out', 'loss', 'x']],
    ['a forward wire (fine)', 'x', 'out', null],
    ['a sideways wire (fine)', 'y', 'h2', null],
    ['from a node that does not exist', 'ghost', 'h1', null],
  ])('%s: cycleThrough(%j -> %j) names %j', (_what, source, target, want) => {
    const c = cycleThrough(chain(), source, target);
    expect(c).toEqual(want);
    if (c) {
      // The loop it names is real: each node feeds the next, and the new wire closes it.
      const p = connect(chain(), source, target, 'x');
      for (let i = 0; i + 1 < c.length; i++) expect(Object.values(node(p, c[i + 1])!.inputs ?? {})).toContain(c[i]);
    }
  });

  it('names the loop through a branch, not an unrelated path', () => {
    // x -> a -> c, x -> b -> c; wiring c into b closes b -> c -> b only.
    const p = doc(['x', 'input'], ['a', 'relu', { x: 'x' }], ['b', 'relu', { x: 'x' }], ['c', 'add', { a: 'a', b: 'b' }]);
    expect(cycleThrough(p, 'c', 'b')).toEqual(['b', 'c', 'b']);
    expect(cycleThrough(p, 'c', 'x')?.[0]).toBe('x');
    expect(cycleThrough(p, 'c', 'x')?.at(-1)).toBe('x');
  });

  it('the engine reports the same loop when a file has one', () => {
    const p = connect(chain(), 'out', 'h1', 'x');
    const a = analyze(p.graph.nodes);
    expect(a.errors.some((e) => /cycle/.test(e.message) && ['h1', 'h2', 'out'].every((id) => e.message.includes(id)))).toBe(true);
  });
});

describe('copy and paste', () => {
  it('copyFragment takes the nodes, deep-copied, with their positions', () => {
    const p = chain();
    const f = copyFragment(p, new Set(['h1', 'h2']));
    expect(f.nodes.map((n) => n.id)).toEqual(['h1', 'h2']);
    expect(f.nodes[0]).toEqual(node(p, 'h1'));
    expect(f.nodes[0]).not.toBe(node(p, 'h1'));
    expect(f.nodes[0].attrs).not.toBe(node(p, 'h1')!.attrs);
    expect(f.positions).toEqual({ h1: positionsOf(p).h1, h2: positionsOf(p).h2 });
  });

  it.each([
    // [what, selection, keepLinks, new ids, inputs of the pasted nodes]
    ['one node, renamed past the ids in use (h1 -> h3)', ['h1'], false, ['h3'], [undefined]],
    ['one node, Shift+V keeps the link from outside', ['h1'], true, ['h3'], [{ x: 'x' }]],
    ['a chain: inner wires follow the renames', ['h1', 'h2'], false, ['h3', 'h4'], [undefined, { x: 'h3' }]],
    ['a chain with Shift+V', ['h1', 'h2'], true, ['h3', 'h4'], [{ x: 'x' }, { x: 'h3' }]],
    ['the loss: both outside links dropped', ['loss'], false, ['loss1'], [undefined]],
    ['the loss with Shift+V', ['loss'], true, ['loss1'], [{ logits: 'out', labels: 'y' }]],
    ['the whole graph', ['x', 'y', 'h1', 'h2', 'out', 'loss'], false, ['x1', 'y1', 'h3', 'h4', 'out1', 'loss1'], [
      undefined,
      undefined,
      { x: 'x1' },
      { x: 'h3' },
      { x: 'h4' },
      { logits: 'out1', labels: 'y1' },
    ]],
  ])('paste %s', (_what, selection, keepLinks, ids, inputs) => {
    const p = chain();
    const { project, ids: got } = pasteFragment(p, copyFragment(p, new Set(selection)), keepLinks, { x: 30, y: 30 });
    expect(got).toEqual(ids);
    expect(got.map((id) => node(project, id)!.inputs)).toEqual(inputs);
    // Ids are unique, the original nodes are untouched, the copies sit offset from the originals.
    expect(new Set(project.graph.nodes.map((n) => n.id)).size).toBe(project.graph.nodes.length);
    expect(project.graph.nodes.slice(0, p.graph.nodes.length)).toEqual(p.graph.nodes);
    got.forEach((id, i) => {
      const from = positionsOf(p)[selection[i]];
      expect(positionsOf(project)[id]).toEqual({ x: from.x + 30, y: from.y + 30 });
    });
  });

  it('pasting twice numbers on (dense1 -> dense2 -> dense3)', () => {
    let p = doc(['x', 'input', undefined, { shape: [2] }], ['dense1', 'dense', { x: 'x' }]);
    const f = copyFragment(p, new Set(['dense1']));
    const first = pasteFragment(p, f, true, { x: 0, y: 0 });
    p = first.project;
    const second = pasteFragment(p, f, true, { x: 0, y: 0 });
    expect([first.ids, second.ids]).toEqual([['dense2'], ['dense3']]);
    expect(node(second.project, 'dense3')!.inputs).toEqual({ x: 'x' });
  });

  it('pasted ids do not collide with other ids of the fragment', () => {
    // Copying a and a1 into the document that has both: the copy of a must not take the name a1 of the fragment's
    // other node (or the wire a -> a1 would be confused); all ids are unique and the wire follows.
    const p = doc(['a', 'input', undefined, { shape: [2] }], ['a1', 'relu', { x: 'a' }]);
    const { project, ids } = pasteFragment(p, copyFragment(p, new Set(['a', 'a1'])), false, { x: 0, y: 0 });
    expect(new Set(project.graph.nodes.map((n) => n.id)).size).toBe(4);
    expect(node(project, ids[1])!.inputs).toEqual({ x: ids[0] });
    expect(analyze(project.graph.nodes).errors).toEqual([]);
  });

  it('pasting into another document keeps the ids that are free there', () => {
    const p = chain();
    const { project, ids } = pasteFragment(blankProject(), copyFragment(p, new Set(['h1', 'h2'])), true, { x: 0, y: 0 });
    expect(ids).toEqual(['h1', 'h2']);
    // h1's source x does not exist there: the link is dropped even with Shift+V.
    expect(node(project, 'h1')!.inputs).toBeUndefined();
    expect(node(project, 'h2')!.inputs).toEqual({ x: 'h1' });
  });

  it('a node without a copied position is placed by its index, then offset', () => {
    const f = { nodes: [{ id: 'a', op: 'relu' }, { id: 'b', op: 'relu' }], positions: {} };
    const { project } = pasteFragment(blankProject(), f, false, { x: 5, y: 5 });
    expect(positionsOf(project)).toEqual({ a: { x: 5, y: 5 }, b: { x: 45, y: 45 } });
  });

  it('a paste that cuts a cycle in two keeps every id unique and analysable', () => {
    const p = chain();
    const { project } = pasteFragment(p, copyFragment(p, new Set(['h2', 'out'])), true, { x: 0, y: 0 });
    expect(analyze(project.graph.nodes).errors).toEqual([]);
  });
});

describe('analysis and the canvas', () => {
  it('infers every shape of the spiral network and counts its parameters', () => {
    const p = spiral();
    const a = analyze(p.graph.nodes);
    expect(a.errors).toEqual([]);
    expect(Object.fromEntries(a.shapes)).toEqual({ x: [null, 2], y: [null], h1: [null, 32], h2: [null, 32], out: [null, 3], loss: [] });
    expect(Object.fromEntries(a.paramCount)).toEqual({ h1: 2 * 32 + 32, h2: 32 * 32 + 32, out: 32 * 3 + 3 });
    expect(a.totalParams).toBe(2 * 32 + 32 + 32 * 32 + 32 + 32 * 3 + 3);
    expect(a.order).toHaveLength(6);
  });

  it.each([
    ['a shape mismatch', (p: Project) => addNode(p, { id: 's', op: 'add', inputs: { a: 'x', b: 'h1' } }, { x: 0, y: 0 }), 's', undefined],
    ['labels that do not fit the logits', (p: Project) => connect(p, 'h1', 'loss', 'labels'), 'loss', 'labels'],
    ['a bad attribute', (p: Project) => setAttr(p, 'h1', 'units', 0), 'h1', undefined],
    ['an unconnected port', (p: Project) => disconnect(p, [{ target: 'h2', port: 'x' }]), 'h2', 'x'],
    ['an unknown op', (p: Project) => addNode(p, { id: 'q', op: 'nope' }, { x: 0, y: 0 }), 'q', undefined],
  ])('%s is an error at the node (and port) it concerns, and its shape is absent', (_what, edit, id, port) => {
    const a = analyze(edit(chain()).graph.nodes);
    const errs = a.byNode.get(id) ?? [];
    expect(errs.length).toBeGreaterThan(0);
    if (port) expect(errs.map((e) => e.port)).toContain(port);
    expect(a.shapes.has(id)).toBe(false);
  });

  it('an edit updates the shapes downstream', () => {
    const a = analyze(setAttr(chain(), 'h1', 'units', 7).graph.nodes);
    expect(a.shapes.get('h1')).toEqual([null, 7]);
    expect(a.paramCount.get('h2')).toBe(7 * 4 + 4);
  });

  it.each([
    [{ id: 'h', op: 'dense', attrs: { units: 16, activation: 'relu' } }, 'units 16 · relu'],
    [{ id: 'h', op: 'dense', attrs: { activation: 'relu', units: 16 } }, 'units 16 · relu'],
    [{ id: 'h', op: 'dense', attrs: { units: 16, activation: 'none', bias: false } }, 'units 16 · no bias'],
    [{ id: 'h', op: 'dense', attrs: { units: 16, bias: true, init: 'he', std: 0.123456 } }, 'units 16 · bias · init he …'],
    [{ id: 'c', op: 'constant', attrs: { value: [[1, 2], [3, 4]] } }, 'value [[1, 2], [3, 4]]'],
    [{ id: 'c', op: 'constant', attrs: { value: [1, 2, 3, 4, 5, 6, 7] } }, 'value [7…]'],
    [{ id: 'k', op: 'conv2d', attrs: { kernel: [3, 5], padding: 'same' } }, 'kernel [3, 5] · padding same'],
    [{ id: 'u', op: 'frobnicate', attrs: { a: 1 } }, 'a 1'],
    [{ id: 'r', op: 'relu' }, ''],
    [{ id: 'h', op: 'dense', attrs: { units: 16, typo: 3 } }, 'units 16 · typo 3'],
  ])('summarize(%j) is %j', (n, want) => {
    expect(summarize(n)).toBe(want);
  });

  it('buildNodes shows op, shape, parameters and errors, and reuses unchanged nodes', () => {
    let p = chain();
    const a = analyze(p.graph.nodes);
    const first = buildNodes(p, a, new Map(), [], null);
    const h1 = first.find((n) => n.id === 'h1')!;
    expect(h1).toMatchObject({ type: 'op', position: positionsOf(p).h1, selected: false });
    expect(h1.data).toMatchObject({ op: 'dense', group: 'layers', ports: ['x'], summary: 'units 4', shape: '[B, 4]', params: 12, errors: [], portErrors: {} });
    expect(first.find((n) => n.id === 'x')!.data.params).toBeNull();
    expect(first.find((n) => n.id === 'loss')!.data.shape).toBe('[]');

    // An edit of h2: h1 and the nodes before it are the same objects, h2 and what follows are new.
    p = setAttr(p, 'h2', 'units', 5);
    const b = analyze(p.graph.nodes);
    const second = buildNodes(p, b, new Map(), first, null);
    expect(second.find((n) => n.id === 'h1')).toBe(h1);
    expect(second.find((n) => n.id === 'h2')).not.toBe(first.find((n) => n.id === 'h2'));
    expect(second.find((n) => n.id === 'h2')!.data.shape).toBe('[B, 5]');

    // Errors: a port's goes to portErrors, the others to errors (prefixed by the attribute when it is not named).
    const errs = new Map<string, UiError[]>([
      ['out', [
        { node: 'out', port: 'x', message: 'wrong shape' },
        { node: 'out', port: 'x', message: 'second message for x' },
        { node: 'out', attr: 'units', message: 'must be at least 1' },
        { node: 'out', attr: 'units', message: 'attribute units is bad' },
      ]],
    ]);
    const third = buildNodes(p, b, errs, second, new Set(['out']));
    const out = third.find((n) => n.id === 'out')!;
    expect(out.data.portErrors).toEqual({ x: 'wrong shape' });
    expect(out.data.errors).toEqual(['units: must be at least 1', 'attribute units is bad']);
    expect(out.selected).toBe(true);
    expect(third.filter((n) => n.selected).map((n) => n.id)).toEqual(['out']);
  });

  it('a node without a position gets one by its index', () => {
    const p = { ...chain(), editor: {} };
    const nodes = buildNodes(p, analyze(p.graph.nodes), new Map(), [], null);
    expect(nodes.map((n) => n.position)).toEqual(p.graph.nodes.map((_n, i) => fallbackPosition(i)));
  });

  it('buildEdges draws one wire per connected input with the source shape, skipping dangling ones', () => {
    const p = connect(chain(), 'ghost', 'h2', 'x');
    const a = analyze(p.graph.nodes);
    const edges = buildEdges(p, a, [], null);
    expect(edges.map((e) => e.id).sort()).toEqual(['h2->out.x', 'out->loss.logits', 'x->h1.x', 'y->loss.labels']);
    expect(edges.find((e) => e.id === 'x->h1.x')).toMatchObject({ source: 'x', target: 'h1', sourceHandle: 'out', targetHandle: 'x', data: { shape: '[B, 2]' } });
    // Shapes that cannot be inferred (h2 is broken, so out is too) are null.
    expect(edges.find((e) => e.id === 'h2->out.x')!.data!.shape).toBeNull();
    // Unchanged edges are reused.
    const again = buildEdges(p, a, edges, null);
    again.forEach((e, i) => expect(e).toBe(edges[i]));
  });
});

describe('search-to-add: which ops take a wire from an output of a shape', () => {
  /** The ops of the catalogue that do not take the shape at their first input port. */
  const refusing = (shape: (number | null)[]) => CATALOGUE.filter((o) => !takesShape(o.op, o.inputs, shape)).map((o) => o.op);
  const SOURCES = ['input', 'label', 'parameter', 'constant'];
  it.each([
    // a dense layer's features: not an image
    [[null, 16], ['conv2d', 'maxpool2d', 'avgpool2d']],
    // an image batch: everything (dense works on its last axis)
    [[null, 1, 16, 16], []],
    // a scalar (a loss): nothing with an axis to work on
    [[], ['softmax', 'log_softmax', 'transpose', 'dense', 'conv2d', 'maxpool2d', 'avgpool2d', 'batchnorm']],
    // a batch of scalars (class labels): no feature axis
    [[null], ['transpose', 'dense', 'conv2d', 'maxpool2d', 'avgpool2d', 'batchnorm']],
    // a parameter matrix (no batch): no batch for batchnorm, not an image
    [[4, 4], ['conv2d', 'maxpool2d', 'avgpool2d', 'batchnorm']],
  ] as [(number | null)[], string[]][])('%j: all but the sources and %j', (shape, refused) => {
    expect(refusing(shape)).toEqual([...SOURCES, ...refused]);
  });
});

