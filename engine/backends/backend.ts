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
}
