/**
 * ONNX export with its parity check: the exported model run in ONNX Runtime (onnxruntime-node, in this process)
 * on the first rows of the project's data, raw features in, against the engine's own predictions of the same rows.
 * What `bpstudio export --format onnx` and the engine host's `export.onnx` do.
 */
import type { Dataset } from '../../data/types';
import type { Project } from '../project';
import type { Tensor } from '../safetensors';
import { Feeder } from '../../train/feed';
import { Session } from '../../train/session';
import { StudioError } from '../../util/errors';
import { exportOnnx, type OnnxExport } from './export';

/** Rows compared when the caller does not say (all of them when the data has fewer). */
export const PARITY_ROWS = 256;

export interface Parity {
  /** The largest |ONNX Runtime - engine| over every value of the compared rows' predictions. */
  maxAbsDiff: number;
  rows: number;
  /**
   * The largest |engine| over those values: float32 rounding grows with it, so a trained network's large logits
   * differ by more than a fresh one's while agreeing as closely relative to their size.
   */
  scale: number;
}

export interface CheckedOnnxExport extends OnnxExport {
  parity: Parity;
}

export interface ExportOptions {
  /** The project file's folder, for relative data paths. */
  baseDir: string;
  /** The model's tensors; without them, the seeded initialisation. */
  weights?: Record<string, Tensor>;
  /** How many of the dataset's first rows the parity check runs on (default PARITY_ROWS). */
  rows?: number;
  /** The project's data already loaded (the engine host's streamed read); else it is loaded from `baseDir`. */
  dataset?: Dataset;
}

/**
 * Exports the project's prediction with these weights (checked against the graph, standardisation statistics
 * computed as training computes them when the weights lack them) and checks the model in ONNX Runtime.
 */
export async function exportOnnxChecked(project: Project, opts: ExportOptions): Promise<CheckedOnnxExport> {
  const session = new Session(project, { baseDir: opts.baseDir, weights: opts.weights, dataset: opts.dataset });
  const exported = exportOnnx(project, await session.weights());
  const n = Math.min(opts.rows ?? PARITY_ROWS, session.dataset.rows);
  if (n < 1) throw new StudioError(`${session.dataset.name} has no rows to check the exported model on`);
  const engine = await session.predict(Int32Array.from({ length: n }, (_, i) => i));
  const raw = new Feeder(session.nodes, session.dataset, session.dataset.features).inputsOf(session.dataset.features, n);
  const onnx = await runOnnx(exported, raw, n);
  const scale = engine.reduce((m, row) => row.reduce((a, v) => (Number.isFinite(v) ? Math.max(a, Math.abs(v)) : a), m), 0);
  return { ...exported, parity: { maxAbsDiff: maxAbsDiff(engine, onnx), rows: n, scale } };
}

/** The model's output for `n` examples (each input's values row-major), computed by ONNX Runtime. */
export async function runOnnx(model: OnnxExport, inputs: ReadonlyMap<string, Float32Array>, n: number): Promise<Float32Array> {
  // Loaded here, not at the top, so that the CLI and the engine host start without the native runtime.
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(model.bytes);
  try {
    const feeds = Object.fromEntries(model.inputs.map((i) => [i.id, new ort.Tensor('float32', inputs.get(i.id)!, [n, ...i.shape])]));
    const out = (await session.run(feeds))[model.output.id];
    return out.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * The largest absolute difference between the engine's rows and ONNX Runtime's flat output. Values that are the
 * same non-finite number on both sides (NaN and NaN, Infinity and Infinity) agree; any other non-finite value is
 * an error naming the row, since no difference can be given for it.
 */
export function maxAbsDiff(engine: readonly Float32Array[], onnx: Float32Array): number {
  const per = engine.length ? engine[0].length : 0;
  if (onnx.length !== engine.length * per) {
    throw new StudioError(`ONNX Runtime gave ${onnx.length} values for ${engine.length} rows of ${per}`);
  }
  let max = 0;
  engine.forEach((row, r) => {
    row.forEach((v, k) => {
      const o = onnx[r * per + k];
      if (Object.is(v, o) || (Number.isNaN(v) && Number.isNaN(o))) return;
      const d = Math.abs(v - o);
      if (!Number.isFinite(d)) throw new StudioError(`the exported model gives ${o} where the engine gives ${v}`, { row: r + 1 });
      max = Math.max(max, d);
    });
  });
  return max;
}
