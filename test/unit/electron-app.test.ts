/**
 * Electron's main process (electron/app.ts) with the `electron` module replaced by fakes at its boundary: the
 * window's security settings, the app:// scheme, the one IPC handler and its sender check, the engine's port
 * handover and restart, the menu, the title and the close confirm. (Electron's binary cannot run here.)
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';

const h = vi.hoisted(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { EventEmitter: EE } = require('node:events') as typeof import('node:events');
  const state = {
    userData: '',
    privileged: [] as unknown[],
    protocolHandler: null as null | ((req: { url: string }) => Promise<Response>),
    permissionRequest: null as null | ((wc: unknown, permission: string, cb: (ok: boolean) => void) => void),
    permissionCheck: null as null | ((wc: unknown, permission: string) => boolean),
    ipc: new Map<string, (event: unknown, ...args: unknown[]) => unknown>(),
    menu: null as null | MenuItemConstructorOptions[],
    windows: [] as FakeWindow[],
    forks: [] as FakeUtility[],
    channels: [] as { port1: { n: string }; port2: { n: string } }[],
    messageBoxResponse: 0,
    messageBoxes: [] as unknown[],
    ready: null as null | (() => void),
  };
  class FakeWebContents extends EE {
    static next = 1;
    id = FakeWebContents.next++;
    sent: unknown[][] = [];
    posted: unknown[][] = [];
    openHandler: null | (() => unknown) = null;
    focusedText = false;
    nativeEdits: string[] = [];
    send(...args: unknown[]) {
      this.sent.push(args);
    }
    postMessage(...args: unknown[]) {
      this.posted.push(args);
    }
    setWindowOpenHandler(fn: () => unknown) {
      this.openHandler = fn;
    }
    getType() {
      return 'window';
    }
    async executeJavaScriptInIsolatedWorld() {
      return this.focusedText;
    }
    copy() {
      this.nativeEdits.push('copy');
    }
    undo() {
      this.nativeEdits.push('undo');
    }
  }
  class FakeWindow extends EE {
    webContents = new FakeWebContents();
    title = '';
    url = '';
    destroyed = false;
    constructor(readonly options: Record<string, unknown>) {
      super();
      state.windows.push(this);
    }
    loadURL(url: string) {
      this.url = url;
      return Promise.resolve();
    }
    setTitle(t: string) {
      this.title = t;
    }
    show() {}
    focus() {}
    reload() {}
    isMinimized() {
      return false;
    }
    isDestroyed() {
      return this.destroyed;
    }
    close() {
      let prevented = false;
      this.emit('close', { preventDefault: () => (prevented = true) });
      if (!prevented) {
        this.destroyed = true;
        this.emit('closed');
      }
    }
  }
  class FakeUtility extends EE {
    posted: unknown[][] = [];
    killed = false;
    constructor(
      readonly path: string,
      readonly options: unknown,
    ) {
      super();
      state.forks.push(this);
    }
    postMessage(...args: unknown[]) {
      this.posted.push(args);
    }
    kill() {
      this.killed = true;
      return true;
    }
  }
  const app = Object.assign(new EE(), {
    isPackaged: false,
    isReady: () => state.ready === null,
    whenReady: () => new Promise<void>((ok) => (state.ready = () => ((state.ready = null), ok()))),
    setName() {},
    setPath(name: string, p: string) {
      if (name === 'userData') state.userData = p;
    },
    getPath: (name: string) => (name === 'userData' ? state.userData : join(state.userData, '..', name)),
    requestSingleInstanceLock: () => true,
    quit() {},
    addRecentDocument() {},
    clearRecentDocuments() {},
  });
  const electron = {
    app,
    BrowserWindow: FakeWindow,
    protocol: {
      registerSchemesAsPrivileged: (s: unknown[]) => state.privileged.push(...s),
      handle: (_scheme: string, fn: (req: { url: string }) => Promise<Response>) => void (state.protocolHandler = fn),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: typeof state.permissionRequest) => void (state.permissionRequest = fn),
        setPermissionCheckHandler: (fn: typeof state.permissionCheck) => void (state.permissionCheck = fn),
      },
    },
    ipcMain: { handle: (channel: string, fn: (event: unknown, ...args: unknown[]) => unknown) => void state.ipc.set(channel, fn) },
    Menu: {
      buildFromTemplate: (t: MenuItemConstructorOptions[]) => t,
      setApplicationMenu: (m: MenuItemConstructorOptions[]) => void (state.menu = m),
    },
    dialog: {
      showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
      showSaveDialog: async () => ({ canceled: true }),
      showMessageBox: async (_w: unknown, o: unknown) => {
        state.messageBoxes.push(o);
        return { response: state.messageBoxResponse };
      },
    },
    MessageChannelMain: class {
      port1: { n: string };
      port2: { n: string };
      constructor() {
        const i = state.channels.length;
        this.port1 = { n: `p1-${i}` };
        this.port2 = { n: `p2-${i}` };
        state.channels.push(this);
      }
    },
    utilityProcess: { fork: (path: string, _args: string[], options: unknown) => new FakeUtility(path, options) },
  };
  return { state, electron };
});

vi.mock('electron', () => h.electron);

const { state } = h;
const EXAMPLES = join(__dirname, '..', '..', 'examples');
let tmp: string;
let argv: string[];
const win = () => state.windows[0];
const wc = () => win().webContents;
const event = (over: Partial<{ id: number; url: string; top: boolean }> = {}) => ({
  sender: { id: over.id ?? wc().id },
  senderFrame: { url: over.url ?? 'app://studio/index.html', parent: over.top === false ? {} : null },
});
const shell = (raw: unknown, ev = event()) => state.ipc.get('shell')!(ev, raw) as Promise<{ ok: boolean; result?: unknown; error?: { message: string } }>;
const tick = () => new Promise((r) => setTimeout(r, 0));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'bps-app-'));
  mkdirSync(join(tmp, 'dist', 'renderer', 'assets'), { recursive: true });
  mkdirSync(join(tmp, 'appData'), { recursive: true });
  writeFileSync(join(tmp, 'dist', 'renderer', 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(tmp, 'dist', 'renderer', 'assets', 'a.js'), 'export {}');
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ version: '1.2.3' }));
  writeFileSync(join(tmp, 'opened.bpstudio'), readFileSync(join(EXAMPLES, 'spiral.bpstudio')));
  h.electron.app.getPath = (name: string) => (name === 'userData' ? state.userData : join(tmp, name));
  argv = process.argv;
  process.argv = ['electron', join(tmp, 'dist', 'electron', 'main.cjs'), join(tmp, 'opened.bpstudio')];
  const { runApp, appPaths } = await import('../../electron/app');
  const paths = { ...appPaths(join(tmp, 'dist', 'electron')), examples: EXAMPLES };
  runApp(paths);
  expect(state.windows).toHaveLength(0); // nothing before ready
  state.ready!();
  await tick();
});
afterAll(() => {
  process.argv = argv;
  rmSync(tmp, { recursive: true, force: true });
});

describe('Electron main', () => {
  it('registers app:// as a privileged standard, secure scheme before ready', () => {
    expect(state.privileged).toEqual([{ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
  });

  it('creates a secure window loading app://studio/index.html', () => {
    expect(state.windows).toHaveLength(1);
    const prefs = win().options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(prefs.preload).toBe(join(tmp, 'dist', 'electron', 'preload.cjs'));
    expect(win().url).toBe('app://studio/index.html');
  });

  it('serves the renderer with the CSP and refuses paths outside it', async () => {
    const ok = await state.protocolHandler!({ url: 'app://studio/index.html' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'/);
    expect(await ok.text()).toContain('<title>t</title>');
    expect((await state.protocolHandler!({ url: 'app://studio/assets/a.js' })).headers.get('content-type')).toMatch(/javascript/);
    expect((await state.protocolHandler!({ url: 'app://studio/..%2f..%2fpackage.json' })).status).toBe(404);
    expect((await state.protocolHandler!({ url: 'app://studio/missing.js' })).status).toBe(404);
  });

  it('denies permissions, new windows and navigation', () => {
    let granted: boolean | undefined;
    state.permissionRequest!(null, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
    expect(state.permissionCheck!(null, 'geolocation')).toBe(false);
    const contents = new (h.electron.BrowserWindow as unknown as new (o: object) => { webContents: EventEmitter & { openHandler: () => unknown } })({}).webContents;
    state.windows.pop();
    h.electron.app.emit('web-contents-created', {}, contents);
    expect(contents.openHandler()).toEqual({ action: 'deny' });
    let prevented = false;
    contents.emit('will-navigate', { preventDefault: () => (prevented = true) }, 'https://example.com');
    expect(prevented).toBe(true);
  });

  it('hands the engine a port and the page the other end after load, and opens the file from the command line', () => {
    expect(state.forks).toHaveLength(1);
    expect(state.forks[0].path).toBe(join(tmp, 'dist', 'host', 'main.cjs'));
    state.forks[0].emit('spawn');
    expect(state.channels).toHaveLength(0); // the page has not loaded yet
    wc().emit('did-finish-load');
    expect(state.channels).toHaveLength(1);
    expect(state.forks[0].posted).toEqual([[null, [{ n: 'p1-0' }]]]);
    expect(wc().posted).toEqual([['engine-port', null, [{ n: 'p2-0' }]]]);
    expect(wc().sent).toContainEqual(['menu', { command: 'file.open', path: join(tmp, 'opened.bpstudio') }]);
  });

  it('answers shell requests from the window, and lets it open the file it was given', async () => {
    expect(await shell({ type: 'info' })).toEqual({ ok: true, result: { platform: 'electron', version: '1.2.3' } });
    const opened = await shell({ type: 'open', path: join(tmp, 'opened.bpstudio') });
    expect(opened.ok).toBe(true);
  });

  it('refuses other senders and invalid requests', async () => {
    for (const ev of [event({ id: 999 }), event({ top: false }), event({ url: 'https://evil.example/' })]) {
      expect((await shell({ type: 'info' }, ev)).error?.message).toMatch(/refused/);
    }
    expect((await shell({ type: 'open', path: 5 })).error?.message).toMatch(/bad request/);
    expect((await shell({ type: 'open', path: '/etc/passwd' })).error?.message).toMatch(/not opened or chosen/);
  });

  it('restarts the engine when it dies and hands over a new port', () => {
    wc().sent.length = 0;
    state.forks[0].emit('exit', 9);
    expect(wc().sent[0]).toEqual(['engine-status', { engine: 'restarting', message: 'the engine stopped (exit code 9); restarting it' }]);
    expect(state.forks).toHaveLength(2);
    state.forks[1].emit('spawn');
    expect(state.forks[1].posted).toEqual([[null, [{ n: 'p1-1' }]]]);
    expect(wc().posted.at(-1)).toEqual(['engine-port', null, [{ n: 'p2-1' }]]);
    expect(wc().sent.at(-1)).toEqual(['engine-status', { engine: 'ready' }]);
  });

  it('a reload gets a new channel to the same engine', () => {
    wc().emit('did-start-loading');
    wc().emit('did-finish-load');
    expect(state.channels).toHaveLength(3);
    expect(state.forks).toHaveLength(2);
  });

  it('builds the menu, whose items send menu commands; Edit goes to a focused text field natively', async () => {
    const find = (items: MenuItemConstructorOptions[], id: string): MenuItemConstructorOptions | undefined => {
      for (const i of items) {
        if (i.id === id) return i;
        const s = Array.isArray(i.submenu) ? find(i.submenu, id) : undefined;
        if (s) return s;
      }
    };
    wc().sent.length = 0;
    (find(state.menu!, 'file.new')!.click as () => void)();
    await tick();
    expect(wc().sent).toEqual([['menu', { command: 'file.new' }]]);
    wc().focusedText = true;
    (find(state.menu!, 'edit.copy')!.click as () => void)();
    await tick();
    expect(wc().nativeEdits).toEqual(['copy']);
    wc().focusedText = false;
    (find(state.menu!, 'edit.copy')!.click as () => void)();
    await tick();
    expect(wc().sent.at(-1)).toEqual(['menu', { command: 'edit.copy' }]);
    // the file opened earlier is in Open Recent
    expect(find(state.menu!, 'recent.0')?.label).toBe('opened.bpstudio');
  });

  it('titles the window from windowState and confirms closing over unsaved work', async () => {
    await shell({ type: 'windowState', title: 'opened.bpstudio', dirty: true });
    expect(win().title).toBe('opened.bpstudio* — Backprop Studio');
    // Cancel: stays open
    state.messageBoxResponse = 2;
    win().close();
    await tick();
    expect(win().destroyed).toBe(false);
    expect(state.messageBoxes).toHaveLength(1);
    // Save: file.save goes to the renderer; the save of an untitled file is canceled: still open
    state.messageBoxResponse = 0;
    wc().sent.length = 0;
    win().close();
    await tick();
    expect(wc().sent).toEqual([['menu', { command: 'file.save' }]]);
    expect(await shell({ type: 'saveAs', suggestedName: 'x', text: readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8') })).toEqual({ ok: true, result: null });
    await shell({ type: 'windowState', title: 'opened.bpstudio', dirty: false });
    expect(win().destroyed).toBe(false);
    // Save again, and this time the renderer reports clean: the window closes
    await shell({ type: 'windowState', title: 'opened.bpstudio', dirty: true });
    win().close();
    await tick();
    await shell({ type: 'windowState', title: 'opened.bpstudio', dirty: false });
    expect(win().destroyed).toBe(true);
  });

  it('stops the engine when quitting', () => {
    h.electron.app.emit('will-quit');
    expect(state.forks[1].killed).toBe(true);
  });
});
