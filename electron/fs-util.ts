/** Small file-system helpers of the shell. */
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative } from 'node:path';

/** Whether `child` is `parent` or inside it (both absolute and normalized). */
export function isWithin(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Removes the temporary files that `writeFileAtomic` leaves beside `path` when its process was killed mid-write
 * (`.NAME.PID.TIME.tmp` whose PID no longer runs). The target itself was never touched by such a write.
 */
export function removeStaleTemps(path: string, isAlive: (pid: number) => boolean = processAlive): string[] {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.(\d+)\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // another shell is cleaning up too, or it is not ours to remove: leave it
    }
  }
  return removed;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `path` with `ext` appended unless it already ends with it (any case): save dialogs do not always add it. */
export function withExtension(path: string, ext: string): string {
  return extname(path).toLowerCase() === ext.toLowerCase() ? path : path + ext;
}
