// `npm run web -- [--workspace DIR] [--port N] [--no-open] [--open FILE] [--data-dir DIR]`: builds what is out of
// date, then serves the app on 127.0.0.1 and prints its URL (electron/web/server.ts).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildAll } from './build.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
try {
  await buildAll({ ifStale: true, quiet: true });
} catch (e) {
  console.error(`npm run web: the build failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
const { main } = await import(pathToFileURL(join(root, 'dist', 'web', 'server.mjs')).href);
await main(process.argv.slice(2));
