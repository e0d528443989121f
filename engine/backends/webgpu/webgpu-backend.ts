import type { Backend, Executable, Phase } from '../backend';
import type { FloatArray, KernelCall, RunContext } from '../kernel';
import type { Plan, PlanStep } from '../../plan/plan';
import { StudioError } from '../../util/errors';
import { GpuOutOfMemoryError, readFailure, recordGpuError, requireGpu, throwGpuErrors, type GpuInfo } from './gpu';
import { fusedExpression, fusedKernel, fusedStep, planFusion } from './fuse';
import { elideCopies } from './elide';
import { bound, planRows, rowKernel, type RowGroup } from './rows';
import { planUpdateGroups } from './group-updates';
import { planNormGroups } from './group-norms';
import { loneSums, planFolds } from './fold';
import { epilogueInputSizes } from './epilogue';
import { contextWords, type GpuKernel, type StepKernels } from './kernel';
import { ownBuffers, shareBuffers } from './share-buffers';
import { gpuKernelFor } from './kernels';
import { DEFAULT_TUNING, matmulLayout, matmulPairKernel, matmulStepKernels, type MatmulOperands, type MatmulTuning } from './kernels/matmul';
import { deviceTuning } from './tune';
import { planPairs } from './pair-matmuls';
import { groupedUpdateKernel } from './kernels/update';
import { reduceKernels, sumSquaresKernels } from './kernels/reduce';
import { im2colExpression, windowAttrs, windowKernels } from './kernels/layout';
import { planWindowReads } from './window-reads';
import { numel } from '../../ir/shape';

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage, without relying on globals)
const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST
const RESOLVED = 0x200 | 0x4; // QUERY_RESOLVE | COPY_SRC
const MAP_READ = 0x1; // GPUMapMode.READ

const bytesOf = (elements: number) => Math.max(4, elements * 4);
const shapeText = (shape: readonly number[]) => `[${shape.join(',')}]`;

/** Compiled pipelines by WGSL source, per device: shared by every backend (and plan) on it. */
const pipelineCaches = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/**
 * Runs plans on the GPU through WebGPU. Buffers are allocated once per plan (pooled intermediates shared by liveness
 * in the order of the dispatches, ./share-buffers.ts; persistent tensors by name across plans); a run encodes the
 * plan's steps into one command buffer and submits it without waiting; outputs are read back asynchronously. A
 * training step's metrics come back through runAndCollect, copied into a ring of small staging buffers in the step's
 * own command buffer, so that training submits the next steps while they are on their way (Session keeps a window
 * of steps in flight).
 */
export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  private readonly tensors = new Map<string, { buffer: GPUBuffer; size: number }>();
  /** saveState's copy of each persistent tensor (made on first save, reused by later ones). */
  private readonly spare = new Map<string, { buffer: GPUBuffer; size: number }>();
  /** The tensors that the last saveState copied. */
  private saved: string[] = [];
  readonly device: GPUDevice;
  readonly adapter: string;
  readonly software: boolean;
  /** The matmul kernel's k step and stages on this device (./tune.ts): measured where it is a GPU. */
  matmulTuning: MatmulTuning = DEFAULT_TUNING;

  private constructor(gpu: GpuInfo) {
    this.device = gpu.device;
    this.adapter = gpu.adapter;
    this.software = gpu.software;
    if (!pipelineCaches.has(this.device)) pipelineCaches.set(this.device, new Map());
  }

  /** The backend on this machine's adapter (or on `gpu`, a device of one's own); a StudioError when there is none. */
  static async create(gpu?: GpuInfo): Promise<WebGpuBackend> {
    const backend = new WebGpuBackend(gpu ?? (await requireGpu()));
    backend.matmulTuning = await deviceTuning(backend);
    return backend;
  }

  /**
   * A storage buffer of `elements` floats. Asking for more than the adapter allows in one buffer throws at once;
   * running out of GPU memory is found asynchronously and thrown at the next read: both as a GpuOutOfMemoryError
   * naming the tensor.
   */
  createStorage(elements: number, what: string): GPUBuffer {
    const bytes = bytesOf(elements);
    const max = this.device.limits.maxBufferSize;
    if (bytes > max) throw new GpuOutOfMemoryError(`WebGPU: ${what} needs ${bytes} bytes, more than this adapter's largest buffer (${max} bytes)`);
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size: bytes, usage: STORAGE });
    void this.device.popErrorScope().then((e) => {
      if (e) recordGpuError(`allocating ${what} (${bytes} bytes)`, true);
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

  /**
   * A kernel's pipeline and bind group over its storage buffers (in binding order), its params (a uniform buffer made
   * here) and, where it reads them, the seed and step in `context`.
   */
  bindKernel(kernel: GpuKernel, storage: readonly { buffer: GPUBuffer; bytes: number }[], context?: GPUBuffer): BoundKernel {
    const pipeline = this.pipeline(kernel.code);
    const entries: GPUBindGroupEntry[] = [];
    const add = (buffer: GPUBuffer, bytes: number) => entries.push({ binding: entries.length, resource: { buffer, offset: 0, size: bytes } });
    for (const s of storage) add(s.buffer, s.bytes);
    let params: GPUBuffer | undefined;
    if (kernel.params) {
      params = this.device.createBuffer({ size: kernel.params.byteLength, usage: UNIFORM });
      this.device.queue.writeBuffer(params, 0, kernel.params.buffer, kernel.params.byteOffset, kernel.params.byteLength);
      add(params, kernel.params.byteLength);
    }
    if (kernel.usesContext) {
      if (!context) throw new Error('this kernel reads the seed and step: give it a context buffer');
      add(context, 16);
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    return { pipeline, bindGroup, workgroups: kernel.workgroups, ...(params ? { params } : {}) };
  }

  /** Encodes bound kernels in order (`times` times over) in a command buffer of its own and submits it (tests, benchmarks). */
  dispatch(bound: BoundKernel | readonly BoundKernel[], times = 1): void {
    const list: readonly BoundKernel[] = 'pipeline' in bound ? [bound] : bound;
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    let pipeline: GPUComputePipeline | undefined;
    for (let i = 0; i < times; i++) for (const b of list) pipeline = encode(pass, b, pipeline);
    pass.end();
    this.device.queue.submit([enc.finish()]);
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
      throw readFailure(e);
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

  /** Copies every persistent tensor to its spare (in queue order, without waiting): see Backend.saveState. */
  saveState(): void {
    const enc = this.device.createCommandEncoder();
    for (const [name, t] of this.tensors) {
      let s = this.spare.get(name);
      if (!s || s.size !== t.size) {
        s?.buffer.destroy();
        this.spare.set(name, (s = { buffer: this.createStorage(t.size, `the spare copy of tensor ${name}`), size: t.size }));
      }
      if (t.size) enc.copyBufferToBuffer(t.buffer, 0, s.buffer, 0, t.size * 4);
    }
    this.device.queue.submit([enc.finish()]);
    this.saved = [...this.tensors.keys()];
  }

  /** Copies the spares of the last saveState back (in queue order, without waiting): see Backend.restoreState. */
  restoreState(): void {
    const enc = this.device.createCommandEncoder();
    for (const name of this.saved) {
      const t = this.tensors.get(name);
      const s = this.spare.get(name);
      if (t && s && t.size === s.size && t.size) enc.copyBufferToBuffer(s.buffer, 0, t.buffer, 0, t.size * 4);
    }
    this.device.queue.submit([enc.finish()]);
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.buffer.destroy();
    for (const s of this.spare.values()) s.buffer.destroy();
    this.tensors.clear();
    this.spare.clear();
    this.saved = [];
  }
}

/** Where runAndCollect copies a set of outputs: each output's place in one staging buffer, and the free stagings. */
interface Collector {
  parts: { buffer: GPUBuffer; elements: number; offset: number }[];
  bytes: number;
  /**
   * Staging buffers (MAP_READ) not in use: one per run whose values are on their way, back here once read. A ring
   * that grows to the number of runs in flight (a buffer is mapped whole, and a mapped buffer cannot be copied into,
   * so the runs in flight cannot share one).
   */
  free: GPUBuffer[];
}

/** A kernel ready to dispatch: its pipeline, its bindings, its grid, and the uniform buffer made for its params. */
export interface BoundKernel {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
  params?: GPUBuffer;
}

/** Encodes a dispatch of `k` into the pass, setting its pipeline unless it is `current`; returns the pipeline set. */
function encode(pass: GPUComputePassEncoder, k: BoundKernel, current: GPUComputePipeline | undefined): GPUComputePipeline {
  if (k.pipeline !== current) pass.setPipeline(k.pipeline);
  pass.setBindGroup(0, k.bindGroup);
  pass.dispatchWorkgroups(k.workgroups[0], k.workgroups[1], k.workgroups[2]);
  return k.pipeline;
}

/** A kernel bound with, where its step is split, `next` (the join) to dispatch after it. */
interface BoundStep extends BoundKernel {
  next?: BoundKernel;
}

/**
 * What a plan step, or a group of them, dispatches: its kernels, the step they are bound as (the buffers they read
 * and write, with their sizes), and once the plan's buffers exist, the bound kernels.
 */
interface StepDispatch {
  /** What it computes, for a profile: the op or the kind of group, and the shape it works on. */
  what: string;
  step: PlanStep;
  kernels: StepKernels;
  inSizes: number[];
  outSize: number;
  /** What a matmul computes (a plan step's call, or a rewrite of ./fold.ts): none but for a matmul alone. */
  matmul?: KernelCall | MatmulOperands;
  bound?: BoundStep;
}

export class WebGpuExecutable implements Executable {
  /** Per plan buffer, its GPU buffer; none for a pooled value that no dispatch writes (./share-buffers.ts). */
  private readonly buffers: readonly (GPUBuffer | undefined)[];
  /** Each step's own dispatch (null: a step with no elements); bound where a run dispatches it. */
  private readonly own: (StepDispatch | null)[];
  /** Whether the plan runs fused; if not, every step's own dispatch on the plan's buffers. */
  private readonly fuses: boolean;
  /** The plan as given, run step by step on buffers of its own: what findNonFinite runs (made when first needed). */
  private stepwise?: WebGpuExecutable;
  private readonly context: GPUBuffer;
  private readonly usesContext: boolean;
  /** runAndCollect's staging, by the outputs it collects. */
  private readonly collectors = new Map<string, Collector>();
  /** The GPU buffers made for this executable (not the backend's persistent tensors): what dispose destroys. */
  private readonly owned: GPUBuffer[] = [];
  private disposed = false;
  /**
   * Row groups (./rows.ts), fused elementwise groups (./fuse.ts), reductions with the groups they read computed in
   * their loads and those that read them computed as they write, and grouped updates (./group-updates.ts), by first
   * step: dispatched in place of their steps.
   */
  private readonly fused = new Map<number, { last: number; dispatch: StepDispatch }>();
  /**
   * Transposes and epilogues folded into matmuls (./fold.ts): the matmuls' rewritten dispatches, and null for the
   * steps not dispatched.
   */
  private readonly folded = new Map<number, StepDispatch | null>();

  /**
   * The plan as it runs here: the one given, with every pooled value in a buffer of its own, its copies elided
   * (./elide.ts) and each row group's steps together (./rows.ts), unless `fuse` is false. Its pooled buffers then
   * share GPU buffers by liveness in the order of the dispatches, so that a value that a fused kernel never writes
   * takes no memory.
   */
  readonly plan: Plan;
  /** Bytes of the GPU buffers that hold the plan's pooled intermediates. */
  readonly pooledBytes: number;

  /**
   * `fuse: false` dispatches every step on its own, on the plan's buffers: the reference that the fusion and fold
   * tests compare with, and findNonFinite's way to see every intermediate value.
   */
  constructor(
    private readonly backend: WebGpuBackend,
    private readonly given: Plan,
    options: { fuse?: boolean } = {},
  ) {
    const fuse = (this.fuses = options.fuse !== false);
    const maxStorageBuffers = backend.device.limits.maxStorageBuffersPerShaderStage;
    let plan = given;
    let rows: RowGroup[] = [];
    if (fuse) {
      const elided = elideCopies(ownBuffers(given));
      ({ plan, groups: rows } = planRows(elided, { maxStorageBuffers }));
    }
    this.plan = plan;
    let usesContext = false;
    this.own = plan.steps.map((step, i) => {
      const isUpdate = i >= plan.updateStart;
      const outSize = numel(step.call.outShape);
      if (outSize === 0) return null;
      const kernels = gpuKernelFor(step.call, isUpdate, backend.matmulTuning);
      if (!kernels) throw new StudioError(`the WebGPU backend has no kernel for ${step.call.op}`);
      usesContext ||= 'kernel' in kernels && !!kernels.kernel.usesContext;
      const inSizes = isUpdate ? step.inputs.map(() => outSize) : step.call.inShapes.map(numel);
      return { what: `${step.call.op} ${shapeText(step.call.outShape)}`, step, kernels, inSizes, outSize, ...(step.call.op === 'matmul' ? { matmul: step.call } : {}) };
    });
    this.usesContext = usesContext;
    if (fuse) this.planDispatches(maxStorageBuffers, rows);

    const dispatches: StepDispatch[] = [];
    this.forEachDispatch(0, plan.steps.length, (d) => dispatches.push(d));
    const shared = fuse ? shareBuffers(plan, dispatches.map((d) => d.step)) : undefined;
    const pool = shared?.sizes.map((size, i) => this.keep(backend.createStorage(size, `shared buffer ${i} of a plan`)));
    this.pooledBytes = (shared?.sizes ?? plan.buffers.filter((b) => b.role === 'pool').map((b) => b.size)).reduce((sum, size) => sum + bytesOf(size), 0);
    this.buffers = plan.buffers.map((b, i) => {
      if (b.role === 'persistent') return backend.persistent(b.name!, b.size);
      if (pool && b.role === 'pool') return pool[shared!.of[i]];
      const buf = this.keep(backend.createStorage(b.size, `buffer ${i} of a plan`));
      if (b.role === 'const') backend.write(buf, b.value!);
      return buf;
    });
    this.context = this.keep(backend.device.createBuffer({ size: 16, usage: UNIFORM }));
    for (const d of dispatches) {
      d.bound = this.bind(d);
      for (const k of [d.bound, d.bound.next]) if (k?.params) this.keep(k.params);
    }
  }

  private keep(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    return buffer;
  }

  /**
   * Destroys the executable's GPU buffers (the persistent tensors are the backend's), and its step-by-step twin's:
   * GPU memory that garbage collection would free only whenever it ran. Call it once nothing more is to be read
   * (a staging buffer still on its way is destroyed as it comes back); the executable cannot run after.
   */
  dispose(): void {
    this.disposed = true;
    for (const b of this.owned) b.destroy();
    for (const c of this.collectors.values()) for (const b of c.free) b.destroy();
    this.stepwise?.dispose();
  }

  /**
   * The row groups, fused groups, reductions with their prologues and epilogues, grouped norms and updates, and
   * folds of the plan, each a dispatch of its own.
   */
  private planDispatches(maxStorageBuffers: number, rows: readonly RowGroup[]): void {
    const plan = this.plan;
    // Row groups first, then fusion of the steps they leave; matmuls then compute the groups (and the steps left
    // alone) that alone read their values, as they store them.
    const inRows = new Set(rows.flatMap((g) => g.steps));
    const fusion = planFusion(plan, { maxStorageBuffers, exclude: inRows });
    const folds = planFolds(plan, [...fusion.groups, ...fusion.singles], maxStorageBuffers, loneSums(plan, fusion, inRows), fusion.epilogues);
    const epilogues = new Set(folds.epilogues);
    for (const g of rows) {
      const outputs = g.outputs.map((j) => plan.steps[g.steps[j]]);
      const last = g.steps[g.steps.length - 1];
      const reads = bound(g);
      const step = { ...plan.steps[last], inputs: [...reads.map((x) => x.buffer), ...outputs.map((o) => o.output)], output: outputs[0].output };
      const size = { full: g.rows * g.len, row: g.rows, col: g.len, scalar: 1 };
      const inSizes = [...reads.map((x) => size[x.kind]), ...outputs.map((o) => numel(o.call.outShape))];
      this.fused.set(g.steps[0], { last, dispatch: { what: `row group ${shapeText([g.rows, g.len])}`, step, kernels: { kernel: rowKernel(g, plan.steps) }, inSizes, outSize: inSizes[reads.length] } });
    }
    for (const group of fusion.groups) {
      if (epilogues.has(group)) continue;
      const { step, inSizes } = fusedStep(group, plan.steps);
      const dispatch = { what: `fused ${shapeText(group.shape)}`, step, kernels: { kernel: fusedKernel(group, plan.steps) }, inSizes, outSize: numel(group.shape) };
      this.fused.set(group.steps[0], { last: group.steps[group.steps.length - 1], dispatch });
    }
    const epilogueOf = new Map(fusion.epilogues.map((e) => [e.step, e]));
    // Gradient norms side by side, in place of their reductions (those with no epilogue): read as the tensors,
    // written as the results.
    const normGroups = planNormGroups(plan, fusion.prologues.filter((p) => !epilogueOf.has(p.reduce)), { maxStorageBuffers });
    const grouped = new Set(normGroups.flat());
    const prologueOf = new Map(fusion.prologues.filter((p) => !grouped.has(p)).map((p) => [p.reduce, p]));
    // Reductions that read an im2col's columns from its image, in place of the im2col (./window-reads.ts).
    const windowOf = planWindowReads(plan, new Set([...inRows, ...fusion.prologues.map((p) => p.reduce)]));
    for (const im2col of new Set(windowOf.values())) this.folded.set(im2col, null);
    /**
     * A reduction with its prologue (or the columns of an im2col read from its image), its epilogue, or both; or a
     * window op with its epilogue: dispatched in place of their steps.
     */
    const withEpilogue = (at: number) => {
      const r = plan.steps[at];
      const [prologue, e, window] = [prologueOf.get(at), epilogueOf.get(at), windowOf.get(at)];
      const image = window === undefined ? undefined : plan.steps[window];
      const front = prologue
        ? fusedStep(prologue.group, plan.steps)
        : image
          ? { step: { ...r, inputs: [image.inputs[0]] }, inSizes: [numel(image.call.inShapes[0])] }
          : { step: r, inSizes: r.call.inShapes.map(numel) };
      const step = { ...r, inputs: [...front.step.inputs, ...(e?.inputs ?? [])], output: e?.group.output ?? r.output };
      const inSizes = [...front.inSizes, ...epilogueInputSizes(e?.epilogue, r.call.outShape)];
      const op = r.call.op;
      const loads = prologue ? fusedExpression(prologue.group, plan.steps) : image && im2colExpression(image.call.inShapes[0], windowAttrs(image.call));
      const kernels = op === 'im2col' || op === 'col2im' ? { kernel: windowKernels[op](r.call, e?.epilogue) } : reduceKernels(r.call, loads, e?.epilogue);
      const last = e ? e.group.steps[e.group.steps.length - 1] : at;
      const what = `${op}${prologue ? ' +prologue' : ''}${image ? ' +im2col' : ''}${e ? ' +epilogue' : ''} ${shapeText(r.call.outShape)}`;
      this.fused.set(prologue?.group.steps[0] ?? at, { last, dispatch: { what, step, kernels, inSizes, outSize: numel(r.call.outShape) } });
    };
    // (a col2im that a matmul replaced, with its epilogue, is not dispatched: see ./fold.ts)
    const rewritten = new Set(folds.rewrites.map((r) => r.step));
    for (const at of new Set([...prologueOf.keys(), ...epilogueOf.keys(), ...windowOf.keys()])) if (!rewritten.has(at)) withEpilogue(at);
    for (const norms of normGroups) {
      const tensors = norms.map((n) => n.group.inputs[0]);
      const results = norms.map((n) => plan.steps[n.reduce].output);
      const sizes = tensors.map((t) => numel(t.shape));
      const step = { ...plan.steps[norms[0].reduce], inputs: [...tensors.map((t) => t.buffer), ...results], output: results[0] };
      const dispatch = { what: `norms of ${norms.length} tensors`, step, kernels: sumSquaresKernels(sizes), inSizes: [...sizes, ...results.map(() => 1)], outSize: 1 };
      this.fused.set(norms[0].group.steps[0], { last: norms[norms.length - 1].reduce, dispatch });
    }
    for (const steps of planUpdateGroups(plan, { maxStorageBuffers })) {
      const updates = steps.map((i) => plan.steps[i]);
      const kernels = { kernel: groupedUpdateKernel(updates.map((u) => u.call)) };
      const inSizes = updates.flatMap((u) => u.inputs.map(() => numel(u.call.outShape)));
      const step = { ...updates[0], inputs: updates.flatMap((u) => u.inputs) };
      this.fused.set(steps[0], { last: steps[steps.length - 1], dispatch: { what: `updates of ${steps.length} tensors`, step, kernels, inSizes, outSize: 0 } });
    }
    for (const r of folds.rewrites) {
      const inShapes = [r.aShape, r.bShape];
      // (B bound as the image where it is the image's columns)
      const inSizes = [numel(r.aShape), numel(r.bColumns?.image ?? r.bShape), ...epilogueInputSizes(r.epilogue, r.outShape), ...(r.sumsSize ? [r.sumsSize] : [])];
      const step = { ...plan.steps[r.step], call: { op: 'matmul', attrs: {}, inShapes, outShape: r.outShape }, inputs: r.inputs, output: r.output };
      const what = `matmul${r.aFilter ? ' +flipped filter' : ''}${r.bColumns ? ' +im2col' : ''}${r.epilogue ? ' +epilogue' : ''}${r.sums ? ' +sums' : ''} ${shapeText(r.outShape)}`;
      this.folded.set(r.step, { what, step, kernels: matmulStepKernels(r, this.backend.matmulTuning), inSizes, outSize: numel(r.outShape), matmul: r });
    }
    for (const t of folds.skipped) this.folded.set(t, null);

    // Neighbouring matmuls that do not depend on each other, as one dispatch: the first's in its place, the second's
    // dropped.
    const order: [number, StepDispatch][] = [];
    this.forEachDispatch(0, plan.updateStart, (d, at) => order.push([at, d]));
    const candidates = order.map(([, d]) => {
      const sums = d.matmul && !('op' in d.matmul) && d.matmul.sums ? 1 : 0;
      const inputs = d.step.inputs;
      const matmul = d.matmul && 'kernel' in d.kernels ? `tile ${matmulLayout(d.matmul).tile}` : undefined;
      return { ...(matmul ? { matmul } : {}), reads: inputs.slice(0, inputs.length - sums), writes: [...inputs.slice(inputs.length - sums), d.step.output] };
    });
    for (const [x, y] of planPairs(candidates, maxStorageBuffers)) {
      const [[at, first], [skip, second]] = [order[x], order[y]];
      this.folded.set(at, {
        what: `${first.what} & ${second.what}`,
        step: { ...first.step, inputs: [first, second].flatMap((d) => [...d.step.inputs, d.step.output]) },
        kernels: { kernel: matmulPairKernel(first.matmul!, second.matmul!, this.backend.matmulTuning) },
        inSizes: [first, second].flatMap((d) => [...d.inSizes, d.outSize]),
        outSize: first.outSize,
      });
      this.folded.set(skip, null);
    }
  }

  private buffer(i: number): GPUBuffer {
    const b = this.buffers[i];
    if (!b) throw new Error(`buffer ${i} of the plan is never used`);
    return b;
  }

  /** Binds a dispatch's kernels to its buffers; a split step's two to a scratch buffer of its own between them. */
  private bind({ step, kernels, inSizes, outSize }: StepDispatch): BoundStep {
    const storage = step.inputs.map((b, k) => ({ buffer: this.buffer(b), bytes: bytesOf(inSizes[k]) }));
    const output = { buffer: this.buffer(step.output), bytes: bytesOf(outSize) };
    if ('kernel' in kernels) {
      if (kernels.kernel.bindOutput !== false) storage.push(output);
      return this.backend.bindKernel(kernels.kernel, storage, this.context);
    }
    const scratch = { buffer: this.keep(this.backend.createStorage(kernels.scratch, `the partial results of a split ${step.call.op}`)), bytes: bytesOf(kernels.scratch) };
    const own = storage.length - (kernels.joinReads ?? 0);
    return {
      ...this.backend.bindKernel(kernels.parts, [...storage.slice(0, own), scratch], this.context),
      next: this.backend.bindKernel(kernels.join, [scratch, ...storage.slice(own), ...(kernels.join.bindOutput === false ? [] : [output])]),
    };
  }

  setInput(name: string, data: FloatArray): void {
    const input = this.plan.inputs.get(name);
    if (!input) return;
    const size = this.plan.buffers[input.buffer].size;
    if (data.length !== size) throw new Error(`input ${name}: ${data.length} values for a buffer of ${size}`);
    this.backend.write(this.buffer(input.buffer), data);
  }

  /** Encodes the steps (all, or the compute or update part) into one command buffer and submits it. */
  run(ctx: RunContext, phase: Phase = 'all'): void {
    const from = phase === 'update' ? this.plan.updateStart : 0;
    const to = phase === 'compute' ? this.plan.updateStart : this.own.length;
    this.submit(ctx, from, to);
  }

  /**
   * Encodes steps [from, to) into one command buffer and submits it; with `between`, that is called with the
   * encoder after the steps before `between.at` and before the rest (two compute passes in the one command buffer).
   */
  private submit(ctx: RunContext, from: number, to: number, between?: { at: number; encode: (enc: GPUCommandEncoder) => void }): void {
    const device = this.backend.device;
    this.writeContext(ctx);
    const enc = device.createCommandEncoder();
    const encodePass = (a: number, b: number) => {
      if (a >= b) return;
      const pass = enc.beginComputePass();
      let pipeline: GPUComputePipeline | undefined;
      this.forEachDispatch(a, b, ({ bound }) => {
        pipeline = encode(pass, bound!, pipeline);
        if (bound!.next) pipeline = encode(pass, bound!.next, pipeline);
      });
      pass.end();
    };
    if (between) {
      const at = Math.min(Math.max(between.at, from), to);
      encodePass(from, at);
      between.encode(enc);
      encodePass(at, to);
    } else encodePass(from, to);
    device.queue.submit([enc.finish()]);
  }

  /**
   * The dispatches of steps [a, b): each step's own, a fused group's in place of its steps, a folded matmul's. The
   * ranges run are the whole plan or a phase, which hold every group and fold whole (step by step: `stepwise`).
   */
  private forEachDispatch(a: number, b: number, fn: (s: StepDispatch, at: number) => void): void {
    for (let i = a; i < b; i++) {
      const at = i;
      let s = this.own[i];
      const f = this.fused.get(i);
      if (f && f.last < b) [s, i] = [f.dispatch, f.last];
      else if (this.folded.has(i)) s = this.folded.get(i)!;
      if (s) fn(s, at);
    }
  }

  private writeContext(ctx: RunContext): void {
    if (!this.usesContext) return;
    const w = contextWords(ctx);
    this.backend.device.queue.writeBuffer(this.context, 0, w.buffer, w.byteOffset, w.byteLength);
  }

  /**
   * A run of the whole plan with each dispatch timed by the GPU: what each computes and its nanoseconds, in order.
   * Every dispatch runs in a compute pass of its own, timed at the pass's start and end, so it needs a device with
   * the timestamp-query feature (./gpu.ts's timingDevice); for the bench's profile of a step (its passes add barriers
   * of their own), not for training.
   */
  async profile(ctx: RunContext): Promise<{ what: string; ns: number }[]> {
    const device = this.backend.device;
    const timed: { what: string; bound: BoundKernel }[] = [];
    this.forEachDispatch(0, this.own.length, ({ what, bound }) => {
      timed.push({ what, bound: bound! });
      if (bound!.next) timed.push({ what: `${what} (join)`, bound: bound!.next });
    });
    const count = 2 * timed.length;
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolved = device.createBuffer({ size: count * 8, usage: RESOLVED });
    const staging = device.createBuffer({ size: count * 8, usage: READBACK });
    this.writeContext(ctx);
    const enc = device.createCommandEncoder();
    timed.forEach(({ bound }, i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      encode(pass, bound, undefined);
      pass.end();
    });
    enc.resolveQuerySet(querySet, 0, count, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, staging, 0, count * 8);
    device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(MAP_READ);
      const t = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      throwGpuErrors();
      return timed.map(({ what }, i) => ({ what, ns: Number(t[2 * i + 1] - t[2 * i]) }));
    } catch (e) {
      throw e instanceof StudioError ? e : readFailure(e);
    } finally {
      for (const b of [staging, resolved]) b.destroy();
      querySet.destroy();
    }
  }

  /** How many dispatches a run of the whole plan makes (the bench reports it). */
  dispatches(): number {
    let n = 0;
    this.forEachDispatch(0, this.own.length, (s) => (n += 'kernel' in s.kernels ? 1 : 2));
    return n;
  }

  read(output: string): Promise<Float32Array> {
    const o = this.plan.outputs.get(output);
    if (!o) throw new Error(`the plan has no output ${output}`);
    return this.backend.readBuffer(this.buffer(o.buffer), numel(o.shape));
  }

  /**
   * Runs every step in one command buffer that also copies these outputs, between the compute steps and the
   * updates, into a staging buffer of the collector's ring, and maps that asynchronously: see
   * Executable.runAndCollect. Nothing here waits on the device.
   */
  runAndCollect(ctx: RunContext, outputs: readonly string[]): Promise<Float32Array[]> {
    const c = this.collector(outputs);
    const device = this.backend.device;
    const staging = c.free.pop() ?? device.createBuffer({ size: c.bytes, usage: READBACK });
    this.submit(ctx, 0, this.own.length, {
      at: this.plan.updateStart,
      encode: (enc) => {
        for (const p of c.parts) if (p.elements) enc.copyBufferToBuffer(p.buffer, 0, staging, p.offset * 4, p.elements * 4);
      },
    });
    return staging.mapAsync(MAP_READ).then(
      () => {
        const all = new Float32Array(staging.getMappedRange().slice(0));
        staging.unmap();
        if (this.disposed) staging.destroy();
        else c.free.push(staging);
        throwGpuErrors();
        return c.parts.map((p) => all.subarray(p.offset, p.offset + p.elements));
      },
      (e: unknown) => {
        staging.destroy();
        throw readFailure(e);
      },
    );
  }

  private collector(outputs: readonly string[]): Collector {
    const key = outputs.join('\n');
    let c = this.collectors.get(key);
    if (!c) {
      let offset = 0;
      const parts = outputs.map((name) => {
        const o = this.plan.outputs.get(name);
        if (!o) throw new Error(`the plan has no output ${name}`);
        const part = { buffer: this.buffer(o.buffer), elements: numel(o.shape), offset };
        offset += part.elements;
        return part;
      });
      this.collectors.set(key, (c = { parts, bytes: bytesOf(offset), free: [] }));
    }
    return c;
  }

  /**
   * Runs the plan as given one step at a time, reading each value back: where this executable fuses, on an
   * unfused one of its own (made at the first call, sharing the persistent tensors), given this one's inputs.
   */
  async findNonFinite(ctx: RunContext): Promise<PlanStep | null> {
    const exe = this.fuses ? (this.stepwise ??= new WebGpuExecutable(this.backend, this.given, { fuse: false })) : this;
    if (exe !== this) {
      const enc = this.backend.device.createCommandEncoder();
      for (const [name, { buffer }] of this.plan.inputs) {
        const bytes = this.plan.buffers[buffer].size * 4;
        if (bytes) enc.copyBufferToBuffer(this.buffer(buffer), 0, exe.buffer(exe.plan.inputs.get(name)!.buffer), 0, bytes);
      }
      this.backend.device.queue.submit([enc.finish()]);
    }
    for (let i = 0; i < exe.plan.updateStart; i++) {
      exe.submit(ctx, i, i + 1);
      const step = exe.plan.steps[i];
      const values = await this.backend.readBuffer(exe.buffer(step.output), numel(step.call.outShape));
      if (values.some((v) => !Number.isFinite(v))) return step;
    }
    return null;
  }
}
