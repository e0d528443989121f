import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shellResults } from '../../engine/protocol/messages';
import { createShellService, dispatchShell, safeFileName, type ShellService } from '../../electron/shell-service';
import { webPolicy } from '../../electron/workspace';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const spiral = readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8');

let tmp: string;
let ws: string;
let data: string;
let service: ShellService;

/** Sends a raw request as the renderer would, and returns the reply. */
const call = (raw: unknown) => dispatchShell(service, raw);

/** Every file under `dir` with its bytes, to show that nothing on disk changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else out[`${rel}${e.name}`] = readFileSync(p, 'base64') + ':' + statSync(p).mtimeMs;
    }
  };
  walk(dir, '');
  return out;
}

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bps-shell-'));
  ws = join(tmp, 'ws');
  data = join(tmp, 'data');
  mkdirSync(join(ws, 'sub'), { recursive: true });
  writeFileSync(join(ws, 'spiral.bpstudio'), spiral);
  writeFileSync(join(ws, 'notes.txt'), 'not a project');
  writeFileSync(join(ws, '.hidden.bpstudio'), spiral);
  service = createShellService({ policy: webPolicy(ws), dataDir: data, examplesDir: EXAMPLES, version: '9.9.9' });
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('shell service: open', () => {
  it('opens a project and returns its text unchanged', async () => {
    const r = await call({ type: 'open', path: 'spiral.bpstudio' });
    expect(r).toEqual({ ok: true, result: { path: 'spiral.bpstudio', text: spiral } });
    shellResults.open(r.result);
  });

  it('an invalid file gives an error that says where, and changes nothing on disk', async () => {
    writeFileSync(join(ws, 'broken.bpstudio'), '{\n  "format": "backprop-studio/project",\n  "version": 1,\n  "graph": {\n');
    writeFileSync(join(ws, 'wrong.bpstudio'), JSON.stringify({ ...JSON.parse(spiral), graph: { nodes: [{ id: '1 bad', op: 'input' }] } }));
    writeFileSync(join(ws, 'newer.bpstudio'), JSON.stringify({ ...JSON.parse(spiral), version: 99 }));
    const before = snapshot(tmp);
    const broken = await call({ type: 'open', path: 'broken.bpstudio' });
    expect(broken.ok).toBe(false);
    expect(broken.error?.where?.file).toBe('broken.bpstudio');
    expect(broken.error?.where?.row).toBeGreaterThan(0);
    const wrong = await call({ type: 'open', path: 'wrong.bpstudio' });
    expect(wrong.ok).toBe(false);
    expect(wrong.error?.where?.path).toMatch(/^\/graph\/nodes\/0/);
    const newer = await call({ type: 'open', path: 'newer.bpstudio' });
    expect(newer.error?.message).toMatch(/newer version/);
    expect(newer.error?.where).toEqual({ file: 'newer.bpstudio', path: '/version' });
    expect(snapshot(tmp)).toEqual(before);
  });

  it('a missing file or a folder is a clear error', async () => {
    expect((await call({ type: 'open', path: 'nope.bpstudio' })).error).toEqual({ message: 'no such file or folder', where: { file: 'nope.bpstudio' } });
    expect((await call({ type: 'open', path: 'sub' })).error?.message).toMatch(/folder/);
  });

  it('web mode refuses open without a path (the page picks one)', async () => {
    expect((await call({ type: 'open' })).error?.message).toMatch(/give its path/);
  });
});

describe('shell service: save, save as, export', () => {
  it('saves atomically, leaving no temporary file', async () => {
    const edited = spiral.replace('Spiral, two hidden layers', 'Edited');
    expect(await call({ type: 'save', path: 'spiral.bpstudio', text: edited })).toEqual({ ok: true, result: { path: 'spiral.bpstudio' } });
    expect(readFileSync(join(ws, 'spiral.bpstudio'), 'utf8')).toBe(edited);
    expect(readdirSync(ws).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('never writes a text that is not a valid project', async () => {
    const before = snapshot(tmp);
    for (const text of ['{', '[]', JSON.stringify({ format: 'other' }), JSON.stringify({ ...JSON.parse(spiral), graph: 7 })]) {
      const r = await call({ type: 'save', path: 'spiral.bpstudio', text });
      expect(r.ok).toBe(false);
      expect(r.error?.message).toMatch(/^not saved: /);
    }
    expect((await call({ type: 'saveAs', suggestedName: 'x', text: '{}' })).ok).toBe(false);
    expect(snapshot(tmp)).toEqual(before);
  });

  it('save as writes where the picker chose, adding .bpstudio; without a choice, the suggested name at the root', async () => {
    expect(await call({ type: 'saveAs', suggestedName: 'ignored', text: spiral, path: 'sub/mine' })).toEqual({ ok: true, result: { path: 'sub/mine.bpstudio' } });
    expect(readFileSync(join(ws, 'sub', 'mine.bpstudio'), 'utf8')).toBe(spiral);
    expect(await call({ type: 'saveAs', suggestedName: '../../evil/Copy of spiral', text: spiral })).toEqual({
      ok: true,
      result: { path: 'Copy of spiral.bpstudio' },
    });
    // without a choice, an existing file is never replaced
    expect((await call({ type: 'saveAs', suggestedName: 'spiral', text: spiral.replace('Spiral', 'Other') })).result).toEqual({ path: 'spiral (2).bpstudio' });
    expect(readFileSync(join(ws, 'spiral.bpstudio'), 'utf8')).toBe(spiral);
  });

  it('exports bytes from base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const r = await call({ type: 'exportFile', suggestedName: 'w.safetensors', base64: bytes.toString('base64') });
    expect(r).toEqual({ ok: true, result: { path: 'w.safetensors' } });
    expect(readFileSync(join(ws, 'w.safetensors'))).toEqual(bytes);
    expect((await call({ type: 'exportFile', suggestedName: 'w.bin', base64: '%%%' })).error?.message).toMatch(/base64/);
    expect((await call({ type: 'exportFile', suggestedName: 'w.safetensors', base64: 'AAAA' })).result).toEqual({ path: 'w (2).safetensors' });
    expect((await call({ type: 'exportFile', suggestedName: 'x', path: 'w.safetensors', base64: 'AAAA' })).result).toEqual({ path: 'w.safetensors' });
    expect(readFileSync(join(ws, 'w.safetensors'))).toEqual(Buffer.from([0, 0, 0]));
  });
});

describe('shell service: list, recent, examples, info', () => {
  it('lists folders first, then .bpstudio files, without hidden ones', async () => {
    writeFileSync(join(ws, 'sub', 'inner.bpstudio'), spiral);
    expect((await call({ type: 'list' })).result).toEqual({
      dir: '',
      entries: [
        { name: 'sub', path: 'sub', kind: 'dir' },
        { name: 'spiral.bpstudio', path: 'spiral.bpstudio', kind: 'file' },
      ],
    });
    expect((await call({ type: 'list', dir: 'sub' })).result).toEqual({ dir: 'sub', entries: [{ name: 'inner.bpstudio', path: 'sub/inner.bpstudio', kind: 'file' }] });
    expect((await call({ type: 'list', dir: 'spiral.bpstudio' })).error?.message).toMatch(/not a folder/);
  });

  it('remembers opened and saved files, most recent first, dropping missing ones', async () => {
    writeFileSync(join(ws, 'b.bpstudio'), spiral);
    await call({ type: 'open', path: 'spiral.bpstudio' });
    await call({ type: 'open', path: 'b.bpstudio' });
    await call({ type: 'saveAs', suggestedName: 'c', text: spiral });
    await call({ type: 'open', path: 'spiral.bpstudio' });
    expect((await call({ type: 'recent' })).result).toEqual({ paths: ['spiral.bpstudio', 'c.bpstudio', 'b.bpstudio'] });
    rmSync(join(ws, 'b.bpstudio'));
    expect((await call({ type: 'recent' })).result).toEqual({ paths: ['spiral.bpstudio', 'c.bpstudio'] });
    // stored as a JSON list of absolute paths in the data folder
    expect(JSON.parse(readFileSync(join(data, 'recent.json'), 'utf8'))).toHaveLength(2);
  });

  it('lists every example with its text', async () => {
    const r = await call({ type: 'examples' });
    const names = readdirSync(EXAMPLES).filter((n) => n.endsWith('.bpstudio'));
    const examples = shellResults.examples(r.result).examples;
    expect(examples.map((e) => e.path).sort()).toEqual(names.sort());
    expect(examples.find((e) => e.name === 'spiral')?.text).toBe(spiral);
  });

  it('info names the platform, the workspace and the version', async () => {
    const r = await call({ type: 'info' });
    expect(r.result).toMatchObject({ platform: 'web', version: '9.9.9' });
    expect(typeof (r.result as { workspace: string }).workspace).toBe('string');
  });
});

describe('shell service: recovery', () => {
  it('round trip: save, list (newest first), discard', async () => {
    expect((await call({ type: 'recoverySave', key: 'doc-1', name: 'Untitled', path: null, text: 'half {' })).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    expect((await call({ type: 'recoverySave', key: 'doc-2', name: 'spiral.bpstudio', path: 'spiral.bpstudio', text: spiral })).ok).toBe(true);
    const listed = shellResults.recoveryList((await call({ type: 'recoveryList' })).result);
    expect(listed.items.map((i) => [i.key, i.name, i.path, i.text])).toEqual([
      ['doc-2', 'spiral.bpstudio', 'spiral.bpstudio', spiral],
      ['doc-1', 'Untitled', null, 'half {'],
    ]);
    expect(listed.items[0].savedAt).toBeGreaterThanOrEqual(listed.items[1].savedAt);
    // a later autosave of the same document replaces it
    await call({ type: 'recoverySave', key: 'doc-1', name: 'Untitled', path: null, text: 'more' });
    expect(shellResults.recoveryList((await call({ type: 'recoveryList' })).result).items.find((i) => i.key === 'doc-1')?.text).toBe('more');
    await call({ type: 'recoveryDiscard', key: 'doc-1' });
    await call({ type: 'recoveryDiscard', key: 'doc-2' });
    expect((await call({ type: 'recoveryList' })).result).toEqual({ items: [] });
    // the recovery folder lives in the data folder; the workspace is untouched
    expect(readdirSync(join(data, 'recovery'))).toEqual([]);
  });

  it('refuses a recovery path outside the workspace', async () => {
    expect((await call({ type: 'recoverySave', key: 'k', name: 'n', path: '../x.bpstudio', text: '' })).ok).toBe(false);
  });
});

describe('shell service: request validation', () => {
  it.each([
    ['not an object', 'open'],
    ['unknown type', { type: 'rm', path: '/' }],
    ['missing field', { type: 'save', path: 'a.bpstudio' }],
    ['wrong type', { type: 'save', path: 7, text: '' }],
    ['extra key', { type: 'list', dir: '', recursive: true }],
    ['null path', { type: 'open', path: null }],
    ['bad dirty flag', { type: 'windowState', title: 't', dirty: 'yes' }],
  ])('rejects %s without acting', async (_what, raw) => {
    const before = snapshot(tmp);
    const r = await call(raw);
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/^bad request: /);
    expect(snapshot(tmp)).toEqual(before);
  });

  it('windowState reaches the policy', async () => {
    const seen: [string, boolean][] = [];
    const policy = { ...webPolicy(ws), windowState: (t: string, d: boolean) => seen.push([t, d]) };
    const s = createShellService({ policy, dataDir: data, examplesDir: EXAMPLES, version: '1' });
    expect(await dispatchShell(s, { type: 'windowState', title: 'a.bpstudio', dirty: true })).toEqual({ ok: true, result: {} });
    expect(seen).toEqual([['a.bpstudio', true]]);
  });
});

describe('safeFileName', () => {
  it('keeps a plain name and strips folders and reserved characters', () => {
    expect(safeFileName('model', '.bpstudio')).toBe('model.bpstudio');
    expect(safeFileName('a/b\\c.BPSTUDIO', '.bpstudio')).toBe('c.BPSTUDIO');
    expect(safeFileName('..', '.bpstudio')).toBe('untitled.bpstudio');
    expect(safeFileName('w<1>:?.safetensors', '')).toBe('w_1___.safetensors');
    expect(safeFileName('.hidden', '')).toBe('hidden');
  });
});
