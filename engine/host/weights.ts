/**
 * Weights as they cross the engine channel: base64 of a safetensors file, checked against the graph before a job
 * is made from them, with every missing, unexpected and mis-shaped tensor named at once.
 */
import type { GraphNode } from '../graph/expand';
import { readSafetensors, weightsMetadata, writeSafetensors, type Tensor } from '../io/safetensors';
import { requireExactFit } from '../io/weights-match';
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

/**
 * Throws a WeightsMismatchError (engine/io/weights-match.ts) listing every way `tensors` fails to fit the graph:
 * tensors it needs that are missing, tensors it has no place for (standardisation statistics `data.INPUT_ID.mean/std`
 * of an input node are welcome), and tensors whose shape differs. The error's node is the first problem's.
 */
export function checkWeightsFit(nodes: readonly GraphNode[], tensors: Record<string, Tensor>): void {
  requireExactFit(nodes, tensors);
}
