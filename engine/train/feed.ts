import { asClassIndices } from '../data/csv';
import { expandFeatureNames } from '../data/csv-encode';
import type { Dataset } from '../data/types';
import type { GraphNode } from '../graph/expand';
import { StudioError } from '../util/errors';

/** How one `input` node is fed: which feature columns, in order. */
interface InputFeed {
  id: string;
  columns: Int32Array;
}

/** How the `label` nodes are fed: the dataset's label, converted for the node's kind. */
interface LabelFeed {
  id: string;
  values: Float32Array;
}

/** A `real` label node's standardisation: it is fed (value - mean) / std. */
export interface LabelScale {
  id: string;
  mean: number;
  std: number;
}

/**
 * Turns dataset rows into the batch tensors that the graph's `input` and `label` nodes receive. Columns are
 * resolved (and checked against the input's shape) once.
 */
export class Feeder {
  private readonly inputs: InputFeed[];
  private readonly labels: LabelFeed[];

  constructor(
    nodes: readonly GraphNode[],
    private readonly dataset: Dataset,
    /** The features, standardised where the project says so (rows x features). */
    private readonly features: Float32Array,
    labelScale?: LabelScale,
  ) {
    const names = dataset.featureNames;
    this.inputs = nodes
      .filter((n) => n.op === 'input')
      .map((n) => {
        const a = n.attrs ?? {};
        const wanted = typeof a.feature === 'string' ? [a.feature] : Array.isArray(a.features) ? expandFeatureNames(a.features as string[], dataset) : names;
        const columns = Int32Array.from(wanted, (w) => {
          const i = names.indexOf(w);
          if (i < 0) throw new StudioError(`feature "${w}" is not a column of ${dataset.name} (it has: ${names.join(', ')})`, { node: n.id });
          return i;
        });
        const shape = (a.shape as number[] | undefined) ?? [];
        const per = shape.reduce((p, d) => p * d, 1);
        if (per !== columns.length) {
          throw new StudioError(
            `input shape [${shape.join(', ')}] holds ${per} value${per === 1 ? '' : 's'} per example, but ${columns.length} feature${columns.length === 1 ? '' : 's'} feed it` +
              (columns.length <= 8 ? ` (${wanted.join(', ')})` : '') +
              ': set its shape, or choose its features',
            { node: n.id },
          );
        }
        return { id: n.id, columns };
      });
    this.labels = nodes.filter((n) => n.op === 'label').flatMap((n) => {
      if (!dataset.label) return [];
      const values = labelValues(n, dataset);
      const s = labelScale?.id === n.id ? labelScale : undefined;
      return [{ id: n.id, values: s ? values.map((v) => (v - s.mean) / s.std) : values }];
    });
  }

  /** Whether every label node has values (the data has a label column, or the graph has no label node). */
  get labelled(): boolean {
    return this.dataset.label !== undefined;
  }

  /** The batch tensors for these rows, by node id. */
  batch(rows: ArrayLike<number>): Map<string, Float32Array> {
    const out = this.gather(this.features, rows, rows.length);
    for (const l of this.labels) out.set(l.id, Float32Array.from(rows, (r) => l.values[r]));
    return out;
  }

  /**
   * The input nodes' tensors for `n` examples given as feature rows (n x the dataset's feature count, already
   * standardised where the project says so), by node id; no labels.
   */
  inputsOf(features: Float32Array, n: number): Map<string, Float32Array> {
    return this.gather(features, null, n);
  }

  /** Each input node's tensor from these rows of `features` (rows 0..n-1 when `rows` is null). */
  private gather(features: Float32Array, rows: ArrayLike<number> | null, n: number): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    const width = this.dataset.featureNames.length;
    for (const f of this.inputs) {
      const k = f.columns.length;
      const t = new Float32Array(n * k);
      for (let r = 0; r < n; r++) {
        const base = (rows === null ? r : rows[r]) * width;
        for (let j = 0; j < k; j++) t[r * k + j] = features[base + f.columns[j]];
      }
      out.set(f.id, t);
    }
    return out;
  }

  /** The columns feeding each input node, for the standardisation tensors saved with the weights. */
  columnsOf(id: string): Int32Array | undefined {
    return this.inputs.find((f) => f.id === id)?.columns;
  }

  inputIds(): string[] {
    return this.inputs.map((f) => f.id);
  }
}

/** The dataset's label as a label node of this kind reads it. */
function labelValues(node: GraphNode, ds: Dataset): Float32Array {
  const label = ds.label!;
  const kind = (node.attrs?.kind as string | undefined) ?? 'class';
  const shape = (node.attrs?.shape as number[] | undefined) ?? [];
  if (shape.reduce((p, d) => p * d, 1) !== 1) {
    throw new StudioError(`the data has one label value per example, but this label's shape is [${shape.join(', ')}]`, { node: node.id });
  }
  if (kind === 'real') return label.values;
  if (kind === 'class') return asClassIndices(label, { file: ds.name }).values;
  // sign: -1/+1 from a two-class label (class 0 -> -1), or real values that are already -1/+1 (or 0/1).
  if (label.kind === 'class') {
    const k = label.classes?.length ?? 0;
    if (k !== 2) throw new StudioError(`a sign label needs two classes; ${ds.name}'s label "${label.name}" has ${k}`, { node: node.id });
    return label.values.map((v) => (v === 0 ? -1 : 1));
  }
  const zeroOne = label.values.every((v) => v === 0 || v === 1);
  return label.values.map((v, i) => {
    if (zeroOne) return v === 0 ? -1 : 1;
    if (v !== -1 && v !== 1) throw new StudioError(`label ${v} is not -1 or +1 (a sign label)`, { file: ds.name, row: i + 1, column: label.name, node: node.id });
    return v;
  });
}
