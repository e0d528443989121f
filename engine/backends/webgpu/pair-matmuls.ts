/**
 * Matmuls paired into one dispatch, for the WebGPU backend: two neighbouring matmul dispatches (neither split) where
 * the second reads nothing the first writes run as one kernel (kernels/matmul.ts's `matmulPairKernel`), each
 * workgroup computing a tile of one of them. A dense layer's backward pass is the case: its input gradient g W and
 * its weight gradient g^T x both read g and nothing of each other, and each is a few workgroups on a big GPU; as one
 * dispatch they are one launch and one barrier, and fill the GPU together. Only matmuls of one tile size pair: a
 * kernel takes the registers of its larger half, which would leave fewer workgroups of the smaller at a time on a core.
 */

/** A dispatch as the pairing sees it. */
export interface PairCandidate {
  /** For a matmul of one kernel (not split along k), its kind: its tile size; none for any other dispatch. */
  readonly matmul?: string;
  /** The buffers it binds: those it reads, and those it writes. */
  readonly reads: readonly number[];
  readonly writes: readonly number[];
}

/**
 * The pairs (indices into `dispatches`, in their order) that run as one: each two neighbours, matmuls of one kind
 * both, the second reading nothing the first writes, whose bindings together fit a stage's `maxStorageBuffers`; from
 * the first on, a dispatch in one pair at most.
 */
export function planPairs(dispatches: readonly PairCandidate[], maxStorageBuffers: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < dispatches.length; i++) {
    const [x, y] = [dispatches[i], dispatches[i + 1]];
    const bindings = x.reads.length + x.writes.length + y.reads.length + y.writes.length;
    if (!x.matmul || x.matmul !== y.matmul || y.reads.some((b) => x.writes.includes(b)) || bindings > maxStorageBuffers) continue;
    pairs.push([i, i + 1]);
    i++;
  }
  return pairs;
}
