/**
 * Where a CSV file's bytes come from, a chunk at a time: bytes already in memory, or the file read in 1 MB pieces
 * (synchronously for the CLI, asynchronously in the engine host so that it keeps answering while it reads). The
 * bytes are decoded as UTF-8 and handed to a CsvRecordReader.
 */
import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { throwIfCanceled } from '../util/cancel';
import { StudioError, type Where } from '../util/errors';
import { CsvRecordReader, type CsvRecord } from './csv-records';

export const CHUNK_BYTES = 1 << 20;

/** A file to read: its resolved path, and where its errors are (`file`: the path as the project writes it). */
export interface CsvFile {
  full: string;
  where: Where & { file: string };
}

/** Chunks of bytes: all of them at once (sync) or as they are read (async). */
export type Chunks = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** `bytes` in pieces of CHUNK_BYTES (so that the same code path as a file's is taken). */
export function* memoryChunks(bytes: Uint8Array): Iterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) yield bytes.subarray(at, at + CHUNK_BYTES);
}

export function fileStats(file: CsvFile): Stats {
  return attempt(file, () => statSync(file.full));
}

/** The file in pieces, read synchronously. */
export function* fileChunksSync(file: CsvFile): Iterable<Uint8Array> {
  const fd = attempt(file, () => openSync(file.full, 'r'));
  try {
    const buffer = new Uint8Array(CHUNK_BYTES);
    while (true) {
      const n = attempt(file, () => readSync(fd, buffer, 0, CHUNK_BYTES, null));
      if (n === 0) return;
      yield buffer.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The file in pieces, read asynchronously (each piece is a turn of the event loop); once `signal` is aborted, the
 * next piece is a CanceledError naming the file.
 */
export async function* fileChunks(file: CsvFile, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  throwIfCanceled(signal, { file: file.where.file });
  const handle = await attemptAsync(file, () => open(file.full, 'r'));
  try {
    const buffer = new Uint8Array(CHUNK_BYTES);
    while (true) {
      const { bytesRead } = await attemptAsync(file, () => handle.read(buffer, 0, CHUNK_BYTES, null));
      // A cancel can only arrive while a read is awaited: checked after it, no piece is taken after a cancel.
      throwIfCanceled(signal, { file: file.where.file });
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Decodes the chunks as UTF-8 and reads their records, in order; `onBytes` hears how many bytes are read so far
 * after each chunk. Synchronous chunks are read synchronously (the promise is settled on return).
 */
export function readRecords(chunks: Iterable<Uint8Array>, where: Where, onRecord: (r: CsvRecord) => void): void;
export function readRecords(chunks: Chunks, where: Where, onRecord: (r: CsvRecord) => void, onBytes?: (bytes: number) => void): Promise<void>;
export function readRecords(chunks: Chunks, where: Where, onRecord: (r: CsvRecord) => void, onBytes?: (bytes: number) => void): void | Promise<void> {
  const reader = new CsvRecordReader(onRecord);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let bytes = 0;
  const take = (chunk: Uint8Array) => {
    reader.push(decode(() => decoder.decode(chunk, { stream: true }), where));
    bytes += chunk.length;
    onBytes?.(bytes);
  };
  const finish = () => {
    reader.push(decode(() => decoder.decode(), where));
    reader.end();
  };
  if (Symbol.iterator in chunks) {
    for (const chunk of chunks) take(chunk);
    finish();
    return;
  }
  return (async () => {
    for await (const chunk of chunks) take(chunk);
    finish();
  })();
}

function decode(fn: () => string, where: Where): string {
  try {
    return fn();
  } catch {
    throw new StudioError('the file is not UTF-8 text', { file: where.file });
  }
}

/** An fs call, its failure told as the loader tells it (data/load.ts): file not found, or cannot read the file. */
function attempt<T>(file: CsvFile, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw readError(e, file);
  }
}

async function attemptAsync<T>(file: CsvFile, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw readError(e, file);
  }
}

function readError(e: unknown, file: CsvFile): StudioError {
  const why = (e as { code?: unknown }).code === 'ENOENT' ? 'file not found' : `cannot read the file (${e instanceof Error ? e.message : String(e)})`;
  return new StudioError(`${why}: ${file.full}`, file.where);
}
