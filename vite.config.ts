import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * The renderer (issue 3): root `renderer/`, built to `dist/renderer` with relative asset URLs (`base: './'`), so the
 * same bundle loads from a file in Electron and under the web server's `/TOKEN/` path. The engine's pure modules
 * (catalogue, graph expansion, project files, protocol) are bundled from `engine/` as they are.
 */
export default defineConfig({
  root: here('./renderer'),
  base: './',
  plugins: [svelte({ configFile: here('./svelte.config.js') })],
  build: {
    outDir: here('./dist/renderer'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 2048,
    // Rolldown's report of slow plugin callbacks is noise for a small app (the Svelte compiler is most of it).
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    host: '127.0.0.1',
    fs: { allow: [here('.')] },
  },
});
