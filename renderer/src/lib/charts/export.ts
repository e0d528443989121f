/**
 * The charts' "Export PNG" and "Export CSV": a canvas or a table to bytes, saved through the app's export (a save
 * dialog on the desktop, a workspace file in web mode).
 */
import { canvasPng, utf8 } from './chartjs';
import { buildCsv, type Cell } from './csv';

/** What the exports need of the app (AppState): saving bytes under a suggested file name. */
export interface ExportTarget {
  exportBytes(suggestedName: string, bytes: Uint8Array): Promise<unknown>;
}

/** A table (header, then rows) as a CSV file. */
export async function exportCsv(app: ExportTarget, name: string, table: { header: readonly string[]; rows: readonly (readonly Cell[])[] }): Promise<void> {
  await app.exportBytes(name, utf8(buildCsv(table.header, table.rows)));
}

/** A canvas as a PNG file; nothing while there is no canvas. */
export async function exportPng(app: ExportTarget, name: string, canvas: HTMLCanvasElement | null | undefined): Promise<void> {
  if (canvas) await app.exportBytes(name, await canvasPng(canvas));
}
