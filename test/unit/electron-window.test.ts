import { describe, expect, it } from 'vitest';
import { MENU_COMMANDS } from '../../engine/protocol/messages';
import { dialogPath, exportFilters } from '../../electron/electron-policy';
import {
  CLOSE_BUTTONS,
  CloseGuard,
  closeChoice,
  closeConfirmOptions,
  projectFromArgv,
  routeEditCommand,
  TEXT_EDIT_METHOD,
  windowTitle,
} from '../../electron/window-logic';

describe('window title', () => {
  it('is NAME* — Backprop Studio', () => {
    expect(windowTitle('spiral.bpstudio', false)).toBe('spiral.bpstudio — Backprop Studio');
    expect(windowTitle('spiral.bpstudio', true)).toBe('spiral.bpstudio* — Backprop Studio');
    expect(windowTitle('  ', true)).toBe('Untitled* — Backprop Studio');
    // the renderer may send its whole window title: the shell does not repeat it
    expect(windowTitle('spiral.bpstudio * — Backprop Studio', true)).toBe('spiral.bpstudio* — Backprop Studio');
    expect(windowTitle('spiral.bpstudio — Backprop Studio', false)).toBe('spiral.bpstudio — Backprop Studio');
    expect(closeConfirmOptions('a.bpstudio * — Backprop Studio').message).toBe('Save the changes to a.bpstudio before closing?');
  });
});

describe('dialog results', () => {
  it('map {canceled, filePath(s)} to a path or null', () => {
    expect(dialogPath({ canceled: true, filePath: '/a.bpstudio' })).toBeNull();
    expect(dialogPath({ canceled: false, filePath: '' })).toBeNull();
    expect(dialogPath({ canceled: false, filePath: '/a.bpstudio' })).toBe('/a.bpstudio');
    expect(dialogPath({ canceled: false, filePaths: ['/b.bpstudio', '/c.bpstudio'] })).toBe('/b.bpstudio');
    expect(dialogPath({ canceled: false, filePaths: [] })).toBeNull();
  });

  it('export filters follow the suggested extension', () => {
    expect(exportFilters('w.safetensors')[0]).toEqual({ name: 'SAFETENSORS file', extensions: ['safetensors'] });
    expect(exportFilters('noext')).toEqual([{ name: 'All files', extensions: ['*'] }]);
  });
});

describe('closing over unsaved work', () => {
  it('closes at once when clean', () => {
    const g = new CloseGuard();
    g.onWindowState('a', false);
    expect(g.onClose()).toBe('close');
  });

  it('asks when dirty; Cancel keeps the window, Don\'t Save closes', () => {
    const g = new CloseGuard();
    g.onWindowState('a.bpstudio', true);
    expect(g.onClose()).toBe('ask');
    expect(g.onClose()).toBe('wait'); // the confirm is up: a second close does nothing
    expect(g.onChoice(closeChoice(2))).toBe('stay');
    expect(g.onClose()).toBe('ask');
    expect(g.onChoice(closeChoice(1))).toBe('close');
    expect(g.onClose()).toBe('close');
  });

  it('Save sends file.save and closes once the renderer reports clean', () => {
    const g = new CloseGuard();
    g.onWindowState('a', true);
    expect(g.onClose()).toBe('ask');
    expect(g.onChoice(closeChoice(0))).toBe('save');
    expect(g.onClose()).toBe('wait');
    expect(g.onWindowState('a', true)).toBeNull();
    expect(g.onWindowState('a', false)).toBe('close');
    expect(g.onClose()).toBe('close');
  });

  it('a canceled or failed save keeps the window open, and a later save does not close it', () => {
    const g = new CloseGuard();
    g.onWindowState('Untitled', true);
    g.onClose();
    g.onChoice('save');
    g.onSaveFailed();
    expect(g.onWindowState('Untitled', false)).toBeNull();
    g.onWindowState('Untitled', true);
    expect(g.onClose()).toBe('ask');
  });

  it('the confirm has Save / Don\'t Save / Cancel with Cancel as the escape', () => {
    const o = closeConfirmOptions('spiral.bpstudio');
    expect(o.buttons).toEqual([...CLOSE_BUTTONS]);
    expect(o.buttons[o.cancelId]).toBe('Cancel');
    expect(o.buttons[o.defaultId]).toBe('Save');
    expect(o.message).toContain('spiral.bpstudio');
    expect([0, 1, 2, 3, -1].map(closeChoice)).toEqual(['save', 'discard', 'cancel', 'cancel', 'cancel']);
  });
});

describe('command line', () => {
  it('finds the project file to open', () => {
    expect(projectFromArgv(['/opt/app/backprop-studio', '/home/u/x.bpstudio'], '/')).toBe('/home/u/x.bpstudio');
    expect(projectFromArgv(['electron', 'dist/electron/main.cjs', 'examples/spiral.bpstudio'], '/repo')).toBe('/repo/examples/spiral.bpstudio');
    expect(projectFromArgv(['app', '--inspect', '-psn_0_1234'], '/')).toBeNull();
    expect(projectFromArgv(['app.bpstudio'], '/')).toBeNull(); // argv[0] is the program
    expect(projectFromArgv(['app', 'a.BPSTUDIO', '--flag'], '/w')).toBe('/w/a.BPSTUDIO');
  });
});

describe('Edit commands', () => {
  it('go to a focused text field natively, else to the renderer', () => {
    expect(routeEditCommand('edit.copy', true)).toEqual({ to: 'text', method: 'copy' });
    expect(routeEditCommand('edit.copy', false)).toEqual({ to: 'renderer' });
    expect(routeEditCommand('edit.pasteWithLinks', true)).toEqual({ to: 'text', method: 'pasteAndMatchStyle' });
    expect(routeEditCommand('file.save', true)).toEqual({ to: 'renderer' });
    expect(Object.keys(TEXT_EDIT_METHOD).every((c) => (MENU_COMMANDS as readonly string[]).includes(c) && c.startsWith('edit.'))).toBe(true);
  });
});
