/**
 * The numbers that training shows, kept cheap enough to gather on every step: a growable per-step log and its
 * decimation into chart points, confusion matrices, update/weight ratios and the per-cell reading of a prediction
 * (for the decision boundary). Pure: the engine host and the tests use them.
 */

/**
 * Per-step rows of numbers, appended without allocating (the storage doubles when full). Column 0 is the step,
 * column 1 its epoch, the rest are metrics (the engine host: the loss, then each layer's gradient norm).
 */
export class StepLog {
  private data: Float64Array;
  private n = 0;

  constructor(
    readonly width: number,
    capacity = 1024,
  ) {
    if (width < 2) throw new Error('a step log has at least the step and epoch columns');
    this.data = new Float64Array(width * Math.max(1, capacity));
  }

  get length(): number {
    return this.n;
  }

  /** Appends one row of `width` values. */
  push(row: ArrayLike<number>): void {
    const at = this.n * this.width;
    if (at + this.width > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    for (let j = 0; j < this.width; j++) this.data[at + j] = row[j];
    this.n++;
  }

  get(row: number, column: number): number {
    return this.data[row * this.width + column];
  }

  clear(): void {
    this.n = 0;
  }
}

/** One metric over the points of a decimated log: per point, the smallest, largest and last value of its bucket. */
export interface Series {
  /** null where the value is not finite (JSON has no NaN or Infinity). */
  min: (number | null)[];
  max: (number | null)[];
  last: (number | null)[];
}

export interface Decimated {
  /** Per point: the last step of its bucket. */
  step: number[];
  /** Per point: the epoch of that step. */
  epoch: number[];
  /** Per point: how many steps its bucket holds. */
  count: number[];
  /** One per metric column (columns 2, 3, ... of the log). */
  series: Series[];
}

const finite = (v: number): number | null => (Number.isFinite(v) ? round7(v) : null);

/** 10^k for k from -400 to 400, so that rounding costs no Math.pow. */
const POW10 = Array.from({ length: 801 }, (_, i) => 10 ** (i - 400));

/**
 * `v` to 7 significant digits: all that a float32 value holds (float32 has 24 bits, 7.2 decimal digits), and half
 * the characters of the 17 that JSON would spend on it. Training's numbers are float32 computations; sending them
 * this way halves what the engine host writes and the renderer parses.
 */
export function round7(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const k = 6 - Math.floor(Math.log10(Math.abs(v)));
  if (k > 400 || k < -400) return v;
  return k >= 0 ? Math.round(v * POW10[k + 400]) / POW10[k + 400] : Math.round(v / POW10[400 - k]) * POW10[400 - k];
}

/**
 * The log's rows in at most `maxPoints` buckets of consecutive steps: with n rows, each bucket holds
 * s = ceil(n / maxPoints) rows (the last one the rest), so a chart that draws each bucket's min and max sees every
 * spike. Fewer rows than `maxPoints` give one point per row. Non-finite values are skipped by min and max (a
 * bucket of nothing else has null there) and kept as null in `last`. Values go out to 7 significant digits (round7).
 */
export function decimate(log: StepLog, maxPoints: number): Decimated {
  const n = log.length;
  const metrics = log.width - 2;
  const out: Decimated = { step: [], epoch: [], count: [], series: Array.from({ length: metrics }, () => ({ min: [], max: [], last: [] })) };
  if (n === 0) return out;
  const size = Math.ceil(n / Math.max(1, maxPoints));
  for (let begin = 0; begin < n; begin += size) {
    const end = Math.min(n, begin + size);
    out.step.push(log.get(end - 1, 0));
    out.epoch.push(log.get(end - 1, 1));
    out.count.push(end - begin);
    for (let m = 0; m < metrics; m++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let r = begin; r < end; r++) {
        const v = log.get(r, m + 2);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const s = out.series[m];
      s.min.push(finite(lo));
      s.max.push(finite(hi));
      s.last.push(finite(log.get(end - 1, m + 2)));
    }
  }
  return out;
}

export function emptyConfusion(classes: number): number[][] {
  return Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
}

/**
 * Counts a batch into `matrix[true class][predicted class]`. `prediction` holds `per` values per example (the
 * batch is truth.length examples). With several values the predicted class is the argmax (the first on a tie) and
 * the truth a class index; with one it is 1 when the score is above `threshold` and the truth is 1 when its value
 * is above 0 (a 0/1 class label, or a -1/+1 sign label).
 */
export function addToConfusion(matrix: number[][], prediction: Float32Array, truth: ArrayLike<number>, threshold: number): void {
  const n = truth.length;
  const per = n === 0 ? 0 : prediction.length / n;
  for (let i = 0; i < n; i++) {
    let predicted: number;
    let actual: number;
    if (per === 1) {
      predicted = prediction[i] > threshold ? 1 : 0;
      actual = truth[i] > 0 ? 1 : 0;
    } else {
      predicted = 0;
      for (let k = 1; k < per; k++) if (prediction[i * per + k] > prediction[i * per + predicted]) predicted = k;
      actual = truth[i];
    }
    const row = matrix[actual];
    if (row && predicted < row.length) row[predicted]++;
  }
}

/**
 * Each layer's update/weight ratio over one optimizer step: ||w_after - w_before|| / ||w_before||, both norms
 * over all the layer's trainable tensors together. null where the weights were all zero (or a value is not finite).
 */
export function updateRatios(
  before: ReadonlyMap<string, Float32Array>,
  after: ReadonlyMap<string, Float32Array>,
  layers: ReadonlyMap<string, readonly string[]>,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [layer, tensors] of layers) {
    let dd = 0;
    let ww = 0;
    for (const t of tensors) {
      const a = before.get(t);
      const b = after.get(t);
      if (!a || !b) continue;
      for (let i = 0; i < a.length; i++) {
        const d = b[i] - a[i];
        dd += d * d;
        ww += a[i] * a[i];
      }
    }
    const r = Math.sqrt(dd) / Math.sqrt(ww);
    out[layer] = ww > 0 && Number.isFinite(r) ? r : null;
  }
  return out;
}

/** How a prediction reads per example, for the decision boundary. */
export type Reading =
  /** K > 1 values: the class is the argmax; its probability is the softmax of the values (or the value itself). */
  | { kind: 'class'; per: number; values: 'logits' | 'probabilities' | 'log-probabilities' }
  /** One value: the score, and (for labels with classes) class 1 above the threshold. */
  | { kind: 'score'; threshold: number | null };

/**
 * Per example: the predicted class and its probability (class readings), or the class against the threshold and
 * the score itself (score readings; `predicted` is empty without a threshold).
 */
export function readPrediction(prediction: Float32Array, n: number, reading: Reading): { predicted: number[]; value: number[] } {
  const predicted: number[] = [];
  const value: number[] = [];
  if (reading.kind === 'score') {
    for (let i = 0; i < n; i++) {
      const s = prediction[i];
      value.push(s);
      if (reading.threshold !== null) predicted.push(s > reading.threshold ? 1 : 0);
    }
    return { predicted, value };
  }
  const per = reading.per;
  const probabilities = classProbabilities(prediction, n, reading);
  for (let i = 0; i < n; i++) {
    const o = i * per;
    let best = 0;
    for (let k = 1; k < per; k++) if (prediction[o + k] > prediction[o + best]) best = k;
    predicted.push(best);
    value.push(probabilities[best][i]);
  }
  return { predicted, value };
}

/**
 * Each class's probability per example of a class reading (`per` values an example): the softmax of logits, the
 * values themselves, or the exponentials of log-probabilities. One array per class, of `n` values each.
 */
export function classProbabilities(prediction: Float32Array, n: number, reading: Extract<Reading, { kind: 'class' }>): number[][] {
  const { per, values } = reading;
  const out = Array.from({ length: per }, () => new Array<number>(n));
  for (let i = 0; i < n; i++) {
    const o = i * per;
    if (values === 'logits') {
      let top = -Infinity;
      for (let k = 0; k < per; k++) top = Math.max(top, prediction[o + k]);
      let sum = 0;
      for (let k = 0; k < per; k++) sum += Math.exp(prediction[o + k] - top);
      for (let k = 0; k < per; k++) out[k][i] = Math.exp(prediction[o + k] - top) / sum;
    } else for (let k = 0; k < per; k++) out[k][i] = values === 'probabilities' ? prediction[o + k] : Math.exp(prediction[o + k]);
  }
  return out;
}

/**
 * What one score per example says of class 1's probability, where the graph says: a sigmoid's output is that
 * probability (`identity`), and the logits a sigmoid_cross_entropy objective reads give it through the sigmoid
 * (`sigmoid`). Undefined otherwise (a hinge's margin, a score a hand-built objective reads). The training job's
 * fitted curves and the app's Fit tab (before a run) both ask it.
 */
export function scoreProbabilityOf(
  nodes: readonly { id: string; op: string; inputs?: Readonly<Record<string, string>> }[],
  objective: string | undefined,
  prediction: string | undefined,
): 'identity' | 'sigmoid' | undefined {
  const node = (id: string | undefined) => nodes.find((n) => n.id === id);
  if (node(prediction)?.op === 'sigmoid') return 'identity';
  const o = node(objective);
  return o?.op === 'sigmoid_cross_entropy' && o.inputs?.logits === prediction ? 'sigmoid' : undefined;
}

/**
 * Whether a model on one feature gets fitted curves (the training job's `train.fit`, the app's Fit tab): a prediction
 * of `width` values per example (undefined: not one per example) draws them for a real label where it is one value,
 * and for a class label where it is one score per class, or one score that the graph says is class 1's probability
 * of two classes (`scoreProbability`, asked only then: scoreProbabilityOf).
 */
export function drawsCurves(width: number | undefined, label: { real: boolean; classes?: number }, scoreProbability: () => boolean): boolean {
  if (width === undefined) return false;
  if (label.real) return width === 1;
  if (width > 1) return width === label.classes;
  return width === 1 && label.classes === 2 && scoreProbability();
}

/**
 * The two classes' probabilities per example of one score per example, class 1's being the score itself
 * (`identity`) or its sigmoid: [1 - p, p], of `n` values each.
 */
export function binaryProbabilities(prediction: Float32Array, n: number, how: 'identity' | 'sigmoid'): number[][] {
  const p = Array.from(prediction.subarray(0, n), (s) => (how === 'identity' ? s : 1 / (1 + Math.exp(-s))));
  return [p.map((v) => 1 - v), p];
}
