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
import { CanceledError } from '../util/cancel';
import { StudioError, type Where } from '../util/errors';
import { dataOptions } from './job-data';

/** Progress events at most this often. */
export const PROGRESS_MS = 100;

/** The CSV file at `path` (relative to `baseDir`, the project file's folder), inspected; `signal` stops the read. */
export function inspectData(path: string, baseDir: string | undefined, onProgress: OnProgress, signal?: AbortSignal): Promise<CsvInspection> {
  if (path === '') throw new StudioError('choose a file to inspect', {});
  if (!isAbsolute(path) && (baseDir === undefined || baseDir === '')) {
    throw new StudioError(`the path "${path}" is relative to the project file: save the project first (or give an absolute path)`, { file: path });
  }
  return inspectCsv({ full: resolve(baseDir ?? '.', path), where: { file: path } }, onProgress, signal);
}

/**
 * A host's loads of project data as loadDataset loads it, a CSV file streamed with progress, the last CSV load
 * kept: the data panel previews the same data again and again and training starts on what it previewed, so an
 * unchanged file (same size and modification time) under the same `data` and seed is read once. A request that
 * asks while it is being read shares the read, and hears its progress from then on. A request whose `signal` is
 * aborted stops waiting at once (a CanceledError); the read itself stops when no other request waits for it. An
 * image folder is decoded for each request (images.ts keeps the last one decoded) and stops at its request's cancel.
 */
export class DataLoads {
  private last: CsvRead | undefined;

  async load(data: DataSpec, baseDir: string | undefined, seed: number, onProgress: OnProgress, signal?: AbortSignal): Promise<Dataset> {
    const opts = dataOptions(data, baseDir, seed);
    if (data.kind === 'images' && typeof data.folder === 'string' && data.folder !== '') {
      return imagesDatasetAsync(resolve(opts.baseDir, data.folder), data, onProgress, signal);
    }
    if (data.kind !== 'csv') return loadDataset(data, opts);
    const file = csvFile(data.path, opts.baseDir);
    const { size, mtimeMs } = fileStats(file);
    const key = JSON.stringify([file.full, size, mtimeMs, seed, data]);
    if (this.last?.key !== key) {
      const listeners = new Set<OnProgress>();
      const stop = new AbortController();
      const dataset = loadCsv(file, data, seed, (bytes, total) => listeners.forEach((l) => l(bytes, total)), stop.signal);
      const entry: CsvRead = { key, where: file.where, listeners, read: false, waiting: 0, stop, dataset };
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
    const entry = this.last;
    if (entry.read) return entry.dataset;
    // Only a read still going on reports progress: the listeners of a finished one would pile up, unheard.
    entry.listeners.add(onProgress);
    entry.waiting++;
    return signal ? this.untilCanceled(entry, onProgress, signal) : entry.dataset;
  }

  /**
   * The read's dataset, or a CanceledError as soon as `signal` is aborted: the request stops hearing the read, and a
   * read that no other request waits for stops between chunks and is forgotten (the next load reads afresh).
   */
  private untilCanceled(entry: CsvRead, onProgress: OnProgress, signal: AbortSignal): Promise<Dataset> {
    return new Promise((resolve, reject) => {
      const cancel = () => {
        entry.listeners.delete(onProgress);
        entry.waiting--;
        if (entry.waiting === 0 && !entry.read) {
          if (this.last === entry) this.last = undefined;
          entry.stop.abort();
        }
        reject(new CanceledError(entry.where));
      };
      if (signal.aborted) {
        cancel();
        return;
      }
      signal.addEventListener('abort', cancel, { once: true });
      entry.dataset.then(resolve, reject).finally(() => signal.removeEventListener('abort', cancel));
    });
  }
}

/** A CSV load that DataLoads keeps: who hears its progress, how many requests wait for it, and how to stop it. */
interface CsvRead {
  key: string;
  where: Where;
  dataset: Promise<Dataset>;
  listeners: Set<OnProgress>;
  /** Read to the end: a later request takes its dataset as it is. */
  read: boolean;
  /** The requests that wait for the read (a canceled one no longer does). */
  waiting: number;
  stop: AbortController;
}

/** Reports a request's reading of a data file as `data.progress` events, as often as `throttledProgress` lets it. */
export function progressEvents(requestId: number, post: (e: EngineEvent) => void, now: () => number = () => performance.now()): OnProgress {
  return throttledProgress((bytes, total) => post({ event: 'data.progress', requestId, bytes, total }), now);
}

/** Progress `report`ed the first time at once, then at most once per PROGRESS_MS, and always the last (done = total). */
export function throttledProgress(report: (done: number, total: number) => void, now: () => number = () => performance.now()): (done: number, total: number) => void {
  let last = -Infinity;
  return (done, total) => {
    const t = now();
    if (done < total && t - last < PROGRESS_MS) return;
    last = t;
    report(done, total);
  };
}
