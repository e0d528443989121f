/** Where a problem is: as precise as the caller knows (file, node and port, row and column, JSON path). */
export interface Where {
  file?: string;
  node?: string;
  port?: string;
  row?: number;
  column?: string | number;
  path?: string;
}

/**
 * An error the user caused and can fix (a bad file, a wrong shape, a cycle). The CLI prints it and exits 1; the
 * app shows it next to what it names. Anything else thrown is a bug.
 */
export class StudioError extends Error {
  readonly where: Where;
  constructor(message: string, where: Where = {}) {
    super(message);
    this.name = 'StudioError';
    this.where = where;
  }

  /** The message with its location, for a terminal: `file: node "h1", port "x": message`. */
  describe(): string {
    return describeWhere(this.where) + this.message;
  }
}

export function describeWhere(w: Where): string {
  const parts: string[] = [];
  if (w.file) parts.push(w.file);
  if (w.node) parts.push(`node "${w.node}"` + (w.port ? `, port "${w.port}"` : ''));
  if (w.row !== undefined) parts.push(`row ${w.row}` + (w.column !== undefined ? `, column ${JSON.stringify(w.column)}` : ''));
  else if (w.column !== undefined) parts.push(`column ${JSON.stringify(w.column)}`);
  if (w.path) parts.push(w.path);
  return parts.length ? parts.join(': ') + ': ' : '';
}
