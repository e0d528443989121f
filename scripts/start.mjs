// `npm start`: builds what is out of date, then starts the desktop app on examples/spiral.bpstudio. Where
// Electron's binary is missing (it is downloaded separately, and some machines cannot), it says so in one line and
// starts web mode instead, printing the URL.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildAll, electronBinary } from './build.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const args = process.argv.slice(2);
try {
  await buildAll({ ifStale: true, quiet: true });
} catch (e) {
  console.error(`npm start: the build failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

const electron = electronBinary(join(root, 'node_modules', 'electron'));
if (electron) {
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  const child = spawn(electron, [join(root, 'dist', 'electron', 'main.cjs'), join(root, 'examples', 'spiral.bpstudio'), ...args], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  console.log("Electron's binary is not installed here (`npx install-electron` fetches it where the network allows); starting web mode instead.");
  const { main } = await import(pathToFileURL(join(root, 'dist', 'web', 'server.mjs')).href);
  await main(['--open', 'spiral.bpstudio', ...args]);
}
