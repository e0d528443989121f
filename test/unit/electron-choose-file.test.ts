/**
 * The shell's chooseFile and readFile (a dataset or weights file for the data panel and for loading weights), and
 * `list` with other extensions than projects' (web mode's picker), on both policies.
 */
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shellRequest, shellResults } from '../../engine/protocol/messages';
import { DATA_FILTERS, WEIGHTS_FILTERS } from '../../electron/electron-policy';
import { MAX_READ_BYTES, createShellService, dispatchShell, fileMatcher, type ShellService } from '../../electron/shell-service';
import { webPolicy } from '../../electron/workspace';
import { fakeElectronShell, type FakeElectronShell } from './fake-electron-shell';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const CSV = 'x1,x2,y\n1,2,a\n3,4,b\n';
const WEIGHTS = Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);

let tmp: string;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bps-choose-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('web mode', () => {
  let ws: string;
  let service: ShellService;
  const call = (raw: unknown) => dispatchShell(service, raw);

  beforeEach(() => {
    ws = join(tmp, 'ws');
    mkdirSync(join(ws, 'data'), { recursive: true });
    writeFileSync(join(ws, 'a.bpstudio'), '{}');
    writeFileSync(join(ws, 'data', 'iris.csv'), CSV);
    writeFileSync(join(ws, 'data', 'IRIS2.CSV'), CSV);
    writeFileSync(join(ws, 'data', 'train-images-idx3-ubyte'), 'idx');
    writeFileSync(join(ws, 'data', 'net.safetensors'), WEIGHTS);
    writeFileSync(join(ws, 'data', '.hidden.csv'), CSV);
    writeFileSync(join(tmp, 'outside.csv'), CSV);
    symlinkSync(join(tmp, 'outside.csv'), join(ws, 'data', 'escape.csv'));
    service = createShellService({ policy: webPolicy(ws), dataDir: join(tmp, 'userdata'), examplesDir: EXAMPLES, version: '1' });
  });

  it('chooseFile without a path is refused (the page picks the file)', async () => {
    const r = await call({ type: 'chooseFile', purpose: 'data' });
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/give its path/);
  });

  it('chooseFile accepts a readable file of the workspace and answers its workspace path', async () => {
    const r = await call({ type: 'chooseFile', purpose: 'data', path: 'data/iris.csv' });
    expect(r).toEqual({ ok: true, result: { path: 'data/iris.csv' } });
    shellResults.chooseFile(r.result);
    expect(await call({ type: 'chooseFile', purpose: 'weights', path: 'data/net.safetensors' })).toEqual({ ok: true, result: { path: 'data/net.safetensors' } });
    // an absolute path inside the workspace comes back workspace-relative
    expect((await call({ type: 'chooseFile', purpose: 'data', path: join(ws, 'data', 'iris.csv') })).result).toEqual({ path: 'data/iris.csv' });
  });

  it('chooseFile refuses what is missing, a folder, outside the workspace or a link out of it, naming the file', async () => {
    expect((await call({ type: 'chooseFile', purpose: 'data', path: 'data/nope.csv' })).error).toEqual({
      message: 'no such file or folder',
      where: { file: 'data/nope.csv' },
    });
    expect((await call({ type: 'chooseFile', purpose: 'data', path: 'data' })).error).toMatchObject({ message: /folder/, where: { file: 'data' } });
    expect((await call({ type: 'chooseFile', purpose: 'data', path: '../outside.csv' })).error?.message).toMatch(/leaves the workspace/);
    expect((await call({ type: 'chooseFile', purpose: 'data', path: join(tmp, 'outside.csv') })).error?.message).toMatch(/outside the workspace/);
    expect((await call({ type: 'chooseFile', purpose: 'data', path: 'data/escape.csv' })).error?.message).toMatch(/outside the workspace/);
  });

  it.skipIf(process.platform === 'win32' || process.getuid?.() === 0)('chooseFile refuses an unreadable file', async () => {
    const locked = join(ws, 'data', 'locked.csv');
    writeFileSync(locked, CSV);
    chmodSync(locked, 0o000);
    expect((await call({ type: 'chooseFile', purpose: 'data', path: 'data/locked.csv' })).error).toEqual({
      message: 'permission denied',
      where: { file: 'data/locked.csv' },
    });
  });

  it('readFile gives the bytes as base64', async () => {
    const r = await call({ type: 'readFile', path: 'data/net.safetensors' });
    expect(r).toEqual({ ok: true, result: { path: 'data/net.safetensors', base64: Buffer.from(WEIGHTS).toString('base64'), bytes: WEIGHTS.length } });
    shellResults.readFile(r.result);
  });

  it('readFile refuses a folder, a missing file, a path out of the workspace, and a file over the limit', async () => {
    expect((await call({ type: 'readFile', path: 'data' })).error?.message).toMatch(/folder/);
    expect((await call({ type: 'readFile', path: 'nope.safetensors' })).error).toEqual({ message: 'no such file or folder', where: { file: 'nope.safetensors' } });
    expect((await call({ type: 'readFile', path: '../outside.csv' })).ok).toBe(false);
    expect((await call({ type: 'readFile', path: 'data/escape.csv' })).ok).toBe(false);
    // a sparse file just over the limit: refused before reading
    const big = join(ws, 'big.safetensors');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, MAX_READ_BYTES + 1);
    closeSync(fd);
    const r = await call({ type: 'readFile', path: 'big.safetensors' });
    expect(r.error).toMatchObject({ message: /too large/, where: { file: 'big.safetensors' } });
  });

  it('list shows project files by default, and other files when asked', async () => {
    const names = async (extensions?: string[]) => {
      const r = await call({ type: 'list', dir: 'data', ...(extensions ? { extensions } : {}) });
      expect(r.ok).toBe(true);
      return (r.result as { entries: { name: string }[] }).entries.map((e) => e.name);
    };
    expect(await names()).toEqual([]);
    // not hidden files, nor a link that leads out of the workspace
    expect((await names(['csv', 'tsv'])).sort()).toEqual(['IRIS2.CSV', 'iris.csv']);
    expect(await names(['safetensors'])).toEqual(['net.safetensors']);
    expect((await names(['*'])).sort()).toEqual(['IRIS2.CSV', 'iris.csv', 'net.safetensors', 'train-images-idx3-ubyte']);
    const top = await call({ type: 'list', extensions: ['csv'] });
    expect((top.result as { entries: { name: string; kind: string }[] }).entries).toEqual([{ name: 'data', path: 'data', kind: 'dir' }]);
  });
});

describe('fileMatcher', () => {
  it('matches projects by default, listed extensions case-insensitively, or anything', () => {
    expect(fileMatcher(undefined)('a.bpstudio')).toBe(true);
    expect(fileMatcher(undefined)('a.csv')).toBe(false);
    expect(fileMatcher(['csv'])('A.CSV')).toBe(true);
    expect(fileMatcher(['.csv'])('a.csv')).toBe(true);
    expect(fileMatcher(['csv'])('csv')).toBe(false);
    expect(fileMatcher(['csv'])('a.tsv')).toBe(false);
    expect(fileMatcher([])('a.csv')).toBe(false);
    expect(fileMatcher(['', 'x'])('a.')).toBe(false);
    expect(fileMatcher(['*'])('train-images-idx3-ubyte')).toBe(true);
  });
});

describe('the protocol', () => {
  it('checks chooseFile and readFile requests', () => {
    expect(shellRequest({ type: 'chooseFile', purpose: 'data' })).toEqual({ type: 'chooseFile', purpose: 'data' });
    expect(() => shellRequest({ type: 'chooseFile', purpose: 'anything' })).toThrow();
    expect(() => shellRequest({ type: 'readFile' })).toThrow();
    expect(() => shellRequest({ type: 'list', extensions: 'csv' })).toThrow();
    expect(() => shellResults.readFile({ path: 'a', base64: '', bytes: 1.5 })).toThrow();
    expect(shellResults.chooseFile(null)).toBeNull();
  });

  it('a bad request is a reply, not a throw', async () => {
    const service = createShellService({ policy: webPolicy(tmp), dataDir: join(tmp, 'userdata'), examplesDir: EXAMPLES, version: '1' });
    const r = await dispatchShell(service, { type: 'chooseFile', purpose: 'model' });
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/^bad request/);
  });
});

describe('Electron', () => {
  let answers: FakeElectronShell['answers'];
  let asked: FakeElectronShell['asked'];
  let service: ShellService;
  const call = (raw: unknown) => dispatchShell(service, raw);

  beforeEach(() => {
    mkdirSync(join(tmp, 'proj'));
    writeFileSync(join(tmp, 'proj', 'iris.csv'), CSV);
    writeFileSync(join(tmp, 'proj', 'net.safetensors'), WEIGHTS);
    writeFileSync(join(tmp, 'other.safetensors'), WEIGHTS);
    ({ service, answers, asked } = fakeElectronShell(tmp));
  });

  it('chooseFile shows the open dialog with the data filters, starting at the given folder; cancel gives null', async () => {
    expect(await call({ type: 'chooseFile', purpose: 'data', path: join(tmp, 'proj') })).toEqual({ ok: true, result: null });
    expect(asked[0]).toEqual({ title: 'Choose a data file', defaultPath: join(tmp, 'proj'), properties: ['openFile'], filters: DATA_FILTERS });
    expect(DATA_FILTERS[0].extensions).toEqual(['csv', 'tsv', 'txt']);
    expect(DATA_FILTERS[DATA_FILTERS.length - 1].extensions).toEqual(['*']);
    answers.push({ canceled: false, filePaths: [join(tmp, 'proj', 'iris.csv')] });
    expect(await call({ type: 'chooseFile', purpose: 'data' })).toEqual({ ok: true, result: { path: join(tmp, 'proj', 'iris.csv') } });
    // without a usable start: the documents folder
    expect(asked[1].defaultPath).toBe(join(tmp, 'docs'));
    await call({ type: 'chooseFile', purpose: 'data', path: 'relative/folder' });
    expect(asked[2].defaultPath).toBe(join(tmp, 'docs'));
  });

  it('weights: the safetensors filter; the chosen file can then be read, and no other', async () => {
    const net = join(tmp, 'proj', 'net.safetensors');
    expect((await call({ type: 'readFile', path: net })).error?.message).toMatch(/not opened or chosen/);
    answers.push({ canceled: false, filePaths: [net] });
    expect(await call({ type: 'chooseFile', purpose: 'weights', path: join(tmp, 'proj') })).toEqual({ ok: true, result: { path: net } });
    expect(asked[0]).toMatchObject({ title: 'Load weights', filters: WEIGHTS_FILTERS });
    expect(WEIGHTS_FILTERS[0].extensions).toEqual(['safetensors']);
    expect(await call({ type: 'readFile', path: net })).toEqual({ ok: true, result: { path: net, base64: Buffer.from(WEIGHTS).toString('base64'), bytes: WEIGHTS.length } });
    expect((await call({ type: 'readFile', path: join(tmp, 'other.safetensors') })).ok).toBe(false);
    expect((await call({ type: 'readFile', path: 'net.safetensors' })).error?.message).toMatch(/absolute/);
  });

  it('a chosen data file does not move where the project dialogs start, nor become writable', async () => {
    const csv = join(tmp, 'proj', 'iris.csv');
    answers.push({ canceled: false, filePaths: [csv] });
    await call({ type: 'chooseFile', purpose: 'data' });
    await call({ type: 'open' });
    expect(asked[1]).toMatchObject({ title: 'Open project', defaultPath: join(tmp, 'docs') });
    expect((await call({ type: 'save', path: csv, text: '{}' })).ok).toBe(false);
  });

  it('a chosen file that vanished is an error naming it', async () => {
    answers.push({ canceled: false, filePaths: [join(tmp, 'proj', 'gone.csv')] });
    expect((await call({ type: 'chooseFile', purpose: 'data' })).error).toEqual({ message: 'no such file or folder', where: { file: join(tmp, 'proj', 'gone.csv') } });
  });
});
