/**
 * The gradient view on the graph (renderer/src/lib/gradient-view.ts): the log scale (range, position, colour, width,
 * robust to 0 / null / NaN / Inf), the legend's ticks, the vanishing and exploding badges (hand-made tables, and the
 * deep-sigmoid and deep-relu examples trained for an epoch by the engine), the edge lookup, the overlay built from a
 * training state, and the nodes' and edges' data that carry it (nodes.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProject, type Project } from '../../engine/io/project';
import { Session } from '../../engine/train/session';
import { analyze } from '../../renderer/src/lib/analysis';
import {
  ALARM_COLOUR,
  badgesOf,
  chipText,
  deadBadges,
  decadeLabel,
  edgeKey,
  edgeLookup,
  flowEdges,
  globalNorm,
  legendOf,
  legendTicks,
  nodeGradient,
  overlayFor,
  position,
  rampColour,
  scaleOf,
  styleOf,
  type FlowInfo,
  type GradScale,
} from '../../renderer/src/lib/gradient-view';
import { buildEdges, buildNodes } from '../../renderer/src/lib/nodes';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const example = (name: string): Project => parseProject(readFileSync(join(EXAMPLES, name), 'utf8'), name);

const mix01 = (p: number) => `color-mix(in oklab, var(--grad-0), var(--grad-1) ${p}%)`;
const mix12 = (p: number) => `color-mix(in oklab, var(--grad-1), var(--grad-2) ${p}%)`;

describe('the log scale', () => {
  it.each<[string, (number | null | undefined)[], GradScale | null]>([
    ['nothing', [], null],
    ['only zero, null, undefined, NaN, infinities and negatives', [0, null, undefined, NaN, Infinity, -Infinity, -1], null],
    ['one norm inside a decade', [0.5], { lo: -1, hi: 0 }],
    ['one power of ten: one decade above it', [1], { lo: 0, hi: 1 }],
    ['the sigmoid net\'s ends', [8e-7, 0.35], { lo: -7, hi: 0 }],
    ['powers of ten at both ends are the ends', [1e-3, 100], { lo: -3, hi: 2 }],
    ['others around them are ignored', [2e-3, 0, NaN, 40, null, Infinity], { lo: -3, hi: 2 }],
    ['huge and tiny', [3e-12, 7e5], { lo: -12, hi: 6 }],
  ])('scaleOf: %s', (_name, norms, want) => {
    expect(scaleOf(norms)).toEqual(want);
  });

  const s: GradScale = { lo: -3, hi: 1 };
  it.each<[number | null | undefined, number | null]>([
    [0, 0],
    [1e-3, 0],
    [1e-5, 0],
    [1e-2, 0.25],
    [1e-1, 0.5],
    [1, 0.75],
    [10, 1],
    [1e3, 1],
    [NaN, null],
    [Infinity, null],
    [-Infinity, null],
    [-1, null],
    [null, null],
    [undefined, null],
  ])('position(%s) on 1e-3..10 is %s', (norm, want) => {
    const t = position(norm, s);
    if (want === null) expect(t).toBeNull();
    else expect(t).toBeCloseTo(want, 12);
  });

  it('places zero at the bottom even without a scale', () => {
    expect(position(0, null)).toBe(0);
    expect(position(NaN, null)).toBeNull();
  });

  it.each<[number, string]>([
    [-1, 'var(--grad-0)'],
    [0, 'var(--grad-0)'],
    [0.001, 'var(--grad-0)'],
    [0.1, mix01(20)],
    [1 / 3, mix01(66)],
    [0.25, mix01(50)],
    [0.5, 'var(--grad-1)'],
    [0.6, mix12(20)],
    [0.75, mix12(50)],
    [0.999, 'var(--grad-2)'],
    [1, 'var(--grad-2)'],
    [2, 'var(--grad-2)'],
  ])('rampColour(%s) = %s', (t, want) => {
    expect(rampColour(t)).toBe(want);
  });

  it.each<[string, number, number, string, number]>([
    ['zero: thinnest, palest', 0, 0, 'var(--grad-0)', 1.5],
    ['the bottom of the range', 1e-3, 0, 'var(--grad-0)', 1.5],
    ['a quarter: 1.5 + 5.5 / 4 = 2.875', 1e-2, 0.25, mix01(50), 2.9],
    ['the middle: 1.5 + 2.75 = 4.25', 1e-1, 0.5, 'var(--grad-1)', 4.3],
    ['three quarters: 1.5 + 4.125 = 5.625', 1, 0.75, mix12(50), 5.6],
    ['the top', 10, 1, 'var(--grad-2)', 7],
    ['above the top', 5e4, 1, 'var(--grad-2)', 7],
  ])('styleOf on 1e-3..10: %s', (_name, norm, t, colour, width) => {
    const got = styleOf(norm, s)!;
    expect({ ...got, t: Number(got.t.toFixed(12)) }).toEqual({ norm, t, colour, width, alarm: false });
  });

  it.each<[number, number | null]>([
    [NaN, null],
    [Infinity, null],
    [-Infinity, null],
    [-2, -2],
  ])('styleOf(%s): the alarm colour at full width', (norm, kept) => {
    expect(styleOf(norm, s)).toEqual({ norm: kept, t: 1, colour: ALARM_COLOUR, width: 7, alarm: true });
    expect(styleOf(norm, null)).toEqual({ norm: kept, t: 1, colour: ALARM_COLOUR, width: 7, alarm: true });
  });

  it('styleOf(null) and styleOf(undefined): nothing to draw', () => {
    expect(styleOf(null, s)).toBeNull();
    expect(styleOf(undefined, s)).toBeNull();
  });

  it('is JSON-safe: a non-finite norm is kept as null', () => {
    const st = styleOf(NaN, s)!;
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);
  });
});

describe('the legend', () => {
  it.each<[number, string]>([
    [-7, '1e-7'],
    [-3, '1e-3'],
    [-2, '0.01'],
    [-1, '0.1'],
    [0, '1'],
    [1, '10'],
    [2, '100'],
    [3, '1e3'],
  ])('decadeLabel(%s) = %s', (e, want) => {
    expect(decadeLabel(e)).toBe(want);
  });

  it.each<[string, GradScale | null, [number, string, number][]]>([
    ['no scale', null, []],
    ['one decade', { lo: -1, hi: 0 }, [[-1, '0.1', 0], [0, '1', 1]]],
    ['five decades: every one', { lo: -3, hi: 2 }, [[-3, '1e-3', 0], [-2, '0.01', 0.2], [-1, '0.1', 0.4], [0, '1', 0.6], [1, '10', 0.8], [2, '100', 1]]],
    ['seven decades: every other, the top kept and the one next to it dropped', { lo: -7, hi: 0 }, [[-7, '1e-7', 0], [-5, '1e-5', 2 / 7], [-3, '1e-3', 4 / 7], [0, '1', 1]]],
    ['twelve decades: every third', { lo: -12, hi: 0 }, [[-12, '1e-12', 0], [-9, '1e-9', 0.25], [-6, '1e-6', 0.5], [-3, '1e-3', 0.75], [0, '1', 1]]],
  ])('legendTicks: %s', (_name, scale, want) => {
    const got = legendTicks(scale);
    expect(got.map((t) => [t.exp, t.label])).toEqual(want.map(([e, l]) => [e, l]));
    got.forEach((t, i) => expect(t.at).toBeCloseTo(want[i][2], 12));
    expect(got.length).toBeLessThanOrEqual(6);
  });

  it('legendOf: from the edges that have a gradient; null when none has', () => {
    const scale = { lo: -2, hi: 0 };
    const g = (norm: number) => ({ ...styleOf(norm, scale)!, scale });
    expect(legendOf([])).toBeNull();
    expect(legendOf([{ data: {} }, {}])).toBeNull();
    expect(legendOf([{ data: {} }, { data: { grad: g(0.1) } }])).toEqual({ scale, ticks: legendTicks(scale), alarm: false });
    expect(legendOf([{ data: { grad: g(0.1) } }, { data: { grad: g(NaN) } }])!.alarm).toBe(true);
  });
});

describe('badges', () => {
  // The CLI's first-step gradient norms (`bpstudio grad`) of examples/deep-sigmoid.bpstudio and deep-relu.bpstudio.
  const ids = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8', 'h9', 'out'];
  const sigmoid = [4.346e-7, 4.456e-6, 1.537e-5, 6.304e-5, 2.886e-4, 1.544e-3, 6.672e-3, 3.424e-2, 1.936e-1, 6.173e-1];
  const relu = [0.252, 0.4279, 0.5819, 0.546, 0.7205, 0.6153, 0.5646, 0.5944, 0.6181, 0.9522];
  const rec = (vals: (number | null)[]) => Object.fromEntries(vals.map((v, i) => [ids[i], v]));

  it('deep sigmoid: h1..h6 vanish (below 1/100 of out\'s 0.6173), h7 (6.672e-3 > 6.173e-3) does not', () => {
    const b = badgesOf(ids, rec(sigmoid));
    expect([...b.keys()].sort()).toEqual(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
    for (const k of b.values()) expect(k.kind).toBe('vanishing');
    // no neighbour is 100x apart: the next layer alone would not have told
    for (let i = 0; i + 1 < sigmoid.length; i++) expect(sigmoid[i + 1] / sigmoid[i]).toBeLessThan(100);
  });

  it('deep ReLU: no badge', () => {
    expect(badgesOf(ids, rec(relu)).size).toBe(0);
  });

  type Row = [string, string[], Record<string, number | null>, Record<string, 'vanishing' | 'exploding'>];
  it.each<Row>([
    ['zero while the layer after it is not', ['a', 'b'], { a: 0, b: 1 }, { a: 'vanishing' }],
    ['all zero: no reference', ['a', 'b'], { a: 0, b: 0 }, {}],
    ['exactly 1/100 is not below it', ['a', 'b'], { a: 0.01, b: 1 }, {}],
    ['just below 1/100', ['a', 'b'], { a: 0.0099, b: 1 }, { a: 'vanishing' }],
    ['the last layer has no reference', ['a', 'b'], { a: 1, b: 1e-9 }, {}],
    ['not finite (null from the engine)', ['a', 'b'], { a: null, b: 1 }, { a: 'exploding' }],
    ['not finite: the last layer too', ['a', 'b'], { a: 1, b: null }, { b: 'exploding' }],
    ['a non-finite layer is no reference', ['a', 'b', 'c'], { a: 1e-6, b: null, c: 1e-5 }, { b: 'exploding' }],
    ['NaN and Infinity as numbers', ['a', 'b', 'c'], { a: NaN, b: Infinity, c: 1 }, { a: 'exploding', b: 'exploding' }],
    ['over 100x and over 10', ['a', 'b'], { a: 1001, b: 10 }, { a: 'exploding' }],
    ['exactly 100x is not over it', ['a', 'b'], { a: 1000, b: 10 }, {}],
    ['over 100x but not over 10', ['a', 'b'], { a: 9, b: 0.01 }, {}],
    ['over 10 but not 100x', ['a', 'b'], { a: 500, b: 6 }, {}],
    ['large while everything after is zero', ['a', 'b'], { a: 50, b: 0 }, { a: 'exploding' }],
    ['the reference is the largest after, not the next', ['a', 'b', 'c'], { a: 0.5, b: 0.001, c: 100 }, { a: 'vanishing', b: 'vanishing' }],
    ['exploding against the largest after', ['a', 'b', 'c'], { a: 2000, b: 15, c: 1 }, { a: 'exploding' }],
    ['layers without a norm are skipped', ['a', 'b', 'c'], { a: 1e-6, c: 1 }, { a: 'vanishing' }],
    ['norms of ids not in the order are ignored', ['a'], { a: 1e-9, z: 1 }, {}],
    ['no layers', [], {}, {}],
  ])('%s', (_name, layers, norms, want) => {
    const b = badgesOf(layers, norms);
    expect(Object.fromEntries([...b].map(([id, x]) => [id, x.kind]))).toEqual(want);
  });

  it('says why, with the numbers and the layer compared with', () => {
    const b = badgesOf(['a', 'b', 'c'], { a: 1e-6, b: 0.5, c: 0.2 });
    expect(b.get('a')).toEqual({ kind: 'vanishing', reason: "a's gradient (1e-6) is 500000x smaller than b's (0.5), nearer the loss" });
    expect(badgesOf(['a', 'b'], { a: 0, b: 0.25 }).get('a')!.reason).toBe("a's gradient is zero while b's, nearer the loss, is 0.25");
    expect(badgesOf(['a', 'b'], { a: 2500, b: 2 }).get('a')!.reason).toBe("a's gradient (2500) is 1300x larger than b's (2), nearer the loss");
    expect(badgesOf(['a'], { a: null }).get('a')!.reason).toBe("a's gradient is not finite (NaN or infinite)");
  });
});

/** Two layers between an input and a loss, with a label: a vanishing first layer, a wire whose norm is not finite. */
const TWO_LAYERS: { layers: string[]; latestGrad: Record<string, number>; flow: FlowInfo } = {
  layers: ['h1', 'h2'],
  latestGrad: { h1: 1e-4, h2: 0.1 },
  flow: {
    step: 7,
    edges: [
      { source: 'x', target: 'h1', norm: 0.01 },
      { source: 'h1', target: 'h2', norm: 1 },
      { source: 'h2', target: 'loss', norm: null },
      { source: 'y', target: 'loss', norm: 0 },
    ],
  },
};

describe('the edge lookup and the protocol adapter', () => {
  const flow = TWO_LAYERS.flow;

  it('flowEdges: null for not finite becomes NaN; no flow is no edges', () => {
    expect(flowEdges(null)).toEqual([]);
    expect(flowEdges(undefined)).toEqual([]);
    expect(flowEdges(flow).map((e) => [e.source, e.target, e.norm])).toEqual([
      ['x', 'h1', 0.01],
      ['h1', 'h2', 1],
      ['h2', 'loss', NaN],
      ['y', 'loss', 0],
    ]);
  });

  it('edgeLookup: (source, target) -> norm, undefined for an edge it has not got', () => {
    const at = edgeLookup(flowEdges(flow));
    expect(at('x', 'h1')).toBe(0.01);
    expect(at('h1', 'h2')).toBe(1);
    expect(at('h2', 'loss')).toBeNaN();
    expect(at('y', 'loss')).toBe(0);
    expect(at('h1', 'x')).toBeUndefined();
    expect(at('x', 'h2')).toBeUndefined();
    // ids that would run together in a naive key stay apart
    const odd = edgeLookup([{ source: 'a-', target: '>b', norm: 1 }, { source: 'a->', target: 'b', norm: 2 }]);
    expect([odd('a-', '>b'), odd('a->', 'b')]).toEqual([1, 2]);
  });

  it.each<[number | null, string]>([
    [1.2346e-3, '0.001235'],
    [8.1e-7, '8.1e-7'],
    [0.35, '0.35'],
    [0, '0'],
    [12345.6, '12350'],
    [2.5e7, '2.5e+7'],
    [null, 'NaN/Inf'],
    [NaN, 'NaN/Inf'],
    [Infinity, 'NaN/Inf'],
  ])('chipText(%s) = %s', (v, want) => {
    expect(chipText(v)).toBe(want);
  });
});

describe('overlayFor', () => {
  it('nothing to show: null', () => {
    expect(overlayFor({ layers: [], latestGrad: {}, flow: null })).toBeNull();
    expect(overlayFor({ layers: ['h1'], latestGrad: {}, flow: undefined })).toBeNull();
  });

  it('one scale over the edges and the layers; chips, badges and edges from it', () => {
    const o = overlayFor(TWO_LAYERS)!;
    // positive finite norms 1e-4 .. 1: four decades
    expect(o.scale).toEqual({ lo: -4, hi: 0 });
    expect(o.flowStep).toBe(7);
    expect(o.nodes.get('h1')).toEqual({
      norm: 1e-4,
      t: 0,
      colour: 'var(--grad-0)',
      width: 1.5,
      alarm: false,
      text: '0.0001',
      badge: { kind: 'vanishing', reason: "h1's gradient (0.0001) is 1000x smaller than h2's (0.1), nearer the loss" },
    });
    expect(o.nodes.get('h2')).toMatchObject({ norm: 0.1, t: 0.75, colour: mix12(50), width: 5.6, text: '0.1', badge: null });
    const e = (s: string, t: string) => o.edges.get(edgeKey(s, t));
    expect(e('x', 'h1')).toMatchObject({ norm: 0.01, t: 0.5, colour: 'var(--grad-1)', width: 4.3, alarm: false, scale: o.scale });
    expect(e('h1', 'h2')).toMatchObject({ norm: 1, t: 1, colour: 'var(--grad-2)', width: 7, alarm: false });
    expect(e('h2', 'loss')).toMatchObject({ norm: null, colour: ALARM_COLOUR, width: 7, alarm: true });
    expect(e('y', 'loss')).toMatchObject({ norm: 0, t: 0, colour: 'var(--grad-0)', width: 1.5, alarm: false });
    expect(o.edges.size).toBe(4);
  });

  it('layer norms without flow: chips only; a null norm reads NaN/Inf and explodes', () => {
    const o = overlayFor({ layers: ['a', 'b'], latestGrad: { a: null, b: 0.5 }, flow: null })!;
    expect(o.edges.size).toBe(0);
    expect(o.flowStep).toBeNull();
    expect(o.scale).toEqual({ lo: -1, hi: 0 });
    expect(o.nodes.get('a')).toMatchObject({ norm: null, text: 'NaN/Inf', alarm: true, colour: ALARM_COLOUR, badge: { kind: 'exploding' } });
    expect(o.nodes.get('b')).toMatchObject({ norm: 0.5, alarm: false, badge: null });
  });
});

describe('nodeGradient: one node in numbers (the inspector)', () => {
  const o = overlayFor(TWO_LAYERS)!;
  const order = ['x', 'y', 'h1', 'h2', 'loss', 'alone'];

  it('a layer: its chip, the gradient back from each reader and back to each input', () => {
    expect(nodeGradient(o, 'h1', order)).toEqual({ params: o.nodes.get('h1'), badge: null, fromReaders: [{ node: 'h2', norm: 1 }], toInputs: [{ node: 'x', norm: 0.01 }] });
  });

  it('a node without parameters: its wires only, in graph order (null where not finite); a node with nothing: null', () => {
    expect(nodeGradient(o, 'loss', order)).toEqual({ params: null, badge: null, fromReaders: [], toInputs: [{ node: 'y', norm: 0 }, { node: 'h2', norm: null }] });
    expect(nodeGradient(o, 'x', order)).toEqual({ params: null, badge: null, fromReaders: [{ node: 'h1', norm: 0.01 }], toInputs: [] });
    expect(nodeGradient(o, 'alone', order)).toBeNull();
  });
});

describe('nodes and edges carry the overlay', () => {
  const p = (): Project => ({
    format: 'backprop-studio/project',
    version: 1,
    name: 't',
    graph: {
      nodes: [
        { id: 'x', op: 'input', attrs: { shape: [2] } },
        { id: 'y', op: 'label', attrs: { kind: 'class' } },
        { id: 'h1', op: 'dense', attrs: { units: 4 }, inputs: { x: 'x' } },
        { id: 'sq', op: 'mul', inputs: { a: 'h1', b: 'h1' } },
        { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: 'sq' } },
        { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
      ],
    },
  });
  const src = (h1: number) => ({
    layers: ['h1', 'out'],
    latestGrad: { h1, out: 0.5 },
    flow: {
      step: 3,
      edges: [
        { source: 'x', target: 'h1', norm: 0.02 },
        { source: 'h1', target: 'sq', norm: 0.2 },
        { source: 'sq', target: 'out', norm: 0.3 },
        { source: 'out', target: 'loss', norm: null },
        { source: 'y', target: 'loss', norm: 0 },
      ],
    },
  });

  it('buildNodes: the layers get their chip; without an overlay nothing changes', () => {
    const doc = p();
    const a = analyze(doc.graph.nodes);
    const plain = buildNodes(doc, a, new Map(), [], null);
    expect(plain.some((n) => 'grad' in n.data)).toBe(false);
    expect(buildNodes(doc, a, new Map(), [], null, null).some((n) => 'grad' in n.data)).toBe(false);
    const o1 = overlayFor(src(1e-3));
    const withGrad = buildNodes(doc, a, new Map(), plain, null, o1);
    expect(withGrad.filter((n) => n.data.grad).map((n) => n.id)).toEqual(['h1', 'out']);
    expect(withGrad.find((n) => n.id === 'h1')!.data.grad).toMatchObject({ text: '0.001', badge: { kind: 'vanishing' } });
    expect(withGrad.find((n) => n.id === 'x')).toBe(plain.find((n) => n.id === 'x'));
    // the same numbers again: the same objects (no redraw); a new number: a new node object
    expect(buildNodes(doc, a, new Map(), withGrad, null, overlayFor(src(1e-3)))).toEqual(withGrad);
    expect(buildNodes(doc, a, new Map(), withGrad, null, overlayFor(src(1e-3)))[2]).toBe(withGrad[2]);
    const moved = buildNodes(doc, a, new Map(), withGrad, null, overlayFor(src(0.1)));
    expect(moved[2]).not.toBe(withGrad[2]);
    expect(moved[2].data.grad).toMatchObject({ text: '0.1', badge: null });
  });

  it('buildNodes mid-drag: a redraw of the gradients keeps the dragged node where the pointer has it', () => {
    const doc = p();
    const a = analyze(doc.graph.nodes);
    const first = buildNodes(doc, a, new Map(), [], null, overlayFor(src(1e-3)));
    const dragged = first.map((n) => (n.id === 'h1' ? { ...n, position: { x: 999, y: -5 }, dragging: true } : n));
    const redrawn = buildNodes(doc, a, new Map(), dragged, null, overlayFor(src(0.2)));
    const h1 = redrawn.find((n) => n.id === 'h1')!;
    expect(h1).toMatchObject({ position: { x: 999, y: -5 }, dragging: true });
    expect(h1.data.grad!.text).toBe('0.2');
    // nothing new to show: the same object
    expect(buildNodes(doc, a, new Map(), redrawn, null, overlayFor(src(0.2))).find((n) => n.id === 'h1')).toBe(h1);
  });

  it('buildEdges: each wire gets its (source, target) gradient, both ports of a pair the same; reused when unchanged', () => {
    const doc = p();
    const a = analyze(doc.graph.nodes);
    const plain = buildEdges(doc, a, [], null);
    expect(plain.some((e) => e.data?.grad)).toBe(false);
    const o = overlayFor(src(1e-3))!;
    const edges = buildEdges(doc, a, plain, null, o);
    const by = (id: string) => edges.find((e) => e.target === id.split('>')[1] && e.source === id.split('>')[0] && (id.split('>')[2] ?? e.targetHandle) === e.targetHandle)!;
    expect(by('h1>sq>a').data!.grad!.norm).toBe(0.2);
    expect(by('h1>sq>b').data!.grad!.norm).toBe(0.2);
    expect(by('out>loss').data!.grad).toMatchObject({ norm: null, alarm: true });
    expect(by('y>loss').data!.grad).toMatchObject({ norm: 0, width: 1.5 });
    expect(by('x>h1').ariaLabel).toBe('Wire from x to h1, port x, shape [B, 2], gradient norm 0.02');
    expect(by('out>loss').ariaLabel).toContain('gradient norm not finite');
    expect(legendOf(edges)).toEqual({ scale: o.scale, ticks: legendTicks(o.scale), alarm: true });
    // unchanged: the same objects; the overlay gone: plain wires again
    const again = buildEdges(doc, a, edges, null, overlayFor(src(1e-3)));
    again.forEach((e, i) => expect(e).toBe(edges[i]));
    const cleared = buildEdges(doc, a, edges, null, null);
    expect(cleared.some((e) => e.data?.grad)).toBe(false);
    expect(cleared.map((e) => e.ariaLabel)).toEqual(plain.map((e) => e.ariaLabel));
  });
});

describe('the examples, trained by the engine for an epoch', () => {
  async function latest(name: string) {
    const s = new Session(example(name), { baseDir: EXAMPLES });
    const layers = [...s.layers.keys()];
    let last: Awaited<ReturnType<Session['nextStep']>>['step'] | null = null;
    for (;;) {
      const { step, epoch } = await s.nextStep();
      last = step;
      if (epoch) break;
    }
    const flow = await s.flowNorms(last.rows);
    return {
      layers,
      latestGrad: last.layerNorms,
      flow: { step: last.step, edges: flow.map((e) => ({ source: e.source, target: e.target, norm: Number.isFinite(e.norm) ? e.norm : null })) },
    };
  }

  it('deep-sigmoid: its first layers are marked vanishing; deep-relu: none is', async () => {
    const sig = await latest('deep-sigmoid.bpstudio');
    expect(sig.layers).toEqual(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8', 'h9', 'out']);
    expect(sig.latestGrad.h1).toBeLessThan(1e-5);
    const o = overlayFor(sig)!;
    for (const id of ['h1', 'h2', 'h3', 'h4']) expect(o.nodes.get(id)!.badge?.kind, id).toBe('vanishing');
    for (const id of ['h9', 'out']) expect(o.nodes.get(id)!.badge, id).toBeNull();
    // the edges span the same decades as the legend, the thinnest going into the first layer
    expect(o.edges.get(edgeKey('h1', 'h2'))!.width).toBeLessThan(o.edges.get(edgeKey('h9', 'out'))!.width);

    const relu = await latest('deep-relu.bpstudio');
    expect(relu.latestGrad.h1).toBeGreaterThan(0.01);
    const r = overlayFor(relu)!;
    expect([...r.nodes.values()].filter((n) => n.badge).map((n) => n.badge!.kind)).toEqual([]);
  });
});

describe('globalNorm: every layer\'s gradient together, what training.clipNorm bounds', () => {
  it.each<[string, Record<string, number | null>, number | null]>([
    ['3 and 4', { h1: 3, out: 4 }, 5],
    ['one layer', { h1: 0.25 }, 0.25],
    ['1, 2 and 2', { a: 1, b: 2, c: 2 }, 3],
    ['no layers yet', {}, null],
    ['a layer not yet reported', { h1: 3, out: null }, null],
    ['a non-finite norm', { h1: 3, out: Infinity }, null],
  ])('%s', (_name, layers, want) => {
    expect(globalNorm(layers)).toBe(want);
  });
});

describe('dead badges', () => {
  const flow = (units: { node: string; dead: number; units: number }[]) => ({ step: 7, edges: [], units });

  it('marks a layer with half or more of its units off on the whole batch, saying how many', () => {
    const b = deadBadges(flow([{ node: 'h1', dead: 8, units: 16 }, { node: 'h2', dead: 7, units: 16 }, { node: 'h3', dead: 16, units: 16 }]));
    expect([...b.keys()]).toEqual(['h1', 'h3']);
    expect(b.get('h3')).toEqual({ kind: 'dead', reason: "16 of h3's 16 units are zero on every row of step 7's batch: they pass no gradient back" });
    expect(deadBadges(null).size).toBe(0);
    expect(deadBadges({ step: 1, edges: [] }).size).toBe(0);
  });

  it('takes the place of a vanishing badge on the same layer (the dead units are why)', () => {
    // h1's gradient is zero while out's is not: vanishing, but its units are dead
    const src = { layers: ['h1', 'out'], latestGrad: { h1: 0, out: 1 }, flow: flow([{ node: 'h1', dead: 4, units: 4 }]) };
    expect(badgesOf(src.layers, src.latestGrad).get('h1')?.kind).toBe('vanishing');
    expect(overlayFor(src)!.nodes.get('h1')!.badge?.kind).toBe('dead');
    // but not of an exploding one: a gradient that is not finite says more
    expect(overlayFor({ ...src, latestGrad: { h1: null, out: 1 } })!.nodes.get('h1')!.badge?.kind).toBe('exploding');
  });

  it("badges a node without a chip (a relu node) on its own, and a layer's only on its chip", () => {
    const o = overlayFor({ layers: ['h1', 'out'], latestGrad: { h1: 0.5, out: 1 }, flow: flow([{ node: 'r', dead: 3, units: 4 }, { node: 'h1', dead: 2, units: 4 }]) })!;
    expect([...o.badges.keys()]).toEqual(['r']);
    expect(o.badges.get('r')?.reason).toBe("3 of r's 4 units are zero on every row of step 7's batch: they pass no gradient back");
    expect(o.nodes.get('h1')!.badge?.kind).toBe('dead');
    expect(o.nodes.has('r')).toBe(false);
    // on the canvas: r's data has the badge and no chip
    const p: Project = {
      ...example('spiral.bpstudio'),
      graph: {
        nodes: [
          { id: 'x', op: 'input', attrs: { shape: [2] } },
          { id: 'h1', op: 'dense', attrs: { units: 4 }, inputs: { x: 'x' } },
          { id: 'r', op: 'relu', inputs: { x: 'h1' } },
        ],
      },
    };
    const data = Object.fromEntries(buildNodes(p, analyze(p.graph.nodes), new Map(), [], null, o).map((n) => [n.id, n.data]));
    expect(data.r.badge?.kind).toBe('dead');
    expect(data.r.grad).toBeUndefined();
    expect(data.h1.badge).toBeUndefined();
    expect(data.h1.grad?.badge?.kind).toBe('dead');
    // and in the inspector: r's badge, with no chip and no wires
    expect(nodeGradient(o, 'r', ['x', 'h1', 'r'])).toEqual({ params: null, badge: o.badges.get('r'), fromReaders: [], toInputs: [] });
  });
});
