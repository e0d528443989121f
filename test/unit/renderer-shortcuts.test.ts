/**
 * Keyboard shortcuts (renderer/src/lib/shortcuts.ts): which command a key event means, on macOS (Cmd) and elsewhere
 * (Ctrl), and whether the event is aimed at something the user types into.
 *
 * The module reads `navigator` when it loads and uses DOM classes, which neither Node nor the root tsconfig (no DOM
 * lib) has: it is imported afresh per platform with a stubbed `navigator`, through a specifier TypeScript does not
 * follow, and the DOM classes that `isTyping` tests against are stubbed with minimal stand-ins.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
  altKey?: boolean;
  target?: unknown;
}
interface ShortcutsModule {
  IS_MAC: boolean;
  SHORTCUTS: readonly { command: string; keys: string[]; description: string }[];
  commandFor(e: KeyLike): string | null;
  isTyping(e: KeyLike): boolean;
}

const MODULE: string = '../../renderer/src/lib/shortcuts';

async function load(platform: string | null): Promise<ShortcutsModule> {
  vi.resetModules();
  if (platform !== null) vi.stubGlobal('navigator', { platform, userAgent: `Mozilla/5.0 (${platform})` });
  return (await import(/* @vite-ignore */ MODULE)) as ShortcutsModule;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

/** A key event from the overlay's notation: `Ctrl+Shift+Z`, `⌘+A`, `Delete`, `F`, `?`. */
function press(combo: string): KeyLike {
  const parts = combo.split('+');
  const named = parts.pop()!;
  const key = named === 'Space' ? ' ' : named;
  const mods = new Set(parts);
  const shift = mods.has('Shift') || key === '?';
  return {
    key: key.length === 1 ? (shift && /[a-z]/i.test(key) ? key.toUpperCase() : key.toLowerCase()) : key,
    ctrlKey: mods.has('Ctrl'),
    metaKey: mods.has('⌘') || mods.has('Cmd'),
    shiftKey: shift,
    altKey: mods.has('Alt'),
  };
}

// [keys, command on Linux/Windows, command on macOS]
const table: [string, string | null, string | null][] = [
  ['Ctrl+Z', 'edit.undo', null],
  ['Cmd+Z', null, 'edit.undo'],
  ['Ctrl+Shift+Z', 'edit.redo', null],
  ['Cmd+Shift+Z', null, 'edit.redo'],
  ['Ctrl+Y', 'edit.redo', 'edit.redo'],
  ['Cmd+Y', null, 'edit.redo'],
  ['Ctrl+N', 'file.new', null],
  ['Cmd+N', null, 'file.new'],
  ['Ctrl+Shift+N', null, null],
  ['Ctrl+O', 'file.open', null],
  ['Ctrl+S', 'file.save', null],
  ['Ctrl+Shift+S', 'file.saveAs', null],
  ['Cmd+S', null, 'file.save'],
  ['Cmd+Shift+S', null, 'file.saveAs'],
  ['Ctrl+X', 'edit.cut', null],
  ['Ctrl+C', 'edit.copy', null],
  ['Ctrl+V', 'edit.paste', null],
  ['Ctrl+Shift+V', 'edit.pasteWithLinks', null],
  ['Cmd+V', null, 'edit.paste'],
  ['Cmd+Shift+V', null, 'edit.pasteWithLinks'],
  ['Ctrl+A', 'edit.selectAll', null],
  ['Cmd+A', null, 'edit.selectAll'],
  ['Ctrl+Alt+Z', null, null],
  ['Cmd+Alt+Z', null, null],
  ['Ctrl+Q', null, null],
  ['Delete', 'edit.delete', 'edit.delete'],
  ['Backspace', 'edit.delete', 'edit.delete'],
  ['Ctrl+Delete', null, null],
  ['F', 'view.fit', 'view.fit'],
  ['Shift+F', null, null],
  ['Ctrl+F', null, null],
  ['L', 'view.layout', 'view.layout'],
  ['Alt+L', null, null],
  ['?', 'help.shortcuts', 'help.shortcuts'],
  ['Z', null, null],
  [' ', 'train.toggle', 'train.toggle'],
  ['Shift+ ', null, null],
  ['Ctrl+ ', null, null],
  ['.', 'train.step', 'train.step'],
  ['Escape', null, null],
];

describe.each([
  ['Linux', 'Linux x86_64', false],
  ['Windows', 'Win32', false],
  ['macOS', 'MacIntel', true],
  ['Node (no navigator)', null, false],
])('shortcuts on %s', (_name, platform, mac) => {
  it('knows which platform it is on', async () => {
    expect((await load(platform)).IS_MAC).toBe(mac);
  });

  it.each(table)('%s', async (combo, other, onMac) => {
    const m = await load(platform);
    expect(m.commandFor(press(combo))).toBe(mac ? onMac : other);
  });

  it('every key the overlay lists does what it says', async () => {
    const m = await load(platform);
    const mod = mac ? '⌘' : 'Ctrl';
    for (const s of m.SHORTCUTS) {
      for (const k of s.keys) {
        if (k.includes('+')) expect(k.startsWith(`${mod}+`) || k === 'Ctrl+Y', `${k} on ${platform}`).toBe(true);
        expect(m.commandFor(press(k)), `${k} (${s.description})`).toBe(s.command);
      }
    }
  });
});

describe('isTyping', () => {
  class FakeElement {
    isContentEditable = false;
  }
  class FakeInput extends FakeElement {
    constructor(readonly type: string) {
      super();
    }
  }
  class FakeTextArea extends FakeElement {}
  class FakeSelect extends FakeElement {}

  async function loadWithDom(): Promise<ShortcutsModule> {
    vi.stubGlobal('HTMLElement', FakeElement);
    vi.stubGlobal('HTMLInputElement', FakeInput);
    vi.stubGlobal('HTMLTextAreaElement', FakeTextArea);
    vi.stubGlobal('HTMLSelectElement', FakeSelect);
    return load('Linux x86_64');
  }

  const editable = Object.assign(new FakeElement(), { isContentEditable: true });
  it.each([
    ['a text field', new FakeInput('text'), true],
    ['a number field', new FakeInput('number'), true],
    ['a search field', new FakeInput('search'), true],
    ['a checkbox', new FakeInput('checkbox'), false],
    ['a radio button', new FakeInput('radio'), false],
    ['a button input', new FakeInput('button'), false],
    ['a range slider', new FakeInput('range'), false],
    ['a color picker', new FakeInput('color'), false],
    ['a text area', new FakeTextArea(), true],
    ['a select', new FakeSelect(), true],
    ['a content-editable element', editable, true],
    ['a plain element (the canvas)', new FakeElement(), false],
    ['no target', null, false],
    ['a target that is not an element (window)', { addEventListener() {} }, false],
  ])('%s: %s', async (_what, target, typing) => {
    const m = await loadWithDom();
    expect(m.isTyping({ key: 'z', ctrlKey: true, target })).toBe(typing);
  });
});
