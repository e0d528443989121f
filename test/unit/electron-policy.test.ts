import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { electronPolicy, type DialogApi } from '../../electron/electron-policy';
import { createShellService, dispatchShell, type ShellService } from '../../electron/shell-service';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const spiral = readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8');

let tmp: string;
let answers: { open: { canceled: boolean; filePaths: string[] }[]; save: { canceled: boolean; filePath?: string }[] };
let asked: { kind: string; options: unknown }[];
let service: ShellService;
let policy: ReturnType<typeof electronPolicy>;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bps-electron-'));
  writeFileSync(join(tmp, 'mine.bpstudio'), spiral);
  writeFileSync(join(tmp, 'other.bpstudio'), spiral);
  answers = { open: [], save: [] };
  asked = [];
  const dialog: DialogApi = {
    async showOpenDialog(options) {
      asked.push({ kind: 'open', options });
      return answers.open.shift() ?? { canceled: true, filePaths: [] };
    },
    async showSaveDialog(options) {
      asked.push({ kind: 'save', options });
      return answers.save.shift() ?? { canceled: true };
    },
  };
  policy = electronPolicy({ dialog, examplesDir: EXAMPLES, documentsDir: tmp });
  service = createShellService({ policy, dataDir: join(tmp, 'userData'), examplesDir: EXAMPLES, version: '1' });
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const call = (raw: unknown) => dispatchShell(service, raw);

describe('Electron policy', () => {
  it('open without a path shows the native dialog; cancel gives null', async () => {
    answers.open.push({ canceled: true, filePaths: [] });
    expect(await call({ type: 'open' })).toEqual({ ok: true, result: null });
    answers.open.push({ canceled: false, filePaths: [join(tmp, 'mine.bpstudio')] });
    expect(await call({ type: 'open' })).toEqual({ ok: true, result: { path: join(tmp, 'mine.bpstudio'), text: spiral } });
    expect(asked[0]).toMatchObject({ kind: 'open', options: { properties: ['openFile'], filters: [{ extensions: ['bpstudio'] }, { extensions: ['*'] }] } });
  });

  it('refuses files the user did not choose, and allows them once chosen', async () => {
    const mine = join(tmp, 'mine.bpstudio');
    const r = await call({ type: 'open', path: mine });
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/not opened or chosen/);
    expect((await call({ type: 'save', path: mine, text: spiral })).ok).toBe(false);
    expect((await call({ type: 'open', path: 'relative.bpstudio' })).error?.message).toMatch(/absolute/);
    answers.open.push({ canceled: false, filePaths: [mine] });
    await call({ type: 'open' });
    const edited = spiral.replace('Spiral', 'Mine');
    expect(await call({ type: 'save', path: mine, text: edited })).toEqual({ ok: true, result: { path: mine } });
    expect(readFileSync(mine, 'utf8')).toBe(edited);
    // still not the file next to it
    expect((await call({ type: 'save', path: join(tmp, 'other.bpstudio'), text: spiral })).ok).toBe(false);
  });

  it('reads the bundled examples', async () => {
    const r = await call({ type: 'open', path: join(EXAMPLES, 'spiral.bpstudio') });
    expect(r.ok).toBe(true);
    const ex = await call({ type: 'examples' });
    expect((ex.result as { examples: { path: string }[] }).examples[0].path.startsWith(EXAMPLES)).toBe(true);
  });

  it('save as asks where (adding .bpstudio), and cancel writes nothing', async () => {
    expect(await call({ type: 'saveAs', suggestedName: 'net', text: spiral })).toEqual({ ok: true, result: null });
    expect(asked[0]).toMatchObject({ kind: 'save', options: { defaultPath: join(tmp, 'net.bpstudio') } });
    answers.save.push({ canceled: false, filePath: join(tmp, 'chosen') });
    expect(await call({ type: 'saveAs', suggestedName: 'net', text: spiral })).toEqual({ ok: true, result: { path: join(tmp, 'chosen.bpstudio') } });
    expect(readFileSync(join(tmp, 'chosen.bpstudio'), 'utf8')).toBe(spiral);
    // chosen: later saves may write it
    expect((await call({ type: 'save', path: join(tmp, 'chosen.bpstudio'), text: spiral })).ok).toBe(true);
  });

  it('export asks where with the extension\'s filter', async () => {
    answers.save.push({ canceled: false, filePath: join(tmp, 'w.safetensors') });
    const r = await call({ type: 'exportFile', suggestedName: 'spiral.safetensors', base64: Buffer.from('hi').toString('base64') });
    expect(r).toEqual({ ok: true, result: { path: join(tmp, 'w.safetensors') } });
    expect(asked[0]).toMatchObject({ options: { filters: [{ extensions: ['safetensors'] }, { extensions: ['*'] }] } });
    expect(readFileSync(join(tmp, 'w.safetensors'), 'utf8')).toBe('hi');
  });

  it('recent files are granted (they were chosen before), and listed as absolute paths', async () => {
    const mine = join(tmp, 'mine.bpstudio');
    service.recent.add(mine);
    const fresh = electronPolicy({ dialog: { showOpenDialog: async () => ({ canceled: true, filePaths: [] }), showSaveDialog: async () => ({ canceled: true }) }, examplesDir: EXAMPLES, documentsDir: tmp });
    const s2 = createShellService({ policy: fresh, dataDir: join(tmp, 'userData'), examplesDir: EXAMPLES, version: '1' });
    expect(await dispatchShell(s2, { type: 'recent' })).toEqual({ ok: true, result: { paths: [mine] } });
    expect((await dispatchShell(s2, { type: 'open', path: mine })).ok).toBe(true);
  });

  it('info says electron', async () => {
    expect((await call({ type: 'info' })).result).toEqual({ platform: 'electron', version: '1' });
  });
});
