/**
 * data.inspect, and the streamed loading of a project's data: CSV files are read a chunk at a time on the event
 * loop (engine/data/csv-load.ts), and image folders decoded a file at a time (engine/data/images.ts), so the host
 * answers other requests while it reads and reports `data.progress`.
 */
import { isAbsolute, resolve } from 'node:path';
import { csvFile, inspectCsv, loadCsv, type OnProgress } from '../data/csv-load';
import { fileStats } from '../data/csv-source';
import type { CsvInspection } from '../data/csv-scan';
import { imagesDatasetAsync } from '../data/images';
import { loadDataset } from '../data/load';
import type { DataSpec, Dataset } from '../data/types';
import type { EngineEvent } from '../protocol/messages';
import { StudioError } from '../util/errors';
import { dataOptions } from './job-data';

/** Progress events at most this often. */
export const PROGRESS_MS = 100;

/** The CSV file at `path` (relative to `baseDir`, the project file's folder), inspected. */
export function inspectData(path: string, baseDir: string | undefined, onProgress: OnProgress): Promise<CsvInspection> {
  if (path === '') throw new StudioError('choose a file to inspect', {});
  if (!isAbsolute(path) && (baseDir === undefined || baseDir === '')) {
    throw new StudioError(`the path "${path}" is relative to the project file: save the project first (or give an absolute path)`, { file: path });
  }
  return inspectCsv({ full: resolve(baseDir ?? '.', path), where: { file: path } }, onProgress);
}

/**
 * A host's loads of project data as loadDataset loads it, a CSV file streamed with progress, the last CSV load
 * kept: the data panel previews the same data again and again and training starts on what it previewed, so an
 * unchanged file (same size and modification time) under the same `data` and seed is read once. A request that
 * asks while it is being read shares the read, and hears its progress from then on.
 */
export class DataLoads {
  private last: { key: string; dataset: Promise<Dataset>; listeners: Set<OnProgress>; read: boolean } | undefined;

  async load(data: DataSpec, baseDir: string | undefined, seed: number, onProgress: OnProgress): Promise<Dataset> {
    const opts = dataOptions(data, baseDir, seed);
    if (data.kind === 'images' && typeof data.folder === 'string' && data.folder !== '') {
      return imagesDatasetAsync(resolve(opts.baseDir, data.folder), data, onProgress);
    }
    if (data.kind !== 'csv') return loadDataset(data, opts);
    const file = csvFile(data.path, opts.baseDir);
    const { size, mtimeMs } = fileStats(file);
    const key = JSON.stringify([file.full, size, mtimeMs, seed, data]);
    if (this.last?.key !== key) {
      const listeners = new Set<OnProgress>();
      const entry = { key, listeners, read: false, dataset: loadCsv(file, data, seed, (bytes, total) => listeners.forEach((l) => l(bytes, total))) };
      this.last = entry;
      entry.dataset.then(
        () => {
          listeners.clear();
          entry.read = true;
        },
        () => {
          if (this.last === entry) this.last = undefined;
        },
      );
    }
    // Only a read still going on reports progress: the listeners of a finished one would pile up, unheard.
    if (!this.last.read) this.last.listeners.add(onProgress);
    return this.last.dataset;
  }
}

/**
 * Reports a request's progress as `data.progress` events: the first at once, then at most one per PROGRESS_MS,
 * and always the last (bytes = total).
 */
export function progressEvents(requestId: number, post: (e: EngineEvent) => void, now: () => number = () => performance.now()): OnProgress {
  let last = -Infinity;
  return (bytes, total) => {
    const t = now();
    if (bytes < total && t - last < PROGRESS_MS) return;
    last = t;
    post({ event: 'data.progress', requestId, bytes, total });
  };
}
