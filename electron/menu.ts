/**
 * The application menu as a template built by a pure function: every item that acts on the document sends a menu
 * command to the renderer (through `actions.command`). Shortcuts without a modifier (F, L, ?) are shown but not
 * registered, so they never steal typing from a text field: the renderer handles those keys itself.
 */
import { basename } from 'node:path';
import type { MenuItemConstructorOptions } from 'electron';
import type { MenuCommand } from '../engine/protocol/messages';

export interface MenuContext {
  isMac: boolean;
  /** Development build: adds Reload and the developer tools. */
  isDev: boolean;
  appName: string;
  /** The recent files, most recent first (absolute paths). */
  recent: readonly string[];
}

export interface MenuActions {
  command(command: MenuCommand, path?: string): void;
  clearRecent(): void;
}

/** Registered accelerators of the menu commands (Electron's syntax). */
export const ACCELERATORS: Partial<Record<MenuCommand, string>> = {
  'file.new': 'CmdOrCtrl+N',
  'file.open': 'CmdOrCtrl+O',
  'file.save': 'CmdOrCtrl+S',
  'file.saveAs': 'CmdOrCtrl+Shift+S',
  'edit.undo': 'CmdOrCtrl+Z',
  'edit.redo': 'CmdOrCtrl+Shift+Z',
  'edit.cut': 'CmdOrCtrl+X',
  'edit.copy': 'CmdOrCtrl+C',
  'edit.paste': 'CmdOrCtrl+V',
  'edit.pasteWithLinks': 'CmdOrCtrl+Shift+V',
  'edit.delete': 'Delete',
  'edit.selectAll': 'CmdOrCtrl+A',
};

/** Keys the renderer handles; the menu only shows them. */
export const RENDERER_KEYS: Partial<Record<MenuCommand, string>> = {
  'view.fit': 'F',
  'view.layout': 'L',
  'help.shortcuts': '?',
  'train.toggle': 'Space',
  'train.step': '.',
};

export function buildMenuTemplate(ctx: MenuContext, actions: MenuActions): MenuItemConstructorOptions[] {
  const item = (command: MenuCommand, label: string): MenuItemConstructorOptions => {
    const out: MenuItemConstructorOptions = { id: command, label, click: () => actions.command(command) };
    const acc = ACCELERATORS[command];
    const key = RENDERER_KEYS[command];
    if (acc) out.accelerator = acc;
    else if (key) {
      // macOS registers every accelerator it shows, so there the key goes into the label instead.
      if (ctx.isMac) out.label = `${label} (${key})`;
      else {
        out.accelerator = key;
        out.registerAccelerator = false;
      }
    }
    return out;
  };
  const sep: MenuItemConstructorOptions = { type: 'separator' };

  const recentItems: MenuItemConstructorOptions[] = ctx.recent.length
    ? [
        ...ctx.recent.map(
          (p, i): MenuItemConstructorOptions => ({
            id: `recent.${i}`,
            label: basename(p),
            sublabel: p,
            toolTip: p,
            click: () => actions.command('file.open', p),
          }),
        ),
        sep,
        { id: 'recent.clear', label: 'Clear Recent', click: () => actions.clearRecent() },
      ]
    : [{ id: 'recent.none', label: 'No recent files', enabled: false }];

  const file: MenuItemConstructorOptions = {
    label: '&File',
    submenu: [
      item('file.new', 'New'),
      item('file.open', 'Open…'),
      { id: 'file.openRecent', label: 'Open Recent', submenu: recentItems },
      sep,
      item('file.save', 'Save'),
      item('file.saveAs', 'Save As…'),
      sep,
      {
        label: 'Export',
        submenu: [item('file.exportWeights', 'Weights (safetensors)…'), item('file.exportOnnx', 'ONNX model…'), item('file.exportPytorch', 'PyTorch code…')],
      },
      item('file.loadWeights', 'Load weights…'),
      item('file.importCsv', 'Import CSV…'),
      ...(ctx.isMac ? [] : [sep, { role: 'quit' } as MenuItemConstructorOptions]),
    ],
  };

  const edit: MenuItemConstructorOptions = {
    label: '&Edit',
    submenu: [
      item('edit.undo', 'Undo'),
      item('edit.redo', 'Redo'),
      sep,
      item('edit.cut', 'Cut'),
      item('edit.copy', 'Copy'),
      item('edit.paste', 'Paste'),
      item('edit.pasteWithLinks', 'Paste with links'),
      item('edit.delete', 'Delete'),
      sep,
      item('edit.selectAll', 'Select All'),
    ],
  };

  const view: MenuItemConstructorOptions = {
    label: '&View',
    submenu: [
      item('view.fit', 'Fit view'),
      item('view.layout', 'Auto-layout'),
      item('view.errors', 'Errors'),
      sep,
      item('view.theme', 'Toggle theme'),
      { role: 'togglefullscreen' },
      ...(ctx.isDev ? [sep, { role: 'reload' } as MenuItemConstructorOptions, { role: 'toggleDevTools' } as MenuItemConstructorOptions] : []),
    ],
  };

  const training: MenuItemConstructorOptions = {
    label: '&Training',
    submenu: [item('train.toggle', 'Train / Pause / Resume'), item('train.step', 'Step'), item('train.stop', 'Stop'), sep, item('train.evaluate', 'Evaluate'), item('train.checkGradients', 'Check gradients')],
  };

  const help: MenuItemConstructorOptions = {
    role: 'help',
    label: '&Help',
    submenu: [item('help.shortcuts', 'Keyboard shortcuts'), ...(ctx.isMac ? [] : [sep, { role: 'about', label: `About ${ctx.appName}` } as MenuItemConstructorOptions])],
  };

  const template: MenuItemConstructorOptions[] = [file, edit, view, training];
  if (ctx.isMac) {
    template.unshift({
      label: ctx.appName,
      submenu: [
        { role: 'about', label: `About ${ctx.appName}` },
        sep,
        { role: 'services' },
        sep,
        { role: 'hide' },
        { role: 'hideOthers' },
        { role: 'unhide' },
        sep,
        { role: 'quit' },
      ],
    });
    template.push({ role: 'windowMenu' });
  }
  template.push(help);
  return template;
}
