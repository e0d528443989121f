/**
 * Keyboard shortcuts: one table, used both to dispatch keys and to draw the `?` overlay. `mod` is Cmd on macOS and
 * Ctrl elsewhere.
 */
import type { MenuCommand } from '../../../engine/protocol/messages';

export interface Shortcut {
  command: MenuCommand;
  /** Keys as shown in the overlay. */
  keys: string[];
  description: string;
}

export const IS_MAC = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
const MOD = IS_MAC ? '⌘' : 'Ctrl';

export const SHORTCUTS: readonly Shortcut[] = [
  { command: 'file.new', keys: [`${MOD}+N`], description: 'New project (start page)' },
  { command: 'file.open', keys: [`${MOD}+O`], description: 'Open a project' },
  { command: 'file.save', keys: [`${MOD}+S`], description: 'Save' },
  { command: 'file.saveAs', keys: [`${MOD}+Shift+S`], description: 'Save as' },
  { command: 'edit.undo', keys: [`${MOD}+Z`], description: 'Undo' },
  { command: 'edit.redo', keys: [`${MOD}+Shift+Z`, 'Ctrl+Y'], description: 'Redo' },
  { command: 'edit.cut', keys: [`${MOD}+X`], description: 'Cut the selection' },
  { command: 'edit.copy', keys: [`${MOD}+C`], description: 'Copy the selection' },
  { command: 'edit.paste', keys: [`${MOD}+V`], description: 'Paste' },
  { command: 'edit.pasteWithLinks', keys: [`${MOD}+Shift+V`], description: 'Paste, keeping links from nodes outside the selection' },
  { command: 'edit.delete', keys: ['Delete', 'Backspace'], description: 'Delete the selection' },
  { command: 'edit.selectAll', keys: [`${MOD}+A`], description: 'Select all' },
  { command: 'view.fit', keys: ['F'], description: 'Fit the graph in view' },
  { command: 'view.layout', keys: ['L'], description: 'Auto-layout (left to right)' },
  { command: 'train.toggle', keys: ['Space'], description: 'Train, pause, resume' },
  { command: 'train.step', keys: ['.'], description: 'One training step (pauses a running job)' },
  { command: 'help.shortcuts', keys: ['?'], description: 'Show this list' },
];

/** Mouse and canvas gestures, listed in the overlay too. */
export const GESTURES: readonly { keys: string; description: string }[] = [
  { keys: 'Double-click canvas', description: 'Search and add a node there' },
  { keys: 'Drag from palette', description: 'Add a node where it is dropped' },
  { keys: 'Drag output → input', description: 'Connect (an input takes one wire; a new one replaces it)' },
  { keys: 'Drop a wire on empty canvas', description: 'Search and add a node, wired to it' },
  { keys: 'Shift/Ctrl+click', description: 'Add to the selection' },
  { keys: 'Shift+drag', description: 'Box select' },
  { keys: 'Esc', description: 'Close a dialog or menu; clear the selection' },
];

/** Is the key event aimed at something the user types into (shortcuts then stay out of the way)? */
export function isTyping(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t || !(t instanceof HTMLElement)) return false;
  if (t.isContentEditable) return true;
  if (t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return true;
  if (t instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].includes(t.type);
  }
  return false;
}

/** The command a key event means, or null. */
export function commandFor(e: KeyboardEvent): MenuCommand | null {
  const mod = IS_MAC ? e.metaKey : e.ctrlKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (mod && !e.altKey) {
    switch (key) {
      case 'n':
        return e.shiftKey ? null : 'file.new';
      case 'o':
        return e.shiftKey ? null : 'file.open';
      case 's':
        return e.shiftKey ? 'file.saveAs' : 'file.save';
      case 'z':
        return e.shiftKey ? 'edit.redo' : 'edit.undo';
      case 'y':
        return 'edit.redo';
      case 'x':
        return 'edit.cut';
      case 'c':
        return 'edit.copy';
      case 'v':
        return e.shiftKey ? 'edit.pasteWithLinks' : 'edit.paste';
      case 'a':
        return 'edit.selectAll';
    }
    return null;
  }
  // Ctrl+Y is redo on macOS too.
  if (e.ctrlKey && !e.metaKey && key === 'y') return 'edit.redo';
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  switch (key) {
    case 'Delete':
    case 'Backspace':
      return 'edit.delete';
    case 'f':
      return e.shiftKey ? null : 'view.fit';
    case 'l':
      return e.shiftKey ? null : 'view.layout';
    case '?':
      return 'help.shortcuts';
    case ' ':
      return e.shiftKey ? null : 'train.toggle';
    case '.':
      return 'train.step';
  }
  return null;
}
