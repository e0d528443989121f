/**
 * Electron's file policy. The renderer may read or write only what the user chose in a native dialog, opened from
 * the command line, the OS (open-file) or the recent list, and read the bundled examples: a compromised page
 * cannot name an arbitrary file. Dialogs are passed in (Electron's `dialog` bound to the window), so this is plain
 * Node and tested without Electron.
 */
import { dirname, extname, isAbsolute, normalize, resolve } from 'node:path';
import { StudioError } from '../engine/util/errors';
import { isWithin, withExtension } from './fs-util';
import { PROJECT_EXT, type Access, type FilePurpose, type ShellPolicy } from './shell-service';

export interface FileFilter {
  name: string;
  extensions: string[];
}

/** The part of Electron's `dialog` the policy uses (already bound to the parent window). */
export interface DialogApi {
  showOpenDialog(options: { title?: string; defaultPath?: string; properties: string[]; filters: FileFilter[] }): Promise<{ canceled: boolean; filePaths: string[] }>;
  showSaveDialog(options: { title?: string; defaultPath?: string; filters: FileFilter[]; properties?: string[] }): Promise<{ canceled: boolean; filePath?: string }>;
}

export const PROJECT_FILTERS: FileFilter[] = [
  { name: 'Backprop Studio project', extensions: ['bpstudio'] },
  { name: 'All files', extensions: ['*'] },
];

/** The open dialog's filters when choosing a dataset: CSV-like text first; IDX files have no usual extension. */
export const DATA_FILTERS: FileFilter[] = [
  { name: 'CSV data', extensions: ['csv', 'tsv', 'txt'] },
  { name: 'All files (IDX)', extensions: ['*'] },
];

export const WEIGHTS_FILTERS: FileFilter[] = [
  { name: 'Safetensors weights', extensions: ['safetensors'] },
  { name: 'All files', extensions: ['*'] },
];

/** A dialog's result as the chosen path, or null when the user canceled (or chose nothing). */
export function dialogPath(result: { canceled: boolean; filePath?: string; filePaths?: string[] }): string | null {
  if (result.canceled) return null;
  const p = result.filePath || result.filePaths?.[0];
  return p ? p : null;
}

/** Filters for exporting a file named `name` (its own extension first). */
export function exportFilters(name: string): FileFilter[] {
  const ext = extname(name).slice(1);
  return ext ? [{ name: ext.toUpperCase() + ' file', extensions: [ext] }, { name: 'All files', extensions: ['*'] }] : [{ name: 'All files', extensions: ['*'] }];
}

export interface ElectronPolicyOptions {
  dialog: DialogApi;
  examplesDir: string;
  /** Where dialogs start when nothing better is known (the user's documents folder). */
  documentsDir: string;
  onWindowState?(title: string, dirty: boolean): void;
}

export interface ElectronPolicy extends ShellPolicy {
  /** Allows the renderer to read and write this file (the user chose it; `listed`: without making its folder current). */
  grant(absPath: string, how?: 'used' | 'listed'): void;
  isGranted(absPath: string): boolean;
}

export function electronPolicy(options: ElectronPolicyOptions): ElectronPolicy {
  const granted = new Set<string>();
  /** Files chosen to be read only (datasets, weights to load): readFile may read them, nothing may write them. */
  const readable = new Set<string>();
  const examples = resolve(options.examplesDir);
  let lastDir: string | undefined;
  const key = (p: string): string => normalize(resolve(p));
  const grant = (p: string, how: 'used' | 'listed' = 'used'): void => {
    granted.add(key(p));
    if (how === 'used') lastDir = dirname(key(p));
  };
  const notAllowed = (p: string): StudioError =>
    new StudioError('this file was not opened or chosen here; open it with File > Open', { file: p });

  return {
    platform: 'electron',
    grant,
    isGranted: (p) => granted.has(key(p)),
    async resolve(clientPath: string, access: Access): Promise<string> {
      if (!isAbsolute(clientPath) || clientPath.includes('\0')) throw new StudioError('expected an absolute path', { file: clientPath });
      const abs = key(clientPath);
      if (access === 'read' && (granted.has(abs) || readable.has(abs) || isWithin(examples, abs))) return abs;
      if (access === 'write' && granted.has(abs)) return abs;
      if (access === 'list' && (isWithin(examples, abs) || [...granted].some((g) => dirname(g) === abs))) return abs;
      throw notAllowed(clientPath);
    },
    toClient: (abs) => abs,
    async chooseOpen() {
      const r = await options.dialog.showOpenDialog({
        title: 'Open project',
        defaultPath: lastDir ?? options.documentsDir,
        properties: ['openFile'],
        filters: PROJECT_FILTERS,
      });
      const p = dialogPath(r);
      if (p !== null) grant(p);
      return p === null ? null : key(p);
    },
    async chooseFile(purpose: FilePurpose, hint: string | undefined) {
      const start = hint && isAbsolute(hint) && !hint.includes('\0') ? hint : (lastDir ?? options.documentsDir);
      const r = await options.dialog.showOpenDialog(
        purpose === 'images'
          ? { title: 'Choose an image folder', defaultPath: start, properties: ['openDirectory'], filters: [] }
          : {
              title: purpose === 'data' ? 'Choose a data file' : 'Load weights',
              defaultPath: start,
              properties: ['openFile'],
              filters: purpose === 'data' ? DATA_FILTERS : WEIGHTS_FILTERS,
            },
      );
      const p = dialogPath(r);
      if (p === null) return null;
      // Readable from now on (readFile), not writable, and where the project dialogs start does not move.
      readable.add(key(p));
      return key(p);
    },
    async chooseSave(kind, suggestedName, hint) {
      const start = hint && isAbsolute(hint) ? hint : resolve(lastDir ?? options.documentsDir, suggestedName);
      const r = await options.dialog.showSaveDialog({
        title: kind === 'project' ? 'Save project' : 'Export',
        defaultPath: start,
        filters: kind === 'project' ? PROJECT_FILTERS : exportFilters(suggestedName),
        properties: ['createDirectory', 'showOverwriteConfirmation'],
      });
      let p = dialogPath(r);
      if (p === null) return null;
      if (kind === 'project') p = withExtension(p, PROJECT_EXT);
      grant(p);
      return key(p);
    },
    async defaultDir() {
      return lastDir ?? examples;
    },
    examplePath: (abs) => abs,
    remember: grant,
    windowState: options.onWindowState,
  };
}
