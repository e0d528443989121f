/**
 * Worker threads for the float32 matmul: each holds its own instance of the WebAssembly kernel over the one shared
 * memory (matmul-wasm.ts puts the operands there), and runs the `gemm` of a block of rows on request. A call of
 * `gemm` here gives each worker a block, runs the last block itself, and waits for the others: the call stays
 * synchronous, as the CPU backend's steps are. Rows are independent and each is computed by the same code whatever
 * the blocking, so the result is bit for bit the single-threaded one.
 *
 * Requests go through a shared Int32Array, a slot of SLOT words per worker: the request's sequence number and
 * arguments, the number of the last request done and whether it failed. Atomics.wait and Atomics.notify hand them
 * over, without the event loop (which a synchronous call blocks). Node only (worker_threads); elsewhere there are
 * no threads and matmul-wasm.ts runs single-threaded.
 */

/** Words per worker slot (64 bytes: one cache line, so that workers do not share one). */
const SLOT = 16;
const SEQ = 0;
const DONE = 1;
const FAILED = 2;
const ARGS = 3;
/** A worker that has not answered a request in this long is taken to be gone. */
const TIMEOUT_MS = 60_000;
/** The most workers started, whatever the machine. */
const MAX_WORKERS = 15;

/** The worker's loop (CommonJS, evaluated by worker_threads): wait for a request, run it, say it is done. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, slot } = workerData;
const gemm = new WebAssembly.Instance(module, { env: { memory } }).exports.gemm;
let seen = 0;
for (;;) {
  Atomics.wait(control, slot + ${SEQ}, seen);
  seen = Atomics.load(control, slot + ${SEQ});
  if (seen < 0) break;
  const a = (k) => control[slot + ${ARGS} + k];
  try {
    gemm(a(0), a(1), a(2), a(3), a(4), a(5), a(6));
    control[slot + ${FAILED}] = 0;
  } catch {
    control[slot + ${FAILED}] = 1;
  }
  Atomics.store(control, slot + ${DONE}, seen);
  Atomics.notify(control, slot + ${DONE});
}`;

/** The kernel's gemm export: C = A B over row-major blocks at byte addresses of the shared memory. */
export type Gemm = (a: number, b: number, c: number, m: number, k: number, np: number, ldc: number) => void;

/** The part of Node's worker_threads used here. */
interface WorkerThreads {
  Worker: new (source: string, options: { eval: true; workerData: unknown }) => { unref(): void; terminate(): Promise<number> };
}

/**
 * How many worker threads the matmul uses: BPSTUDIO_CPU_THREADS when set (0: none), else one fewer than the cores
 * Node may use (the calling thread takes a block too), at most MAX_WORKERS.
 */
export function workerCount(env: Readonly<Record<string, string | undefined>>, cores: number): number {
  const set = env.BPSTUDIO_CPU_THREADS;
  if (set !== undefined && /^\d+$/.test(set.trim())) return Math.min(MAX_WORKERS, Number(set.trim()));
  return Math.min(MAX_WORKERS, Math.max(0, cores - 1));
}

/** worker_threads and the core count, where this runtime has them (Node), else undefined. */
function nodeThreads(): { threads: WorkerThreads; cores: number; env: Record<string, string | undefined> } | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> } }).process;
  const get = proc?.getBuiltinModule;
  if (typeof get !== 'function' || typeof SharedArrayBuffer === 'undefined') return undefined;
  const threads = get('node:worker_threads') as WorkerThreads | undefined;
  const os = get('node:os') as { availableParallelism(): number } | undefined;
  return threads && os ? { threads, cores: os.availableParallelism(), env: proc?.env ?? {} } : undefined;
}

/** The worker count this process uses by default (0 where there are no worker threads). */
export function defaultWorkers(): number {
  const node = nodeThreads();
  return node ? workerCount(node.env, node.cores) : 0;
}

export class GemmThreads {
  private readonly control: Int32Array;
  private readonly workers: { unref(): void; terminate(): Promise<number> }[] = [];
  private seq = 0;

  /**
   * `workers` threads, each instantiating `module` (the kernel that imports env.memory) over `memory`; null where
   * this runtime has no worker threads.
   */
  static start(module: object, memory: object, workers: number): GemmThreads | null {
    const node = nodeThreads();
    if (!node || workers < 1) return null;
    return new GemmThreads(node.threads, module, memory, workers);
  }

  private constructor(threads: WorkerThreads, module: object, memory: object, count: number) {
    this.control = new Int32Array(new SharedArrayBuffer(4 * SLOT * count));
    for (let w = 0; w < count; w++) {
      const worker = new threads.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control: this.control, slot: w * SLOT } });
      // Idle workers do not keep the process alive.
      worker.unref();
      this.workers.push(worker);
    }
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** How many products have been split over the workers so far. */
  get calls(): number {
    return this.seq;
  }

  /**
   * The kernel's gemm(a, b, c, m, k, np, ldc) (m a multiple of `mr`; A's rows are k floats, C's ldc) over row
   * blocks of a multiple of `mr` rows: one per worker while rows are left, the rest on this thread (`gemm`, this
   * thread's instance of the kernel), then waits for the workers.
   */
  gemm(gemm: Gemm, a: number, b: number, c: number, m: number, k: number, np: number, ldc: number, mr: number): void {
    const rows = Math.ceil(m / mr / this.threads) * mr;
    const seq = ++this.seq;
    const posted: number[] = [];
    for (let w = 0; w < this.workers.length; w++) {
      const r0 = w * rows;
      const n = Math.min(rows, m - r0);
      if (n <= 0) break;
      const slot = w * SLOT;
      this.control.set([a + 4 * r0 * k, b, c + 4 * r0 * ldc, n, k, np, ldc], slot + ARGS);
      Atomics.store(this.control, slot + SEQ, seq);
      Atomics.notify(this.control, slot + SEQ);
      posted.push(slot);
    }
    const own = posted.length * rows;
    if (own < m) gemm(a + 4 * own * k, b, c + 4 * own * ldc, m - own, k, np, ldc);
    for (const slot of posted) this.await(slot, seq);
  }

  /** Waits until the worker at `slot` has done request `seq`; throws when it failed or does not answer. */
  private await(slot: number, seq: number): void {
    const started = Date.now();
    for (;;) {
      const done = Atomics.load(this.control, slot + DONE);
      if (done === seq) break;
      if (Date.now() - started > TIMEOUT_MS) throw new Error(`a matmul worker thread did not answer in ${TIMEOUT_MS / 1000} s`);
      Atomics.wait(this.control, slot + DONE, done, 1000);
    }
    if (this.control[slot + FAILED]) throw new Error('a matmul worker thread failed (out of memory?)');
  }

  /** Ends the workers (tests; a process's own pool lives as long as it). */
  async stop(): Promise<void> {
    for (let w = 0; w < this.workers.length; w++) {
      Atomics.store(this.control, w * SLOT + SEQ, -1);
      Atomics.notify(this.control, w * SLOT + SEQ);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
