import { WasmMatmul } from '../engine/backends/cpu/matmul-wasm';
for (const [m, k, n] of [[128, 784, 256]]) {
  const a = Float32Array.from({ length: m * k }, () => Math.random());
  const b = Float32Array.from({ length: k * n }, () => Math.random());
  const c = new Float32Array(m * n);
  for (const w of [0, 1, 0, 1]) {
    const mm = WasmMatmul.load({ workers: w })!;
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 300; i++) mm.matmul(a, [0], b, [0], c, m, k, n);
    const N = 300; const t = performance.now();
    for (let i = 0; i < N; i++) mm.matmul(a, [0], b, [0], c, m, k, n);
    console.log(`${m}x${k}x${n} workers ${w}: ${((performance.now() - t) / N * 1000).toFixed(0)} us`);
    await mm.stop();
  }
}
