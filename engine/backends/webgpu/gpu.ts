/**
 * Where the WebGPU device comes from: `navigator.gpu` in a browser, the `webgpu` package (Dawn's dawn.node) in
 * Node. This is the backend's only Node-specific code.
 *
 * The object that `create()` returns must stay referenced for the life of the process: when it is garbage-collected
 * dawn.node crashes the process natively. It is kept in this module for good.
 */
import { StudioError } from '../../util/errors';

export interface GpuInfo {
  device: GPUDevice;
  /** The adapter as people name it: vendor, architecture, description. */
  adapter: string;
  /** Software adapters (Mesa's llvmpipe, SwiftShader, any fallback adapter) are exact but slow: `auto` never picks them. */
  software: boolean;
}

/** dawn.node's GPU objects by their flags, kept for the life of the process (see above). */
const nodeGpus = new Map<string, GPU>();
let pending: Promise<GpuInfo | null> | undefined;

/** navigator.gpu in a browser; in Node, Dawn's GPU object made with `flags` (dawn.node's, e.g. backend=null). */
async function gpuEntry(flags: readonly string[] = []): Promise<GPU | undefined> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu && flags.length === 0) return nav.gpu;
  if (typeof process === 'undefined' || !process.versions?.node) return undefined;
  const key = flags.join(' ');
  if (!nodeGpus.has(key)) {
    const mod = (await import('webgpu')) as { create(flags: string[]): GPU; globals: object };
    Object.assign(globalThis, mod.globals);
    nodeGpus.set(key, mod.create([...flags]));
  }
  return nodeGpus.get(key);
}

/** The adapter's description, e.g. "nvidia hopper (NVIDIA H100)" or "mesa llvmpipe (llvmpipe (LLVM 15.0.6, 256 bits))". */
function describe(info: GPUAdapterInfo): string {
  const parts = [info.vendor, info.architecture].filter(Boolean).join(' ');
  const detail = info.description || info.device;
  return [parts, detail ? `(${detail})` : ''].filter(Boolean).join(' ') || 'unknown adapter';
}

/**
 * The process's one WebGPU device, or null where there is no adapter (no GPU and no software rasteriser, or the
 * runtime has no WebGPU). Device loss is reported through `lost` and makes the next call try again.
 */
export function gpuDevice(): Promise<GpuInfo | null> {
  pending ??= (async () => {
    const gpu = await gpuEntry();
    if (!gpu) return null;
    const opened = await openDevice(gpu);
    if (!opened) return null;
    void opened.device.lost.then((l) => {
      pending = undefined;
      lost = `the GPU device was lost (${l.message || l.reason})`;
    });
    return opened;
  })().catch((e: unknown) => {
    pending = undefined;
    throw new StudioError(`WebGPU could not start: ${e instanceof Error ? e.message : String(e)}`);
  });
  return pending;
}

/** The adapter name of hostOnlyDevice's devices. */
export const NULL_ADAPTER = 'Dawn Null backend';

/**
 * A device of Dawn's Null backend, which validates and records every call as a GPU's would and runs nothing: what
 * the host spends on a step (encoding, submitting, JavaScript) measured apart from the GPU (bench/webgpu.ts).
 * Undefined outside Node or where this dawn.node has no Null backend.
 */
export async function hostOnlyDevice(): Promise<GpuInfo | undefined> {
  const gpu = await gpuEntry(['backend=null']);
  const opened = gpu && (await openDevice(gpu));
  return opened ? { ...opened, adapter: NULL_ADAPTER, software: false } : undefined;
}

/**
 * A device that times its compute passes (the adapter's timestamp-query feature), with Dawn's coarsening of the
 * times (against timing attacks in browsers) off: for the bench's profile of a step, dispatch by dispatch. Undefined
 * outside Node or where the adapter cannot.
 */
export async function timingDevice(): Promise<GpuInfo | undefined> {
  const gpu = await gpuEntry(['disable-dawn-features=timestamp_quantization']);
  return (gpu && (await openDevice(gpu, ['timestamp-query']))) ?? undefined;
}

/**
 * A device of the adapter with these Dawn toggles on (dawn.node's `enable-dawn-features`): for the bench's measure of
 * what Tint's bounds checks on array accesses (its robustness transform) cost the kernels. Undefined outside Node.
 */
export async function toggledDevice(toggles: readonly string[]): Promise<GpuInfo | undefined> {
  const gpu = await gpuEntry([`enable-dawn-features=${toggles.join(',')}`]);
  return (gpu && (await openDevice(gpu))) ?? undefined;
}

/**
 * The adapter's device, with the limits the kernels use raised to the adapter's own, and `features`; null when there
 * is no adapter, or it lacks one of them.
 */
async function openDevice(gpu: GPU, features: GPUFeatureName[] = []): Promise<GpuInfo | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter || features.some((f) => !adapter.features.has(f))) return null;
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  // Validation errors (a WGSL kernel that does not compile, a bad binding) would otherwise only be printed, and
  // the step would leave its output as it was: they are kept and thrown at the next read.
  device.onuncapturederror = (e) => errors.push({ message: e.error.message, outOfMemory: e.error.constructor.name === 'GPUOutOfMemoryError' });
  const info = adapter.info;
  const name = describe(info);
  // The spec moved isFallbackAdapter from the adapter to its info; Dawn has it on the info.
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return { device, adapter: name, software: isSoftwareAdapter(`${name} ${info.device}`, fallback === true) };
}

/**
 * Whether an adapter computes on the CPU: the implementation says it is a fallback adapter, or it is one of the
 * software rasterisers by name (Mesa's llvmpipe and lavapipe, SwiftShader), which some implementations do not flag.
 */
export function isSoftwareAdapter(name: string, fallback: boolean): boolean {
  return fallback || /llvmpipe|lavapipe|swiftshader|software/i.test(name);
}

/** WebGPU errors found asynchronously, to be thrown at the next check. */
const errors: { message: string; outOfMemory: boolean }[] = [];
/** Why the device was lost, until the next check throws it. */
let lost: string | undefined;

/**
 * The GPU device is gone (a driver reset, the GPU taken away, or destroyed): nothing on it can be read or run
 * again. A training job takes it as the cue to go on on the CPU (engine/host/training-job.ts).
 */
export class GpuLostError extends StudioError {}

/**
 * The GPU had no memory for a buffer (a network or batch too big for it). Also the cue for a training job to go on on
 * the CPU, which `short` then names as the cause; elsewhere (the CLI) the message says what to do.
 */
export class GpuOutOfMemoryError extends StudioError {
  constructor(readonly short: string) {
    super(`${short}: use the cpu backend or a smaller batch`);
  }
}

/** Records a WebGPU failure found asynchronously (an error scope), to be thrown at the next read. */
export function recordGpuError(message: string, outOfMemory = false): void {
  errors.push({ message, outOfMemory });
}

/**
 * Throws the device's loss (GpuLostError), or else the first WebGPU error since the last check, if there was one (the
 * first that ran out of memory, as a GpuOutOfMemoryError, where one did).
 */
export function throwGpuErrors(): void {
  if (lost !== undefined) throw lostError();
  if (!errors.length) return;
  const first = errors.find((e) => e.outOfMemory) ?? errors[0];
  const more = errors.length - 1;
  errors.length = 0;
  const others = more ? ` (and ${more} more error${more > 1 ? 's' : ''})` : '';
  if (first.outOfMemory) throw new GpuOutOfMemoryError(`WebGPU ran out of memory: ${first.message}${others}`);
  throw new StudioError(`WebGPU failed: ${first.message}${others}`);
}

/**
 * The error for a readback that failed. A map that is aborted means the device is gone (mapAsync rejects so only
 * when the device is lost or destroyed, which may come before `device.lost` resolves).
 */
export function readFailure(e: unknown): StudioError {
  if (lost !== undefined || (e instanceof Error && e.name === 'AbortError')) return lostError(e);
  return new StudioError(`WebGPU: reading a result failed (${e instanceof Error ? e.message : String(e)})`);
}

function lostError(cause?: unknown): GpuLostError {
  const why = lost ?? `the GPU device was lost (${cause instanceof Error ? cause.message || cause.name : String(cause)})`;
  lost = undefined;
  errors.length = 0;
  return new GpuLostError(`WebGPU: ${why}`);
}

/** The device, or a StudioError that says there is none. */
export async function requireGpu(): Promise<GpuInfo> {
  const g = await gpuDevice();
  if (!g) throw new StudioError('no WebGPU adapter was found on this machine: use the cpu backend (or auto, which falls back to it)');
  return g;
}
