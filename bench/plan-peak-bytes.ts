import type { BufferRole } from '../engine/plan/plan';
import { resolveTargets, trainProgram } from '../engine/train/program';
import type { Bench } from './context';
import { MLP, MLP_OPTIMIZER, mlpGraph } from './mlp';
import { emit } from './report';

/** The MLP train plan's buffer bytes (plan.peakBytes), with the share of each kind of buffer. */
export const planPeakBytes: Bench = {
  name: 'plan_peak_bytes',
  async run() {
    const nodes = mlpGraph();
    const { plan } = trainProgram(nodes, resolveTargets(nodes), MLP_OPTIMIZER, MLP.batch);
    const byRole: Record<BufferRole, number> = { pool: 0, input: 0, persistent: 0, const: 0 };
    for (const b of plan.buffers) byRole[b.role] += 4 * b.size;
    emit({ bench: 'plan_peak_bytes', model: 'mlp_step', byRole, value: plan.peakBytes, unit: 'bytes' });
  },
};
