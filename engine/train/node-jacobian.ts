import { jacobianAsync } from '../autodiff/jacobian';
import type { SliceOptions } from '../util/sliced';
import type { IRNode } from '../ir/node';
import { numel } from '../ir/shape';
import { StudioError } from '../util/errors';
import { expandOrThrow } from './program';
import type { Session } from './session';

export interface NodeJacobian {
  /** The node differentiated, and the source (an input node's id or a parameter tensor's name). */
  of: string;
  wrt: string;
  /** [...of's shape, ...wrt's shape], the batch of the rows taken included. */
  shape: number[];
  /** How many of `shape`'s dimensions are of's. */
  ofRank: number;
  values: Float64Array;
}

/** How the caller names what it was given, for errors: the CLI's flags (`--of`), or the app's words. */
export interface JacobianTerms {
  of: string;
  wrt: string;
  /** What to do about too many values. */
  fewer: string;
}

/**
 * The Jacobian of a project node's value with respect to an input node or a parameter tensor, on these rows of the
 * session's dataset, with its weights now, in inference mode as predict (dropout off, batchnorm on its running
 * statistics): what `bpstudio jacobian` prints and the inspector's Jacobian shows. `of` defaults to the prediction
 * (else the objective), `wrt` to the one input node `of` reads. At most `maxValues` values. It lets the event loop
 * run as it goes, column by column (runSliced: `onProgress`, and `signal` stops it).
 */
export async function nodeJacobian(
  s: Session,
  rows: Int32Array,
  opts: { of?: string; wrt?: string; maxValues: number; terms: JacobianTerms } & Pick<SliceOptions, 'signal' | 'onProgress'>,
): Promise<NodeJacobian> {
  const { terms } = opts;
  const e = expandOrThrow(s.nodes, rows.length, 'infer');
  // (the prediction, else the objective: every project has one)
  const ofId = opts.of ?? s.targets.prediction ?? s.targets.objective;
  const of = e.outputs.get(ofId);
  if (!of) throw new StudioError(`${terms.of} names "${ofId}", which is not a node of the graph`);
  const wrt = jacobianSource(e.builder.nodes, of, ofId, opts.wrt, new Set(s.nodes.filter((n) => n.op === 'input').map((n) => n.id)), terms);
  const name = wrt.attrs.name as string;
  const size = numel(of.shape) * numel(wrt.shape);
  if (size > opts.maxValues) {
    throw new StudioError(`the Jacobian of "${ofId}" with respect to ${name} on ${rows.length} rows has ${size} values (at most ${opts.maxValues}): ${terms.fewer}`);
  }
  const values = new Map<string, Float32Array>();
  for (const p of s.params) values.set(p.name, await s.backend.readTensor(p.name));
  for (const [id, t] of s.batch(rows)) values.set(id, t);
  const j = await jacobianAsync(e.builder, of, wrt, values, s.training.seed, { signal: opts.signal, onProgress: opts.onProgress });
  return { of: ofId, wrt: name, shape: j.shape, ofRank: of.shape.length, values: j.values };
}

/**
 * The source a Jacobian is taken with respect to: `wrt` (an input node's id or a parameter tensor's name), else the
 * one input node that `of` reads; an error that says what to name otherwise.
 */
function jacobianSource(nodes: readonly IRNode[], of: IRNode, ofId: string, wrt: string | undefined, inputIds: ReadonlySet<string>, terms: JacobianTerms): IRNode {
  const sources = nodes.filter((n) => n.op === 'input' || n.op === 'param');
  if (wrt !== undefined) {
    const x = sources.find((n) => n.attrs.name === wrt && (n.op === 'param' || inputIds.has(wrt)));
    if (!x) throw new StudioError(`${terms.wrt} names "${wrt}", which is neither an input node nor a parameter tensor of the graph`);
    return x;
  }
  const reads = new Set<IRNode>();
  const visit = (n: IRNode) => {
    if (reads.has(n)) return;
    reads.add(n);
    n.inputs.forEach(visit);
  };
  visit(of);
  const inputs = sources.filter((n) => n.op === 'input' && inputIds.has(n.attrs.name as string) && reads.has(n));
  if (inputs.length === 1) return inputs[0];
  const names = inputs.map((n) => n.attrs.name as string);
  throw new StudioError(
    inputs.length === 0
      ? `"${ofId}" reads no input node: name a parameter tensor with ${terms.wrt}`
      : `"${ofId}" reads ${inputs.length} input nodes (${names.join(', ')}): name one with ${terms.wrt}`,
  );
}
