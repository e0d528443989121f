import { CpuBackend } from '../backends/cpu/cpu-backend';
import type { FloatArray } from '../backends/kernel';
import type { Builder } from '../ir/builder';
import type { IRNode } from '../ir/node';
import { numel, type Shape } from '../ir/shape';
import { compilePlan } from '../plan/plan';
import { runAll, runSliced, type SliceOptions, type WorkProgress } from '../util/sliced';
import { forwardMode } from './forward';

/** The plan input that carries the tangent of `wrt`. */
const TANGENT = 'jacobian:tangent';

export interface Jacobian {
  /** [...of's shape, ...wrt's shape]: row-major, d of[i] / d wrt[j] at index (i, j). */
  shape: number[];
  values: Float64Array;
}

/**
 * The Jacobian of `of` with respect to the source `wrt` (an input or a parameter), in forward mode: one plan whose
 * tangent of `wrt` is an input, run once per element of `wrt` with that element's one-hot direction, each run giving
 * one column. Float64 on the CPU, so the figures are the derivatives to ~1e-15. `values` holds every source's value
 * by name, as gradcheck takes them. An `of` that does not depend on `wrt` has a Jacobian of zeros.
 */
export function jacobian(b: Builder, of: IRNode, wrt: IRNode, values: ReadonlyMap<string, FloatArray>, seed: number): Jacobian {
  return runAll(jacobianSteps(b, of, wrt, values, seed));
}

/** jacobian for a process that must keep answering (the engine host): runSliced, by columns. */
export function jacobianAsync(b: Builder, of: IRNode, wrt: IRNode, values: ReadonlyMap<string, FloatArray>, seed: number, opts: SliceOptions = {}): Promise<Jacobian> {
  return runSliced(jacobianSteps(b, of, wrt, values, seed), opts);
}

/** The Jacobian, yielding its progress after each column. */
function* jacobianSteps(b: Builder, of: IRNode, wrt: IRNode, values: ReadonlyMap<string, FloatArray>, seed: number): Generator<WorkProgress, Jacobian> {
  const ofShape = concrete(of.shape);
  const wrtShape = concrete(wrt.shape);
  const rows = numel(ofShape);
  const cols = numel(wrtShape);
  const tangent = forwardMode(b, new Map([[wrt, b.input(TANGENT, wrtShape)]]), of).get(of);
  const out = new Float64Array(rows * cols);
  if (!tangent) return { shape: [...ofShape, ...wrtShape], values: out };
  const backend = new CpuBackend('f64');
  const exe = backend.load(compilePlan({ jvp: tangent }));
  for (const [name, v] of values) {
    if (exe.plan.inputs.has(name)) exe.setInput(name, Float64Array.from(v));
    else backend.writeTensor(name, Float64Array.from(v));
  }
  // (a tangent that does not read the direction is a constant: zero, through a stop-gradient)
  const directed = exe.plan.inputs.has(TANGENT);
  const direction = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    direction.fill(0);
    direction[j] = 1;
    if (directed) exe.setInput(TANGENT, direction);
    exe.run({ seed, step: 1 });
    const column = exe.readSync('jvp');
    for (let i = 0; i < rows; i++) out[i * cols + j] = column[i];
    yield { done: j + 1, total: cols };
  }
  return { shape: [...ofShape, ...wrtShape], values: out };
}

function concrete(shape: Shape): number[] {
  if (shape.some((d) => typeof d !== 'number')) throw new Error(`jacobian: shape [${shape.join(', ')}] is not concrete`);
  return shape as number[];
}
