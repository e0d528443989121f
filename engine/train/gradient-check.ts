import { gradcheckAsync, type TensorCheck } from '../autodiff/gradcheck';
import type { SliceOptions } from '../util/sliced';
import { gradProgram, objectiveNode } from './program';
import type { Session } from './session';

/**
 * Largest relative error a gradient check accepts. Differences are taken in float64 with a step of 1e-5, so a correct
 * gradient agrees to about 1e-8; a wrong one is off by order 1. Non-smooth points (a relu input at exactly 0) can
 * exceed it honestly, and are reported rather than hidden.
 */
export const GRADCHECK_TOLERANCE = 1e-5;

export interface GradientCheck {
  ok: boolean;
  /** What was checked: the trainable tensors, or (`inputs` asked for, and the model has none) the input nodes. */
  of: 'parameters' | 'inputs';
  /** The largest of every tensor's two errors. */
  maxRelError: number;
  /** By tensor name, in the model's order. */
  tensors: Map<string, TensorCheck>;
}

/**
 * Reverse mode, forward mode and central differences compared on every trainable tensor of the session's model, with
 * its weights as they are, for the objective's batch mean over `rows` in evaluation mode: what `bpstudio gradcheck`
 * prints and the app's Check gradients shows. With `inputs`, a model without trainable tensors (a function of its
 * inputs, as seed-function) has the gradient with respect to each input node checked instead. It lets the event loop run
 * as it goes (reporting `onProgress`), and an aborted `signal` stops it with a CanceledError.
 */
export async function checkGradients(
  s: Session,
  rows: ArrayLike<number>,
  opts: { inputs?: boolean } & Pick<SliceOptions, 'signal' | 'onProgress'> = {},
): Promise<GradientCheck> {
  const e = gradProgram(s.nodes, s.targets, rows.length).expansion;
  const trainable = new Set(s.params.filter((p) => p.trainable).map((p) => p.name));
  let wrt = e.builder.nodes.filter((n) => n.op === 'param' && trainable.has(n.attrs.name as string));
  const of = opts.inputs && wrt.length === 0 ? 'inputs' : 'parameters';
  if (of === 'inputs') {
    const inputs = new Set(s.nodes.filter((n) => n.op === 'input').map((n) => n.id));
    wrt = e.builder.nodes.filter((n) => n.op === 'input' && inputs.has(n.attrs.name as string));
  }
  // (weights(), not the backend's tensors: it waits for any step in flight)
  const weights = await s.weights();
  const values = new Map<string, Float64Array>();
  for (const p of s.params) values.set(p.name, Float64Array.from(weights[p.name].data));
  for (const [id, t] of s.batch(rows)) values.set(id, Float64Array.from(t));
  const tensors = await gradcheckAsync(e.builder, objectiveNode(e, s.targets), wrt, values, { seed: s.training.seed, signal: opts.signal, onProgress: opts.onProgress });
  const maxRelError = Math.max(0, ...[...tensors.values()].flatMap((c) => [c.reverseVsNumeric, c.forwardVsReverse]));
  return { ok: maxRelError < GRADCHECK_TOLERANCE, of, maxRelError, tensors };
}
