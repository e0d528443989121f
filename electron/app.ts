/**
 * Electron's main process, wired: the window, the app:// scheme that serves the built renderer, the menu, the one
 * IPC handler, the engine host in a utility process with a MessagePort per page load, and files opened by the OS.
 * Every decision lives in a plain module (security, window-logic, menu, shell-service, electron-policy,
 * supervisor); this file only connects them to Electron.
 */
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  MessageChannelMain,
  protocol,
  session,
  utilityProcess,
  type IpcMainInvokeEvent,
  type OpenDialogOptions,
  type SaveDialogOptions,
  type UtilityProcess,
  type WebContents,
} from 'electron';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { engineStatus, menuCommand, type MenuCommand, type MenuCommandMessage, type ShellReply } from '../engine/protocol/messages';
import { electronPolicy } from './electron-policy';
import { buildMenuTemplate } from './menu';
import { APP_INDEX_URL, APP_SCHEME, appUrlFile, contentSecurityPolicy, isTrustedSender, permissionAllowed, rendererHeaders } from './security';
import { createShellService, dispatchShell } from './shell-service';
import { Supervisor, type SupervisedProcess } from './supervisor';
import {
  APP_NAME,
  CloseGuard,
  closeChoice,
  closeConfirmOptions,
  EDITABLE_FOCUS_PROBE,
  projectFromArgv,
  routeEditCommand,
  TEXT_EDIT_METHOD,
  windowTitle,
} from './window-logic';

export interface AppPaths {
  /** The app's root: the repository in development, app.asar when packaged. */
  root: string;
  renderer: string;
  preload: string;
  host: string;
  examples: string;
  packageJson: string;
}

/** The paths of the built app, from the folder of the main bundle (`dist/electron`). */
export function appPaths(mainDir: string): AppPaths {
  const dist = resolve(mainDir, '..');
  const root = resolve(dist, '..');
  return {
    root,
    renderer: join(dist, 'renderer'),
    preload: join(dist, 'electron', 'preload.cjs'),
    host: join(dist, 'host', 'main.cjs'),
    examples: join(root, 'examples'),
    packageJson: join(root, 'package.json'),
  };
}

/** The isolated world in which main asks whether a text field has the focus. */
const PROBE_WORLD = 1001;
const CSP = contentSecurityPolicy();

class UtilityEngine implements SupervisedProcess {
  readonly proc: UtilityProcess;
  constructor(path: string) {
    this.proc = utilityProcess.fork(path, [], { serviceName: `${APP_NAME} engine`, stdio: 'inherit' });
  }
  onExit(handler: (why: string) => void): void {
    this.proc.once('exit', (code) => handler(`exit code ${code}`));
  }
  onSpawn(handler: () => void): void {
    this.proc.once('spawn', handler);
  }
  kill(): void {
    this.proc.kill();
  }
}

export function runApp(paths: AppPaths): void {
  const isMac = process.platform === 'darwin';
  protocol.registerSchemesAsPrivileged([
    // corsEnabled: Vite's module scripts load in CORS mode; the app has this one origin (navigation, frames and
    // new windows are blocked), so nothing else could read it.
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } },
  ]);
  app.setName(APP_NAME);
  app.setPath('userData', join(app.getPath('appData'), APP_NAME));
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }

  let win: BrowserWindow | null = null;
  let loaded = false;
  let guard = new CloseGuard();
  let engineRunning = false;
  /** Quitting (Cmd+Q, File > Quit): once the window has closed, quit on macOS too. */
  let quitting = false;
  /** What to tell the page once it has loaded (a file to open, a menu command given before the window existed). */
  let pending: MenuCommandMessage[] = [];

  const version = (JSON.parse(readFileSync(paths.packageJson, 'utf8')) as { version: string }).version;

  const policy = electronPolicy({
    dialog: {
      showOpenDialog: (o) => (win ? dialog.showOpenDialog(win, o as OpenDialogOptions) : dialog.showOpenDialog(o as OpenDialogOptions)),
      showSaveDialog: (o) => (win ? dialog.showSaveDialog(win, o as SaveDialogOptions) : dialog.showSaveDialog(o as SaveDialogOptions)),
    },
    examplesDir: paths.examples,
    documentsDir: app.getPath('documents'),
    onWindowState: (title, dirty) => {
      win?.setTitle(windowTitle(title, dirty));
      if (guard.onWindowState(title, dirty) === 'close') win?.close();
    },
  });
  const service = createShellService({
    policy,
    dataDir: app.getPath('userData'),
    examplesDir: paths.examples,
    version,
    onRecentChanged: (recent) => {
      if (recent[0]) app.addRecentDocument(recent[0]);
      rebuildMenu();
    },
  });

  const send = (wc: WebContents, message: MenuCommandMessage): void => {
    wc.send('menu', menuCommand(message));
  };

  /** Opens a project the OS or the command line named (granted: the user chose it). */
  function openProject(path: string): void {
    policy.grant(path);
    const message: MenuCommandMessage = { command: 'file.open', path };
    if (win && loaded) send(win.webContents, message);
    else {
      pending.push(message);
      if (app.isReady() && !win) createWindow();
    }
  }

  async function runCommand(command: MenuCommand, path?: string): Promise<void> {
    if (!win) {
      pending.push(path ? { command, path } : { command });
      if (app.isReady()) createWindow();
      return;
    }
    const wc = win.webContents;
    if (TEXT_EDIT_METHOD[command]) {
      const focused = await wc.executeJavaScriptInIsolatedWorld(PROBE_WORLD, [{ code: EDITABLE_FOCUS_PROBE }]).then(
        (v) => v === true,
        () => false,
      );
      const route = routeEditCommand(command, focused);
      if (route.to === 'text') {
        wc[route.method]();
        return;
      }
    }
    if (path) policy.grant(path);
    if (loaded) send(wc, path ? { command, path } : { command });
    else pending.push(path ? { command, path } : { command });
  }

  function rebuildMenu(): void {
    const recent = service.recent.list();
    for (const p of recent) policy.grant(p, 'listed');
    const template = buildMenuTemplate(
      { isMac, isDev: !app.isPackaged, appName: APP_NAME, recent },
      {
        command: (c, p) => void runCommand(c, p),
        clearRecent: () => {
          service.recent.clear();
          app.clearRecentDocuments();
          rebuildMenu();
        },
      },
    );
    Menu.setApplicationMenu(Menu.buildFromTemplate(template));
  }

  const engine = new Supervisor<UtilityEngine>({
    spawn: () => new UtilityEngine(paths.host),
    onReady: () => {
      engineRunning = true;
      handEnginePort();
    },
    onCrash: () => {
      engineRunning = false;
    },
    onStatus: (status) => {
      if (win && !win.isDestroyed()) win.webContents.send('engine-status', engineStatus(status));
    },
  });

  /** A new channel per page load (and per engine restart): one end to the host, the other to the page. */
  function handEnginePort(): void {
    const proc = engine.current;
    if (!proc || !engineRunning || !win || !loaded) return;
    const { port1, port2 } = new MessageChannelMain();
    proc.proc.postMessage(null, [port1]);
    win.webContents.postMessage('engine-port', null, [port2]);
  }

  function createWindow(): void {
    const w = new BrowserWindow({
      width: 1440,
      height: 900,
      minWidth: 900,
      minHeight: 600,
      show: false,
      title: APP_NAME,
      webPreferences: {
        preload: paths.preload,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
        navigateOnDragDrop: false,
        spellcheck: false,
        devTools: !app.isPackaged,
      },
    });
    win = w;
    loaded = false;
    guard = new CloseGuard();
    const wc = w.webContents;
    wc.on('did-start-loading', () => {
      loaded = false;
    });
    wc.on('did-finish-load', () => {
      loaded = true;
      handEnginePort();
      const queued = pending;
      pending = [];
      for (const m of queued) send(wc, m);
    });
    wc.on('render-process-gone', (_e, details) => {
      // The page crashed: load it again; its autosave is offered back from the recovery folder.
      if (details.reason !== 'clean-exit' && !w.isDestroyed()) w.reload();
    });
    w.on('close', (e) => {
      const decision = guard.onClose();
      if (decision === 'close') return;
      e.preventDefault();
      if (decision === 'ask') void askToSave(w);
    });
    w.on('closed', () => {
      if (win === w) {
        win = null;
        loaded = false;
      }
    });
    w.once('ready-to-show', () => w.show());
    void w.loadURL(APP_INDEX_URL);
  }

  async function askToSave(w: BrowserWindow): Promise<void> {
    const { response } = await dialog.showMessageBox(w, closeConfirmOptions(guard.name));
    const next = guard.onChoice(closeChoice(response));
    if (next === 'save') send(w.webContents, { command: 'file.save' });
    else if (next === 'close') w.close();
    else quitting = false;
  }

  async function onShell(event: IpcMainInvokeEvent, raw: unknown): Promise<ShellReply> {
    let frame: { url: string; isTop: boolean } | null = null;
    try {
      const f = event.senderFrame;
      frame = f ? { url: f.url, isTop: f.parent === null } : null;
    } catch {
      frame = null;
    }
    if (!isTrustedSender({ webContentsId: event.sender.id, frame }, win && !win.isDestroyed() ? win.webContents.id : null)) {
      return { ok: false, error: { message: 'refused: this request did not come from the app window' } };
    }
    const reply = await dispatchShell(service, raw);
    const type = (raw as { type?: unknown } | null)?.type;
    if ((type === 'save' || type === 'saveAs') && (!reply.ok || reply.result === null)) guard.onSaveFailed();
    return reply;
  }

  // Before ready: macOS hands over files (double-click, drag on the Dock icon) with open-file.
  app.on('open-file', (e, path) => {
    e.preventDefault();
    openProject(path);
  });
  app.on('second-instance', (_e, argv, cwd) => {
    const file = projectFromArgv(argv, cwd);
    if (file) openProject(file);
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('web-contents-created', (_e, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-attach-webview', (ev) => ev.preventDefault());
    if (contents.getType() === 'window') contents.on('will-navigate', (ev) => ev.preventDefault());
  });
  app.on('before-quit', () => {
    quitting = true;
  });
  app.on('window-all-closed', () => {
    if (!isMac || quitting) app.quit();
  });
  app.on('activate', () => {
    if (app.isReady() && !win) createWindow();
  });
  app.on('will-quit', () => engine.stop());

  void app.whenReady().then(() => {
    protocol.handle(APP_SCHEME, async (request) => {
      const file = appUrlFile(paths.renderer, request.url);
      if (file === null) return new Response('Not found', { status: 404 });
      try {
        const body = await readFile(file);
        return new Response(new Uint8Array(body), { status: 200, headers: rendererHeaders(file, CSP) });
      } catch {
        return new Response('Not found', { status: 404 });
      }
    });
    session.defaultSession.setPermissionRequestHandler((_wc, permission, callback) => callback(permissionAllowed(permission)));
    session.defaultSession.setPermissionCheckHandler((_wc, permission) => permissionAllowed(permission));
    ipcMain.handle('shell', onShell);
    rebuildMenu();
    engine.start();

    // The project named on the command line (npm start passes examples/spiral.bpstudio); without one the page
    // shows its start page (recent files, examples, blank).
    const named = projectFromArgv(process.argv, process.cwd());
    if (named && !pending.some((m) => m.command === 'file.open')) {
      policy.grant(named);
      pending.push({ command: 'file.open', path: named });
    }
    if (!win) createWindow();
  });
}
