/** What a CSV cell holds: a number, a missing value, or text (project-format.md, "Data", and the CSV extensions). */

/** Plain decimal numbers with an optional exponent: `1`, `-2.5`, `.5`, `3.`, `1e-3`. Not `0x10`, `Infinity`, `1,2`. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Whether a (trimmed) cell is a number that a float32 holds finitely. */
export function isNumber(cell: string): boolean {
  return NUMBER.test(cell) && Number.isFinite(Math.fround(Number(cell)));
}

/** The cells that stand for a missing value besides an empty one, compared in lower case. */
const MISSING_TOKENS = new Set(['na', 'n/a', 'nan', 'null', '?']);

/**
 * Whether a (trimmed) cell is missing: empty, or (with `tokens`, the extended CSV import's reading) one of NA, N/A,
 * NaN, null, ? in any case. Files without the extension's keys keep the old reading, where only an empty cell is.
 */
export function isMissing(cell: string, tokens: boolean): boolean {
  return cell === '' || (tokens && cell.length <= 4 && MISSING_TOKENS.has(cell.toLowerCase()));
}

/** Why a missing cell cannot be read, for messages: `the cell is empty` or `"NA" is not a number but a missing value`. */
export function missingWhat(cell: string): string {
  return cell === '' ? 'the cell is empty' : `${JSON.stringify(cell)} is not a number but a missing value`;
}
