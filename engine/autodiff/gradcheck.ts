import type { IRNode } from '../ir/node';
import type { Builder } from '../ir/builder';
import { numel } from '../ir/shape';
import { CpuBackend } from '../backends/cpu/cpu-backend';
import type { FloatArray } from '../backends/kernel';
import { compilePlan } from '../plan/plan';
import { Rng } from '../util/rng';
import { runAll, runSliced, type SliceOptions, type WorkProgress } from '../util/sliced';
import { forwardMode } from './forward';
import { reverseMode } from './reverse';

/**
 * |a - b| relative to the larger of the two; below `floor` the difference is taken relative to the floor, so that
 * near-zero gradients compare absolutely (finite differences carry ~1e-9 of rounding noise there).
 */
export function relError(a: number, b: number, floor = 1e-3): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), floor);
}

export interface TensorCheck {
  /**
   * Largest relative error between reverse mode and finite differences over the checked elements. Each element
   * takes the closest of the central, left and right differences: at a kink (relu at 0, a tie in a max) reverse
   * mode gives one one-sided derivative, which is right, and the central difference is their average.
   */
  reverseVsNumeric: number;
  /** Relative error between forward mode's directional derivative and reverse mode's (gradient . direction). */
  forwardVsReverse: number;
  checked: number;
}

export interface GradcheckOptions {
  /** Step of the finite differences (float64 throughout); 1e-5 balances truncation against rounding. */
  eps?: number;
  /** Elements checked per tensor by central differences (chosen by seeded draw when the tensor is larger). */
  maxElements?: number;
  seed?: number;
}

/**
 * Checks reverse mode, forward mode and central differences against each other for the scalar `objective` with
 * respect to each source node of `wrt` (parameters or inputs), on a float64 CPU backend so that differences are
 * meaningful. `values` holds each source's value (inputs and parameters alike, by name).
 */
export function gradcheck(
  b: Builder,
  objective: IRNode,
  wrt: readonly IRNode[],
  values: ReadonlyMap<string, FloatArray>,
  opts: GradcheckOptions = {},
): Map<string, TensorCheck> {
  return runAll(gradcheckSteps(b, objective, wrt, values, opts));
}

/** gradcheck for a process that must keep answering (the engine host): runSliced, by elements checked. */
export function gradcheckAsync(
  b: Builder,
  objective: IRNode,
  wrt: readonly IRNode[],
  values: ReadonlyMap<string, FloatArray>,
  opts: GradcheckOptions & SliceOptions = {},
): Promise<Map<string, TensorCheck>> {
  return runSliced(gradcheckSteps(b, objective, wrt, values, opts), opts);
}

/** The check, yielding its progress after each element's finite differences. */
function* gradcheckSteps(
  b: Builder,
  objective: IRNode,
  wrt: readonly IRNode[],
  values: ReadonlyMap<string, FloatArray>,
  opts: GradcheckOptions,
): Generator<WorkProgress, Map<string, TensorCheck>> {
  const eps = opts.eps ?? 1e-5;
  const rng = new Rng(opts.seed ?? 1, 7);
  const adjoint = reverseMode(b, objective, wrt);
  const directions = new Map<IRNode, Float64Array>();
  const tangents = new Map<IRNode, IRNode>();
  for (const x of wrt) {
    // float32-representable, so that the direction the tangent graph holds is exactly the one dotted below
    const v = Float64Array.from(Float32Array.from({ length: numel(x.shape) }, () => rng.normal()));
    directions.set(x, v);
    tangents.set(x, b.constant(v, x.shape));
  }
  const tangent = forwardMode(b, tangents, objective);
  const outputs: Record<string, IRNode> = { objective };
  wrt.forEach((x, i) => {
    outputs[`grad${i}`] = adjoint.get(x) ?? b.fullLike(x, 0);
    outputs[`jvp${i}`] = tangent.get(objective) ? jvpAlone(b, x, objective, directions.get(x)!) : b.scalar(0);
  });

  const backend = new CpuBackend('f64');
  const exe = backend.load(compilePlan(outputs));
  const names = wrt.map(sourceName);
  const current = new Map<string, Float64Array>();
  for (const [name, v] of values) current.set(name, Float64Array.from(v));
  const feed = () => {
    for (const [name, v] of current) {
      if (exe.plan.inputs.has(name)) exe.setInput(name, v);
      else backend.writeTensor(name, v);
    }
  };
  const ctx = { seed: opts.seed ?? 1, step: 1 };
  const f = () => {
    feed();
    exe.run(ctx);
    return exe.readSync('objective')[0];
  };
  const f0 = f();
  const grads = wrt.map((_, i) => exe.readSync(`grad${i}`));
  const jvps = wrt.map((_, i) => exe.readSync(`jvp${i}`)[0]);

  const max = opts.maxElements ?? 64;
  const sourceValues = names.map((name) => {
    const v = current.get(name);
    if (!v) throw new Error(`gradcheck: no value for ${name}`);
    return v;
  });
  const picks = sourceValues.map((v) => (v.length <= max ? [...Array(v.length).keys()] : [...rng.permutation(v.length).slice(0, max)]));
  const total = picks.reduce((n, p) => n + p.length, 0);
  let done = 0;
  const result = new Map<string, TensorCheck>();
  for (let i = 0; i < wrt.length; i++) {
    const v = sourceValues[i];
    let worst = 0;
    const at = (k: number, value: number) => {
      const keep = v[k];
      v[k] = value;
      const y = f();
      v[k] = keep;
      return y;
    };
    for (const k of picks[i]) {
      const g = grads[i][k];
      const [up, down] = [at(k, v[k] + eps), at(k, v[k] - eps)];
      let err = relError(g, (up - down) / (2 * eps));
      if (err > 1e-7) {
        // Maybe a kink: compare with the one-sided derivatives too (second-order, so as accurate as the central one).
        const [up2, down2] = [at(k, v[k] + 2 * eps), at(k, v[k] - 2 * eps)];
        const right = (-3 * f0 + 4 * up - up2) / (2 * eps);
        const left = (3 * f0 - 4 * down + down2) / (2 * eps);
        err = Math.min(err, relError(g, right), relError(g, left));
      }
      worst = Math.max(worst, err);
      yield { done: ++done, total };
    }
    const dir = directions.get(wrt[i])!;
    let dot = 0;
    for (let k = 0; k < v.length; k++) dot += grads[i][k] * dir[k];
    result.set(names[i], { reverseVsNumeric: worst, forwardVsReverse: relError(jvps[i], dot), checked: picks[i].length });
  }
  return result;
}

/** The name a source node is fed by: an input's or a parameter's. */
export function sourceName(x: IRNode): string {
  return x.attrs.name as string;
}

/** The directional derivative of `objective` along `dir` for source `x` alone (other sources held fixed). */
function jvpAlone(b: Builder, x: IRNode, objective: IRNode, dir: Float64Array): IRNode {
  const t = forwardMode(b, new Map([[x, b.constant(dir, x.shape)]]), objective);
  return t.get(objective) ?? b.scalar(0);
}
