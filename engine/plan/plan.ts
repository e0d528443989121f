import type { IRNode } from '../ir/node';
import { concrete, numel } from '../ir/shape';
import type { KernelCall } from '../backends/kernel';

/**
 * A compiled plan: a static list of kernel calls over numbered buffers. Intermediate values share buffers by
 * liveness; data inputs, parameters, optimizer state and constants have buffers of their own.
 */
export interface Plan {
  readonly buffers: readonly BufferSpec[];
  readonly steps: readonly PlanStep[];
  /** Steps before this index compute (forward, backward, metrics); from it on they update parameters and state. */
  readonly updateStart: number;
  readonly outputs: ReadonlyMap<string, { buffer: number; shape: number[] }>;
  readonly inputs: ReadonlyMap<string, { buffer: number; shape: number[] }>;
  /** Bytes of all buffers together (float32), shared persistent tensors counted once. */
  readonly peakBytes: number;
}

export type BufferRole = 'pool' | 'input' | 'persistent' | 'const';

export interface BufferSpec {
  readonly size: number;
  readonly role: BufferRole;
  /** persistent: the tensor's name (parameters, optimizer state, running statistics), shared between plans. */
  readonly name?: string;
  readonly value?: Float32Array | Float64Array;
}

export interface PlanStep {
  readonly call: KernelCall;
  readonly inputs: readonly number[];
  readonly output: number;
  /** The IR node computed (absent for updates), for naming the origin of a NaN. */
  readonly node?: IRNode;
}

/** An in-place update run after the compute steps: an optimizer step on a parameter, or a state assignment. */
export interface Update {
  readonly op: 'sgd_update' | 'adam_update' | 'assign';
  /** The persistent tensor written. */
  readonly target: string;
  /** sgd/adam: the gradient; assign: the new value. */
  readonly source: IRNode;
  /** Optimizer state tensors (velocity; first and second moments), persistent, same size as the target. */
  readonly state?: readonly string[];
  readonly attrs?: Readonly<Record<string, unknown>>;
}

/** A free pooled buffer is grown to a larger size asked only if it holds at least 1 / GROW_FROM_FRACTION of it. */
const GROW_FROM_FRACTION = 8;

/**
 * Which of the free pooled buffers of these sizes is to hold a value of `size` elements: the smallest that is big
 * enough; else the largest, to be grown, unless it holds under 1 / GROW_FROM_FRACTION of the size (then growing it
 * saves little and keeps its old size allocated for nothing); -1: none, a new buffer is better.
 */
export function bestFit(sizes: readonly number[], size: number): number {
  let best = -1;
  sizes.forEach((s, i) => {
    if (s >= size && (best < 0 || s < sizes[best])) best = i;
  });
  if (best >= 0 || !sizes.length) return best;
  const largest = sizes.reduce((b, s, i) => (s > sizes[b] ? i : b), 0);
  return sizes[largest] * GROW_FROM_FRACTION >= size ? largest : -1;
}

/**
 * Compiles the nodes needed for `outputs` and `updates` into a plan, each value computed once (sharedValues).
 * Parameters (`param` nodes) become persistent buffers named after the tensor, so that plans for training,
 * evaluation and other batch sizes share them.
 */
export function compilePlan(outputs: Readonly<Record<string, IRNode>>, updates: readonly Update[] = []): Plan {
  const roots = [...Object.values(outputs), ...updates.map((u) => u.source)];
  const all = topoOrder(roots);
  const rep = sharedValues(all);
  const value = (n: IRNode) => rep.get(n)!;
  const order = all.filter((n) => value(n) === n);
  const lastUse = new Map<IRNode, number>();
  order.forEach((n, i) => n.inputs.forEach((x) => lastUse.set(value(x), i)));
  const pinned = new Set(roots.map(value));

  const buffers: BufferSpec[] = [];
  const persistent = new Map<string, number>();
  const persistentBuffer = (name: string, size: number): number => {
    let id = persistent.get(name);
    if (id === undefined) {
      id = buffers.push({ size, role: 'persistent', name }) - 1;
      persistent.set(name, id);
    }
    return id;
  };
  const free: number[] = [];
  const poolSizes: number[] = [];
  const alloc = (size: number): number => {
    const best = bestFit(free.map((f) => poolSizes[f]), size);
    if (best >= 0) {
      const id = free.splice(best, 1)[0];
      poolSizes[id] = Math.max(poolSizes[id], size);
      return id;
    }
    const id = buffers.push({ size, role: 'pool' }) - 1;
    poolSizes[id] = size;
    return id;
  };

  const bufferOf = new Map<IRNode, number>();
  const inputs = new Map<string, { buffer: number; shape: number[] }>();
  const steps: PlanStep[] = [];
  order.forEach((n, i) => {
    const size = numel(n.shape);
    const shape = concrete(n.shape);
    if (n.op === 'input') {
      const id = buffers.push({ size, role: 'input', name: n.attrs.name as string }) - 1;
      inputs.set(n.attrs.name as string, { buffer: id, shape });
      bufferOf.set(n, id);
      return;
    }
    if (n.op === 'param') return bufferOf.set(n, persistentBuffer(n.attrs.name as string, size));
    if (n.op === 'const') return bufferOf.set(n, buffers.push({ size, role: 'const', value: n.attrs.value as Float32Array | Float64Array }) - 1);
    const out = alloc(size);
    bufferOf.set(n, out);
    steps.push({
      call: { op: n.op, attrs: n.attrs, inShapes: n.inputs.map((x) => concrete(x.shape)), outShape: shape },
      inputs: n.inputs.map((x) => bufferOf.get(value(x))!),
      output: out,
      node: n,
    });
    for (const x of new Set(n.inputs.map(value))) {
      const b = bufferOf.get(x)!;
      if (lastUse.get(x) === i && !pinned.has(x) && buffers[b].role === 'pool') free.push(b);
    }
  });

  const updateStart = steps.length;
  for (const u of updates) {
    const size = numel(u.source.shape);
    const target = persistentBuffer(u.target, size);
    const state = (u.state ?? []).map((s) => persistentBuffer(s, size));
    steps.push({
      call: { op: u.op, attrs: u.attrs ?? {}, inShapes: [], outShape: concrete(u.source.shape) },
      inputs: [target, bufferOf.get(value(u.source))!, ...state],
      output: target,
    });
  }

  const finalBuffers = buffers.map((b, i) => (b.role === 'pool' ? { ...b, size: poolSizes[i] } : b));
  const outs = new Map(Object.entries(outputs).map(([k, n]) => [k, { buffer: bufferOf.get(value(n))!, shape: concrete(n.shape) }]));
  return {
    buffers: finalBuffers,
    steps,
    updateStart,
    outputs: outs,
    inputs,
    peakBytes: 4 * finalBuffers.reduce((s, b) => s + b.size, 0),
  };
}

/**
 * Each node's value, computed once: the first node of `order` (topological) with the same op, attributes and
 * inputs (their values), or the node itself. Sources are their own (two constants are not compared). The training
 * graph repeats itself where separate expansions build the same thing, e.g. the labels' one-hot for the loss and for
 * the accuracy.
 */
function sharedValues(order: readonly IRNode[]): Map<IRNode, IRNode> {
  const rep = new Map<IRNode, IRNode>();
  const byKey = new Map<string, IRNode>();
  for (const n of order) {
    let first = n;
    if (n.inputs.length) {
      const key = `${n.op}(${n.inputs.map((x) => rep.get(x)!.id).join()})${attrsKey(n.attrs)}`;
      first = byKey.get(key) ?? n;
      if (first === n) byKey.set(key, n);
    }
    rep.set(n, first);
  }
  return rep;
}

/** Attributes as a string that tells every two values apart (JSON alone would write NaN and Infinity alike, and -0 as 0). */
function attrsKey(attrs: IRNode['attrs']): string {
  return JSON.stringify(attrs, (_k, v: unknown) => (typeof v === 'number' ? `#${Object.is(v, -0) ? '-0' : String(v)}` : v));
}

/** The nodes the roots depend on, in topological (creation) order. */
export function topoOrder(roots: readonly IRNode[]): IRNode[] {
  const seen = new Set<IRNode>();
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...n.inputs);
  }
  return [...seen].sort((a, b) => a.id - b.id);
}
