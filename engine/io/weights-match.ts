/**
 * Matching a weights file's tensors against a project's tensors by name (project-format.md, "Parameters and
 * weights files"), so that weights trained elsewhere (PyTorch's `state_dict` under the format's names) load, or
 * say exactly why not.
 */
import { expandGraph, type GraphNode, type ParamInfo } from '../graph/expand';
import { initTensor } from '../graph/init';
import { StudioError } from '../util/errors';
import type { Tensor } from './safetensors';

export interface WeightsReport {
  /** The file's tensors that the project takes: its parameters and state, and standardisation statistics. */
  matched: string[];
  /** Parameters and state of the project that the file lacks. */
  missing: { name: string; shape: number[] }[];
  /** The file's tensors that the project has no place for. */
  unexpected: { name: string; shape: number[] }[];
  /** Tensors of both whose shapes differ: `expected` is the project's, `found` the file's. */
  misshaped: { name: string; expected: number[]; found: number[] }[];
}

/** The tensors a graph owns (`params`) and those it welcomes without needing them (`optional`), by name. */
interface Wanted {
  params: ParamInfo[];
  /**
   * `data.INPUT_ID.mean` / `.std` (the input's per-example shape), and `data.LABEL_ID.mean` / `.std` (the label's):
   * the statistics the data was standardised with.
   */
  optional: Map<string, number[]>;
  /**
   * PyTorch's batchnorm counter `ID.num_batches_tracked`, which a PyTorch `state_dict` has and the format does not
   * use (momentum is always a number): taken as part of the file and ignored, so that a state_dict loads as it is.
   */
  ignored: Set<string>;
}

function wantedBy(nodes: readonly GraphNode[]): Wanted {
  const e = expandGraph(nodes, { batch: null, mode: 'train' });
  const optional = new Map<string, number[]>();
  const ignored = new Set<string>();
  for (const n of nodes) {
    if (n.op === 'input' || (n.op === 'label' && n.attrs?.kind === 'real')) {
      const shape = ((n.attrs?.shape as number[] | undefined) ?? []).slice();
      optional.set(`data.${n.id}.mean`, shape);
      optional.set(`data.${n.id}.std`, shape);
    } else if (n.op === 'batchnorm') ignored.add(`${n.id}.num_batches_tracked`);
  }
  return { params: [...e.params], optional, ignored };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** How `tensors` fit the graph of `nodes`: every name in exactly one list (the ignored ones in none). */
export function matchWeights(nodes: readonly GraphNode[], tensors: Readonly<Record<string, Tensor>>): WeightsReport {
  return matchAgainst(wantedBy(nodes), tensors);
}

function matchAgainst({ params, optional, ignored }: Wanted, tensors: Readonly<Record<string, Tensor>>): WeightsReport {
  const report: WeightsReport = { matched: [], missing: [], unexpected: [], misshaped: [] };
  const take = (name: string, expected: number[]) => {
    const found = tensors[name].shape;
    if (sameShape(found, expected)) report.matched.push(name);
    else report.misshaped.push({ name, expected: expected.slice(), found: found.slice() });
  };
  for (const p of params) {
    if (Object.hasOwn(tensors, p.name)) take(p.name, p.shape);
    else report.missing.push({ name: p.name, shape: p.shape.slice() });
  }
  const owned = new Set(params.map((p) => p.name));
  for (const name of Object.keys(tensors).sort()) {
    if (owned.has(name) || ignored.has(name)) continue;
    const shape = optional.get(name);
    if (shape) take(name, shape);
    else report.unexpected.push({ name, shape: tensors[name].shape.slice() });
  }
  return report;
}

/** Whether the file fits the graph exactly (nothing missing, unexpected or mis-shaped). */
export function fitsExactly(r: WeightsReport): boolean {
  return r.missing.length === 0 && r.unexpected.length === 0 && r.misshaped.length === 0;
}

const list = (names: string[], max = 8): string =>
  names.slice(0, max).join(', ') + (names.length > max ? ` and ${names.length - max} more` : '');

const dims = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** The report's problems in one sentence (empty when there are none). */
export function describeProblems(r: WeightsReport): string {
  const parts: string[] = [];
  const { missing, unexpected, misshaped } = r;
  if (missing.length) parts.push(`missing ${missing.length === 1 ? 'tensor' : 'tensors'} ${list(missing.map((t) => t.name))}`);
  if (unexpected.length) {
    parts.push(`unexpected ${unexpected.length === 1 ? 'tensor' : 'tensors'} ${list(unexpected.map((t) => t.name))} (no such parameter in the graph)`);
  }
  for (const t of misshaped.slice(0, 8)) parts.push(`${t.name} has shape ${dims(t.found)} in the file, the graph needs ${dims(t.expected)}`);
  if (misshaped.length > 8) parts.push(`and ${misshaped.length - 8} more mis-shaped tensors`);
  return parts.join('; ');
}

/** One line per tensor, for a terminal: what a partial load took and what it left at the seeded initial values. */
export function reportLines(r: WeightsReport): string[] {
  return [
    `weights: ${r.matched.length} ${r.matched.length === 1 ? 'tensor' : 'tensors'} loaded`,
    ...r.missing.map((t) => `  missing ${t.name} ${dims(t.shape)}: keeps its initial value`),
    ...r.misshaped.map((t) => `  mis-shaped ${t.name}: ${dims(t.found)} in the file, ${dims(t.expected)} in the graph: keeps its initial value`),
    ...r.unexpected.map((t) => `  unexpected ${t.name} ${dims(t.shape)}: ignored`),
  ];
}

/**
 * Loading `tensors` partially: the report, and the tensors to start from: every matched one as it is in the file,
 * and for each missing or mis-shaped parameter its seeded initial value (the one training starts from with `seed`).
 * Unexpected and ignored tensors are left out, so `weights` fits the graph exactly.
 */
export function partialWeights(
  nodes: readonly GraphNode[],
  tensors: Readonly<Record<string, Tensor>>,
  seed: number,
): { weights: Record<string, Tensor>; report: WeightsReport } {
  const wanted = wantedBy(nodes);
  const report = matchAgainst(wanted, tensors);
  const weights: Record<string, Tensor> = {};
  for (const name of report.matched) weights[name] = tensors[name];
  for (const p of wanted.params) {
    if (!Object.hasOwn(weights, p.name)) weights[p.name] = { shape: p.shape.slice(), data: initTensor(p.name, p.shape, p.init, seed) };
  }
  return { weights, report };
}

/** The project node a tensor belongs to: the layer or parameter node, or the input of standardisation statistics. */
export function ownerOf(tensor: string): string {
  const stats = /^data\.(.+)\.(mean|std)$/.exec(tensor);
  return stats ? stats[1] : tensor.split('.')[0];
}

/** Weights that do not fit a graph exactly: the message lists the problems, `report` has them all. */
export class WeightsMismatchError extends StudioError {
  constructor(readonly report: WeightsReport) {
    const first = report.misshaped[0] ?? report.missing[0];
    super(`the weights do not fit this graph: ${describeProblems(report)}`, first ? { node: ownerOf(first.name) } : {});
  }
}

/** Throws a WeightsMismatchError unless `tensors` fit the graph of `nodes` exactly. */
export function requireExactFit(nodes: readonly GraphNode[], tensors: Readonly<Record<string, Tensor>>): void {
  const report = matchWeights(nodes, tensors);
  if (!fitsExactly(report)) throw new WeightsMismatchError(report);
}
