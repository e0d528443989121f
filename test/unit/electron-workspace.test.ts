import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createShellService, dispatchShell } from '../../electron/shell-service';
import { ensureWorkspace, resolveInWorkspace, webDataDir, webPolicy } from '../../electron/workspace';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const spiral = readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8');

let tmp: string;
let root: string;
let outside: string;

beforeEach(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'bps-ws-')));
  root = join(tmp, 'ws');
  outside = join(tmp, 'outside');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'a.bpstudio'), spiral);
  writeFileSync(join(outside, 'secret.bpstudio'), spiral);
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(outside, 'secret.bpstudio'), join(root, 'link.bpstudio'));
  symlinkSync(join(root, 'a.bpstudio'), join(root, 'inner-link.bpstudio'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('workspace confinement', () => {
  it('resolves relative and absolute paths inside the workspace', () => {
    expect(resolveInWorkspace(root, 'a.bpstudio')).toBe(join(root, 'a.bpstudio'));
    expect(resolveInWorkspace(root, join(root, 'sub', 'new.bpstudio'))).toBe(join(root, 'sub', 'new.bpstudio'));
    expect(resolveInWorkspace(root, './sub/./x.bpstudio')).toBe(join(root, 'sub', 'x.bpstudio'));
    // a link that stays inside is followed
    expect(resolveInWorkspace(root, 'inner-link.bpstudio')).toBe(join(root, 'a.bpstudio'));
  });

  it.each([
    ['..', '../outside/secret.bpstudio', /"\.\." is not allowed/],
    ['.. in the middle', 'sub/../../outside/secret.bpstudio', /"\.\." is not allowed/],
    ['.. with backslashes', 'sub\\..\\..\\x', /"\.\." is not allowed/],
    ['an absolute path outside', '/etc/passwd', /outside the workspace/],
    ['a link to a folder outside', 'escape/secret.bpstudio', /link that leads outside/],
    ['a link to a file outside', 'link.bpstudio', /link that leads outside/],
    ['a new file through a link outside', 'escape/new.bpstudio', /link that leads outside/],
    ['a NUL byte', 'a.bpstudio\0.txt', /NUL/],
    ['a missing folder', 'nope/new.bpstudio', /no such folder/],
  ])('refuses %s', (_what, path, message) => {
    expect(() => resolveInWorkspace(root, path)).toThrow(message);
  });

  it('the shell refuses to read or write outside, and nothing outside changes', async () => {
    const service = createShellService({ policy: webPolicy(root), dataDir: join(tmp, 'data'), examplesDir: EXAMPLES, version: '1' });
    const before = readFileSync(join(outside, 'secret.bpstudio'), 'utf8');
    for (const path of ['../outside/secret.bpstudio', join(outside, 'secret.bpstudio'), 'link.bpstudio', 'escape/secret.bpstudio']) {
      const open = await dispatchShell(service, { type: 'open', path });
      expect(open.ok).toBe(false);
      expect(open.error?.where?.file).toBe(path);
      expect((await dispatchShell(service, { type: 'save', path, text: spiral })).ok).toBe(false);
      expect((await dispatchShell(service, { type: 'saveAs', suggestedName: 'x', path, text: spiral })).ok).toBe(false);
      expect((await dispatchShell(service, { type: 'exportFile', suggestedName: 'x', path, base64: 'AAAA' })).ok).toBe(false);
    }
    expect((await dispatchShell(service, { type: 'list', dir: 'escape' })).ok).toBe(false);
    expect((await dispatchShell(service, { type: 'list', dir: '..' })).ok).toBe(false);
    expect(readFileSync(join(outside, 'secret.bpstudio'), 'utf8')).toBe(before);
    expect(readdirSync(outside)).toEqual(['secret.bpstudio']);
  });

  it('lists a link only when it stays inside', async () => {
    const service = createShellService({ policy: webPolicy(root), dataDir: join(tmp, 'data'), examplesDir: EXAMPLES, version: '1' });
    const r = await dispatchShell(service, { type: 'list' });
    const names = (r.result as { entries: { name: string }[] }).entries.map((e) => e.name);
    expect(names).toEqual(['sub', 'a.bpstudio', 'inner-link.bpstudio']);
  });
});

describe('the default workspace', () => {
  it('is created as a copy of the examples with their data, once, never overwriting', () => {
    const dir = join(tmp, 'data', 'workspace');
    expect(ensureWorkspace(dir, EXAMPLES)).toEqual({ dir, created: true });
    const examples = readdirSync(EXAMPLES).filter((n) => n.endsWith('.bpstudio'));
    for (const n of examples) expect(readFileSync(join(dir, n), 'utf8')).toBe(readFileSync(join(EXAMPLES, n), 'utf8'));
    expect(existsSync(join(dir, 'data', 'iris.csv'))).toBe(true);
    // the user edits and deletes; a second run changes nothing
    writeFileSync(join(dir, 'spiral.bpstudio'), 'mine');
    rmSync(join(dir, 'iris.bpstudio'));
    expect(ensureWorkspace(dir, EXAMPLES)).toEqual({ dir, created: false });
    expect(readFileSync(join(dir, 'spiral.bpstudio'), 'utf8')).toBe('mine');
    expect(existsSync(join(dir, 'iris.bpstudio'))).toBe(false);
    expect(readdirSync(join(tmp, 'data'))).toEqual(['workspace']);
  });

  it('lives in the user data folder of each OS', () => {
    expect(webDataDir({}, 'linux', '/home/u')).toBe('/home/u/.local/share/backprop-studio');
    expect(webDataDir({ XDG_DATA_HOME: '/xdg' }, 'linux', '/home/u')).toBe('/xdg/backprop-studio');
    expect(webDataDir({ XDG_DATA_HOME: 'relative' }, 'linux', '/home/u')).toBe('/home/u/.local/share/backprop-studio');
    expect(webDataDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Application Support/Backprop Studio');
    expect(webDataDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u')).toMatch(/Roaming.Backprop Studio$/);
    expect(webDataDir({ BPSTUDIO_DATA_DIR: '/tmp/x' }, 'linux', '/home/u')).toBe('/tmp/x');
  });
});
