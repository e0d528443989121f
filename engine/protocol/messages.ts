/**
 * Every message that crosses a process boundary, with its runtime check. Two channels:
 *
 * - engine: renderer <-> engine host (a MessagePort in Electron, the WebSocket in web mode). Requests carry an
 *   `id` and get one reply with the same id; events (training progress, in later work) flow host -> renderer.
 * - shell: renderer <-> the shell that owns files, dialogs and the window (Electron main through the preload's
 *   `window.studio`, or the web server). Same request/reply shape.
 *
 * Main, preload, host, web server and renderer import this module and nothing else crosses.
 */
import { arr, bool, int, json, literal, nullable, num, obj, optional, str, union, type Infer } from './check';

/** Where a problem is (engine/util/errors.ts `Where`), as it crosses. */
export const whereCheck = obj({
  file: optional(str),
  node: optional(str),
  port: optional(str),
  row: optional(int),
  column: optional((v, p) => (typeof v === 'number' ? int(v, p) : str(v, p))),
  path: optional(str),
});

export const errorInfo = obj({ message: str, where: optional(whereCheck) });
export type ErrorInfo = Infer<typeof errorInfo>;

// ---- engine channel ----------------------------------------------------------------------------------------------

export const engineRequest = union('type', {
  /** Compiles a project's training step: what only compiling finds (the plan's memory, graph errors). */
  compile: obj({ type: literal('compile'), id: int, project: json }),
});
export type EngineRequest = Infer<typeof engineRequest>;

export const compileResult = obj({
  ok: bool,
  /** Bytes of the training step's plan at the project's batch size. */
  planBytes: optional(num),
  parameterCount: num,
  errors: arr(obj({ node: nullable(str), port: optional(str), message: str })),
});
export type CompileResult = Infer<typeof compileResult>;

export const engineReply = obj({ id: int, ok: bool, result: optional(json), error: optional(errorInfo) });
export type EngineReply = Infer<typeof engineReply>;

/** What the host sends: replies, and (once training lands) events. */
export const engineMessage = engineReply;
export type EngineMessage = Infer<typeof engineMessage>;

// ---- shell channel -----------------------------------------------------------------------------------------------

export const fileEntry = obj({ name: str, path: str, kind: literal('file', 'dir') });
export type FileEntry = Infer<typeof fileEntry>;

export const openedFile = obj({ path: str, text: str });
export type OpenedFile = Infer<typeof openedFile>;

export const recoveryItem = obj({ key: str, name: str, path: nullable(str), savedAt: num, text: str });
export type RecoveryItem = Infer<typeof recoveryItem>;

export const exampleItem = obj({ name: str, path: str, text: str });
export type ExampleItem = Infer<typeof exampleItem>;

/** Texts are bounded so that a broken renderer cannot make the shell write gigabytes. */
const MAX_TEXT = 256 * 1024 * 1024;
const text = (v: unknown, p?: string) => {
  const s = str(v, p);
  if (s.length > MAX_TEXT) throw new Error(`${p}: text too long`);
  return s;
};

export const shellRequest = union('type', {
  /** Opens a project: the given path, or (without one) the native dialog / the workspace picker's choice. */
  open: obj({ type: literal('open'), path: optional(str) }),
  save: obj({ type: literal('save'), path: str, text }),
  /** Asks where to save (native dialog in Electron; in web mode the renderer's picker chose `path`). */
  saveAs: obj({ type: literal('saveAs'), suggestedName: str, text, path: optional(str) }),
  /** Writes bytes (base64) next to the project: exported weights. */
  exportFile: obj({ type: literal('exportFile'), suggestedName: str, base64: str, path: optional(str) }),
  list: obj({ type: literal('list'), dir: optional(str) }),
  recent: obj({ type: literal('recent') }),
  examples: obj({ type: literal('examples') }),
  recoverySave: obj({ type: literal('recoverySave'), key: str, name: str, path: nullable(str), text }),
  recoveryList: obj({ type: literal('recoveryList') }),
  recoveryDiscard: obj({ type: literal('recoveryDiscard'), key: str }),
  /** The window title and whether there is unsaved work (Electron asks before closing over it). */
  windowState: obj({ type: literal('windowState'), title: str, dirty: bool }),
  info: obj({ type: literal('info') }),
});
export type ShellRequest = Infer<typeof shellRequest>;

export const shellInfo = obj({
  platform: literal('electron', 'web'),
  /** Web mode: the workspace folder that file access is confined to. */
  workspace: optional(str),
  version: str,
});
export type ShellInfo = Infer<typeof shellInfo>;

/** What each shell request returns. */
export const shellResults = {
  open: nullable(openedFile),
  save: obj({ path: str }),
  saveAs: nullable(obj({ path: str })),
  exportFile: nullable(obj({ path: str })),
  list: obj({ dir: str, entries: arr(fileEntry) }),
  recent: obj({ paths: arr(str) }),
  examples: obj({ examples: arr(exampleItem) }),
  recoverySave: obj({}),
  recoveryList: obj({ items: arr(recoveryItem) }),
  recoveryDiscard: obj({}),
  windowState: obj({}),
  info: shellInfo,
} as const;
export type ShellResult<T extends ShellRequest['type']> = Infer<(typeof shellResults)[T]>;

/** Menu commands that the shell sends to the renderer (the Electron menu; web mode has the same in-page). */
export const MENU_COMMANDS = [
  'file.new',
  'file.open',
  'file.save',
  'file.saveAs',
  'file.exportWeights',
  'edit.undo',
  'edit.redo',
  'edit.cut',
  'edit.copy',
  'edit.paste',
  'edit.pasteWithLinks',
  'edit.delete',
  'edit.selectAll',
  'view.fit',
  'view.layout',
  'view.errors',
  'view.theme',
  'help.shortcuts',
] as const;
export type MenuCommand = (typeof MENU_COMMANDS)[number];
export const menuCommand = obj({ command: literal(...MENU_COMMANDS), path: optional(str) });

// ---- web mode's one socket ---------------------------------------------------------------------------------------

/** Web mode multiplexes both channels over one WebSocket. */
export const socketUp = union('channel', {
  engine: obj({ channel: literal('engine'), message: engineRequest }),
  shell: obj({ channel: literal('shell'), id: int, request: shellRequest }),
});
export type SocketUp = Infer<typeof socketUp>;

export const socketDown = union('channel', {
  engine: obj({ channel: literal('engine'), message: json }),
  shell: obj({ channel: literal('shell'), id: int, ok: bool, result: optional(json), error: optional(errorInfo) }),
  /** The engine process died; it is being restarted. */
  status: obj({ channel: literal('status'), engine: literal('restarting', 'ready'), message: optional(str) }),
});
export type SocketDown = Infer<typeof socketDown>;


// ---- what the shells add (Electron's preload and web mode) -------------------------------------------------------

/**
 * The answer to every shell request, on both platforms: `window.studio.request(req)` in Electron resolves with it,
 * and web mode's socket sends the same fields with `channel: 'shell'` and the request's `id`. Never a rejection for
 * a failed request: `ok` false with `error` (its `where` says which file, row, column, node...).
 */
export const shellReply = obj({ ok: bool, result: optional(json), error: optional(errorInfo) });
export type ShellReply = Infer<typeof shellReply>;

/** The engine process died and is being restarted (`restarting`), or a new one is serving (`ready`). */
export const engineStatus = obj({ engine: literal('restarting', 'ready'), message: optional(str) });
export type EngineStatus = Infer<typeof engineStatus>;

export type MenuCommandMessage = Infer<typeof menuCommand>;

/**
 * The window message (`event.data`) by which Electron's preload hands the page its MessagePort to the engine host:
 * `window.addEventListener('message', (e) => { if (e.source === window && e.data === ENGINE_PORT_MESSAGE) use(e.ports[0]) })`.
 * It comes after every page load and again after an engine restart (a new port replaces the old one).
 */
export const ENGINE_PORT_MESSAGE = 'studio:engine-port';

/** `window.studio` in Electron (the preload's whole API); absent in web mode, which uses the WebSocket instead. */
export interface StudioBridge {
  readonly platform: 'electron';
  request(request: ShellRequest): Promise<ShellReply>;
  /** Menu commands from the application menu; returns the unsubscribe function. */
  onMenu(callback: (command: MenuCommandMessage) => void): () => void;
  /** Engine restarts; returns the unsubscribe function. */
  onEngineStatus(callback: (status: EngineStatus) => void): () => void;
}
