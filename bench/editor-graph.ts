/**
 * The editor benchmark's document: a valid project of exactly N nodes (300 by default), a deep residual MLP with a
 * side branch per block, laid out by the editor's own auto-layout and saved with those positions, as a file the app
 * saved would be.
 *
 *   x [16] -> block 1 -> block 2 -> ... -> pad chain -> logits (dense 3) -> ce <- y
 *   block k: d1 = dense(16, relu)(in), d2 = dense(16)(d1), sum = add(d2, in), out = relu(sum)
 *            side: s = dense(8)(out), t = tanh(s), m = mean(t) [B], acc_k = add(acc_{k-1}, m)
 *   total = add(ce, l2(acc))   (training.objective)
 *
 * The benchmark edits a side dense (units 8) and watches the tanh it feeds: changing the units changes the tanh's
 * shape ([B, 8] -> [B, 9]) and nothing breaks.
 */
import { parseProject, serializeProject, type Project, type ProjectNode } from '../engine/io/project';
import { analyze } from '../renderer/src/lib/analysis';
import { layoutGraph } from '../renderer/src/lib/layout';

export interface EditorDoc {
  text: string;
  nodes: number;
  /** Each block's side dense (units `units`) and the tanh it feeds: editing one changes the other's shape. */
  sides: { dense: string; tanh: string }[];
  units: number;
}

export function makeEditorProject(total = 300): EditorDoc {
  const nodes: ProjectNode[] = [
    { id: 'x', op: 'input', attrs: { shape: [16] } },
    { id: 'y', op: 'label', attrs: { kind: 'class' } },
  ];
  const TAIL = 4; // logits, ce, l2, total
  const BLOCK = 8;
  let trunk = 'x';
  let acc: string | null = null;
  let k = 0;
  const sides: { dense: string; tanh: string }[] = [];
  while (nodes.length + BLOCK + TAIL <= total) {
    k++;
    const d1 = `b${k}_d1`;
    const d2 = `b${k}_d2`;
    const sum = `b${k}_add`;
    const out = `b${k}_relu`;
    nodes.push(
      { id: d1, op: 'dense', attrs: { units: 16, activation: 'relu' }, inputs: { x: trunk } },
      { id: d2, op: 'dense', attrs: { units: 16 }, inputs: { x: d1 } },
      { id: sum, op: 'add', inputs: { a: d2, b: trunk } },
      { id: out, op: 'relu', inputs: { x: sum } },
      { id: `b${k}_side`, op: 'dense', attrs: { units: 8 }, inputs: { x: out } },
      { id: `b${k}_tanh`, op: 'tanh', inputs: { x: `b${k}_side` } },
      { id: `b${k}_mean`, op: 'mean', inputs: { x: `b${k}_tanh` } },
    );
    sides.push({ dense: `b${k}_side`, tanh: `b${k}_tanh` });
    if (acc === null) acc = `b${k}_mean`;
    else {
      nodes.push({ id: `b${k}_acc`, op: 'add', inputs: { a: acc, b: `b${k}_mean` } });
      acc = `b${k}_acc`;
    }
    trunk = out;
  }
  // Shape-preserving nodes to reach exactly `total`.
  for (let i = 1; nodes.length + TAIL < total; i++) {
    const id = `pad${i}`;
    nodes.push({ id, op: i % 2 ? 'tanh' : 'relu', inputs: { x: trunk } });
    trunk = id;
  }
  nodes.push(
    { id: 'logits', op: 'dense', attrs: { units: 3 }, inputs: { x: trunk } },
    { id: 'ce', op: 'softmax_cross_entropy', inputs: { logits: 'logits', labels: 'y' } },
    { id: 'side_l2', op: 'l2', attrs: { weight: 0.001 }, inputs: { x: acc ?? 'x' } },
    { id: 'total', op: 'add', inputs: { a: 'ce', b: 'side_l2' } },
  );

  const project: Project = {
    format: 'backprop-studio/project',
    version: 1,
    name: `Editor benchmark, ${nodes.length} nodes`,
    graph: { nodes },
    data: { kind: 'builtin', name: 'spiral', samples: 600, classes: 3, noise: 0.1 },
    training: { objective: 'total', prediction: 'logits', optimizer: { type: 'adam', lr: 0.01 }, batchSize: 32, epochs: 10, seed: 1 },
    editor: { positions: layoutGraph(nodes) },
  };
  const text = serializeProject(project);

  // The document must be what it claims: exactly `total` nodes, no error, a shape for every node.
  const parsed = parseProject(text, 'big.bpstudio');
  const a = analyze(parsed.graph.nodes);
  if (parsed.graph.nodes.length !== total) throw new Error(`the benchmark graph has ${parsed.graph.nodes.length} nodes, not ${total}`);
  if (a.errors.length) throw new Error(`the benchmark graph is not valid: ${a.errors[0].node}: ${a.errors[0].message}`);
  if (a.shapes.size !== total) throw new Error('the benchmark graph has nodes without a shape');
  return { text, nodes: total, sides, units: 8 };
}
