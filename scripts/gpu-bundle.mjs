#!/usr/bin/env node
// Prepares a run of `npm run bench -- --backend webgpu` on the project's GPU machine (../shared/docs/gpu.md), which
// has no Node.js packages, everything in .gpu/ (which stays out of git):
//   - the benchmarks bundled into one file, bench.mjs, and the WebGPU conformance suite into another, conformance.mjs
//     (test/conformance/webgpu-runner.ts); the `webgpu` package inside each looks for Dawn at
//     .gpu/dist/linux-x64/dawn.node, next to the bundle; examples/ holds the examples conformance.mjs trains;
//   - dawn.node.xz (Dawn), node.xz (this Node), gl/*.deb (the Vulkan loader and glvnd, amd64, from Debian's mirror)
//     and torch_peer.py (../shared/bench): gpu.md's "Prepare" steps; node.xz and the debs are kept once made;
//   - gpu-tables.mjs, which prints the two tables from the call's output;
// and run.sh, the device call's command: `bash .gpu/run.sh` with `carry: [".gpu"]`, timeout_s 600 (see run.sh).
// Options: --out DIR writes elsewhere than .gpu; --bundles-only makes the two bundles alone
// (test/integration/gpu-bundle.test.ts, which links Dawn from node_modules).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** gpu.md's list: the Vulkan loader and the glvnd libraries the NVIDIA driver's Vulkan needs. */
const GL_PACKAGES = ['libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'];
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
// The examples that conformance.mjs trains, with their data.
mkdirSync(join(out, 'examples', 'data'), { recursive: true });
for (const f of ['spiral.bpstudio', 'digits.bpstudio', 'digit-images.bpstudio', 'wine.bpstudio', 'sine.bpstudio', join('data', 'digits.csv'), join('data', 'wine.csv'), join('data', 'digit-images')]) {
  cpSync(join(root, 'examples', f), join(out, 'examples', f), { recursive: true });
}
/**
 * The device call (gpu.md's "Run"): unpacks Node, Dawn and the Vulkan libraries, then runs PyTorch's peer, our
 * benchmarks and the conformance suite one after the other, each bounded so that all three report within the one
 * call's 600 s, each saving its output under $OUT (what comes back as files: the inline tail keeps only 12,000
 * characters), and prints the figures the issue asks for last. Where there is no node.xz (--bundles-only), it runs
 * the `node` on PATH with the Dawn already in dist/ (the test's way).
 */
const RUN_SH = `#!/bin/bash
# The device call: bash .gpu/run.sh (carry [".gpu"], timeout_s 600). Written by scripts/gpu-bundle.mjs.
# BENCH_ARGS: the benchmarks' arguments (default --backend webgpu: all of them); BENCH_S, CONFORMANCE_S: their bounds.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=\${OUT:-$here/out}
mkdir -p "$out"
if [ -f "$here/node.xz" ]; then
  for f in "$here"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  xz -dc "$here/node.xz" > /tmp/node && chmod +x /tmp/node
  node=/tmp/node
  mkdir -p "$here/dist/linux-x64" && xz -dc "$here/dawn.node.xz" > "$here/dist/linux-x64/dawn.node"
else
  node=$(command -v node)
fi
# gpu.md's remedy for Dawn finding no adapter there, set up front to save a second call.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv || true; } > "$out/gpu.txt" 2>&1
if [ -f "$here/torch_peer.py" ]; then
  timeout 120 python3 "$here/torch_peer.py" > "$out/torch.jsonl" 2> "$out/torch.err"
  echo "torch_peer.py exit $?" >> "$out/torch.err"
fi
timeout "\${BENCH_S:-300}" "$node" "$here/bench.mjs" \${BENCH_ARGS:---backend webgpu} > "$out/bench.jsonl" 2> "$out/bench.err"
echo "bench exit $?" >> "$out/bench.err"
timeout "\${CONFORMANCE_S:-150}" "$node" "$here/conformance.mjs" > "$out/conformance.jsonl" 2> "$out/conformance.err"
echo "conformance exit $?" >> "$out/conformance.err"
echo "== $out: gpu.txt torch.jsonl bench.jsonl conformance.jsonl and their .err"
cat "$out/gpu.txt"
[ -f "$out/torch.jsonl" ] && cat "$out/torch.jsonl"
grep -E '"bench":"(matmul|mlp_step|dispatch)"' "$out/bench.jsonl"
tail -n 3 "$out/bench.err"
grep -E '"cases"|"training"' "$out/conformance.jsonl"
tail -n 1 "$out/conformance.err"
echo "== the issue's two tables (scripts/gpu-tables.mjs)"
"$node" "$here/gpu-tables.mjs" "$out"
`;
writeFileSync(join(out, 'run.sh'), RUN_SH);
copyFileSync(join(root, 'scripts', 'gpu-tables.mjs'), join(out, 'gpu-tables.mjs'));
chmodSync(join(out, 'run.sh'), 0o755);
if (args.includes('--bundles-only')) process.exit(0);

const xz = (file) => execFileSync('xz', ['-T2', '-6', '-c', file], { maxBuffer: 1 << 30 });
const dawn = join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node');
if (!existsSync(dawn)) throw new Error(`no ${dawn}: run npm ci first`);
writeFileSync(join(out, 'dawn.node.xz'), xz(dawn));
if (!existsSync(join(out, 'node.xz'))) {
  console.log('compressing this Node into node.xz (about 2 minutes)…');
  writeFileSync(join(out, 'node.xz'), xz(process.execPath));
}
const gl = join(out, 'gl');
if (!existsSync(gl) || readdirSync(gl).filter((f) => f.endsWith('.deb')).length < GL_PACKAGES.length) {
  // amd64 package lists of their own, so that this machine's apt state is left as it is.
  const lists = join(tmpdir(), 'bps-apt-amd64');
  mkdirSync(join(lists, 'partial'), { recursive: true });
  mkdirSync(gl, { recursive: true });
  const apt = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
  execFileSync('apt-get', [...apt, 'update'], { stdio: 'inherit' });
  execFileSync('apt-get', [...apt, 'download', ...GL_PACKAGES], { cwd: gl, stdio: 'inherit' });
}
const peer = join(root, '..', 'shared', 'bench', 'torch_peer.py');
if (existsSync(peer)) {
  rmSync(join(out, 'torch_peer.py'), { force: true }); // the shared copy is read-only, and so is the last one made
  copyFileSync(peer, join(out, 'torch_peer.py'));
}
else console.warn(`no ${peer}: copy torch_peer.py into ${out} by hand`);
console.log(`${out} is ready: run \`bash .gpu/run.sh\` on the device, with carry [".gpu"] (the top of this script says more)`);
