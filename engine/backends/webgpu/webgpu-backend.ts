import type { Backend, Executable, Phase } from '../backend';
import type { FloatArray, RunContext } from '../kernel';
import type { Plan, PlanStep } from '../../plan/plan';
import { StudioError } from '../../util/errors';
import { requireGpu, throwGpuErrors, type GpuInfo } from './gpu';
import { contextWords, type GpuKernel } from './kernel';
import { gpuKernelFor } from './kernels';

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage, without relying on globals)
const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST
const MAP_READ = 0x1; // GPUMapMode.READ

const bytesOf = (elements: number) => Math.max(4, elements * 4);

/** Compiled pipelines by WGSL source, per device: shared by every backend (and plan) on it. */
const pipelineCaches = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/**
 * Runs plans on the GPU through WebGPU. Buffers are allocated once per plan (pooled intermediates as the plan
 * shares them, persistent tensors by name across plans); a run encodes the plan's steps into one command buffer and
 * submits it without waiting; outputs are read back asynchronously.
 */
export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  private readonly tensors = new Map<string, { buffer: GPUBuffer; size: number }>();
  readonly device: GPUDevice;
  readonly adapter: string;
  readonly software: boolean;

  private constructor(gpu: GpuInfo) {
    this.device = gpu.device;
    this.adapter = gpu.adapter;
    this.software = gpu.software;
    if (!pipelineCaches.has(this.device)) pipelineCaches.set(this.device, new Map());
  }

  /** The backend on this machine's adapter; a StudioError when there is none. */
  static async create(): Promise<WebGpuBackend> {
    return new WebGpuBackend(await requireGpu());
  }

  /** A storage buffer of `elements` floats; out-of-memory is a StudioError, not a lost device later. */
  createStorage(elements: number, what: string): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size: bytesOf(elements), usage: STORAGE });
    void this.device.popErrorScope().then((e) => {
      if (e) console.error(`WebGPU: out of memory allocating ${what} (${bytesOf(elements)} bytes)`);
    });
    return buffer;
  }

  pipeline(code: string): GPUComputePipeline {
    const cache = pipelineCaches.get(this.device)!;
    let p = cache.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      cache.set(code, p);
    }
    return p;
  }

  persistent(name: string, size: number): GPUBuffer {
    let t = this.tensors.get(name);
    if (!t) this.tensors.set(name, (t = { buffer: this.createStorage(size, `tensor ${name}`), size }));
    if (t.size !== size) throw new Error(`tensor ${name} has ${t.size} elements, a plan expects ${size}`);
    return t.buffer;
  }

  load(plan: Plan): WebGpuExecutable {
    return new WebGpuExecutable(this, plan);
  }

  writeTensor(name: string, data: FloatArray): void {
    const t = this.tensors.get(name);
    if (!t || t.size !== data.length) {
      t?.buffer.destroy();
      this.tensors.set(name, { buffer: this.createStorage(data.length, `tensor ${name}`), size: data.length });
    }
    this.write(this.tensors.get(name)!.buffer, data);
  }

  write(buffer: GPUBuffer, data: FloatArray): void {
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    if (f32.length) this.device.queue.writeBuffer(buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
  }

  readTensor(name: string): Promise<Float32Array> {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no tensor named ${name}`);
    return this.readBuffer(t.buffer, t.size);
  }

  /** Copies the first `elements` floats of a buffer back (after all work submitted so far). */
  async readBuffer(buffer: GPUBuffer, elements: number): Promise<Float32Array> {
    if (elements === 0) return new Float32Array(0);
    const staging = this.device.createBuffer({ size: elements * 4, usage: READBACK });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, staging, 0, elements * 4);
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(MAP_READ);
    } catch (e) {
      staging.destroy();
      throw new StudioError(`WebGPU: reading a result failed (${e instanceof Error ? e.message : String(e)}); the device may have been lost`);
    }
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    throwGpuErrors();
    return out;
  }

  hasTensor(name: string): boolean {
    return this.tensors.has(name);
  }

  tensorNames(): string[] {
    return [...this.tensors.keys()];
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.buffer.destroy();
    this.tensors.clear();
  }
}

interface BoundStep {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
  step: PlanStep;
}

const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

export class WebGpuExecutable implements Executable {
  private readonly buffers: GPUBuffer[];
  private readonly bound: (BoundStep | null)[];
  private readonly context: GPUBuffer;
  private readonly usesContext: boolean;

  constructor(
    private readonly backend: WebGpuBackend,
    readonly plan: Plan,
  ) {
    this.buffers = plan.buffers.map((b, i) => {
      if (b.role === 'persistent') return backend.persistent(b.name!, b.size);
      const buf = backend.createStorage(b.size, `buffer ${i} of a plan`);
      if (b.role === 'const') backend.write(buf, b.value!);
      return buf;
    });
    const device = backend.device;
    this.context = device.createBuffer({ size: 16, usage: UNIFORM });
    let usesContext = false;
    this.bound = plan.steps.map((step, i) => {
      const isUpdate = i >= plan.updateStart;
      const outSize = numel(step.call.outShape);
      if (outSize === 0) return null;
      const kernel = gpuKernelFor(step.call, isUpdate);
      if (!kernel) throw new StudioError(`the WebGPU backend has no kernel for ${step.call.op}`);
      usesContext ||= !!kernel.usesContext;
      return this.bind(step, kernel, isUpdate ? step.inputs.map(() => outSize) : step.call.inShapes.map(numel), outSize);
    });
    this.usesContext = usesContext;
  }

  private bind(step: PlanStep, kernel: GpuKernel, inSizes: number[], outSize: number): BoundStep {
    const device = this.backend.device;
    const pipeline = this.backend.pipeline(kernel.code);
    const entries: GPUBindGroupEntry[] = [];
    const add = (buffer: GPUBuffer, bytes: number) => entries.push({ binding: entries.length, resource: { buffer, offset: 0, size: bytes } });
    step.inputs.forEach((b, k) => add(this.buffers[b], bytesOf(inSizes[k])));
    if (kernel.bindOutput !== false) add(this.buffers[step.output], bytesOf(outSize));
    if (kernel.params) {
      const params = device.createBuffer({ size: kernel.params.byteLength, usage: UNIFORM });
      device.queue.writeBuffer(params, 0, kernel.params.buffer, kernel.params.byteOffset, kernel.params.byteLength);
      add(params, kernel.params.byteLength);
    }
    if (kernel.usesContext) add(this.context, 16);
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    return { pipeline, bindGroup, workgroups: kernel.workgroups, step };
  }

  setInput(name: string, data: FloatArray): void {
    const input = this.plan.inputs.get(name);
    if (!input) return;
    const size = this.plan.buffers[input.buffer].size;
    if (data.length !== size) throw new Error(`input ${name}: ${data.length} values for a buffer of ${size}`);
    this.backend.write(this.buffers[input.buffer], data);
  }

  /** Encodes the steps (all, or the compute or update part) into one command buffer and submits it. */
  run(ctx: RunContext, phase: Phase = 'all'): void {
    const from = phase === 'update' ? this.plan.updateStart : 0;
    const to = phase === 'compute' ? this.plan.updateStart : this.bound.length;
    this.submit(ctx, from, to);
  }

  private submit(ctx: RunContext, from: number, to: number): void {
    const device = this.backend.device;
    if (this.usesContext) {
      const w = contextWords(ctx);
      device.queue.writeBuffer(this.context, 0, w.buffer, w.byteOffset, w.byteLength);
    }
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = from; i < to; i++) {
      const b = this.bound[i];
      if (!b) continue;
      pass.setPipeline(b.pipeline);
      pass.setBindGroup(0, b.bindGroup);
      pass.dispatchWorkgroups(b.workgroups[0], b.workgroups[1], b.workgroups[2]);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
  }

  read(output: string): Promise<Float32Array> {
    const o = this.plan.outputs.get(output);
    if (!o) throw new Error(`the plan has no output ${output}`);
    return this.backend.readBuffer(this.buffers[o.buffer], numel(o.shape));
  }

  async findNonFinite(ctx: RunContext): Promise<PlanStep | null> {
    for (let i = 0; i < this.plan.updateStart; i++) {
      this.submit(ctx, i, i + 1);
      const step = this.plan.steps[i];
      const values = await this.backend.readBuffer(this.buffers[step.output], numel(step.call.outShape));
      if (values.some((v) => !Number.isFinite(v))) return step;
    }
    return null;
  }
}
