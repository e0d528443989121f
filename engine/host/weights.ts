/**
 * Weights as they cross the engine channel: base64 of a safetensors file, checked against the graph before a job
 * is made from them, with every missing, unexpected and mis-shaped tensor named at once.
 */
import { expandGraph, type GraphNode } from '../graph/expand';
import { readSafetensors, weightsMetadata, writeSafetensors, type Tensor } from '../io/safetensors';
import { StudioError } from '../util/errors';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The tensors of a base64 safetensors file; a StudioError naming `what` when it is not one. */
export function decodeWeights(base64: string, what = 'the weights'): Record<string, Tensor> {
  const text = base64.replace(/\s+/g, '');
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new StudioError(`${what} are not base64 text`);
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  return readSafetensors(bytes, what).tensors;
}

/** A safetensors file of these tensors with project-format.md's metadata, as base64. */
export function encodeWeights(tensors: Record<string, Tensor>, projectName: string): { base64: string; bytes: number } {
  const bytes = writeSafetensors(tensors, weightsMetadata(projectName));
  return { base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), bytes: bytes.length };
}

const list = (names: string[], max = 8): string =>
  names.slice(0, max).join(', ') + (names.length > max ? ` and ${names.length - max} more` : '');

/**
 * Throws a StudioError listing every way `tensors` fails to fit the graph: tensors it needs that are missing,
 * tensors it has no place for (standardisation statistics `data.INPUT_ID.mean/std` of an input node are welcome),
 * and tensors whose shape differs. The error's node is the first problem's, when it is one node's.
 */
export function checkWeightsFit(nodes: readonly GraphNode[], tensors: Record<string, Tensor>): void {
  const e = expandGraph(nodes, { batch: null, mode: 'train' });
  const wanted = new Map(e.params.map((p) => [p.name, p]));
  const inputs = new Set(nodes.filter((n) => n.op === 'input').map((n) => n.id));
  const missing = e.params.filter((p) => !Object.hasOwn(tensors, p.name));
  const unexpected = Object.keys(tensors).filter((name) => {
    if (wanted.has(name)) return false;
    const m = /^data\.(.+)\.(mean|std)$/.exec(name);
    return !(m && inputs.has(m[1]));
  });
  const misShaped = e.params.filter((p) => Object.hasOwn(tensors, p.name) && tensors[p.name].shape.join() !== p.shape.join());
  if (!missing.length && !unexpected.length && !misShaped.length) return;
  const parts: string[] = [];
  if (missing.length) parts.push(`missing ${missing.length === 1 ? 'tensor' : 'tensors'} ${list(missing.map((p) => p.name))}`);
  if (unexpected.length) parts.push(`unexpected ${unexpected.length === 1 ? 'tensor' : 'tensors'} ${list(unexpected)} (no such parameter in the graph)`);
  for (const p of misShaped.slice(0, 8)) {
    parts.push(`${p.name} has shape [${tensors[p.name].shape.join(', ')}] in the file, the graph needs [${p.shape.join(', ')}]`);
  }
  if (misShaped.length > 8) parts.push(`and ${misShaped.length - 8} more mis-shaped tensors`);
  const first = misShaped[0] ?? missing[0];
  throw new StudioError(`the weights do not fit this graph: ${parts.join('; ')}`, first ? { node: first.node } : {});
}
