#!/usr/bin/env node
// Prepares a run of `npm run bench -- --backend webgpu` on the project's GPU machine (../shared/docs/gpu.md), which
// has no Node.js packages, everything in .gpu/ (which stays out of git):
//   - the benchmarks bundled into one file, bench.mjs, and the WebGPU conformance suite into another, conformance.mjs
//     (test/conformance/webgpu-runner.ts); the `webgpu` package inside each looks for Dawn at
//     .gpu/dist/linux-x64/dawn.node, next to the bundle; examples/ holds the examples conformance.mjs trains;
//   - dawn.node.xz (Dawn), node.xz (this Node), gl/*.deb (the Vulkan loader and glvnd, amd64, from Debian's mirror)
//     and torch_peer.py (../shared/bench): gpu.md's "Prepare" steps; node.xz and the debs are kept once made.
// Then, with `carry: [".gpu"]`, on the device:
//   for f in .gpu/gl/*.deb; do dpkg -x $f /; done; ldconfig
//   xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node
//   mkdir -p .gpu/dist/linux-x64 && xz -dc .gpu/dawn.node.xz > .gpu/dist/linux-x64/dawn.node
//   icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; [ -f $icd ] && export VK_DRIVER_FILES=$icd
//   /tmp/node .gpu/bench.mjs --backend webgpu; /tmp/node .gpu/conformance.mjs; python3 .gpu/torch_peer.py
// (VK_DRIVER_FILES: gpu.md's remedy for Dawn finding no adapter there, set up front to save a second call.)
// Options: --out DIR writes elsewhere than .gpu; --bundles-only makes the two bundles alone
// (test/integration/gpu-bundle.test.ts, which links Dawn from node_modules).
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
for (const f of ['spiral.bpstudio', 'digits.bpstudio', 'digit-images.bpstudio', join('data', 'digits.csv'), join('data', 'digit-images')]) {
  cpSync(join(root, 'examples', f), join(out, 'examples', f), { recursive: true });
}
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
console.log(`${out} is ready: see the comment at the top of this script for the device command`);
