import type { Project, ProjectNode, TrainingSpec } from '../../engine/io/project';

/**
 * A small classifier of sin(i)'s sign from sin(i), on 64 inline rows, with plain SGD (so a step's change is lr times
 * what it applies) and no shuffle: `hidden` goes between the input and the output layer (which reads `from`).
 */
export function sineSignProject(training: TrainingSpec, opts: { validation: number; hidden?: ProjectNode[]; from?: string }): Project {
  const x = Array.from({ length: 64 }, (_, i) => Math.sin(i));
  return {
    format: 'backprop-studio/project',
    version: 1,
    graph: {
      nodes: [
        { id: 'x', op: 'input', attrs: { shape: [1], features: ['x'] } },
        { id: 'y', op: 'label' },
        ...(opts.hidden ?? []),
        { id: 'out', op: 'dense', attrs: { units: 2 }, inputs: { x: opts.from ?? 'x' } },
        { id: 'loss', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } },
      ],
    },
    data: { kind: 'inline', columns: { x, y: x.map((v) => (v > 0 ? 1 : 0)) }, label: 'y', validation: opts.validation, shuffle: false },
    training: { batchSize: 16, ...training },
  };
}
