import type { Backend, Executable, Phase } from '../backend';
import type { FloatArray, RunContext } from '../kernel';
import type { Plan, PlanStep } from '../../plan/plan';
import { cpuKernelFor, type CpuKernel } from './kernels';
import { updateKernels } from './update-kernels';

/**
 * Runs plans on typed arrays in this thread: float32 for training, float64 for gradient checks (central
 * differences need the precision).
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  private readonly tensors = new Map<string, FloatArray>();

  constructor(readonly precision: 'f32' | 'f64' = 'f32') {}

  alloc(size: number): FloatArray {
    return this.precision === 'f64' ? new Float64Array(size) : new Float32Array(size);
  }

  persistent(name: string, size: number): FloatArray {
    let t = this.tensors.get(name);
    if (!t) this.tensors.set(name, (t = this.alloc(size)));
    if (t.length !== size) throw new Error(`tensor ${name} has ${t.length} elements, a plan expects ${size}`);
    return t;
  }

  load(plan: Plan): CpuExecutable {
    return new CpuExecutable(this, plan);
  }

  writeTensor(name: string, data: FloatArray): void {
    const t = this.tensors.get(name);
    if (t && t.length === data.length) t.set(data);
    else {
      const fresh = this.alloc(data.length);
      fresh.set(data);
      this.tensors.set(name, fresh);
    }
  }

  readTensor(name: string): Promise<Float32Array> {
    return Promise.resolve(Float32Array.from(this.readTensorSync(name)));
  }

  /** A copy of a persistent tensor, in the backend's precision. */
  readTensorSync(name: string): FloatArray {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no tensor named ${name}`);
    return t.slice();
  }

  hasTensor(name: string): boolean {
    return this.tensors.has(name);
  }

  tensorNames(): string[] {
    return [...this.tensors.keys()];
  }

  dispose(): void {
    this.tensors.clear();
  }
}

interface BoundStep {
  kernel: CpuKernel;
  ins: FloatArray[];
  out: FloatArray;
  call: PlanStep['call'];
  step: PlanStep;
}

export class CpuExecutable implements Executable {
  private readonly buffers: FloatArray[];
  private readonly bound: BoundStep[];

  constructor(
    backend: CpuBackend,
    readonly plan: Plan,
  ) {
    this.buffers = plan.buffers.map((b) => {
      if (b.role === 'persistent') return backend.persistent(b.name!, b.size);
      const buf = backend.alloc(b.size);
      if (b.role === 'const') buf.set(b.value!);
      return buf;
    });
    // One view per buffer and size, shared by the steps that use it: fewer objects for a step to reach.
    const views = new Map<string, FloatArray>();
    const view = (buffer: number, size: number) => {
      const key = `${buffer}:${size}`;
      let v = views.get(key);
      if (!v) {
        const whole = this.buffers[buffer];
        views.set(key, (v = size === whole.length ? whole : whole.subarray(0, size)));
      }
      return v;
    };
    const sizeOf = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
    this.bound = plan.steps.map((step, i) => {
      const kernel = i < plan.updateStart ? cpuKernelFor(step.call) : updateKernels[step.call.op];
      if (!kernel) throw new Error(`the CPU backend has no kernel for ${step.call.op}`);
      const isUpdate = i >= plan.updateStart;
      const outSize = sizeOf(step.call.outShape);
      return {
        kernel,
        call: step.call,
        step,
        out: view(step.output, outSize),
        ins: step.inputs.map((b, k) => view(b, isUpdate ? outSize : sizeOf(step.call.inShapes[k]))),
      };
    });
  }

  setInput(name: string, data: FloatArray): void {
    const input = this.plan.inputs.get(name);
    if (!input) return;
    const buf = this.buffers[input.buffer];
    if (data.length !== buf.length) throw new Error(`input ${name}: ${data.length} values for a buffer of ${buf.length}`);
    buf.set(data);
  }

  run(ctx: RunContext, phase: Phase = 'all'): void {
    const from = phase === 'update' ? this.plan.updateStart : 0;
    const to = phase === 'compute' ? this.plan.updateStart : this.bound.length;
    for (let i = from; i < to; i++) {
      const b = this.bound[i];
      b.kernel(b.ins, b.out, b.call, ctx);
    }
  }

  read(output: string): Promise<Float32Array> {
    return Promise.resolve(Float32Array.from(this.readSync(output)));
  }

  /** A copy of an output, in the backend's precision. */
  readSync(output: string): FloatArray {
    const o = this.plan.outputs.get(output);
    if (!o) throw new Error(`the plan has no output ${output}`);
    return this.buffers[o.buffer].slice(0, o.shape.reduce((a, d) => a * d, 1));
  }

  findNonFinite(ctx: RunContext): Promise<PlanStep | null> {
    for (let i = 0; i < this.plan.updateStart; i++) {
      const b = this.bound[i];
      b.kernel(b.ins, b.out, b.call, ctx);
      if (b.out.some((v) => !Number.isFinite(v))) return Promise.resolve(b.step);
    }
    return Promise.resolve(null);
  }
}
