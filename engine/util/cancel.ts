/**
 * Stopping long reads on request: the engine host hands a request that reads a file an AbortSignal, which the
 * engine's `cancel` request (engine/protocol/messages.ts) aborts; the read stops between two chunks with a
 * CanceledError, which is the request's reply. The renderer's bridge rejects a canceled call with one too, so that
 * callers tell a cancel from a failure.
 */
import { StudioError, type Where } from './errors';

/** A request stopped by its `cancel` (not a failure: callers ignore it). */
export class CanceledError extends StudioError {
  constructor(where: Where = {}) {
    super('canceled', where);
    this.name = 'CanceledError';
  }
}

/** Throws a CanceledError naming `where` once `signal` is aborted. */
export function throwIfCanceled(signal: AbortSignal | undefined, where: Where = {}): void {
  if (signal?.aborted) throw new CanceledError(where);
}
