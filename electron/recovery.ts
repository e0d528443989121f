/**
 * Autosaved unsaved work: one JSON file per document key in a recovery folder of the user data folder, written
 * atomically. After a crash the renderer lists them and offers them back; it discards one once saved or declined.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/io/atomic';
import { StudioError } from '../engine/util/errors';

export interface StoredRecovery {
  key: string;
  name: string;
  /** The file this work belongs to (absolute), or null for an untitled project. */
  path: string | null;
  savedAt: number;
  text: string;
}

export const MAX_RECOVERY_ITEMS = 20;
const MAX_KEY = 200;

export class RecoveryStore {
  constructor(
    readonly dir: string,
    private readonly max = MAX_RECOVERY_ITEMS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The file that holds `key` (a hash of it, so any key is a safe file name). */
  fileFor(key: string): string {
    return join(this.dir, createHash('sha256').update(key).digest('hex').slice(0, 32) + '.json');
  }

  save(item: Omit<StoredRecovery, 'savedAt'>): StoredRecovery {
    if (item.key.length === 0 || item.key.length > MAX_KEY) throw new StudioError(`a recovery key must have 1 to ${MAX_KEY} characters`);
    mkdirSync(this.dir, { recursive: true });
    const stored: StoredRecovery = { key: item.key, name: item.name, path: item.path, savedAt: this.now(), text: item.text };
    writeFileAtomic(this.fileFor(item.key), JSON.stringify(stored));
    this.prune();
    return stored;
  }

  /** Everything stored, most recent first; unreadable entries are skipped. */
  list(): StoredRecovery[] {
    const out: StoredRecovery[] = [];
    for (const file of this.files()) {
      try {
        const v = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as Partial<StoredRecovery>;
        if (
          typeof v.key === 'string' &&
          typeof v.name === 'string' &&
          (v.path === null || typeof v.path === 'string') &&
          typeof v.savedAt === 'number' &&
          Number.isFinite(v.savedAt) &&
          typeof v.text === 'string'
        ) {
          out.push({ key: v.key, name: v.name, path: v.path, savedAt: v.savedAt, text: v.text });
        }
      } catch {
        // a half-written file cannot exist (writes are atomic); anything else unreadable is skipped
      }
    }
    return out.sort((a, b) => b.savedAt - a.savedAt);
  }

  discard(key: string): void {
    rmSync(this.fileFor(key), { force: true });
  }

  private files(): string[] {
    try {
      return readdirSync(this.dir).filter((f) => /^[0-9a-f]{32}\.json$/.test(f));
    } catch {
      return [];
    }
  }

  /** Keeps the `max` most recently written entries. */
  private prune(): void {
    const files = this.files();
    if (files.length <= this.max) return;
    const byAge = files
      .map((f) => ({ f, t: statSync(join(this.dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t)
      .slice(this.max);
    for (const { f } of byAge) rmSync(join(this.dir, f), { force: true });
  }
}
