import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it } from 'vitest';
import { MENU_COMMANDS, menuCommand, type MenuCommand } from '../../engine/protocol/messages';
import { ACCELERATORS, buildMenuTemplate, type MenuContext } from '../../electron/menu';

type Sent = { command: MenuCommand; path?: string };

function build(ctx: Partial<MenuContext> = {}) {
  const sent: Sent[] = [];
  let cleared = 0;
  const template = buildMenuTemplate(
    { isMac: false, isDev: false, appName: 'Backprop Studio', recent: [], ...ctx },
    { command: (command, path) => sent.push(path ? { command, path } : { command }), clearRecent: () => cleared++ },
  );
  return { template, sent, cleared: () => cleared };
}

/** Every item of a template, depth first. */
function items(template: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return template.flatMap((i) => [i, ...(Array.isArray(i.submenu) ? items(i.submenu) : [])]);
}

const byId = (template: MenuItemConstructorOptions[], id: string) => items(template).find((i) => i.id === id);
const click = (i: MenuItemConstructorOptions | undefined) => (i!.click as () => void)();

describe('application menu', () => {
  it('has File, Edit, View, Help in order (and the app menu and Window on macOS)', () => {
    expect(build().template.map((m) => m.label ?? m.role)).toEqual(['&File', '&Edit', '&View', '&Training', '&Help']);
    expect(build({ isMac: true }).template.map((m) => m.label ?? m.role)).toEqual(['Backprop Studio', '&File', '&Edit', '&View', '&Training', 'windowMenu', '&Help']);
  });

  it('sends every menu command of the protocol, each valid', () => {
    const { template, sent } = build();
    for (const c of MENU_COMMANDS) {
      const item = byId(template, c);
      expect(item, c).toBeDefined();
      click(item);
    }
    expect(sent.map((s) => s.command)).toEqual([...MENU_COMMANDS]);
    for (const s of sent) menuCommand(s);
  });

  it('lists the File, Edit and Training entries of the design', () => {
    const { template } = build({ recent: ['/a/one.bpstudio'] });
    const labels = (i: number) => (template[i].submenu as MenuItemConstructorOptions[]).filter((x) => x.type !== 'separator').map((x) => x.label ?? x.role);
    expect(labels(0)).toEqual(['New', 'Open…', 'Open Recent', 'Save', 'Save As…', 'Export', 'Load weights…', 'Import CSV…', 'quit']);
    const exportMenu = (template[0].submenu as MenuItemConstructorOptions[]).find((x) => x.label === 'Export')!;
    expect((exportMenu.submenu as MenuItemConstructorOptions[]).map((x) => [x.id, x.label])).toEqual([
      ['file.exportWeights', 'Weights (safetensors)…'],
      ['file.exportOnnx', 'ONNX model…'],
      ['file.exportPytorch', 'PyTorch code…'],
    ]);
    expect(labels(1)).toEqual(['Undo', 'Redo', 'Cut', 'Copy', 'Paste', 'Paste with links', 'Delete', 'Select All']);
    expect(labels(3)).toEqual(['Train / Pause / Resume', 'Step', 'Stop', 'Evaluate', 'Check gradients']);
    expect(labels(4)).toEqual(['Keyboard shortcuts', 'About Backprop Studio']);
  });

  it('uses the modifier accelerators and never registers single keys', () => {
    const { template } = build();
    for (const [command, acc] of Object.entries(ACCELERATORS)) expect(byId(template, command)?.accelerator).toBe(acc);
    expect(byId(template, 'file.saveAs')?.accelerator).toBe('CmdOrCtrl+Shift+S');
    expect(byId(template, 'edit.pasteWithLinks')?.accelerator).toBe('CmdOrCtrl+Shift+V');
    for (const id of ['view.fit', 'view.layout', 'help.shortcuts', 'train.toggle', 'train.step']) {
      const i = byId(template, id)!;
      expect(i.registerAccelerator).toBe(false);
      expect(i.accelerator).toMatch(/^([FL?.]|Space)$/);
    }
    // macOS would register them: the key goes into the label instead
    const mac = build({ isMac: true }).template;
    expect(byId(mac, 'view.fit')).toMatchObject({ label: 'Fit view (F)' });
    expect(byId(mac, 'view.fit')?.accelerator).toBeUndefined();
    // nothing registered is a bare letter
    for (const i of items(build().template)) {
      if (i.accelerator && i.registerAccelerator !== false) expect(String(i.accelerator)).toMatch(/\+|^Delete$/);
    }
  });

  it('builds Open Recent from the recent list', () => {
    const { template, sent, cleared } = build({ recent: ['/w/a.bpstudio', '/w/sub/b.bpstudio'] });
    const sub = byId(template, 'file.openRecent')!.submenu as MenuItemConstructorOptions[];
    expect(sub.map((i) => i.label ?? i.type)).toEqual(['a.bpstudio', 'b.bpstudio', 'separator', 'Clear Recent']);
    click(sub[1]);
    expect(sent).toEqual([{ command: 'file.open', path: '/w/sub/b.bpstudio' }]);
    click(sub[3]);
    expect(cleared()).toBe(1);
    const empty = byId(build().template, 'file.openRecent')!.submenu as MenuItemConstructorOptions[];
    expect(empty).toEqual([{ id: 'recent.none', label: 'No recent files', enabled: false }]);
  });

  it('offers the developer tools in development only', () => {
    const roles = (t: MenuItemConstructorOptions[]) => items(t).map((i) => i.role).filter(Boolean);
    expect(roles(build({ isDev: true }).template)).toContain('toggleDevTools');
    expect(roles(build({ isDev: false }).template)).not.toContain('toggleDevTools');
    expect(roles(build({ isDev: false }).template)).not.toContain('reload');
  });
});
