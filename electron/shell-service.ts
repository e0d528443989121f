/**
 * The shell service: every `shellRequest` of the protocol (open, save, save as, export, list, recent, examples,
 * recovery, window state, info, choosing and reading data and weights files), in plain Node. Electron's main and
 * web mode's server each give it a policy that says which paths the renderer may touch and how to ask the user for
 * one (native dialogs, or the in-page picker).
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { writeFileAtomic } from '../engine/io/atomic';
import { parseProject } from '../engine/io/project';
import { ProtocolError } from '../engine/protocol/check';
import {
  shellRequest,
  shellResults,
  type ErrorInfo,
  type ExampleItem,
  type FileEntry,
  type ShellReply,
  type ShellRequest,
  type ShellResult,
} from '../engine/protocol/messages';
import { StudioError, type Where } from '../engine/util/errors';
import { removeStaleTemps } from './fs-util';
import { RecentList } from './recent';
import { RecoveryStore } from './recovery';

export const PROJECT_EXT = '.bpstudio';
/** The largest file `open` reads (the protocol bounds texts the same way). */
export const MAX_OPEN_BYTES = 256 * 1024 * 1024;
/** The largest file `readFile` reads (weights). */
export const MAX_READ_BYTES = 256 * 1024 * 1024;

/** What a chosen file is for: a dataset (CSV, IDX), trained weights (.safetensors), or a folder of images. */
export type FilePurpose = 'data' | 'weights' | 'images';

export type Access = 'read' | 'write' | 'list';

/** What differs between Electron and web mode. */
export interface ShellPolicy {
  readonly platform: 'electron' | 'web';
  /** Web mode: the folder every path is confined to. */
  readonly workspace?: string;
  /** A path the renderer sent -> the absolute path to use. Throws a StudioError when it is not allowed. */
  resolve(clientPath: string, access: Access): Promise<string>;
  /** An absolute path -> the path as the renderer sees it (absolute in Electron, workspace-relative in web mode). */
  toClient(absPath: string): string;
  /** `open` without a path: the native dialog (null when canceled); web mode refuses (its picker gives a path). */
  chooseOpen(): Promise<string | null>;
  /**
   * `chooseFile`: the file to read (absolute), or null when the user canceled. Electron: the native open dialog,
   * starting at `hint` when it is an absolute path; web mode: `hint` is the page picker's choice (required).
   */
  chooseFile(purpose: FilePurpose, hint: string | undefined): Promise<string | null>;
  /** `saveAs`/`exportFile`: where to write (absolute), or null when the user canceled. */
  chooseSave(kind: 'project' | 'export', suggestedName: string, hint: string | undefined): Promise<string | null>;
  /** `list` without a folder. */
  defaultDir(): Promise<string>;
  /** How an example's path is shown (Electron: its absolute path; web mode: its file name). */
  examplePath(absPath: string): string;
  /**
   * A file the user opened or chose (`used`: it becomes where dialogs start), or one listed from the shell's own
   * records (`listed`: recent files, recovery). Electron grants it for later reads and saves.
   */
  remember?(absPath: string, how: 'used' | 'listed'): void;
  /** The renderer's title and unsaved-changes flag. */
  windowState?(title: string, dirty: boolean): void;
}

export interface ShellServiceOptions {
  policy: ShellPolicy;
  /** Holds `recent.json` and `recovery/`. */
  dataDir: string;
  examplesDir: string;
  version: string;
  /** The recent list changed (Electron rebuilds its Open Recent menu). */
  onRecentChanged?(absPaths: string[]): void;
}

type Handlers = { [K in ShellRequest['type']]: (r: Extract<ShellRequest, { type: K }>) => Promise<ShellResult<K>> };

export interface ShellService {
  readonly recent: RecentList;
  readonly recovery: RecoveryStore;
  handle<T extends ShellRequest>(request: T): Promise<ShellResult<T['type']>>;
}

export function createShellService(options: ShellServiceOptions): ShellService {
  const { policy, examplesDir } = options;
  const recent = new RecentList(join(options.dataDir, 'recent.json'));
  const recovery = new RecoveryStore(join(options.dataDir, 'recovery'));

  const remember = (abs: string): void => {
    policy.remember?.(abs, 'used');
    const paths = recent.add(abs);
    options.onRecentChanged?.(paths);
  };

  const handlers: Handlers = {
    async open(r) {
      const abs = r.path === undefined ? await policy.chooseOpen() : await policy.resolve(r.path, 'read');
      if (abs === null) return null;
      const shown = policy.toClient(abs);
      const text = await readProjectText(abs, shown);
      parseProject(text, shown); // a StudioError naming file, row/column or path and node; nothing changes on disk
      remember(abs);
      return { path: shown, text };
    },

    async save(r) {
      checkProjectText(r.text, r.path);
      const abs = await policy.resolve(r.path, 'write');
      writeProject(abs, r.text, r.path);
      remember(abs);
      return { path: policy.toClient(abs) };
    },

    async saveAs(r) {
      checkProjectText(r.text, r.path ?? r.suggestedName);
      const abs = await destination('project', r.suggestedName, r.path);
      if (abs === null) return null;
      const shown = policy.toClient(abs);
      writeProject(abs, r.text, shown);
      remember(abs);
      return { path: shown };
    },

    async exportFile(r) {
      const bytes = decodeBase64(r.base64);
      const abs = await destination('export', r.suggestedName, r.path);
      if (abs === null) return null;
      const shown = policy.toClient(abs);
      try {
        writeFileAtomic(abs, bytes);
      } catch (e) {
        throw fsError(e, shown);
      }
      policy.remember?.(abs, 'used');
      return { path: shown };
    },

    async list(r) {
      const listed = fileMatcher(r.extensions);
      const abs = r.dir === undefined || r.dir === '' ? await policy.defaultDir() : await policy.resolve(r.dir, 'list');
      const shown = policy.toClient(abs);
      let dirents;
      try {
        dirents = await readdir(abs, { withFileTypes: true });
      } catch (e) {
        throw fsError(e, shown);
      }
      const entries: FileEntry[] = [];
      for (const d of dirents) {
        if (d.name.startsWith('.')) continue;
        const childAbs = join(abs, d.name);
        let kind: 'file' | 'dir' | null = d.isDirectory() ? 'dir' : d.isFile() ? 'file' : null;
        let target = childAbs;
        if (d.isSymbolicLink()) {
          // A link is listed only when it leads somewhere the policy allows (web mode: inside the workspace).
          try {
            target = await policy.resolve(policy.toClient(childAbs), 'read');
            const s = await stat(target);
            kind = s.isDirectory() ? 'dir' : s.isFile() ? 'file' : null;
          } catch {
            kind = null;
          }
        }
        if (kind === null || (kind === 'file' && !listed(d.name))) continue;
        entries.push({ name: d.name, path: policy.toClient(childAbs), kind });
      }
      entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'dir' ? -1 : 1));
      return { dir: shown, entries };
    },

    async recent() {
      const paths: string[] = [];
      for (const abs of recent.list()) {
        try {
          policy.remember?.(abs, 'listed');
          paths.push(policy.toClient(await policy.resolve(policy.toClient(abs), 'read')));
        } catch {
          // outside what this shell may open (web mode: another workspace): not listed
        }
      }
      return { paths };
    },

    async examples() {
      let names: string[];
      try {
        names = (await readdir(examplesDir)).filter((n) => extname(n) === PROJECT_EXT).sort();
      } catch (e) {
        throw fsError(e, 'examples');
      }
      const examples: ExampleItem[] = [];
      for (const name of names) {
        const abs = join(examplesDir, name);
        examples.push({ name: basename(name, PROJECT_EXT), path: policy.examplePath(abs), text: await readFile(abs, 'utf8') });
      }
      return { examples };
    },

    async recoverySave(r) {
      const abs = r.path === null ? null : await policy.resolve(r.path, 'write');
      recovery.save({ key: r.key, name: r.name, path: abs, text: r.text });
      return {};
    },

    async recoveryList() {
      const items = recovery.list().map((item) => {
        let path: string | null = null;
        if (item.path !== null) {
          policy.remember?.(item.path, 'listed');
          try {
            path = policy.toClient(item.path);
          } catch {
            path = null;
          }
        }
        return { ...item, path };
      });
      return { items };
    },

    async recoveryDiscard(r) {
      recovery.discard(r.key);
      return {};
    },

    async windowState(r) {
      policy.windowState?.(r.title, r.dirty);
      return {};
    },

    async info() {
      return { platform: policy.platform, version: options.version, ...(policy.workspace ? { workspace: policy.workspace } : {}) };
    },

    async chooseFile(r) {
      const abs = await policy.chooseFile(r.purpose, r.path);
      if (abs === null) return null;
      const shown = policy.toClient(abs);
      if (r.purpose === 'images') await checkFolder(abs, shown);
      else await checkReadable(abs, shown);
      return { path: shown };
    },

    async readFile(r) {
      const abs = await policy.resolve(r.path, 'read');
      const shown = policy.toClient(abs);
      const size = await checkReadable(abs, shown);
      if (size > MAX_READ_BYTES) throw new StudioError(`this file is too large to load (${size} bytes; the limit is ${MAX_READ_BYTES})`, { file: shown });
      let bytes: Buffer;
      try {
        bytes = await readFile(abs);
      } catch (e) {
        throw fsError(e, shown);
      }
      if (bytes.length > MAX_READ_BYTES) throw new StudioError(`this file is too large to load (${bytes.length} bytes; the limit is ${MAX_READ_BYTES})`, { file: shown });
      return { path: shown, base64: bytes.toString('base64'), bytes: bytes.length };
    },
  };

  async function destination(kind: 'project' | 'export', suggestedName: string, hint: string | undefined): Promise<string | null> {
    const name = safeFileName(suggestedName, kind === 'project' ? PROJECT_EXT : '');
    return policy.chooseSave(kind, name, hint);
  }

  return {
    recent,
    recovery,
    handle<T extends ShellRequest>(request: T): Promise<ShellResult<T['type']>> {
      const h = handlers[request.type] as unknown as (r: T) => Promise<ShellResult<T['type']>>;
      return h(request);
    },
  };
}

/**
 * Validates a raw request, runs it and checks what it returns: what crosses back is always a ShellReply, never a
 * thrown error (a failure is `ok: false` with the message and where).
 */
export async function dispatchShell(service: ShellService, raw: unknown): Promise<ShellReply> {
  let request: ShellRequest;
  try {
    request = shellRequest(raw);
  } catch (e) {
    return { ok: false, error: toErrorInfo(e) };
  }
  try {
    const result = await service.handle(request);
    shellResults[request.type](result, 'result');
    return { ok: true, result };
  } catch (e) {
    return { ok: false, error: toErrorInfo(e) };
  }
}

/** An error as it crosses to the renderer: the message and, for a StudioError, where. */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof StudioError) {
    const where = Object.fromEntries(Object.entries(e.where).filter(([, v]) => v !== undefined)) as Where;
    return Object.keys(where).length ? { message: e.message, where } : { message: e.message };
  }
  if (e instanceof ProtocolError) return { message: `bad request: ${e.message}` };
  return { message: e instanceof Error ? e.message : String(e) };
}

/** A Node file-system error as a StudioError naming the file the way the renderer knows it. */
export function fsError(e: unknown, shown: string): unknown {
  if (e instanceof StudioError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const messages: Record<string, string> = {
    ENOENT: 'no such file or folder',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'this is a folder, not a file',
    ENOTDIR: 'a part of this path is not a folder',
    ENOSPC: 'the disk is full',
    EROFS: 'this place is read-only',
    EBUSY: 'the file is busy',
    ENAMETOOLONG: 'the name is too long',
  };
  if (code && messages[code]) return new StudioError(messages[code], { file: shown });
  return new StudioError(e instanceof Error ? e.message : String(e), { file: shown });
}

/**
 * Which files `list` shows: project files (no `extensions`), or those whose name ends with `.EXT` for one of
 * `extensions` (case-insensitive; `*` for any file).
 */
export function fileMatcher(extensions: readonly string[] | undefined): (name: string) => boolean {
  if (extensions === undefined) return (name) => extname(name).toLowerCase() === PROJECT_EXT;
  const exts = extensions.map((e) => e.replace(/^\./, '').toLowerCase());
  if (exts.includes('*')) return () => true;
  return (name) => {
    const lower = name.toLowerCase();
    return exts.some((e) => e !== '' && lower.endsWith(`.${e}`));
  };
}

/** A file that exists, is a file (not a folder) and can be read; its size. */
async function checkReadable(abs: string, shown: string): Promise<number> {
  try {
    const s = await stat(abs);
    if (s.isDirectory()) throw new StudioError('this is a folder, not a file', { file: shown });
    if (!s.isFile()) throw new StudioError('this is not a plain file', { file: shown });
    await access(abs, constants.R_OK);
    return s.size;
  } catch (e) {
    throw fsError(e, shown);
  }
}

/** A folder that exists and whose entries can be listed and read. */
async function checkFolder(abs: string, shown: string): Promise<void> {
  try {
    const s = await stat(abs);
    if (!s.isDirectory()) throw new StudioError('this is a file, not a folder', { file: shown });
    await access(abs, constants.R_OK | constants.X_OK);
  } catch (e) {
    throw fsError(e, shown);
  }
}

async function readProjectText(abs: string, shown: string): Promise<string> {
  try {
    const s = await stat(abs);
    if (s.isDirectory()) throw new StudioError('this is a folder, not a project file', { file: shown });
    if (s.size > MAX_OPEN_BYTES) throw new StudioError(`this file is too large to be a project (${s.size} bytes)`, { file: shown });
    const bytes = await readFile(abs);
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new StudioError('this file is not valid UTF-8 text, so it is not a project file', { file: shown });
    }
  } catch (e) {
    throw fsError(e, shown);
  }
}

/** A project is never written unless its text parses as one. */
function checkProjectText(text: string, shown: string): void {
  try {
    parseProject(text, shown);
  } catch (e) {
    if (e instanceof StudioError) throw new StudioError(`not saved: ${e.message}`, e.where);
    throw e;
  }
}

function writeProject(abs: string, text: string, shown: string): void {
  try {
    writeFileAtomic(abs, text);
  } catch (e) {
    throw fsError(e, shown);
  }
  removeStaleTemps(abs);
}

function decodeBase64(b64: string): Uint8Array {
  const clean = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) throw new StudioError('the exported bytes are not valid base64');
  return Buffer.from(clean, 'base64');
}

/**
 * A suggested file name reduced to a plain name (no folders, no control or reserved characters), with `ext`
 * appended when it lacks it.
 */
export function safeFileName(suggested: string, ext: string): string {
  let name = suggested.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  name = name.replace(/[\u0000-\u001f<>:"|?*]/g, '_').replace(/^\.+/, '').trim();
  if (name === '' || name === '.' || name === '..') name = 'untitled';
  if (name.length > 200) name = name.slice(0, 200);
  if (ext && extname(name).toLowerCase() !== ext) name += ext;
  return name;
}
