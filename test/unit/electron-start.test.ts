/** `npm start` finds Electron's binary the way `require('electron')` would, without ever starting its download. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { electronBinary } from '../../scripts/build.mjs';

const find = electronBinary as (packageDir: string, env?: Record<string, string>) => string | null;
let pkg: string;
beforeEach(() => {
  pkg = mkdtempSync(join(tmpdir(), 'bps-electron-pkg-'));
});
afterEach(() => rmSync(pkg, { recursive: true, force: true }));

describe("npm start: Electron's binary", () => {
  it('is missing without path.txt (where the download never ran)', () => {
    expect(find(pkg, {})).toBeNull();
  });

  it('is missing when path.txt names a file that is not there', () => {
    writeFileSync(join(pkg, 'path.txt'), 'electron');
    expect(find(pkg, {})).toBeNull();
  });

  it('is found in dist/ as path.txt names it', () => {
    writeFileSync(join(pkg, 'path.txt'), 'electron');
    mkdirSync(join(pkg, 'dist'));
    writeFileSync(join(pkg, 'dist', 'electron'), '');
    expect(find(pkg, {})).toBe(join(pkg, 'dist', 'electron'));
  });

  it('honours ELECTRON_OVERRIDE_DIST_PATH', () => {
    const other = join(pkg, 'custom');
    mkdirSync(other);
    writeFileSync(join(other, 'electron'), '');
    expect(find(pkg, { ELECTRON_OVERRIDE_DIST_PATH: other })).toBe(join(other, 'electron'));
    expect(find(pkg, { ELECTRON_OVERRIDE_DIST_PATH: join(pkg, 'nowhere') })).toBeNull();
  });

  it('is not installed on this machine, and looking does not download it', () => {
    const real = join(__dirname, '..', '..', 'node_modules', 'electron');
    const before = find(real, {});
    expect(typeof before === 'string' || before === null).toBe(true);
  });
});
