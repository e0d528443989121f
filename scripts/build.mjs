// `npm run build`: bundles the shell with esbuild and builds the renderer with Vite, into dist/:
//
//   dist/electron/main.cjs     Electron's main process (only `electron` external)
//   dist/electron/preload.cjs  the sandboxed preload (one file, only `electron` external)
//   dist/host/main.cjs         the engine host (utility process in Electron, child process in web mode)
//   dist/web/server.mjs        web mode's server (`npm run web`)
//   dist/renderer/             the renderer (`vite build`, vite.config.ts)
//
// Options: --if-stale (skip the renderer when dist/renderer is newer than its sources), --no-renderer.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const bundles = [
  { entry: 'electron/main.ts', out: 'dist/electron/main.cjs', format: 'cjs', target: 'node22', external: ['electron'] },
  { entry: 'electron/preload.ts', out: 'dist/electron/preload.cjs', format: 'cjs', target: 'node22', external: ['electron'] },
  // `webgpu` loads Dawn's native dawn.node and onnxruntime-node its native binding: they stay packages of
  // node_modules (unpacked from the asar).
  { entry: 'engine/host/main.ts', out: 'dist/host/main.cjs', format: 'cjs', target: 'node20', external: ['webgpu', 'onnxruntime-node'] },
  {
    entry: 'electron/web/server.ts',
    out: 'dist/web/server.mjs',
    format: 'esm',
    target: 'node20',
    // ws's optional native speed-ups; it runs without them.
    external: ['bufferutil', 'utf-8-validate'],
    // CommonJS dependencies (ws) bundled into ESM still call require() for Node's modules.
    banner: "import { createRequire as __bpsCreateRequire } from 'node:module'; const require = __bpsCreateRequire(import.meta.url);",
  },
];

/** The newest modification time under `paths` (files or folders), ignoring node_modules and dist. */
function newest(paths) {
  let t = 0;
  const walk = (p) => {
    let s;
    try {
      s = statSync(p);
    } catch {
      return;
    }
    if (s.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'node_modules' && name !== 'dist' && !name.startsWith('.')) walk(join(p, name));
    } else t = Math.max(t, s.mtimeMs);
  };
  for (const p of paths) walk(join(root, p));
  return t;
}

const SHELL_INPUTS = ['electron', 'engine', 'package.json', 'package-lock.json', 'scripts/build.mjs'];

/** Whether a bundle is older than the sources it is built from (or missing). */
export function bundlesStale() {
  let oldest = Infinity;
  for (const b of bundles) {
    try {
      oldest = Math.min(oldest, statSync(join(root, b.out)).mtimeMs);
    } catch {
      return true;
    }
  }
  return newest(SHELL_INPUTS) > oldest;
}

export async function bundleShell({ quiet = false, ifStale = false } = {}) {
  if (ifStale && !bundlesStale()) {
    if (!quiet) console.log('build: dist/electron, dist/host and dist/web are up to date.');
    return;
  }
  for (const b of bundles) {
    await build({
      absWorkingDir: root,
      entryPoints: [b.entry],
      outfile: b.out,
      bundle: true,
      platform: 'node',
      format: b.format,
      target: b.target,
      external: b.external,
      sourcemap: 'linked',
      legalComments: 'none',
      logLevel: quiet ? 'error' : 'warning',
      ...(b.banner ? { banner: { js: b.banner } } : {}),
    });
  }
  if (!quiet) console.log(`build: bundled ${bundles.map((b) => b.out).join(', ')}`);
}

const RENDERER_INPUTS = ['renderer', 'engine', 'vite.config.ts', 'svelte.config.js', 'package.json'];

/** Whether dist/renderer is older than what it is built from. */
export function rendererStale() {
  const index = join(root, 'dist', 'renderer', 'index.html');
  if (!existsSync(index)) return true;
  return newest(RENDERER_INPUTS) > statSync(index).mtimeMs;
}

/** Runs `vite build`; returns false (with one clear line) when the renderer has no Vite config yet. */
export function buildRenderer({ ifStale = false, quiet = false } = {}) {
  if (!existsSync(join(root, 'vite.config.ts'))) {
    console.log('build: no vite.config.ts yet, so the renderer is not built (web mode answers 503 until dist/renderer exists).');
    return false;
  }
  if (ifStale && !rendererStale()) {
    if (!quiet) console.log('build: dist/renderer is up to date.');
    return true;
  }
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  // Always a production build: under vitest NODE_ENV is 'test', which would make Svelte build in development mode.
  const r = spawnSync(process.execPath, [vite, 'build', ...(quiet ? ['--logLevel', 'warn'] : [])], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (r.status !== 0) throw new Error(`vite build failed (exit code ${r.status})`);
  return true;
}

/**
 * The Electron executable when it is installed, else null. Reads what `require('electron')` reads (the package's
 * path.txt and dist/, or ELECTRON_OVERRIDE_DIST_PATH) without requiring it: its index.js downloads the binary when
 * it is missing, which `npm start` must not do.
 */
export function electronBinary(packageDir = join(root, 'node_modules', 'electron'), env = process.env) {
  let rel = null;
  try {
    rel = readFileSync(join(packageDir, 'path.txt'), 'utf8').trim() || null;
  } catch {
    rel = null;
  }
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = join(env.ELECTRON_OVERRIDE_DIST_PATH, rel || 'electron');
    return existsSync(p) ? p : null;
  }
  if (!rel) return null;
  const p = join(packageDir, 'dist', rel);
  return existsSync(p) ? p : null;
}

export async function buildAll({ ifStale = false, renderer = true, quiet = false } = {}) {
  await bundleShell({ quiet, ifStale });
  if (renderer) buildRenderer({ ifStale, quiet });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  try {
    await buildAll({ ifStale: args.includes('--if-stale'), renderer: !args.includes('--no-renderer'), quiet: args.includes('--quiet') });
  } catch (e) {
    console.error(`build: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
