/**
 * The WebGPU kernel table: one factory per primitive op (and per optimizer update), each making the dispatch of a
 * plan step from its shapes and attributes (two dispatches where a reduction or a matmul is split, see StepKernels).
 * The same ops as the CPU backend's table, which is the oracle the conformance suite compares against.
 */
import type { KernelCall } from '../../kernel';
import type { GpuKernelFor, StepKernels } from '../kernel';
import { elementwiseKernels } from './elementwise';
import { layoutKernels } from './layout';
import { matmulStepKernels, type MatmulTuning } from './matmul';
import { REDUCTION_OPS, reduceKernels } from './reduce';
import { sourceKernels } from './sources';
import { updateKernels } from './update';

export const gpuKernels: Readonly<Record<string, GpuKernelFor>> = {
  ...sourceKernels,
  ...elementwiseKernels,
  ...layoutKernels,
};

/** The ops whose step may be split in two dispatches (see StepKernels). */
const splittable: Readonly<Record<string, (call: KernelCall, tuning?: MatmulTuning) => StepKernels>> = {
  ...Object.fromEntries(REDUCTION_OPS.map((op) => [op, (call: KernelCall) => reduceKernels(call)])),
  matmul: (call, tuning) => matmulStepKernels(call, tuning),
};

/** A step's dispatches; a matmul's kernel configured by the device's `tuning` (kernels/matmul.ts MatmulTuning). */
export function gpuKernelFor(call: KernelCall, isUpdate: boolean, tuning?: MatmulTuning): StepKernels | undefined {
  if (!isUpdate && call.op in splittable) return splittable[call.op](call, tuning);
  const make = (isUpdate ? updateKernels : gpuKernels)[call.op];
  return make && { kernel: make(call) };
}
