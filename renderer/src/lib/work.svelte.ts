/**
 * A long engine request that reports how far it has got and can be cancelled (Check gradients, a Jacobian): whether
 * one is under way, its progress, and Cancel. Aborting rejects the bridge's call at once with a CanceledError and
 * sends the engine `cancel`.
 */
import { CanceledError } from '../../../engine/util/cancel';
import type { EngineCallOptions, Progress } from './bridge';

export class CancellableWork {
  running = $state(false);
  /** How far the work under way has got (null: nothing reported yet, or none under way). */
  progress = $state.raw<Progress | null>(null);
  private abort: AbortController | null = null;

  /**
   * Runs `call`, handing it the options to pass to the bridge (signal, onProgress). Its value, or undefined when it
   * was cancelled or failed (`onError` is told why it failed; a cancel is no failure).
   */
  async run<T>(call: (opts: EngineCallOptions) => Promise<T>, onError: (e: unknown) => void): Promise<T | undefined> {
    const abort = new AbortController();
    this.abort = abort;
    this.running = true;
    this.progress = null;
    try {
      return await call({ signal: abort.signal, onProgress: (p) => !abort.signal.aborted && (this.progress = p) });
    } catch (e) {
      if (!(e instanceof CanceledError)) onError(e);
      return undefined;
    } finally {
      if (this.abort === abort) {
        this.abort = null;
        this.running = false;
        this.progress = null;
      }
    }
  }

  /** Stops the work under way (its Cancel button, a new run, another document). */
  cancel(): void {
    this.abort?.abort();
  }
}
