/**
 * The gradient view drawn on the graph (ui.md, "Nodes and edges"): during and after training, each layer's latest
 * gradient norm as a chip on its node, each edge coloured and thickened by the gradient flowing back along it (log
 * scale, with a legend), and a vanishing or exploding badge on layers whose gradient is far out of line with the
 * layers nearer the loss. Pure functions: the app builds one GradientOverlay from the training state (overlayFor),
 * and the canvas's nodes and edges carry its parts in their data (nodes.ts).
 *
 * Colours are CSS: `var(--grad-0)` (a tiny gradient: pale grey-blue) through `--grad-1` (orange) to `--grad-2` (a
 * large one: red), and `--grad-alarm` (magenta) for a norm that is not finite, so each theme (app.css) sets its own.
 */
import type { EngineEventOf } from '../../../engine/protocol/messages';
import { num4 } from './format';

/** train.progress's `flow` as the protocol defines it. */
export type FlowInfo = NonNullable<EngineEventOf<'train.progress'>['flow']>;

/** What the overlay is built from: TrainingState fits it. */
export interface GradientSource {
  /** Layer ids in graph order (input side first, the loss side last). */
  readonly layers: readonly string[];
  /** Each layer's latest gradient L2 norm; null where it was not finite (JSON carries no NaN or Infinity). */
  readonly latestGrad: Readonly<Record<string, number | null>>;
  /** The latest per-edge gradient norms, when the engine sent them. */
  readonly flow: FlowInfo | null | undefined;
}

/** One edge's gradient: the norm of the gradient flowing back from target to source (NaN when not finite). */
export interface EdgeNorm {
  source: string;
  target: string;
  norm: number;
}

/**
 * The protocol's flow as edge norms: the one place that knows train.progress's `flow` shape. The protocol sends
 * null for a norm that was not finite; here that is NaN (drawn in the alarm colour).
 */
export function flowEdges(flow: FlowInfo | null | undefined): EdgeNorm[] {
  if (!flow) return [];
  return flow.edges.map((e) => ({ source: e.source, target: e.target, norm: e.norm ?? NaN }));
}

// ---- the log scale --------------------------------------------------------------------------------------------------

/** The scale's range as powers of ten: norms from 10^lo (t = 0) to 10^hi (t = 1); lo < hi, both integers. */
export interface GradScale {
  lo: number;
  hi: number;
}

export const MIN_WIDTH = 1.5;
export const MAX_WIDTH = 7;

/**
 * The scale over a set of norms: the decades around the smallest and the largest positive finite norm (so it
 * only moves when a norm crosses a power of ten, and the legend's ends are round). Zero, negative, NaN, infinite,
 * null and undefined norms take no part; null when no norm is positive and finite.
 */
export function scaleOf(norms: Iterable<number | null | undefined>): GradScale | null {
  let min = Infinity;
  let max = -Infinity;
  for (const n of norms) {
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) continue;
    if (n < min) min = n;
    if (n > max) max = n;
  }
  if (max === -Infinity) return null;
  // + 0: no -0 (Math.ceil(-0.3)), which would not compare equal as JSON-alike data.
  const lo = Math.floor(log10(min)) + 0;
  let hi = Math.ceil(log10(max)) + 0;
  if (hi <= lo) hi = lo + 1;
  return { lo, hi };
}

/** log10 that is exact on powers of ten (Math.log10(1e-7) is not always -7 after rounding). */
function log10(x: number): number {
  const l = Math.log10(x);
  const r = Math.round(l);
  return Math.abs(l - r) < 1e-12 ? r : l;
}

/**
 * Where a norm sits on the scale, 0..1: 0 for zero (or below the range), 1 at the top; null when there is no
 * position (null, undefined, NaN, infinite or negative: not a norm to place).
 */
export function position(norm: number | null | undefined, scale: GradScale | null): number | null {
  if (typeof norm !== 'number' || !Number.isFinite(norm) || norm < 0) return null;
  if (norm === 0 || !scale) return 0;
  const t = (log10(norm) - scale.lo) / (scale.hi - scale.lo);
  return Math.min(1, Math.max(0, t));
}

/** The ramp's colour at t in 0..1 (CSS): --grad-0 at 0, --grad-1 at 0.5, --grad-2 at 1, mixed in oklab. */
export function rampColour(t: number): string {
  const p = Math.round(Math.min(1, Math.max(0, t)) * 100);
  if (p === 0) return 'var(--grad-0)';
  if (p === 50) return 'var(--grad-1)';
  if (p === 100) return 'var(--grad-2)';
  return p < 50 ? `color-mix(in oklab, var(--grad-0), var(--grad-1) ${p * 2}%)` : `color-mix(in oklab, var(--grad-1), var(--grad-2) ${(p - 50) * 2}%)`;
}

export const ALARM_COLOUR = 'var(--grad-alarm)';

/** How one norm is drawn. */
export interface GradStyle {
  /** The norm; null where it was not finite (so the style stays JSON: NaN would read back as null anyway). */
  norm: number | null;
  /** Position on the scale, 0..1 (1 for an alarm). */
  t: number;
  colour: string;
  /** Stroke width in px, MIN_WIDTH..MAX_WIDTH. */
  width: number;
  /** Not finite (or negative): drawn in the alarm colour, at the widest. */
  alarm: boolean;
}

/** The style of a norm on a scale; null for null/undefined (nothing to draw). */
export function styleOf(norm: number | null | undefined, scale: GradScale | null): GradStyle | null {
  if (norm === null || norm === undefined) return null;
  const t = position(norm, scale);
  if (t === null) return { norm: Number.isFinite(norm) ? norm : null, t: 1, colour: ALARM_COLOUR, width: MAX_WIDTH, alarm: true };
  return { norm, t, colour: rampColour(t), width: Math.round((MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * t) * 10) / 10, alarm: false };
}

export interface LegendTick {
  /** The power of ten, e.g. -3 for 1e-3. */
  exp: number;
  label: string;
  /** Where on the ramp, 0..1. */
  at: number;
}

/** A power of ten as the legend writes it: 0.01, 0.1, 1, 10, 100, else 1e-3, 1e3. */
export function decadeLabel(exp: number): string {
  if (exp >= -2 && exp <= 2) return String(10 ** exp);
  return `1e${exp}`;
}

/** The legend's ticks: the scale's powers of ten, every k-th of them when there are more than `max`, both ends kept. */
export function legendTicks(scale: GradScale | null, max = 6): LegendTick[] {
  if (!scale) return [];
  const span = scale.hi - scale.lo;
  const every = Math.max(1, Math.ceil(span / Math.max(1, max - 1)));
  const exps: number[] = [];
  for (let e = scale.lo; e < scale.hi; e += every) exps.push(e);
  // The top end always shows; a step that would crowd it gives way.
  if (exps.length > 1 && scale.hi - exps[exps.length - 1] < every) exps.pop();
  exps.push(scale.hi);
  return exps.map((exp) => ({ exp, label: decadeLabel(exp), at: (exp - scale.lo) / span }));
}

// ---- badges ---------------------------------------------------------------------------------------------------------

/** A layer's gradient is this many times smaller than the reference: vanishing. */
export const VANISH_RATIO = 100;
/** A layer's gradient is this many times larger than the reference (and above EXPLODE_ABS): exploding. */
export const EXPLODE_RATIO = 100;
export const EXPLODE_ABS = 10;

export type BadgeKind = 'vanishing' | 'exploding' | 'dead';
export interface Badge {
  kind: BadgeKind;
  /** Why, in a sentence (the badge's tooltip). */
  reason: string;
}

/**
 * Vanishing and exploding badges, from the layers' latest gradient norms. Each layer is compared with its
 * reference: the largest finite norm among the layers after it in graph order (nearer the loss). Not the next
 * layer alone: through sigmoids the gradient shrinks only 3-10x per layer (a 10-layer sigmoid MLP's first-step
 * norms run 4e-7, 4e-6, 2e-5, ... 0.19, 0.62: no neighbour is 100x apart, yet the first layers barely learn), while
 * against the largest gradient downstream its first six layers are 250x to 1e6x smaller and its ReLU twin's
 * smallest is 4x smaller.
 *  - vanishing: the norm is below reference / VANISH_RATIO (100), or zero while the reference is not;
 *  - exploding: the norm is not finite (NaN or infinite, null from the engine), or it is above
 *    reference x EXPLODE_RATIO (100) and above EXPLODE_ABS (10) in absolute terms.
 * The last layer (and any layer with no finite norm after it) has no reference: only a non-finite norm marks it.
 * Layers without a norm (undefined) get no badge and take no part.
 */
export function badgesOf(layers: readonly string[], norms: Readonly<Record<string, number | null | undefined>>): Map<string, Badge> {
  const out = new Map<string, Badge>();
  // The largest finite norm after each position, and which layer has it, walking from the loss side.
  let ref = -Infinity;
  let refId = '';
  for (let i = layers.length - 1; i >= 0; i--) {
    const id = layers[i];
    const v = Object.hasOwn(norms, id) ? norms[id] : undefined;
    if (v === undefined) continue;
    const finite = v !== null && Number.isFinite(v);
    if (!finite) out.set(id, { kind: 'exploding', reason: `${id}'s gradient is not finite (NaN or infinite)` });
    else if (ref > 0 && v < ref / VANISH_RATIO) {
      out.set(id, {
        kind: 'vanishing',
        reason:
          v === 0
            ? `${id}'s gradient is zero while ${refId}'s, nearer the loss, is ${num4(ref)}`
            : `${id}'s gradient (${num4(v)}) is ${ratioText(ref / v)} smaller than ${refId}'s (${num4(ref)}), nearer the loss`,
      });
    } else if (ref >= 0 && v > ref * EXPLODE_RATIO && v > EXPLODE_ABS) {
      out.set(id, {
        kind: 'exploding',
        reason: ref === 0
          ? `${id}'s gradient (${num4(v)}) is large while ${refId}'s, nearer the loss, is zero`
          : `${id}'s gradient (${num4(v)}) is ${ratioText(v / ref)} larger than ${refId}'s (${num4(ref)}), nearer the loss`,
      });
    }
    if (finite && v > ref) {
      ref = v;
      refId = id;
    }
  }
  return out;
}

function ratioText(r: number): string {
  return `${num4(Number(r.toPrecision(2)))}x`;
}

// ---- the overlay ----------------------------------------------------------------------------------------------------

/** A layer's chip (and badge) on its node. */
export interface NodeGrad extends GradStyle {
  /** The chip's text after the nabla: the norm at 4 significant digits, or NaN/Inf. */
  text: string;
  badge: Badge | null;
}

/** An edge's gradient as the canvas draws it (the edge's `data.grad`). */
export interface EdgeGrad extends GradStyle {
  /** The scale it was placed on (for the legend). */
  scale: GradScale | null;
}

/** A layer is badged dead when at least this share of its units are zero on every row of the batch. */
export const DEAD_SHARE = 0.5;

/**
 * Dead badges from the flow's units (which the engine counts for a ReLU's values: a layer with activation relu, a relu
 * node): the nodes with at least DEAD_SHARE of their units off on the whole batch.
 */
export function deadBadges(flow: FlowInfo | null | undefined): Map<string, Badge> {
  const out = new Map<string, Badge>();
  for (const u of flow?.units ?? []) {
    if (u.dead < DEAD_SHARE * u.units) continue;
    out.set(u.node, { kind: 'dead', reason: `${u.dead} of ${u.node}'s ${u.units} units are zero on every row of step ${flow!.step}'s batch: they pass no gradient back` });
  }
  return out;
}

/** Everything the canvas draws of the latest gradients. */
export interface GradientOverlay {
  /** The run's scale over the latest edge and layer norms; null when none is positive and finite. */
  scale: GradScale | null;
  /** By node id: the layers' chips. */
  nodes: ReadonlyMap<string, NodeGrad>;
  /** By node id: the badges of nodes without a chip (a relu node's dead units). */
  badges: ReadonlyMap<string, Badge>;
  /** The edges' norms, by edgeKey(source, target). */
  edges: ReadonlyMap<string, EdgeGrad>;
  /** The optimizer step the flow was measured on, when there is flow. */
  flowStep: number | null;
}

/** The lookup key of the edge source -> target (two ports of one target wired from one source are one edge). */
export function edgeKey(source: string, target: string): string {
  return `${source}\u0000${target}`;
}

/** What the inspector shows of one node's gradient: its parameters' chip, and the gradient along each of its wires. */
export interface NodeGradient {
  /** Its chip (and badge), when it is a layer or parameter node with trainable tensors. */
  params: NodeGrad | null;
  /** Its badge, where it has one and no chip (a relu node's dead units). */
  badge: Badge | null;
  /** The gradient that comes back to it from each node that reads it (the edges node -> reader), in graph order. */
  fromReaders: { node: string; norm: number | null }[];
  /** The gradient it passes back to each of its inputs (the edges input -> node), in graph order. */
  toInputs: { node: string; norm: number | null }[];
}

/**
 * A node's gradient as the overlay has it (null where it has none: no chip, and no wire with a norm), the wires in
 * `order` (the graph's node order).
 */
export function nodeGradient(o: GradientOverlay, id: string, order: readonly string[]): NodeGradient | null {
  const fromReaders: NodeGradient['fromReaders'] = [];
  const toInputs: NodeGradient['toInputs'] = [];
  for (const other of order) {
    const down = o.edges.get(edgeKey(id, other));
    if (down) fromReaders.push({ node: other, norm: down.norm });
    const up = o.edges.get(edgeKey(other, id));
    if (up) toInputs.push({ node: other, norm: up.norm });
  }
  const params = o.nodes.get(id) ?? null;
  const badge = o.badges.get(id) ?? null;
  return params || badge || fromReaders.length || toInputs.length ? { params, badge, fromReaders, toInputs } : null;
}

/** The edge lookup: (source, target) -> the norm of the gradient flowing back along it (NaN when not finite). */
export function edgeLookup(edges: readonly EdgeNorm[]): (source: string, target: string) => number | undefined {
  const m = new Map<string, number>();
  for (const e of edges) m.set(edgeKey(e.source, e.target), e.norm);
  return (source, target) => m.get(edgeKey(source, target));
}

/** The chip's number: 4 significant digits; NaN/Inf where it was not finite. */
export function chipText(norm: number | null): string {
  return norm !== null && Number.isFinite(norm) ? num4(norm) : 'NaN/Inf';
}

/**
 * The shortest gap between two overlay rebuilds (the app's throttle): train.progress comes up to 10 times a second,
 * the canvas redraws its gradients at most twice a second (each rebuild re-renders the graph, work that competes
 * with training on a small machine).
 */
export const OVERLAY_MIN_GAP_MS = 500;

/** The canvas's gradient overlay for a training state; null when the run has no gradients to show. */
export function overlayFor(src: GradientSource): GradientOverlay | null {
  const flow = flowEdges(src.flow);
  const layerIds = Object.keys(src.latestGrad);
  if (!flow.length && !layerIds.length) return null;
  const scale = scaleOf([...flow.map((e) => e.norm), ...layerIds.map((id) => src.latestGrad[id])]);
  const badges = badgesOf(src.layers, src.latestGrad);
  // dead units are the cause where a layer's gradient also vanishes: that badge says so instead (a gradient that is
  // not finite keeps its exploding badge: weights that overflowed are the worse news)
  for (const [id, badge] of deadBadges(src.flow)) if (badges.get(id)?.kind !== 'exploding') badges.set(id, badge);
  const nodes = new Map<string, NodeGrad>();
  for (const id of layerIds) {
    const v = src.latestGrad[id];
    // null from the engine: not finite.
    const style = styleOf(v ?? NaN, scale)!;
    nodes.set(id, { ...style, text: chipText(style.norm), badge: badges.get(id) ?? null });
    badges.delete(id);
  }
  const edges = new Map<string, EdgeGrad>();
  for (const e of flow) edges.set(edgeKey(e.source, e.target), { ...styleOf(e.norm, scale)!, scale });
  return { scale, nodes, badges, edges, flowStep: src.flow ? src.flow.step : null };
}

/** The legend the canvas shows for its edges' gradients; null when no edge has one. */
export interface GradLegend {
  scale: GradScale | null;
  ticks: LegendTick[];
  /** Some edge's gradient is not finite (the legend then shows the alarm colour too). */
  alarm: boolean;
}

export function legendOf(edges: readonly { data?: { grad?: EdgeGrad } }[]): GradLegend | null {
  let found: EdgeGrad | null = null;
  let alarm = false;
  for (const e of edges) {
    const g = e.data?.grad;
    if (!g) continue;
    found ??= g;
    if (g.alarm) alarm = true;
  }
  if (!found) return null;
  return { scale: found.scale, ticks: legendTicks(found.scale), alarm };
}

/** The ramp as a CSS gradient, left (tiny) to right (large), for the legend. */
export const RAMP_CSS = 'linear-gradient(in oklab to right, var(--grad-0), var(--grad-1), var(--grad-2))';

/** The L2 norm of every layer's gradient together (the layers' tensors partition the trainable ones); null if any is unknown. */
export function globalNorm(layers: Readonly<Record<string, number | null>>): number | null {
  const norms = Object.values(layers);
  if (norms.length === 0 || norms.some((n) => n === null || !Number.isFinite(n))) return null;
  return Math.sqrt(norms.reduce<number>((sum, n) => sum + n! * n!, 0));
}
