/**
 * Choosing an image folder (chooseFile with purpose `images`): the native folder dialog in Electron, the page's
 * picker in web mode with the shell checking that the choice is a readable folder of the workspace; and web mode
 * keeping a project's image folder inside the workspace before the engine reads it.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createShellService, dispatchShell, type ShellService } from '../../electron/shell-service';
import { confineEngineRequest } from '../../electron/web/engine-paths';
import { webPolicy } from '../../electron/workspace';
import { fakeElectronShell, type FakeElectronShell } from './fake-electron-shell';
import { shellRequest } from '../../engine/protocol/messages';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bps-choose-folder-'));
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
    mkdirSync(join(ws, 'data', 'shapes', 'circle'), { recursive: true });
    writeFileSync(join(ws, 'data', 'shapes', 'circle', 'a.png'), 'png');
    mkdirSync(join(tmp, 'outside'));
    symlinkSync(join(tmp, 'outside'), join(ws, 'data', 'escape'));
    service = createShellService({ policy: webPolicy(ws), dataDir: join(tmp, 'userdata'), examplesDir: EXAMPLES, version: '1' });
  });

  it('accepts a folder of the workspace and answers its workspace path', async () => {
    expect(await call({ type: 'chooseFile', purpose: 'images', path: 'data/shapes' })).toEqual({ ok: true, result: { path: 'data/shapes' } });
    expect(await call({ type: 'chooseFile', purpose: 'images', path: join(ws, 'data', 'shapes') })).toEqual({ ok: true, result: { path: 'data/shapes' } });
  });

  it('refuses a file, a missing folder, one outside the workspace or a link out of it, naming it', async () => {
    expect((await call({ type: 'chooseFile', purpose: 'images', path: 'data/shapes/circle/a.png' })).error).toEqual({
      message: 'this is a file, not a folder',
      where: { file: 'data/shapes/circle/a.png' },
    });
    expect((await call({ type: 'chooseFile', purpose: 'images', path: 'data/nope' })).error).toEqual({ message: 'no such file or folder', where: { file: 'data/nope' } });
    expect((await call({ type: 'chooseFile', purpose: 'images', path: '../outside' })).error?.message).toMatch(/leaves the workspace/);
    expect((await call({ type: 'chooseFile', purpose: 'images', path: 'data/escape' })).error?.message).toMatch(/outside the workspace/);
    expect((await call({ type: 'chooseFile', purpose: 'images' })).ok).toBe(false);
  });

  it('refuses a project whose image folder leaves the workspace before the engine reads it', () => {
    const preview = (folder: string) => ({ type: 'data.preview' as const, id: 1, project: { data: { kind: 'images', folder, size: [8, 8] } } });
    expect(confineEngineRequest(ws, preview('data/shapes'))).toMatchObject({ baseDir: ws });
    expect(() => confineEngineRequest(ws, preview('../outside'))).toThrow(/data\.folder .*leaves the workspace/);
    expect(() => confineEngineRequest(ws, preview('data/escape'))).toThrow(/data\.folder .*outside the workspace/);
  });
});

describe('Electron', () => {
  let answers: FakeElectronShell['answers'];
  let asked: FakeElectronShell['asked'];
  let service: ShellService;
  const call = (raw: unknown) => dispatchShell(service, raw);

  beforeEach(() => {
    mkdirSync(join(tmp, 'proj', 'shapes'), { recursive: true });
    writeFileSync(join(tmp, 'proj', 'iris.csv'), 'x\n1\n');
    ({ service, answers, asked } = fakeElectronShell(tmp));
  });

  it('shows the folder dialog starting at the project folder; answers the chosen folder, null on cancel', async () => {
    expect(await call({ type: 'chooseFile', purpose: 'images', path: join(tmp, 'proj') })).toEqual({ ok: true, result: null });
    expect(asked[0]).toEqual({ title: 'Choose an image folder', defaultPath: join(tmp, 'proj'), properties: ['openDirectory'], filters: [] });
    answers.push({ canceled: false, filePaths: [join(tmp, 'proj', 'shapes')] });
    expect(await call({ type: 'chooseFile', purpose: 'images' })).toEqual({ ok: true, result: { path: join(tmp, 'proj', 'shapes') } });
  });

  it('a file given back as the folder is refused, naming it', async () => {
    answers.push({ canceled: false, filePaths: [join(tmp, 'proj', 'iris.csv')] });
    expect((await call({ type: 'chooseFile', purpose: 'images' })).error).toEqual({ message: 'this is a file, not a folder', where: { file: join(tmp, 'proj', 'iris.csv') } });
  });
});

it('the protocol takes `images` as a purpose', () => {
  expect(shellRequest({ type: 'chooseFile', purpose: 'images', path: 'x' })).toEqual({ type: 'chooseFile', purpose: 'images', path: 'x' });
  expect(() => shellRequest({ type: 'chooseFile', purpose: 'folder' })).toThrow();
});
