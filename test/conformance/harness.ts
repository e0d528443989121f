/**
 * Runs the conformance tables. Forward checks take any Backend (the CPU one today, WebGPU later); gradient checks
 * run on the float64 CPU backend through engine/autodiff/gradcheck, plus an exact forward-vs-reverse check whose
 * directions are fed as float64 inputs (see exactJvpCheck).
 */
import { gradcheck, relError, sourceName, type TensorCheck } from '../../engine/autodiff/gradcheck';
import { forwardMode } from '../../engine/autodiff/forward';
import { reverseMode } from '../../engine/autodiff/reverse';
import type { Backend } from '../../engine/backends/backend';
import { CpuBackend } from '../../engine/backends/cpu/cpu-backend';
import type { RunContext } from '../../engine/backends/kernel';
import { expandGraph, type Expansion } from '../../engine/graph/expand';
import { Builder } from '../../engine/ir/builder';
import type { IRNode } from '../../engine/ir/node';
import { concrete, numel } from '../../engine/ir/shape';
import { compilePlan } from '../../engine/plan/plan';
import type { CatalogueCase } from './catalogue-table';
import { FED_SOURCES, type OpCase } from './op-table';
import { generate, NORMAL, rngFor, size, tensor, type Domain, type Tensor } from './tensor';

export const RUN: RunContext = { seed: 1, step: 1 };

/** A graph ready to run: its output, the sources fed by name, and which of them gradients are checked against. */
export interface Built {
  readonly b: Builder;
  readonly y: IRNode;
  /** Every fed source: `input` nodes by setInput, `param` nodes by writeTensor. */
  readonly values: ReadonlyMap<string, Float64Array>;
  readonly wrt: readonly IRNode[];
}

// ---------------------------------------------------------------------------------------------------------------
// building

/** The primitive case as a graph: inputs `x0`, `x1`... feeding the op (or the fed source itself). */
export function buildOpCase(c: OpCase): Built {
  const b = new Builder();
  const values = new Map<string, Float64Array>();
  const rng = rngFor(c.name);
  const feed = (name: string, spec: { shape: readonly number[]; domain?: Domain }) => {
    values.set(name, generate(spec.domain ?? NORMAL, size(spec.shape), rng));
  };
  if (FED_SOURCES.includes(c.op)) {
    const spec = c.inputs[0];
    feed('x0', spec);
    const y = b.emit(c.op, [], { name: 'x0', shape: spec.shape });
    return { b, y, values, wrt: [y] };
  }
  const ins = c.inputs.map((spec, i) => {
    feed(`x${i}`, spec);
    return b.input(`x${i}`, spec.shape);
  });
  return { b, y: b.emit(c.op, ins, c.attrs), values, wrt: ins };
}

/** The case's input values as reference tensors. */
export function opCaseInputs(c: OpCase, built: Built): Tensor[] {
  return c.inputs.map((spec, i) => tensor(spec.shape, built.values.get(`x${i}`)!));
}

/**
 * The catalogue case expanded in its mode and batch. Sources: every `input` (data and labels alike) and every
 * parameter tensor, with values from the case's `feeds` (default: normal, std 1 for data, 0.5 for parameters).
 * Gradients are checked against the data inputs (never labels) and the trainable parameters.
 */
export function buildCatalogueCase(c: CatalogueCase): Built & { e: Expansion } {
  const e = expandGraph(c.nodes, { batch: c.batch, mode: c.mode ?? 'eval' });
  if (e.errors.length) throw new Error(`${c.name}: ${e.errors.map((x) => `${x.node}/${x.port ?? ''}: ${x.message}`).join('; ')}`);
  const b = e.builder;
  const y = e.outputs.get(c.out ?? 'y');
  if (!y) throw new Error(`${c.name}: no output ${c.out ?? 'y'}`);
  const rng = rngFor(c.name);
  const values = new Map<string, Float64Array>();
  const wrt: IRNode[] = [];
  const trainable = new Set(e.params.filter((p) => p.trainable).map((p) => p.name));
  const opOf = new Map(c.nodes.map((n) => [n.id, n.op]));
  for (const n of b.nodes) {
    if (n.op !== 'input' && n.op !== 'param') continue;
    const name = sourceName(n);
    if (values.has(name)) continue;
    const dflt: Domain = n.op === 'param' ? { kind: 'normal', std: 0.5 } : NORMAL;
    values.set(name, generate(c.feeds?.[name] ?? dflt, numel(n.shape), rng));
    if (n.op === 'param' ? trainable.has(name) : opOf.get(name) === 'input') wrt.push(n);
  }
  return { b, y, values, wrt, e };
}

/** A source's value as a reference tensor with its concrete shape. */
export function sourceTensors(built: Built): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const n of built.b.nodes) {
    if ((n.op === 'input' || n.op === 'param') && built.values.has(sourceName(n))) {
      out.set(sourceName(n), tensor(concrete(n.shape), built.values.get(sourceName(n))!));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// forward, on any backend

/** Runs the graph's output `y` on a backend (float32 values fed), and reads it back. */
export async function runForward(backend: Backend, built: Built, ctx: RunContext = RUN): Promise<Float32Array> {
  const exe = backend.load(compilePlan({ y: built.y }));
  for (const [name, v] of built.values) {
    if (exe.plan.inputs.has(name)) exe.setInput(name, Float32Array.from(v));
    else backend.writeTensor(name, Float32Array.from(v));
  }
  exe.run(ctx);
  return exe.read('y');
}

// ---------------------------------------------------------------------------------------------------------------
// gradients, on the float64 CPU backend

export interface GradReport extends TensorCheck {
  readonly name: string;
  /** Forward mode along a float64 direction against reverse mode (gradient . direction): see exactJvpCheck. */
  readonly exactForwardVsReverse: number;
}

/** sum(y * R) for a fixed random R, so that every element of y's gradient is weighed and tested. */
export function weightedObjective(b: Builder, y: IRNode, seedName: string): IRNode {
  const rng = rngFor(seedName, 1);
  const r = Float32Array.from({ length: numel(y.shape) }, () => rng.normal());
  return b.sum(b.mul(y, b.constant(r, y.shape)), [...y.shape.keys()]);
}

export function checkGradients(built: Built, seedName: string, eps: number): GradReport[] {
  const { b, y, wrt, values } = built;
  const objective = weightedObjective(b, y, seedName);
  const checks = gradcheck(b, objective, wrt, values, { eps, maxElements: 64 });
  const exact = exactJvpCheck(b, objective, wrt, values, seedName);
  return wrt.map((x, i) => ({ name: sourceName(x), ...checks.get(sourceName(x))!, exactForwardVsReverse: exact[i] }));
}

/**
 * Forward mode against reverse mode along a random float64 direction per source, the direction fed as an input
 * of the float64 plan so that nothing rounds it: relError(jvp, gradient . direction) for each source.
 * (gradcheck's own forwardVsReverse rounds its direction to float32; see the report in the test file.)
 */
export function exactJvpCheck(
  b: Builder,
  objective: IRNode,
  wrt: readonly IRNode[],
  values: ReadonlyMap<string, Float64Array>,
  seedName: string,
): number[] {
  const rng = rngFor(seedName, 2);
  const adjoint = reverseMode(b, objective, wrt);
  const outputs: Record<string, IRNode> = { objective };
  const dirs = wrt.map((x, i) => {
    const dir = b.input(`__dir${i}`, x.shape);
    outputs[`grad${i}`] = adjoint.get(x) ?? b.fullLike(x, 0);
    outputs[`jvp${i}`] = forwardMode(b, new Map([[x, dir]]), objective).get(objective) ?? b.scalar(0);
    return Float64Array.from({ length: numel(x.shape) }, () => rng.normal());
  });
  const backend = new CpuBackend('f64');
  const exe = backend.load(compilePlan(outputs));
  for (const [name, v] of values) {
    if (exe.plan.inputs.has(name)) exe.setInput(name, v);
    else backend.writeTensor(name, v);
  }
  dirs.forEach((d, i) => exe.setInput(`__dir${i}`, d));
  exe.run(RUN);
  return dirs.map((d, i) => {
    const g = exe.readSync(`grad${i}`);
    let dot = 0;
    for (let k = 0; k < g.length; k++) dot += g[k] * d[k];
    return relError(exe.readSync(`jvp${i}`)[0], dot);
  });
}

/**
 * For ops that pass no gradient: does reverse mode give any adjoint to a source, or forward mode any tangent to
 * the output? Both must be false.
 */
export function gradientFlows(built: Built): { reverse: boolean[]; forward: boolean[] } {
  const { b, y, wrt } = built;
  const objective = weightedObjective(b, y, 'no-gradient');
  const adjoint = reverseMode(b, objective, wrt);
  return {
    reverse: wrt.map((x) => adjoint.has(x)),
    forward: wrt.map((x) => forwardMode(b, new Map([[x, b.fullLike(x, 1)]]), objective).has(objective)),
  };
}

/**
 * d sum(y) / d source for each of `wrt` by reverse mode, and forward mode's directional derivative along all-ones
 * for each source (which must equal the sum of that gradient), on the float64 CPU backend.
 */
export function exactGradients(built: Built): { grads: Float64Array[]; onesJvp: number[] } {
  const { b, y, wrt, values } = built;
  const objective = b.sum(y, [...y.shape.keys()]);
  const adjoint = reverseMode(b, objective, wrt);
  const outputs: Record<string, IRNode> = {};
  wrt.forEach((x, i) => {
    outputs[`grad${i}`] = adjoint.get(x) ?? b.fullLike(x, 0);
    outputs[`jvp${i}`] = forwardMode(b, new Map([[x, b.fullLike(x, 1)]]), objective).get(objective) ?? b.scalar(0);
  });
  const backend = new CpuBackend('f64');
  const exe = backend.load(compilePlan(outputs));
  for (const [name, v] of values) {
    if (exe.plan.inputs.has(name)) exe.setInput(name, v);
    else backend.writeTensor(name, v);
  }
  exe.run(RUN);
  return {
    grads: wrt.map((_, i) => Float64Array.from(exe.readSync(`grad${i}`))),
    onesJvp: wrt.map((_, i) => exe.readSync(`jvp${i}`)[0]),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// backend against backend

/**
 * The case's forward value and the gradient of sum(y * R) with respect to each checked source, as one plan run on
 * `backend`: what the WebGPU conformance compares against the CPU backend. The plan is compiled once per case
 * (`planOf`) so both backends run the very same steps.
 */
export function valueAndGradientPlan(built: Built, seedName: string): { plan: ReturnType<typeof compilePlan>; outputs: string[] } {
  const { b, y, wrt } = built;
  const objective = weightedObjective(b, y, seedName);
  const adjoint = reverseMode(b, objective, wrt);
  const outputs: Record<string, IRNode> = { y };
  wrt.forEach((x, i) => {
    const g = adjoint.get(x);
    if (g) outputs[`grad${i}:${sourceName(x)}`] = g;
  });
  return { plan: compilePlan(outputs), outputs: Object.keys(outputs) };
}

/** Runs a plan made by valueAndGradientPlan on a backend and reads every output. */
export async function runPlanOutputs(
  backend: Backend,
  built: Built,
  planned: ReturnType<typeof valueAndGradientPlan>,
  ctx: RunContext = RUN,
): Promise<Map<string, Float32Array>> {
  const exe = backend.load(planned.plan);
  for (const [name, v] of built.values) {
    if (exe.plan.inputs.has(name)) exe.setInput(name, Float32Array.from(v));
    else backend.writeTensor(name, Float32Array.from(v));
  }
  exe.run(ctx);
  const out = new Map<string, Float32Array>();
  for (const name of planned.outputs) out.set(name, await exe.read(name));
  return out;
}
