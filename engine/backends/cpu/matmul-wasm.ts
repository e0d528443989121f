import { GemmThreads, defaultWorkers, type Gemm } from './gemm-threads';
import { MATMUL_WASM_BASE64, MATMUL_WASM_SHARED_BASE64, MR, NR, SHARED_MAX_PAGES } from './matmul-wasm.generated';

/**
 * Products of at least this many multiply-adds (m k n, m rounded up to the kernel's rows) are split over the worker
 * threads: about 0.2 ms on one core, against a hand-over of tens of microseconds.
 */
export const THREADS_FROM = 1 << 22;

/**
 * The float32 matmul through the WebAssembly SIMD kernel of `matmul-wasm.generated.ts` (source and layout:
 * scripts/gen-wasm.mjs). Operands are copied into the module's memory, which grows to the largest problem seen and
 * is reused: a call allocates no buffer unless it grows it. Each output is the float32 sum over p in increasing
 * order of the rounded products A[i,p] B[p,j], the same on every machine and in every run; NaN and infinities
 * propagate as in any IEEE sum (no term is skipped). Where the runtime has worker threads (Node), the memory is
 * shared and large products are split by rows over them (gemm-threads.ts), with the same result bit for bit.
 */
export class WasmMatmul {
  private f32: Float32Array;

  private constructor(
    private readonly exports: KernelExports,
    private readonly pool: GemmThreads | null,
  ) {
    this.f32 = new Float32Array(exports.memory.buffer);
  }

  /**
   * The kernel, or null where WebAssembly SIMD is not available (callers then use the JavaScript loop); `workers`
   * threads besides the caller's (default: defaultWorkers(), one fewer than the cores), none where the runtime has
   * no worker threads or shared memory.
   */
  static load(options: { workers?: number } = {}): WasmMatmul | null {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm) return null;
    const workers = options.workers ?? defaultWorkers();
    if (workers > 0) {
      try {
        const memory = new wasm.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true });
        const module = new wasm.Module(decodeBase64(MATMUL_WASM_SHARED_BASE64));
        const instance = new wasm.Instance(module, { env: { memory } });
        const pool = GemmThreads.start(module, memory, workers);
        if (pool) return new WasmMatmul(instance.exports as KernelExports, pool);
      } catch {
        // no shared memory here (a browser page that is not cross-origin isolated): one thread
      }
    }
    try {
      const instance = new wasm.Instance(new wasm.Module(decodeBase64(MATMUL_WASM_BASE64)), {});
      return new WasmMatmul(instance.exports as KernelExports, null);
    } catch {
      return null;
    }
  }

  /** Threads a large product runs on (the caller's included). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** How many products have been split over the worker threads so far. */
  get threadedCalls(): number {
    return this.pool?.calls ?? 0;
  }

  /** Ends the worker threads (tests). */
  async stop(): Promise<void> {
    await this.pool?.stop();
  }

  /**
   * C[t] = A[t] B[t] for each batch t: A[t] is the m x k matrix at `a` + `aAt[t]` m k, B[t] the k x n matrix at
   * `b` + `bAt[t]` k n, C[t] at `c` + t m n. A B reused by consecutive batches is packed once.
   */
  matmul(
    a: Float32Array,
    aAt: ArrayLike<number>,
    b: Float32Array,
    bAt: ArrayLike<number>,
    c: Float32Array,
    m: number,
    k: number,
    n: number,
  ): void {
    const batches = aAt.length;
    if (m === 0 || n === 0 || batches === 0) return;
    if (k === 0) {
      c.fill(0, 0, batches * m * n);
      return;
    }
    const mp = Math.ceil(m / MR) * MR;
    const np = Math.ceil(n / NR);
    const ldc = np * NR;
    // Byte offsets of the regions, 64-byte aligned: A (mp x k), B as given (k n), packed B (np panels of k x NR), C.
    const aAddr = 0;
    const bAddr = align(aAddr + 4 * mp * k);
    const pAddr = align(bAddr + 4 * k * n);
    const cAddr = align(pAddr + 4 * NR * np * k);
    this.reserve(cAddr + 4 * mp * ldc);
    const mem = this.f32;
    const x = this.exports;
    let packed = -1;
    for (let t = 0; t < batches; t++) {
      const bt = bAt[t];
      if (bt !== packed) {
        copyInto(mem, bAddr / 4, b, bt * k * n, k * n);
        x.pack_b(bAddr, k, n, pAddr);
        packed = bt;
      }
      copyInto(mem, aAddr / 4, a, aAt[t] * m * k, m * k);
      if (this.pool && mp * k * n >= THREADS_FROM) {
        this.pool.gemm(x.gemm, aAddr, pAddr, cAddr, mp, k, np, ldc, MR);
      } else x.gemm(aAddr, pAddr, cAddr, mp, k, np, ldc);
      if (ldc !== n) x.compact(cAddr, m, n, ldc);
      copyInto(c, t * m * n, mem, cAddr / 4, m * n);
    }
  }

  /** dst[cols, rows] = src[rows, cols]^T for `batches` consecutive matrices. */
  transpose(src: Float32Array, dst: Float32Array, batches: number, rows: number, cols: number): void {
    const size = rows * cols;
    const dAddr = align(4 * size);
    this.reserve(dAddr + 4 * size);
    for (let t = 0; t < batches; t++) {
      copyInto(this.f32, 0, src, t * size, size);
      this.exports.transpose(0, rows, cols, dAddr);
      copyInto(dst, t * size, this.f32, dAddr / 4, size);
    }
  }

  private reserve(bytes: number): void {
    const have = this.exports.memory.buffer.byteLength;
    if (bytes <= have) return;
    if (bytes > 2 ** 32) throw new Error(`the float32 kernel needs ${bytes} bytes, more than WebAssembly memory can hold`);
    this.exports.memory.grow(Math.ceil((bytes - have) / 65536));
    this.f32 = new Float32Array(this.exports.memory.buffer);
  }
}

const align = (bytes: number) => Math.ceil(bytes / 64) * 64;

/** dst[dOff .. dOff + len) = src[sOff .. sOff + len), without a view when src is exactly that range. */
function copyInto(dst: Float32Array, dOff: number, src: Float32Array, sOff: number, len: number): void {
  dst.set(sOff === 0 && src.length === len ? src : src.subarray(sOff, sOff + len), dOff);
}

function decodeBase64(s: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of clean) {
    value = (value << 6) | alphabet.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

interface KernelExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  gemm: Gemm;
  pack_b(src: number, k: number, n: number, dst: number): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  compact(c: number, m: number, n: number, ldc: number): void;
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => object;
}
