/**
 * Loads the `data` section of a project into a Dataset: the rows in file (or generated) order, unshuffled, unsplit
 * and unstandardised (split.ts does those, from the training part only).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { StudioError } from '../util/errors';
import { generateBuiltin } from './builtin';
import { csvDatasetOf, csvFile, loadCsvSync } from './csv-load';
import { idxDataset } from './idx';
import { imagesDataset } from './images';
import { inlineDataset } from './inline';
import type { DataSpec, Dataset } from './types';

export interface LoadOptions {
  /** The project file's folder: relative paths are relative to it. */
  baseDir: string;
  /** training.seed, for the builtin generators. */
  seed: number;
  /** Reads a file by its resolved path; node:fs by default. */
  readFile?: (path: string) => Uint8Array;
}

export function loadDataset(spec: DataSpec, opts: LoadOptions): Dataset {
  const readFile = opts.readFile ?? ((path: string) => readFileSync(path));
  /** Errors name the path as the project file writes it, and the message the full path that was tried. */
  const read = (path: unknown, key: string): Uint8Array => {
    if (typeof path !== 'string' || path === '') throw new StudioError(`${key} must be a file path`, { path: `data.${key}` });
    const full = resolve(opts.baseDir, path);
    try {
      return readFile(full);
    } catch (e) {
      if (e instanceof StudioError) throw e;
      const why = (e as { code?: unknown }).code === 'ENOENT' ? 'file not found' : `cannot read the file (${e instanceof Error ? e.message : String(e)})`;
      throw new StudioError(`${why}: ${full}`, { file: path, path: `data.${key}` });
    }
  };

  switch (spec.kind) {
    case 'builtin':
      return generateBuiltin(spec, opts.seed);
    case 'csv':
      // Read in chunks from the file, or (with opts.readFile) from its bytes.
      if (opts.readFile) return csvDatasetOf(read(spec.path, 'path'), spec, spec.path, opts.seed);
      return loadCsvSync(csvFile(spec.path, opts.baseDir), spec, opts.seed);
    case 'idx': {
      const images = read(spec.images, 'images');
      const labels = spec.labels === undefined ? undefined : read(spec.labels, 'labels');
      return idxDataset(images, labels, { images: spec.images, labels: spec.labels });
    }
    case 'images': {
      if (typeof spec.folder !== 'string' || spec.folder === '') throw new StudioError('folder must be a folder path', { path: 'data.folder' });
      return imagesDataset(resolve(opts.baseDir, spec.folder), spec);
    }
    case 'inline':
      return inlineDataset(spec);
    default: {
      const kind = JSON.stringify((spec as { kind?: unknown }).kind);
      throw new StudioError(`unknown data kind ${kind}; the kinds are builtin, csv, idx, inline, images`, { path: 'data.kind' });
    }
  }
}
