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

  /** Rewrites every state the history holds (the document moved: see DocStore.relocate). */
  map(fn: (state: T) => T): void {
    for (const e of [...this.done, ...this.undone]) {
      e.before = fn(e.before);
      e.after = fn(e.after);
    }
  }

  clear(): void {
    this.done = [];
    this.undone = [];
  }
}

/** `fn` computed once per state: states that entries share (one edit's after, the next one's before) stay shared. */
export function memoized<T extends object>(fn: (state: T) => T): (state: T) => T {
  const done = new Map<T, T>();
  return (state) => {
    let out = done.get(state);
    if (out === undefined) done.set(state, (out = fn(state)));
    return out;
  };
}
