/**
 * Matmuls paired into one dispatch, for the WebGPU backend: two neighbouring matmul dispatches (neither split) where
 * the second reads nothing the first writes run as one kernel (kernels/matmul.ts's `matmulPairKernel`), each
 * workgroup computing a tile of one of them. A dense layer's backward pass is the case: its input gradient g W and
 * its weight gradient g^T x both read g and nothing of each other, and each is a few workgroups on a big GPU; as one
 * dispatch they are one launch and one barrier, and fill the GPU together.
 */

/** A dispatch as the pairing sees it. */
export interface PairCandidate {
  /** Whether it is a matmul of one kernel (not split along k). */
  readonly matmul: boolean;
  /** The buffers it binds: those it reads, and those it writes. */
  readonly reads: readonly number[];
  readonly writes: readonly number[];
}

/**
 * The pairs (indices into `dispatches`, in their order) that run as one: each two neighbours, matmuls both, the second
 * reading nothing the first writes, whose bindings together fit a stage's `maxStorageBuffers`; from the first on,
 * a dispatch in one pair at most.
 */
export function planPairs(dispatches: readonly PairCandidate[], maxStorageBuffers: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < dispatches.length; i++) {
    const [x, y] = [dispatches[i], dispatches[i + 1]];
    const bindings = x.reads.length + x.writes.length + y.reads.length + y.writes.length;
    if (!x.matmul || !y.matmul || y.reads.some((b) => x.writes.includes(b)) || bindings > maxStorageBuffers) continue;
    pairs.push([i, i + 1]);
    i++;
  }
  return pairs;
}
