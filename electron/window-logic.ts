/**
 * The window's decisions as plain code: its title, what happens when it closes over unsaved work, which file the
 * command line names, and how Edit commands reach a text field or the graph.
 */
import { isAbsolute, resolve } from 'node:path';
import type { MenuCommand } from '../engine/protocol/messages';
import { PROJECT_EXT } from './shell-service';

export const APP_NAME = 'Backprop Studio';

/**
 * The document's name from the title the renderer sent: its file name, or a whole window title (`NAME * — Backprop
 * Studio`), whose app name and unsaved star are taken off.
 */
export function documentName(title: string): string {
  let n = title.trim();
  const suffix = `— ${APP_NAME}`;
  if (n.endsWith(suffix)) n = n.slice(0, -suffix.length).trim();
  n = n.replace(/\s*\*$/, '').trim();
  return n || 'Untitled';
}

/** `NAME* — Backprop Studio` (the star when there are unsaved changes). */
export function windowTitle(title: string, dirty: boolean): string {
  return `${documentName(title)}${dirty ? '*' : ''} — ${APP_NAME}`;
}

/** The buttons of the close confirm, in order; the response index maps back with `closeChoice`. */
export const CLOSE_BUTTONS = ['Save', "Don't Save", 'Cancel'] as const;
export const CLOSE_CANCEL_ID = 2;
export type CloseChoice = 'save' | 'discard' | 'cancel';

export function closeChoice(response: number): CloseChoice {
  return response === 0 ? 'save' : response === 1 ? 'discard' : 'cancel';
}

export function closeConfirmOptions(title: string): {
  type: 'warning';
  buttons: string[];
  defaultId: number;
  cancelId: number;
  message: string;
  detail: string;
  noLink: boolean;
} {
  return {
    type: 'warning',
    buttons: [...CLOSE_BUTTONS],
    defaultId: 0,
    cancelId: CLOSE_CANCEL_ID,
    message: `Save the changes to ${documentName(title)} before closing?`,
    detail: 'Your changes are lost if you do not save them.',
    noLink: true,
  };
}

/**
 * Closing over unsaved work. The window's `close` event asks `onClose()`: `close` lets it close; `ask` prevents it
 * and shows the confirm, whose answer goes to `onChoice()`; `wait` prevents it (a confirm or a save is under way).
 * Save sends `file.save` to the renderer and closes once it reports the work clean (`onWindowState`); a save that
 * fails or is canceled (`onSaveFailed`) leaves the window open.
 */
export class CloseGuard {
  private dirty = false;
  private title = '';
  private state: 'idle' | 'asking' | 'saving' | 'closing' = 'idle';

  get isDirty(): boolean {
    return this.dirty;
  }
  get name(): string {
    return this.title;
  }

  onClose(): 'close' | 'ask' | 'wait' {
    if (this.state === 'closing' || !this.dirty) {
      this.state = 'closing';
      return 'close';
    }
    if (this.state !== 'idle') return 'wait';
    this.state = 'asking';
    return 'ask';
  }

  /** What to do with the confirm's answer: send `file.save` (`save`), close now (`close`) or nothing (`stay`). */
  onChoice(choice: CloseChoice): 'save' | 'close' | 'stay' {
    if (choice === 'save') {
      this.state = 'saving';
      return 'save';
    }
    if (choice === 'discard') {
      this.state = 'closing';
      return 'close';
    }
    this.state = 'idle';
    return 'stay';
  }

  /** The renderer's `windowState`: returns `close` when a save asked for by the confirm has made the work clean. */
  onWindowState(title: string, dirty: boolean): 'close' | null {
    this.title = title;
    this.dirty = dirty;
    if (this.state === 'saving' && !dirty) {
      this.state = 'closing';
      return 'close';
    }
    return null;
  }

  /** A save or save-as failed or was canceled: if it was the confirm's save, the window stays open. */
  onSaveFailed(): void {
    if (this.state === 'saving') this.state = 'idle';
  }
}

/**
 * The project file named on a command line (`app file.bpstudio`, or in development `electron main.cjs
 * file.bpstudio`): the last argument ending in .bpstudio that is not a switch, resolved against `cwd`.
 */
export function projectFromArgv(argv: readonly string[], cwd: string): string | null {
  for (let i = argv.length - 1; i >= 1; i--) {
    const a = argv[i];
    if (a.startsWith('-')) continue;
    if (a.toLowerCase().endsWith(PROJECT_EXT)) return isAbsolute(a) ? a : resolve(cwd, a);
  }
  return null;
}

/**
 * Edit commands that act on a focused text field instead of the graph, with the webContents method that does
 * it natively (so Cmd/Ctrl+C, Z, Delete... keep working while typing in the inspector).
 */
export const TEXT_EDIT_METHOD: Partial<Record<MenuCommand, 'undo' | 'redo' | 'cut' | 'copy' | 'paste' | 'pasteAndMatchStyle' | 'delete' | 'selectAll'>> = {
  'edit.undo': 'undo',
  'edit.redo': 'redo',
  'edit.cut': 'cut',
  'edit.copy': 'copy',
  'edit.paste': 'paste',
  'edit.pasteWithLinks': 'pasteAndMatchStyle',
  'edit.delete': 'delete',
  'edit.selectAll': 'selectAll',
};

/** Evaluated in an isolated world of the page: whether a text field has the focus. */
export const EDITABLE_FOCUS_PROBE = `(() => {
  const e = document.activeElement;
  if (!e) return false;
  if (e.isContentEditable) return true;
  if (e.tagName === 'TEXTAREA') return !e.readOnly && !e.disabled;
  if (e.tagName !== 'INPUT') return false;
  const textual = ['text', 'search', 'url', 'tel', 'email', 'password', 'number', ''];
  return textual.includes((e.getAttribute('type') || '').toLowerCase()) && !e.readOnly && !e.disabled;
})()`;

/** Where an Edit command goes: the focused text field (`text`, with the method) or the renderer (`renderer`). */
export function routeEditCommand(command: MenuCommand, textFieldFocused: boolean): { to: 'text'; method: NonNullable<(typeof TEXT_EDIT_METHOD)[MenuCommand]> } | { to: 'renderer' } {
  const method = TEXT_EDIT_METHOD[command];
  return method && textFieldFocused ? { to: 'text', method } : { to: 'renderer' };
}
