import { expandGraph } from '../graph/expand';
import { numel, type Shape } from '../ir/shape';
import { withTrainingDefaults, type Project } from '../io/project';
import { StudioError } from '../util/errors';
import { resolveTargets, trainProgram } from './program';

export interface ProjectAnalysis {
  ok: boolean;
  errors: { node: string | null; port?: string; message: string }[];
  /** Each node's output shape, the batch dimension as null. */
  shapes: Record<string, Shape>;
  parameters: Record<string, number[]>;
  parameterCount: number;
  /** Bytes of one training step's plan at the project's batch size (when the graph compiles). */
  planBytes?: number;
}

/**
 * Validates a project's graph, infers shapes and compiles its training step: what `bpstudio check` prints and
 * what the app's engine host reports after an edit.
 */
export function analyzeProject(project: Project): ProjectAnalysis {
  const nodes = project.graph.nodes;
  const e = expandGraph(nodes, { batch: null, mode: 'train' });
  const errors: ProjectAnalysis['errors'] = e.errors.map((x) => ({
    node: x.node,
    ...(x.port ? { port: x.port } : {}),
    message: x.message,
  }));
  let planBytes: number | undefined;
  if (!errors.length) {
    try {
      const t = withTrainingDefaults(project.training);
      planBytes = trainProgram(nodes, resolveTargets(nodes, t), t.optimizer, t.batchSize, { clipNorm: t.clipNorm }).plan.peakBytes;
    } catch (err) {
      if (!(err instanceof StudioError)) throw err;
      errors.push({ node: err.where.node ?? null, ...(err.where.port ? { port: err.where.port } : {}), message: err.message });
    }
  }
  return {
    ok: errors.length === 0,
    errors,
    shapes: Object.fromEntries([...e.outputs].map(([id, n]) => [id, n.shape])),
    parameters: Object.fromEntries(e.params.map((p) => [p.name, p.shape])),
    parameterCount: e.params.filter((p) => p.trainable).reduce((s, p) => s + numel(p.shape), 0),
    ...(planBytes !== undefined ? { planBytes } : {}),
  };
}
