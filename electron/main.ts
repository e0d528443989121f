/**
 * Electron's entry (bundled to dist/electron/main.cjs by scripts/build.mjs). Everything happens in app.ts; this
 * file only says where the bundle lives.
 */
import { appPaths, runApp } from './app';

runApp(appPaths(__dirname));
