/** A confusion matrix's totals and rates (rows: true class, columns: predicted class), for the heat map. */

export interface ConfusionStats {
  /** Examples of each true class (row sums). */
  rowTotals: number[];
  /** Predictions of each class (column sums). */
  colTotals: number[];
  total: number;
  /** The diagonal's sum. */
  correct: number;
  /** correct / total; null without examples. */
  accuracy: number | null;
  /** Per class: diagonal / row total; null for a class without examples. */
  recall: (number | null)[];
  /** Per class: diagonal / column total; null for a class never predicted. */
  precision: (number | null)[];
  /** Each cell as a share of its row (0 for an empty row): what the shading shows. */
  rowShare: number[][];
}

export function confusionStats(matrix: readonly (readonly number[])[]): ConfusionStats {
  const k = matrix.length;
  const cols = Math.max(k, ...matrix.map((r) => r.length));
  const rowTotals = matrix.map((r) => r.reduce((a, b) => a + b, 0));
  const colTotals = Array.from({ length: cols }, (_, j) => matrix.reduce((a, r) => a + (r[j] ?? 0), 0));
  const total = rowTotals.reduce((a, b) => a + b, 0);
  let correct = 0;
  for (let i = 0; i < k; i++) correct += matrix[i][i] ?? 0;
  return {
    rowTotals,
    colTotals,
    total,
    correct,
    accuracy: total > 0 ? correct / total : null,
    recall: matrix.map((r, i) => (rowTotals[i] > 0 ? (r[i] ?? 0) / rowTotals[i] : null)),
    precision: colTotals.map((c, j) => (c > 0 ? (matrix[j]?.[j] ?? 0) / c : null)),
    rowShare: matrix.map((r, i) => Array.from({ length: cols }, (_, j) => (rowTotals[i] > 0 ? (r[j] ?? 0) / rowTotals[i] : 0))),
  };
}
