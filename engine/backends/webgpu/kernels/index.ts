/**
 * The WebGPU kernel table: one factory per primitive op (and per optimizer update), each making the dispatch of a
 * plan step from its shapes and attributes. The same ops as the CPU backend's table, which is the oracle the
 * conformance suite compares against.
 */
import type { KernelCall } from '../../kernel';
import type { GpuKernel, GpuKernelFor } from '../kernel';
import { elementwiseKernels } from './elementwise';
import { layoutKernels } from './layout';
import { matmulKernels } from './matmul';
import { reduceKernels } from './reduce';
import { sourceKernels } from './sources';
import { updateKernels } from './update';

export const gpuKernels: Readonly<Record<string, GpuKernelFor>> = {
  ...sourceKernels,
  ...elementwiseKernels,
  ...reduceKernels,
  ...layoutKernels,
  ...matmulKernels,
};

export function gpuKernelFor(call: KernelCall, isUpdate: boolean): GpuKernel | undefined {
  return (isUpdate ? updateKernels : gpuKernels)[call.op]?.(call);
}
