#!/usr/bin/env node
// Prepares a run of `npm run bench -- --backend webgpu` on the project's GPU machine (../shared/docs/gpu.md), which
// has no Node.js packages: the benchmarks bundled into one file, .gpu/bench.mjs, and the WebGPU conformance suite
// into another, .gpu/conformance.mjs (test/conformance/webgpu-runner.ts; the `webgpu` package inside each looks for
// Dawn at .gpu/dist/linux-x64/dawn.node, next to the bundle), and Dawn itself compressed as .gpu/dawn.node.xz.
// Node and the Vulkan loader are prepared as gpu.md says. Then, with `carry: [".gpu"]`, on the device:
//   for f in .gpu/gl/*.deb; do dpkg -x $f /; done; ldconfig
//   xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node
//   mkdir -p .gpu/dist/linux-x64 && xz -dc .gpu/dawn.node.xz > .gpu/dist/linux-x64/dawn.node
//   /tmp/node .gpu/bench.mjs --backend webgpu; /tmp/node .gpu/conformance.mjs; python3 .gpu/torch_peer.py
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// --out DIR writes elsewhere than .gpu; --no-dawn leaves Dawn out (test/integration/gpu-bundle.test.ts links it).
const args = process.argv.slice(2);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(root, '.gpu');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { bench: join(root, 'bench', 'run.ts'), conformance: join(root, 'test', 'conformance', 'webgpu-runner.ts') },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  // Bundled CommonJS code calls require(): give the ES module one.
  banner: { js: "import { createRequire as __bpsRequire } from 'module'; const require = __bpsRequire(import.meta.url);" },
  // ONNX Runtime is only imported (dynamically) by the ONNX export's parity check, which no benchmark runs.
  external: ['onnxruntime-node'],
  logLevel: 'warning',
});
if (args.includes('--no-dawn')) process.exit(0);
const dawn = join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node');
if (!existsSync(dawn)) throw new Error(`no ${dawn}: run npm ci first`);
writeFileSync(join(out, 'dawn.node.xz'), execFileSync('xz', ['-T2', '-6', '-c', dawn], { maxBuffer: 1 << 30 }));
console.log(`wrote ${join(out, 'bench.mjs')}, ${join(out, 'conformance.mjs')} and ${join(out, 'dawn.node.xz')}; see the comment at the top of this script for the device command`);
