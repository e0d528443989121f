/**
 * Web mode's file policy: every path is confined to one workspace folder (resolved, real paths compared, `..`
 * refused, links that lead outside refused), and the default workspace is a copy of the examples in the user's
 * data folder.
 */
import { cpSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { StudioError } from '../engine/util/errors';
import { isWithin, withExtension } from './fs-util';
import { PROJECT_EXT, type Access, type ShellPolicy } from './shell-service';

/** The user data folder of web mode: `$XDG_DATA_HOME/backprop-studio` (or `~/.local/share/...`) and the usual folders elsewhere. */
export function webDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = homedir()): string {
  if (env.BPSTUDIO_DATA_DIR) return resolve(env.BPSTUDIO_DATA_DIR);
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'Backprop Studio');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Backprop Studio');
  // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
  const xdg = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, '.local', 'share');
  return join(xdg, 'backprop-studio');
}

/**
 * Creates `dir` as a copy of the examples (with `data/`) when it does not exist yet; an existing folder is left
 * exactly as it is, so nothing of the user's is ever overwritten. The copy is made beside it and renamed into
 * place, so an interrupted first run does not leave half a workspace.
 */
export function ensureWorkspace(dir: string, examplesDir: string): { dir: string; created: boolean } {
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new StudioError('the workspace is not a folder', { file: target });
    return { dir: target, created: false };
  }
  mkdirSync(dirname(target), { recursive: true });
  const staging = `${target}.creating-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  cpSync(examplesDir, staging, {
    recursive: true,
    force: false,
    errorOnExist: false,
    filter: (src) => !basename(src).startsWith('.') || src === examplesDir,
  });
  try {
    renameSync(staging, target);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(target)) throw e; // someone else created it meanwhile: theirs stays
    return { dir: target, created: false };
  }
  return { dir: target, created: true };
}

/**
 * Resolves a path the page sent to a real absolute path inside `root` (itself a real path), or throws a
 * StudioError that says why not. Relative paths are relative to the workspace; absolute ones must lie inside it.
 * For a file that does not exist yet (a save), its folder must exist and lie inside.
 */
export function resolveInWorkspace(root: string, clientPath: string): string {
  const shown = clientPath;
  if (clientPath.includes('\0')) throw new StudioError('a path cannot contain a NUL character', { file: shown });
  if (clientPath.split(/[\\/]+/).includes('..')) {
    throw new StudioError('this path leaves the workspace (".." is not allowed)', { file: shown });
  }
  const lexical = isAbsolute(clientPath) ? resolve(clientPath) : resolve(root, clientPath);
  if (!isWithin(root, lexical)) throw new StudioError(`this path is outside the workspace (${root})`, { file: shown });
  let real: string;
  try {
    real = realpathSync(lexical);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new StudioError('this path cannot be read', { file: shown });
    let parent: string;
    try {
      parent = realpathSync(dirname(lexical));
    } catch {
      throw new StudioError('no such folder in the workspace', { file: shown });
    }
    real = join(parent, basename(lexical));
  }
  if (!isWithin(root, real)) throw new StudioError('this path is a link that leads outside the workspace', { file: shown });
  return real;
}

/** The policy of web mode: confined to `workspace`; the page's own picker chooses files (no native dialogs). */
export function webPolicy(workspace: string): ShellPolicy {
  const root = realpathSync(workspace);
  const toClient = (abs: string): string => {
    if (!isWithin(root, abs)) throw new StudioError('this path is outside the workspace', { file: abs });
    return relative(root, abs).split(sep).join('/');
  };
  return {
    platform: 'web',
    workspace: root,
    async resolve(clientPath: string, access: Access): Promise<string> {
      const abs = resolveInWorkspace(root, clientPath);
      if (access === 'list') {
        let isDir = false;
        try {
          isDir = statSync(abs).isDirectory();
        } catch {
          throw new StudioError('no such folder in the workspace', { file: clientPath });
        }
        if (!isDir) throw new StudioError('this is not a folder', { file: clientPath });
      }
      return abs;
    },
    toClient,
    async chooseOpen() {
      throw new StudioError('web mode opens a file chosen in the page: give its path');
    },
    async chooseFile(_purpose, hint) {
      // The page's picker chose `hint`; the service checks that it is a readable file.
      if (hint === undefined) throw new StudioError('web mode reads a file chosen in the page: give its path');
      return resolveInWorkspace(root, hint);
    },
    async chooseSave(kind, suggestedName, hint) {
      // The page's picker chose `hint` (and asked before replacing a file); without one, the suggested name goes to
      // the workspace's top folder, numbered so that it never replaces a file there.
      if (hint !== undefined) return resolveInWorkspace(root, kind === 'project' ? withExtension(hint, PROJECT_EXT) : hint);
      return resolveInWorkspace(root, freeName(root, suggestedName));
    },
    async defaultDir() {
      return root;
    },
    examplePath(abs: string) {
      return basename(abs);
    },
  };
}

/** `name`, or `stem (2).ext`, `stem (3).ext`... : the first that does not exist in `dir`. */
export function freeName(dir: string, name: string): string {
  if (!existsSync(join(dir, name))) return name;
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let i = 2; ; i++) {
    const candidate = `${stem} (${i})${ext}`;
    if (!existsSync(join(dir, candidate))) return candidate;
  }
}
