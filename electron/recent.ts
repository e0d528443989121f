/** The recent-files list: a JSON array of absolute paths in the user data folder, most recent first. */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../engine/io/atomic';

export const MAX_RECENT = 10;

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

export class RecentList {
  constructor(
    readonly file: string,
    private readonly max = MAX_RECENT,
    private readonly exists: (path: string) => boolean = isFile,
  ) {}

  /** What is stored, as it is (unreadable or malformed storage reads as empty). */
  read(): string[] {
    if (!existsSync(this.file)) return [];
    try {
      const v: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length > 0) : [];
    } catch {
      return [];
    }
  }

  /** The list with files that no longer exist dropped (and the storage updated when some were). */
  list(): string[] {
    const stored = this.read();
    const kept = stored.filter((p) => this.exists(p)).slice(0, this.max);
    if (kept.length !== stored.length) this.write(kept);
    return kept;
  }

  /** Puts `path` first (once), keeps at most `max`, and returns the new list. */
  add(path: string): string[] {
    const abs = resolve(path);
    const next = [abs, ...this.read().filter((p) => p !== abs && this.exists(p))].slice(0, this.max);
    this.write(next);
    return next;
  }

  clear(): void {
    this.write([]);
  }

  private write(paths: string[]): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      writeFileAtomic(this.file, JSON.stringify(paths, null, 2) + '\n');
    } catch {
      // the recent list is a convenience: failing to store it must not fail the open or save that updated it
    }
  }
}
