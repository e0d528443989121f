import type { Attrs } from '../ir/node';

/** What a kernel is asked to do: one primitive op over concrete shapes. */
export interface KernelCall {
  readonly op: string;
  readonly attrs: Attrs;
  readonly inShapes: readonly (readonly number[])[];
  readonly outShape: readonly number[];
}

/**
 * Per-run values that kernels may read: the seed and the optimizer step (dropout masks, Adam's bias correction), and
 * the factor on every update's lr that the learning-rate schedule gives this step (1 when absent).
 */
export interface RunContext {
  seed: number;
  step: number;
  lrScale?: number;
}

/** The CPU backend computes in float32 (training) or float64 (gradient checks, where differences must be exact). */
export type FloatArray = Float32Array | Float64Array;

/** The attributes of an `sgd_update` step (torch.optim.SGD with default dampening). */
export interface SgdAttrs {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** The attributes of an `adam_update` step (torch.optim.Adam, or AdamW when `decoupled`). */
export interface AdamAttrs {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  decoupled?: boolean;
}
