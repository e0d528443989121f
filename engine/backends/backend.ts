import type { Plan, PlanStep } from '../plan/plan';
import type { FloatArray, RunContext } from './kernel';

/**
 * A backend is storage plus a kernel table. It keeps named persistent tensors (parameters, optimizer state,
 * running statistics) shared by every plan it loads, and runs plans over its own buffers.
 */
export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  load(plan: Plan): Executable;
  /** Creates or overwrites a persistent tensor. */
  writeTensor(name: string, data: FloatArray): void;
  readTensor(name: string): Promise<Float32Array>;
  hasTensor(name: string): boolean;
  tensorNames(): string[];
  dispose(): void;
  /**
   * Backends that run asynchronously (WebGPU), for undoing steps already submitted when a later readback shows
   * that one of them went wrong: `saveState` copies every persistent tensor, on the device and in order after the
   * work submitted so far, to one spare set (each save replaces the last); `restoreState` copies the spare set
   * back, in order after the work submitted so far. Neither waits.
   */
  saveState?(): void;
  restoreState?(): void;
}

export type Phase = 'all' | 'compute' | 'update';

export interface Executable {
  readonly plan: Plan;
  setInput(name: string, data: FloatArray): void;
  /** Runs the plan's steps (all of them, or only the compute or update part). */
  run(ctx: RunContext, phase?: Phase): void;
  read(output: string): Promise<Float32Array>;
  /** Re-runs the compute steps one by one and returns the first whose output holds NaN or Infinity. */
  findNonFinite(ctx: RunContext): Promise<PlanStep | null>;
  /**
   * Backends that run asynchronously (WebGPU): runs every step, as `run(ctx, 'all')` does, and resolves with
   * these outputs' values as they were after the compute steps (before the updates), once the device has done
   * this run. It does not wait: later runs can be submitted while the values are on their way, and they do not
   * change them. The CPU backend has no such method (its runs are done when `run` returns).
   */
  runAndCollect?(ctx: RunContext, outputs: readonly string[]): Promise<Float32Array[]>;
  /**
   * Backends whose buffers are device memory (WebGPU): frees them now, rather than whenever garbage collection
   * (which does not see that memory) collects the executable. Nothing runs on it after.
   */
  dispose?(): void;
}
