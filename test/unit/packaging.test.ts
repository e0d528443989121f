/**
 * The electron-builder configuration, validated against electron-builder's own schema (the one it checks a
 * configuration with before building), with the targets, the file association and the icons the app needs.
 * Building the installers needs Electron's binaries (`npm run dist` on a machine that can download them).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';

const REPO = join(__dirname, '..', '..');
const config = JSON.parse(readFileSync(join(REPO, 'electron-builder.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const schema = JSON.parse(readFileSync(join(REPO, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));

/** PNG width and height from its IHDR. */
function pngSize(bytes: Buffer): [number, number] {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

describe('packaging (electron-builder)', () => {
  it('the configuration is valid against electron-builder\'s schema', () => {
    // the options electron-builder's own validator compiles the schema with
    const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: true });
    const validate = ajv.compile(schema);
    const ok = validate(structuredClone(config));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('a wrong configuration is caught by the same check', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    expect(validate(structuredClone(config))).toBe(true);
    expect(validate({ ...structuredClone(config), fileAssociations: [{ name: 'no ext' }] })).toBe(false);
    expect(validate({ ...structuredClone(config), notAnOption: true })).toBe(false);
    expect(validate({ ...structuredClone(config), nsis: { perMachine: 'sometimes' } })).toBe(false);
  });

  it("each installer leaves out the other platforms' native binaries of webgpu and onnxruntime-node", () => {
    const others = { mac: ['linux', 'win32'], win: ['darwin', 'linux'], linux: ['darwin', 'win32'] } as const;
    for (const [platform, skip] of Object.entries(others)) {
      const set = `{${skip.join(',')}}`;
      expect(config[platform].files, platform).toEqual([`!node_modules/webgpu/dist/${set}-*/**`, `!node_modules/onnxruntime-node/bin/napi-v6/${set}/**`]);
    }
    // the folders those patterns name are the packages' own
    const dist = readdirSync(join(REPO, 'node_modules', 'webgpu', 'dist')).map((d) => d.split('-')[0]);
    expect([...new Set(dist)].sort()).toEqual(['darwin', 'linux', 'win32']);
    expect(readdirSync(join(REPO, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6')).sort()).toEqual(['darwin', 'linux', 'win32']);
  });

  it('names the app and starts the bundled main', () => {
    expect(config.productName).toBe('Backprop Studio');
    expect(config.appId).toMatch(/^[a-z0-9.-]+$/);
    expect(config.extraMetadata.main).toBe('dist/electron/main.cjs');
    // never dist/: that is where the app itself is built
    expect(config.directories.output).not.toMatch(/^dist/);
    expect(config.files).toEqual(expect.arrayContaining(['dist/electron/**/*', 'dist/host/**/*', 'dist/renderer/**/*', 'examples/**/*', 'package.json']));
  });

  it('builds nsis (Windows), dmg (macOS), AppImage and deb (Linux)', () => {
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    // NSIS registers file associations only for per-machine installs
    expect(config.nsis.perMachine).toBe(true);
  });

  it('associates .bpstudio files with the app', () => {
    expect(config.fileAssociations).toEqual([
      expect.objectContaining({ ext: 'bpstudio', name: 'Backprop Studio project', mimeType: 'application/x-bpstudio+json', icon: 'bpstudio' }),
    ]);
    // electron-builder looks for ICON.icns (macOS) and ICON.ico (Windows) in the build resources
    const icns = readFileSync(join(REPO, 'build', 'bpstudio.icns'));
    expect(icns.toString('ascii', 0, 4)).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const ico = readFileSync(join(REPO, 'build', 'bpstudio.ico'));
    expect(ico.readUInt16LE(2)).toBe(1);
    expect(ico.readUInt16LE(4)).toBeGreaterThanOrEqual(4);
  });

  it('has an app icon of 1024x1024 in build/ (electron-builder derives each platform\'s icon from it)', () => {
    expect(pngSize(readFileSync(join(REPO, 'build', 'icon.png')))).toEqual([1024, 1024]);
  });

  it('npm run dist builds first, then packages', () => {
    expect(pkg.scripts.dist).toMatch(/scripts\/build\.mjs.*&&.*electron-builder/);
    expect(pkg.scripts.build).toBe('node scripts/build.mjs');
    expect(existsSync(join(REPO, 'scripts', 'build.mjs'))).toBe(true);
  });
});
