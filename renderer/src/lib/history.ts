/**
 * Undo history of immutable documents: each entry holds the document before and after one edit. Edits that carry
 * the same coalescing key within `window` ms of each other (typing in one field, nudging with the arrow keys) merge
 * into one entry.
 */
export interface HistoryEntry<T> {
  label: string;
  before: T;
  after: T;
  key?: string;
  at: number;
}

export class History<T> {
  private done: HistoryEntry<T>[] = [];
  private undone: HistoryEntry<T>[] = [];

  constructor(
    private readonly limit = 500,
    private readonly window = 1500,
  ) {}

  record(label: string, before: T, after: T, key?: string, now = Date.now()): void {
    const top = this.done.at(-1);
    this.undone = [];
    if (key !== undefined && top && top.key === key && now - top.at <= this.window) {
      top.after = after;
      top.at = now;
      return;
    }
    this.done.push({ label, before, after, key, at: now });
    if (this.done.length > this.limit) this.done.shift();
  }

  /** Ends coalescing: the next edit starts a new entry even with the same key. */
  seal(): void {
    const top = this.done.at(-1);
    if (top) top.key = undefined;
  }

  undo(): HistoryEntry<T> | undefined {
    const e = this.done.pop();
    if (e) this.undone.push(e);
    return e;
  }

  redo(): HistoryEntry<T> | undefined {
    const e = this.undone.pop();
    if (e) this.done.push(e);
    return e;
  }

  get undoLabel(): string | undefined {
    return this.done.at(-1)?.label;
  }

  get redoLabel(): string | undefined {
    return this.undone.at(-1)?.label;
  }

  clear(): void {
    this.done = [];
    this.undone = [];
  }
}
