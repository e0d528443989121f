/**
 * data.preview: the project's data loaded as training loads it (before any split or standardisation), described
 * for the data panel: the first rows, the class balance, which columns feed which input, for two-feature data
 * the points of a scatter plot (for one feature and a label, the feature against the label), and for image data a
 * grid of samples per class.
 */
import { expandFeatureNames } from '../data/csv-encode';
import type { OnProgress } from '../data/csv-load';
import type { Dataset } from '../data/types';
import { dataSectionOf, withDataDefaults, withTrainingDefaults, type Project } from '../io/project';
import type { DataPreview } from '../protocol/messages';
import { imageGrid } from './image-preview';
import type { DataLoads } from './inspect';

export const PREVIEW_ROWS = 20;
export const PREVIEW_FEATURES = 32;
export const PREVIEW_POINTS = 4000;

/**
 * data.preview: the project's data, read by the host's `loads` (a CSV file or an image folder streamed, with
 * progress); an aborted `signal` stops waiting for a CSV file's read (DataLoads.load).
 */
export async function previewDataStreamed(project: Project, baseDir: string | undefined, loads: DataLoads, onProgress: OnProgress, signal?: AbortSignal): Promise<DataPreview> {
  const ds = await loads.load(withDataDefaults(dataSectionOf(project)), baseDir, withTrainingDefaults(project.training).seed, onProgress, signal);
  return describeDataset(ds, project);
}

export function describeDataset(ds: Dataset, project: Pick<Project, 'graph'>): DataPreview {
  const shown = ds.featureNames.slice(0, PREVIEW_FEATURES);
  const width = ds.featureNames.length;
  const label = ds.label;
  const head: (number | string | null)[][] = [];
  for (let r = 0; r < Math.min(PREVIEW_ROWS, ds.rows); r++) {
    const row: (number | string | null)[] = shown.map((_, c) => finiteOrNull(ds.features[r * width + c]));
    if (label) {
      const v = label.values[r];
      row.push(label.kind === 'class' ? (label.classes?.[v] ?? String(v)) : finiteOrNull(v));
    }
    head.push(row);
  }
  const out: DataPreview = {
    name: ds.name,
    rows: ds.rows,
    features: ds.featureNames.slice(),
    columns: label ? [...shown, label.name] : shown,
    head,
    inputs: inputColumns(ds, project),
  };
  if (ds.dropped) out.dropped = { ...ds.dropped };
  if (label) {
    out.label = { name: label.name, kind: label.kind };
    if (label.kind === 'class') {
      const names = label.classes ?? [];
      const counts = new Array<number>(names.length).fill(0);
      for (const v of label.values) {
        while (v >= counts.length) counts.push(0);
        counts[v]++;
      }
      out.classes = counts.map((count, k) => ({ name: names[k] ?? String(k), count }));
    } else if (ds.rows > 0) {
      let min = Infinity;
      let max = -Infinity;
      for (const v of label.values) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (Number.isFinite(min) && Number.isFinite(max)) out.labelRange = { min, max };
    }
  }
  const images = imageGrid(ds);
  if (images) out.images = images;
  const columns = scatterColumns(ds, out.inputs);
  if (columns) {
    const [a, b] = columns;
    const n = Math.min(ds.rows, PREVIEW_POINTS);
    const x1: number[] = [];
    const x2: number[] = [];
    const y: (number | null)[] = [];
    for (let i = 0; i < n; i++) {
      const r = n === ds.rows ? i : Math.floor((i * ds.rows) / n);
      x1.push(ds.features[r * width + a]);
      x2.push(b === undefined ? label!.values[r] : ds.features[r * width + b]);
      y.push(label ? finiteOrNull(label.values[r]) : null);
    }
    out.points =
      b === undefined
        ? { features: [ds.featureNames[a], label!.name], x1, x2, label: y, sampled: n < ds.rows, labelAxis: true }
        : { features: [ds.featureNames[a], ds.featureNames[b]], x1, x2, label: y, sampled: n < ds.rows };
  }
  return out;
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * Which columns each input node reads (attrs.feature, attrs.features, or all; a one-hot CSV column's name stands for
 * its features), where they exist in the data.
 */
function inputColumns(ds: Dataset, project: Pick<Project, 'graph'>): { id: string; features: string[] }[] {
  const nodes = Array.isArray(project.graph?.nodes) ? project.graph.nodes : [];
  return nodes
    .filter((n) => n.op === 'input')
    .map((n) => {
      const a = n.attrs ?? {};
      const wanted = typeof a.feature === 'string' ? [a.feature] : Array.isArray(a.features) ? a.features.filter((f): f is string => typeof f === 'string') : ds.featureNames;
      return { id: n.id, features: expandFeatureNames(wanted, ds).filter((f) => ds.featureNames.includes(f)) };
    });
}

/**
 * The feature columns of a scatter plot. With a label and one column read by the inputs (or, where they read none,
 * the data's only one): that column, drawn against the label. Else the two the inputs read, or failing that the
 * data's when it has two.
 */
function scatterColumns(ds: Dataset, inputs: { features: string[] }[]): [number, number] | [number] | undefined {
  const read = [...new Set(inputs.flatMap((i) => i.features))];
  const index = (names: readonly string[]) => names.map((f) => ds.featureNames.indexOf(f)).sort((x, y) => x - y);
  const line = read.length === 1 ? read : read.length === 0 && ds.featureNames.length === 1 ? ds.featureNames : [];
  if (ds.label && line.length === 1) return [index(line)[0]];
  const names = read.length === 2 ? read : ds.featureNames.length === 2 ? ds.featureNames : [];
  if (names.length !== 2) return undefined;
  const [a, b] = index(names);
  return [a, b];
}
