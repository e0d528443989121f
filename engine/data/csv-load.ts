/**
 * Loading and inspecting CSV files, streamed: a file is read twice (the first read infers the column types and finds
 * the malformed rows, the second encodes the rows), a chunk at a time, so that its text never sits in memory whole.
 * The synchronous forms serve the CLI and loadDataset; the asynchronous ones the engine host, which keeps answering
 * other requests between chunks and reports progress.
 */
import { resolve } from 'node:path';
import { StudioError } from '../util/errors';
import { CsvEncoder, planOf, scanRules, type CsvLoadSpec } from './csv-encode';
import { CsvScan, type CsvInspection } from './csv-scan';
import { fileChunks, fileChunksSync, fileStats, memoryChunks, readRecords, type CsvFile } from './csv-source';
import type { Dataset } from './types';

/** Bytes read so far of all that the request reads (a load reads the file twice, so `total` is twice its size). */
export type OnProgress = (bytes: number, total: number) => void;

/** The file of a csv `data.path`, relative to `baseDir` (the project file's folder). */
export function csvFile(path: unknown, baseDir: string): CsvFile {
  if (typeof path !== 'string' || path === '') throw new StudioError('path must be a file path', { path: 'data.path' });
  return { full: resolve(baseDir, path), where: { file: path, path: 'data.path' } };
}

/** The Dataset of CSV bytes in memory; `name` is the file as messages name it, `seed` the split's (for `missing: mean`). */
export function csvDatasetOf(bytes: Uint8Array, spec: CsvLoadSpec, name: string, seed: number): Dataset {
  const where = { file: name };
  const scan = new CsvScan(where, scanRules(spec));
  readRecords(memoryChunks(bytes), where, scan.add);
  const encoder = new CsvEncoder(planOf(spec, scan, name), name);
  readRecords(memoryChunks(bytes), where, encoder.add);
  return encoder.result(spec, seed);
}

/** The Dataset of a CSV file, read synchronously a chunk at a time. */
export function loadCsvSync(file: CsvFile, spec: CsvLoadSpec, seed: number): Dataset {
  const name = file.where.file;
  const scan = new CsvScan(file.where, scanRules(spec));
  readRecords(fileChunksSync(file), file.where, scan.add);
  const encoder = new CsvEncoder(planOf(spec, scan, name), name);
  readRecords(fileChunksSync(file), file.where, encoder.add);
  return encoder.result(spec, seed);
}

/** The Dataset of a CSV file, read asynchronously a chunk at a time; an aborted `signal` stops it between chunks. */
export async function loadCsv(file: CsvFile, spec: CsvLoadSpec, seed: number, onProgress?: OnProgress, signal?: AbortSignal): Promise<Dataset> {
  const name = file.where.file;
  const size = fileStats(file).size;
  const scan = new CsvScan(file.where, scanRules(spec));
  await readRecords(fileChunks(file, signal), file.where, scan.add, (bytes) => onProgress?.(bytes, 2 * size));
  const encoder = new CsvEncoder(planOf(spec, scan, name), name);
  await readRecords(fileChunks(file, signal), file.where, encoder.add, (bytes) => onProgress?.(size + bytes, 2 * size));
  return encoder.result(spec, seed);
}

/**
 * What data.inspect says of a CSV file: read once, asynchronously; malformed rows are listed, not errors. An aborted
 * `signal` stops the read between chunks (a CanceledError).
 */
export async function inspectCsv(file: CsvFile, onProgress?: OnProgress, signal?: AbortSignal): Promise<CsvInspection> {
  const size = fileStats(file).size;
  const scan = new CsvScan(file.where, { numeric: (header) => header.map(() => false), tokens: true, stopAtMalformed: false });
  await readRecords(fileChunks(file, signal), file.where, scan.add, (bytes) => onProgress?.(bytes, size));
  return scan.result(size);
}
