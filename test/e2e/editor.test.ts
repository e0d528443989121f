/**
 * The editor end to end: web mode's real server and engine host (no mocks), Debian's Chromium driven with a real
 * mouse and keyboard. Screenshots land in test-output/screens/.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProject, type Project } from '../../engine/io/project';
import { useStudio } from './fixture';
import { REPO, screenshot, type Studio } from './harness';
import { type StudioPage, until } from './studio';

const EXAMPLES = readdirSync(join(REPO, 'examples'))
  .filter((f) => f.endsWith('.bpstudio'))
  .sort();

let studio: Studio;
let app: StudioPage;
useStudio((s, a) => {
  studio = s;
  app = a;
});

/** The canvas's wires (`source->target.port`) of a project, sorted. */
function wiresOf(p: Project): string[] {
  return p.graph.nodes.flatMap((n) => Object.entries(n.inputs ?? {}).map(([port, src]) => `${src}->${n.id}.${port}`)).sort();
}

describe('the editor in Chromium against web mode', () => {
  it('builds the spiral network from an empty canvas by dragging from the palette and wiring ports', async () => {
    await app.goto();
    await app.page.getByRole('button', { name: /^Blank project/ }).click();
    await app.engineReady();
    expect(await app.nodeIds()).toEqual([]);

    // Sources on the left, the layers in a row, the loss under the last layer (points of the canvas pane).
    await app.dropOp('input', { x: 110, y: 110 }, 'input1');
    await app.setAttr('shape', '2');
    await app.dropOp('label', { x: 110, y: 360 }, 'label1');
    const layers: [string, string, string][] = [
      ['dense1', '16', 'relu'],
      ['dense2', '16', 'relu'],
      ['dense3', '3', 'none'],
    ];
    for (const [i, [id, units, activation]] of layers.entries()) {
      await app.dropOp('dense', { x: 330 + 210 * i, y: 110 }, id);
      await app.setAttr('units', units);
      await app.setAttr('activation', activation);
    }
    await app.dropOp('softmax_cross_entropy', { x: 720, y: 360 }, 'softmax_cross_entropy1');
    expect(await app.nodeIds()).toEqual(['dense1', 'dense2', 'dense3', 'input1', 'label1', 'softmax_cross_entropy1']);
    // Nothing wired yet: the unconnected ports are errors.
    expect(await app.errorCount()).toBeGreaterThan(0);

    await app.connect('input1', 'dense1', 'x');
    await app.connect('dense1', 'dense2', 'x');
    await app.connect('dense2', 'dense3', 'x');
    await app.connect('dense3', 'softmax_cross_entropy1', 'logits');
    await app.connect('label1', 'softmax_cross_entropy1', 'labels');
    await until(() => app.edges()).toEqual([
      'dense1->dense2.x',
      'dense2->dense3.x',
      'dense3->softmax_cross_entropy1.logits',
      'input1->dense1.x',
      'label1->softmax_cross_entropy1.labels',
    ]);

    // The inferred shapes on each node, the parameter count, no errors, and the engine's plan.
    await until(() => app.shape('input1')).toBe('[B, 2]');
    expect(await app.shape('label1')).toBe('[B]');
    expect(await app.shape('dense1')).toBe('[B, 16]');
    expect(await app.shape('dense2')).toBe('[B, 16]');
    expect(await app.shape('dense3')).toBe('[B, 3]');
    expect(await app.shape('softmax_cross_entropy1')).toBe('[]');
    // 2*16+16 + 16*16+16 + 16*3+3
    expect(await app.text('total-params')).toBe('371');
    await until(() => app.errorCount()).toBe(0);
    const plan = await app.compiled();
    expect(plan).not.toBe('0 B');
    expect(await app.errorCount()).toBe(0);
    expect(await app.dirty()).toBe(true);

    // With nothing selected the inspector shows the model's totals.
    await app.clickPane();
    await until(() => app.page.getByTestId('project-params').textContent()).toBe('371');
    await app.select('dense2');
    expect(await app.text('inspector-shape')).toBe('[B, 16]');

    await app.button('Fit view').click();
    await app.clickPane();
    await app.page.waitForTimeout(300); // the fit's animation (200 ms) settles before the picture
    await screenshot(app.page, 'editor-spiral.png');
  });

  it('turns a port red when a shape does not fit, clears it when fixed in the inspector, undoes and redoes the fix, and shows an init\'s parameters with that init', async () => {
    // The spiral network with a learned offset added to the input: x [2] + p [2] feeds the first layer.
    const project = JSON.parse(readFileSync(join(studio.workspace, 'spiral.bpstudio'), 'utf8')) as Project;
    const nodes = project.graph.nodes;
    nodes.splice(1, 0, { id: 'p', op: 'parameter', attrs: { shape: [2] } }, { id: 'shift', op: 'add', inputs: { a: 'x', b: 'p' } });
    nodes.find((n) => n.id === 'h1')!.inputs = { x: 'shift' };
    project.editor = {
      positions: { x: { x: 0, y: 0 }, p: { x: 0, y: 150 }, shift: { x: 220, y: 60 }, h1: { x: 440, y: 60 }, h2: { x: 660, y: 60 }, out: { x: 880, y: 60 }, y: { x: 660, y: 240 }, loss: { x: 880, y: 240 } },
    };
    writeFileSync(join(studio.workspace, 'offset.bpstudio'), JSON.stringify(project, null, 2));

    await app.goto('offset.bpstudio');
    await app.editorShown(8);
    expect(await app.text('file-name')).toBe('offset.bpstudio');
    await until(() => app.shape('h1')).toBe('[B, 32]');
    expect(await app.shape('shift')).toBe('[B, 2]');
    await app.compiled();
    expect(await app.errorCount()).toBe(0);
    const port = app.port('shift', 'b');
    expect(await port.getAttribute('class')).not.toMatch(/\bbad\b/);

    // The input becomes [3]: the parameter [2] no longer broadcasts with it.
    await app.select('x');
    await app.setAttr('shape', '3');
    await until(() => app.errorCount()).toBe(1);
    await until(() => port.getAttribute('class')).toMatch(/\bbad\b/);
    const message = (await port.getAttribute('aria-label')) ?? '';
    expect(message).toMatch(/^input b of shift: /);
    expect(message).toContain('[2]');
    expect(message).toContain('[B, 3]');
    expect(await port.getAttribute('title')).toContain('[B, 3]');
    expect(await app.node('shift').getAttribute('aria-invalid')).toBe('true');
    expect(await app.node('shift').getAttribute('title')).toContain('port b:');
    // Downstream shapes are unknown while it is wrong; the input itself is fine.
    expect(await app.shape('x')).toBe('[B, 3]');
    expect(await app.shape('h1')).toBe('—');
    // The errors list names it; its entry selects the node, centres it, and the inspector lists the message.
    await app.errorsButton.click();
    const entry = app.errorsList.getByRole('button', { name: /^shift · b/ });
    expect(await entry.textContent()).toContain('[B, 3]');
    await entry.click();
    await until(() => app.field('Id').inputValue()).toBe('shift');
    const listed = app.inspector.getByRole('alert').filter({ hasText: 'port b:' });
    await listed.waitFor();
    expect(await listed.textContent()).toContain('[B, 3]');
    await app.page.waitForTimeout(400); // the centring's animation (250 ms) settles before the picture
    await screenshot(app.page, 'editor-error.png');

    // Fixed in the inspector: the parameter takes the input's shape.
    await app.select('p');
    await app.setAttr('shape', '3');
    await until(() => app.errorCount()).toBe(0);
    await until(() => port.getAttribute('class')).not.toMatch(/\bbad\b/);
    await app.errorsList.getByText('No errors').waitFor();
    expect(await app.node('shift').getAttribute('aria-invalid')).toBe('false');
    expect(await app.shape('shift')).toBe('[B, 3]');
    expect(await app.shape('h1')).toBe('[B, 32]');
    await app.compiled();
    expect(await app.errorCount()).toBe(0);

    // Undo (the toolbar) brings the error back and the field shows the old value; redo (the keyboard) clears it.
    await app.button('Undo').click();
    await until(() => app.errorCount()).toBe(1);
    await until(() => port.getAttribute('class')).toMatch(/\bbad\b/);
    expect(await app.field('shape').inputValue()).toBe('2');
    await app.clickPane();
    await app.press('Mod+Shift+Z');
    await until(() => app.errorCount()).toBe(0);
    expect(await port.getAttribute('class')).not.toMatch(/\bbad\b/);
    expect(await app.shape('h1')).toBe('[B, 32]');
    // And once more with the keyboard both ways.
    await app.press('Mod+Z');
    await until(() => app.errorCount()).toBe(1);
    await app.press('Mod+Shift+Z');
    await until(() => app.errorCount()).toBe(0);

    // An init's parameters show with the init that uses them: std with normal, low and high with uniform.
    await app.select('p');
    expect(await app.field('std').count()).toBe(0);
    await app.setAttr('init', 'normal');
    await app.field('std').waitFor();
    expect(await app.field('low').count()).toBe(0);
    await app.setAttr('init', 'uniform');
    await app.field('high').waitFor();
    expect(await app.field('std').count()).toBe(0);
  });

  it('refuses a connection that would make a cycle, with a message naming the nodes, and leaves the graph as it was', async () => {
    await app.goto('spiral.bpstudio');
    await app.editorShown(6);
    await app.compiled();
    const before = await app.edges();
    const positions = await app.positions();
    expect(before).toContain('x->h1.x');

    // h2 is fed by h1: wiring h2 into h1 would close a loop.
    await app.connect('h2', 'h1', 'x');
    const refused = app.errorToasts.filter({ hasText: /cycle/ });
    await refused.waitFor();
    const text = (await refused.textContent()) ?? '';
    expect(text).toContain('h2');
    expect(text).toContain('h1');
    // And a longer loop: the loss's input back into the first layer.
    await app.connect('out', 'h1', 'x');
    await app.errorToasts.filter({ hasText: /out → h1/ }).waitFor();

    expect(await app.edges()).toEqual(before);
    expect(await app.positions()).toEqual(positions);
    expect(await app.dirty()).toBe(false);
    expect(await app.button('Undo').isDisabled()).toBe(true);
    expect(await app.errorCount()).toBe(0);
    expect(await app.shape('h1')).toBe('[B, 32]');
  });

  it('saves, and after a reload opens the file through the picker and finds the same graph', async () => {
    await app.goto();
    await app.page.getByRole('button', { name: 'Open example spiral', exact: true }).click();
    await app.editorShown(6);
    // An example opens as an untitled copy.
    expect(await app.text('file-name')).toBe('spiral.bpstudio');
    expect(await app.dirty()).toBe(false);

    // Edits: an attribute, a label, a rename (its wires follow).
    await app.select('h1');
    await app.setAttr('units', '24');
    await app.field('Label').fill('first layer');
    await app.field('Id').fill('hidden1');
    await app.field('Id').press('Enter');
    await app.node('hidden1').waitFor();
    await app.clickPane();
    expect(await app.dirty()).toBe(true);
    const shownBefore = await app.edges();
    expect(shownBefore).toContain('x->hidden1.x');
    expect(shownBefore).toContain('hidden1->h2.x');

    // Save: untitled, so the picker asks for a name.
    await app.button('Save').click();
    const picker = app.dialog('Save as');
    await picker.waitFor();
    await picker.getByLabel('File name', { exact: true }).fill('my-spiral');
    await picker.getByRole('button', { name: 'Save', exact: true }).click();
    await picker.waitFor({ state: 'detached' });
    await until(() => app.text('file-name')).toBe('my-spiral.bpstudio');
    expect(await app.dirty()).toBe(false);

    const saved = parseProject(readFileSync(join(studio.workspace, 'my-spiral.bpstudio'), 'utf8'), 'my-spiral.bpstudio');
    const h = saved.graph.nodes.find((n) => n.id === 'hidden1');
    expect(h).toMatchObject({ op: 'dense', label: 'first layer', attrs: { units: 24, activation: 'relu' }, inputs: { x: 'x' } });
    expect(saved.graph.nodes.find((n) => n.id === 'h2')?.inputs).toEqual({ x: 'hidden1' });
    expect(wiresOf(saved)).toEqual(shownBefore);
    expect(Object.keys(saved.editor?.positions ?? {}).sort()).toEqual(saved.graph.nodes.map((n) => n.id).sort());

    // A fresh page: the start page, the file among the recent ones; open it through the picker.
    await app.page.reload();
    await app.startPage.waitFor();
    await app.page.getByRole('button', { name: 'Open recent my-spiral.bpstudio' }).waitFor();
    await app.button('Open').click();
    const open = app.dialog('Open a project');
    await open.waitFor();
    const files = open.getByRole('listbox', { name: 'Files' });
    await files.getByRole('option', { name: 'my-spiral.bpstudio', exact: true }).click();
    await open.getByRole('button', { name: 'Open', exact: true }).click();
    await open.waitFor({ state: 'detached' });
    await app.editorShown(saved.graph.nodes.length);
    expect(await app.text('file-name')).toBe('my-spiral.bpstudio');
    expect(await app.dirty()).toBe(false);

    // The same nodes (ids and ops), wires and attributes as the file on disk.
    expect(await app.nodeIds()).toEqual(saved.graph.nodes.map((n) => n.id).sort());
    expect(await app.edges()).toEqual(wiresOf(saved));
    for (const n of saved.graph.nodes) {
      expect(await app.node(n.id).locator('.op').textContent()).toBe(n.op);
      expect(await app.shape(n.id)).toMatch(/^\[.*\]$/);
      await app.select(n.id);
      expect(await app.inspector.getByRole('heading', { level: 2 }).textContent()).toBe(n.op);
      expect(await app.field('Label').inputValue()).toBe(n.label ?? '');
      for (const [k, v] of Object.entries(n.attrs ?? {})) {
        const shown = await app.field(k).inputValue();
        expect(shown, `${n.id}.${k}`).toBe(Array.isArray(v) ? v.join(', ') : String(v));
      }
    }
    // Positions come back as saved.
    const pos = await app.positions();
    for (const [id, p] of Object.entries(saved.editor?.positions ?? {})) expect(pos[id], id).toEqual(p);
    await app.compiled();
    expect(await app.errorCount()).toBe(0);
  });

  it('Save As into another folder rewrites the data path, for the document and its undo history', async () => {
    mkdirSync(join(studio.workspace, 'mine'), { recursive: true });
    await app.goto();
    await app.page.getByRole('button', { name: 'Open example iris', exact: true }).click();
    await app.editorShown(5);
    await app.compiled();
    await app.clickPane();
    const data = app.inspector.getByRole('region', { name: 'Data' });
    const status = data.locator('.preview .status');
    await until(() => status.textContent()).toBe('150 rows · 4 features');
    await app.select('h1');
    await app.setAttr('units', '12');
    await app.clickPane();

    // The example reads data/iris.csv from the workspace's top; saved in mine/, the file says ../data/iris.csv.
    await app.button('Save').click();
    const picker = app.dialog('Save as');
    await picker.waitFor();
    await picker.getByRole('option', { name: 'Folder mine', exact: true }).click();
    await until(() => picker.locator('.dir').textContent()).toBe('mine');
    await picker.getByLabel('File name', { exact: true }).fill('iris-here');
    await picker.getByRole('button', { name: 'Save', exact: true }).click();
    await picker.waitFor({ state: 'detached' });
    await until(() => app.text('file-name')).toBe('iris-here.bpstudio');
    expect(await app.dirty()).toBe(false);
    const file = join(studio.workspace, 'mine', 'iris-here.bpstudio');
    expect(parseProject(readFileSync(file, 'utf8')).data).toMatchObject({ kind: 'csv', path: '../data/iris.csv' });

    // Undo goes back to 16 units with the moved path: saved again, the file still finds the data.
    await app.press('Control+z');
    await until(() => app.dirty()).toBe(true);
    await app.press('Control+s');
    await until(() => app.dirty()).toBe(false);
    const again = parseProject(readFileSync(file, 'utf8'));
    expect(again.graph.nodes.find((n) => n.id === 'h1')?.attrs).toMatchObject({ units: 16 });
    expect(again.data).toMatchObject({ path: '../data/iris.csv' });

    // Opened afresh from there, the data panel reads the data.
    await app.goto('mine/iris-here.bpstudio');
    await app.editorShown(5);
    await app.compiled();
    await app.clickPane();
    await until(() => status.textContent()).toBe('150 rows · 4 features');
    expect(await data.getByRole('alert').count()).toBe(0);
  });

  it('opens every example from the gallery and by ?open= without an error, every node with a shape and none overlapping', async () => {
    await app.goto();
    await app.engineReady();
    for (const file of EXAMPLES) {
      const project = parseProject(readFileSync(join(REPO, 'examples', file), 'utf8'), file);
      if (!(await app.startPage.isVisible())) await app.button('New').click();
      await app.page.getByRole('button', { name: `Open example ${file.replace(/\.bpstudio$/, '')}`, exact: true }).click();
      await app.editorShown(project.graph.nodes.length);
      expect(await app.nodeIds(), file).toEqual(project.graph.nodes.map((n) => n.id).sort());
      expect(await app.edges(), file).toEqual(wiresOf(project));
      for (const n of project.graph.nodes) expect(await app.shape(n.id), `${file}: ${n.id}`).toMatch(/^\[.*\]$/);
      // Laid out (the examples have no positions) on the nodes' measured sizes: none overlaps; opening is no edit.
      await until(() => app.overlaps()).toEqual([]);
      expect(await app.dirty(), file).toBe(false);
      expect(await app.button('Undo').isDisabled(), file).toBe(true);
      await app.compiled();
      expect(await app.errorCount(), file).toBe(0);
      expect(await app.errorToasts.count(), file).toBe(0);
      expect(await app.page.getByRole('alertdialog').count(), file).toBe(0);
    }
    // The same through the URL, the way `npm run web -- --open FILE` opens one (a sample: each is a page load).
    for (const file of [EXAMPLES[0], EXAMPLES[EXAMPLES.length - 1]]) {
      await app.goto(file);
      await app.editorShown(parseProject(readFileSync(join(REPO, 'examples', file), 'utf8')).graph.nodes.length);
      expect(await app.text('file-name')).toBe(file);
      await app.compiled();
      expect(await app.errorCount(), file).toBe(0);
      expect(await app.page.getByRole('alertdialog').count(), file).toBe(0);
    }
  });

  it('cuts, copies and pastes with renamed ids, deletes, selects all, auto-lays out with undo, and tracks unsaved changes', async () => {
    await app.goto();
    await app.page.getByRole('button', { name: 'Open example spiral', exact: true }).click();
    await app.editorShown(6);
    await app.compiled();
    expect(await app.dirty()).toBe(false);

    // Nothing to paste until something is copied: Edit > Paste is disabled, then enabled.
    const pasteItem = async () => {
      await app.page.getByRole('menubar').getByRole('menuitem', { name: 'Edit', exact: true }).click();
      const disabled = await app.page.getByRole('menu', { name: 'Edit' }).getByRole('menuitem', { name: /^Paste\b/ }).first().isDisabled();
      await app.press('Escape');
      return disabled ? 'disabled' : 'enabled';
    };
    expect(await pasteItem()).toBe('disabled');
    // Copy and paste h1: the copy is h3 (h1 and h2 are taken), selected, unwired.
    await app.select('h1');
    await app.press('Mod+C');
    await app.toasts.getByText('Copied 1 node').waitFor();
    expect(await pasteItem()).toBe('enabled');
    expect(await app.dirty()).toBe(false);
    await app.press('Mod+V');
    await app.node('h3').waitFor();
    expect(await app.dirty()).toBe(true);
    expect(await app.selectedIds()).toEqual(['h3']);
    expect(await app.node('h3').locator('.op').textContent()).toBe('dense');
    expect(await app.node('h3').locator('.summary').textContent()).toBe('units 32 · relu');
    expect((await app.edges()).filter((e) => e.includes('h3'))).toEqual([]);
    // Pasting again makes h4; with links (Mod+Shift+V) the copy keeps its wire from x.
    await app.press('Mod+V');
    await app.node('h4').waitFor();
    await app.press('Mod+Shift+V');
    await app.node('h5').waitFor();
    expect((await app.edges()).filter((e) => e.includes('h5'))).toEqual(['x->h5.x']);

    // Delete (the key) removes the selection; cut removes and pastes back under a fresh id where the old is free.
    await app.press('Delete');
    await app.node('h5').waitFor({ state: 'detached' });
    await app.select('h4');
    await app.press('Mod+X');
    await app.node('h4').waitFor({ state: 'detached' });
    await app.press('Mod+V');
    await app.node('h4').waitFor();
    // Delete through the toolbar's button.
    await app.select('h3');
    await app.button('Delete').click();
    await app.node('h3').waitFor({ state: 'detached' });
    await app.select('h4');
    await app.button('Delete').click();
    await app.node('h4').waitFor({ state: 'detached' });
    expect(await app.nodeIds()).toEqual(['h1', 'h2', 'loss', 'out', 'x', 'y']);

    // Select all.
    await app.clickPane();
    await app.press('Mod+A');
    await until(() => app.selectedIds()).toEqual(['h1', 'h2', 'loss', 'out', 'x', 'y']);
    await app.inspector.getByRole('heading', { name: '6 nodes selected' }).waitFor();
    await app.press('Escape');
    await until(() => app.selectedIds()).toEqual([]);

    // Box select: Shift and a drag around the two hidden layers.
    const b1 = (await app.node('h1').boundingBox())!;
    const b2 = (await app.node('h2').boundingBox())!;
    const box = { x0: Math.min(b1.x, b2.x) - 12, y0: Math.min(b1.y, b2.y) - 12, x1: Math.max(b1.x + b1.width, b2.x + b2.width) + 12, y1: Math.max(b1.y + b1.height, b2.y + b2.height) + 12 };
    await app.page.keyboard.down('Shift');
    await app.page.mouse.move(box.x0, box.y0);
    await app.page.mouse.down();
    await app.page.mouse.move((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2, { steps: 4 });
    await app.page.mouse.move(box.x1, box.y1, { steps: 4 });
    await app.page.mouse.up();
    await app.page.keyboard.up('Shift');
    await until(async () => (await app.selectedIds()).filter((id) => id === 'h1' || id === 'h2')).toEqual(['h1', 'h2']);
    expect(await app.selectedIds()).not.toContain('loss');
    await app.press('Escape');
    await until(() => app.selectedIds()).toEqual([]);

    // Double-click on the canvas: search and add.
    const free = await app.pane.boundingBox();
    await app.page.mouse.dblclick(free!.x + free!.width / 2, free!.y + free!.height - 60);
    const search = app.page.getByRole('combobox', { name: 'Search ops to add' });
    await search.fill('tanh');
    await search.press('Enter');
    await app.node('tanh1').waitFor();
    expect(await app.node('tanh1').locator('.op').textContent()).toBe('tanh');
    await app.button('Undo').click();
    await app.node('tanh1').waitFor({ state: 'detached' });

    // The shortcuts overlay opens and closes with ?.
    await app.clickPane();
    await app.press('?');
    const overlay = app.dialog('Keyboard shortcuts');
    await overlay.waitFor();
    expect(await overlay.getByRole('table', { name: 'Keyboard shortcuts' }).textContent()).toContain('Auto-layout');
    await app.press('?');
    await overlay.waitFor({ state: 'detached' });

    // Drag h2 away with the mouse, then auto-layout puts it back in line; undo restores the dragged place.
    const laid = await app.positions();
    const h2 = await app.centre(app.node('h2').locator('.head'));
    await app.page.mouse.move(h2.x, h2.y);
    await app.page.mouse.down();
    await app.page.mouse.move(h2.x + 60, h2.y + 140, { steps: 8 });
    await app.page.mouse.up();
    await until(async () => (await app.positions()).h2.y).toBeGreaterThan(laid.h2.y + 50);
    const dragged = await app.positions();
    await app.press('L');
    await until(async () => (await app.positions()).h2).not.toEqual(dragged.h2);
    const relaid = await app.positions();
    expect(Math.abs(relaid.h2.y - relaid.h1.y)).toBeLessThan(Math.abs(dragged.h2.y - dragged.h1.y));
    await app.button('Undo').click();
    await until(() => app.positions()).toEqual(dragged);
    await app.button('Redo').click();
    await until(() => app.positions()).toEqual(relaid);
    await app.clickPane();
    await app.press('Mod+Z');
    await until(() => app.positions()).toEqual(dragged);
    await app.button('Auto-layout').click();
    await until(() => app.positions()).toEqual(relaid);

    // Unsaved marker: set after the edits, cleared by saving (the picker, as it is an untitled copy).
    expect(await app.dirty()).toBe(true);
    expect(await app.page.title()).toMatch(/\*/);
    await app.press('Mod+S');
    const picker = app.dialog('Save as');
    await picker.waitFor();
    await picker.getByLabel('File name', { exact: true }).fill('edited');
    await picker.getByRole('button', { name: 'Save', exact: true }).click();
    await until(() => app.dirty()).toBe(false);
    expect(await app.text('file-name')).toBe('edited.bpstudio');
    expect(await app.page.title()).not.toMatch(/\*/);
    const onDisk = parseProject(readFileSync(join(studio.workspace, 'edited.bpstudio'), 'utf8'));
    expect(onDisk.graph.nodes.map((n) => n.id).sort()).toEqual(['h1', 'h2', 'loss', 'out', 'x', 'y']);
    expect(onDisk.editor?.positions?.h2).toEqual(relaid.h2);
    // Another edit marks it again; undoing back to the saved document clears it.
    await app.select('out');
    await app.setAttr('units', '4');
    await until(() => app.dirty()).toBe(true);
    // Web mode: closing the tab with unsaved work makes the browser ask first (dismissed here: the tab stays).
    const asked = app.page.waitForEvent('dialog');
    await app.page.close({ runBeforeUnload: true });
    const dialog = await asked;
    expect(dialog.type()).toBe('beforeunload');
    await dialog.dismiss();
    expect(app.page.isClosed()).toBe(false);
    await app.clickPane();
    await app.press('Mod+Z');
    await until(() => app.dirty()).toBe(false);
    // Clean, the tab closes without asking.
    app.page.once('dialog', (d) => void d.dismiss().then(() => expect.unreachable(`asked ${d.type()} with nothing unsaved`)));
    await app.page.close({ runBeforeUnload: true });
    await until(() => app.page.isClosed()).toBe(true);
  });

  it('keeps the file name, the run\'s buttons and progress and the Errors button in the top bar, and the canvas to the graph, down to the window\'s minimum width', async () => {
    await app.goto('breast-cancer.bpstudio');
    await app.editorShown(5);
    await app.compiled();
    const bar = app.page.getByRole('banner');
    const undo = app.page.getByRole('button', { name: 'Undo', exact: true });
    for (const width of [1920, 1440, 1280, 1100, 900]) {
      await app.page.setViewportSize({ width, height: 800 });
      // nothing overflows the bar or its Errors button, and the file name shows whole where there is room for it
      const fits = (l: typeof bar) => l.evaluate((e) => e.scrollWidth <= e.clientWidth);
      await until(() => fits(bar)).toBe(true);
      expect(await fits(app.errorsButton), `${width}`).toBe(true);
      expect((await app.errorsButton.boundingBox())!.x + (await app.errorsButton.boundingBox())!.width).toBeLessThanOrEqual(width);
      if (width >= 1100) expect(await fits(app.page.getByTestId('file-name')), `${width}`).toBe(true);
      for (const name of ['Train', 'Step', 'Stop']) expect(await app.page.getByRole('button', { name, exact: true }).isVisible(), `${name} at ${width}`).toBe(true);
      expect(await app.page.getByTestId('run-progress').isVisible()).toBe(true);
      // the tool groups give way first; the menus keep them
      expect(await undo.isVisible(), `Undo at ${width}`).toBe(width >= 1440);
      // a canvas this narrow is left to the graph, without the minimap over it
      if (width === 1920 || width === 900) expect(await app.page.locator('.svelte-flow__minimap').isVisible(), `minimap at ${width}`).toBe(width > 900);
    }
    await app.page.getByRole('menubar').getByRole('menuitem', { name: 'Edit', exact: true }).click();
    expect(await app.page.getByRole('menu', { name: 'Edit' }).getByRole('menuitem', { name: /^Undo/ }).count()).toBe(1);
  });

  it('adds by search: a wire dropped on empty canvas lists only the ops that take it and wires the new node; a double-click adds one there; Esc adds nothing', async () => {
    await app.goto('spiral.bpstudio');
    await app.editorShown(6);
    await app.compiled();
    const search = app.page.getByRole('dialog', { name: 'Add node' });
    const listed = () => search.getByRole('option').evaluateAll((els) => els.map((e) => e.querySelector('.op')?.textContent ?? ''));
    // an empty spot: the middle of the pane's bottom strip (the nodes are laid out above it, the controls and minimap aside)
    const pane = (await app.pane.boundingBox())!;
    const empty = { x: pane.x + pane.width * 0.45, y: pane.y + pane.height - 40 };

    // h2's output, [B, 32], dropped on the canvas: no image ops, no sources
    const from = await app.centre(app.out('h2'));
    await app.page.mouse.move(from.x, from.y);
    await app.page.mouse.down();
    await app.page.mouse.move(empty.x, empty.y, { steps: 8 });
    await app.page.mouse.up();
    await search.waitFor();
    expect(await search.textContent()).toContain('Add a node fed by h2');
    const ops = await listed();
    expect(ops).toEqual(expect.arrayContaining(['relu', 'dense', 'dropout', 'batchnorm', 'softmax', 'sum']));
    for (const op of ['conv2d', 'maxpool2d', 'avgpool2d', 'input', 'label', 'parameter', 'constant']) expect(ops, op).not.toContain(op);
    await app.page.keyboard.type('sigm');
    expect(await listed()).toEqual(['sigmoid', 'sigmoid_cross_entropy']);
    await app.press('Enter');
    await search.waitFor({ state: 'detached' });
    await until(() => app.nodeIds()).toContain('sigmoid1');
    expect(await app.edges()).toContain('h2->sigmoid1.x');
    await until(() => app.shape('sigmoid1')).toBe('[B, 32]');

    // Esc: nothing added
    await app.page.mouse.dblclick(pane.x + pane.width * 0.2, empty.y);
    await search.waitFor();
    expect(await search.textContent()).toContain('Add a node');
    expect(await listed()).toContain('input');
    await app.press('Escape');
    await search.waitFor({ state: 'detached' });
    expect((await app.nodeIds()).length).toBe(7);

    // a double-click: every op, the new node where the canvas was clicked
    const spot = { x: pane.x + 60, y: pane.y + 40 };
    await app.page.mouse.dblclick(spot.x, spot.y);
    await search.waitFor();
    await app.page.keyboard.type('constant');
    await app.press('Enter');
    await until(() => app.nodeIds()).toContain('constant1');
    const box = (await app.node('constant1').boundingBox())!;
    expect(Math.hypot(box.x - spot.x, box.y - spot.y)).toBeLessThan(1);
    expect(await app.dirty()).toBe(true);
  });

  it("shows a node's primitives, forward and backward, follows an edit, marks a name's uses, goes to another node's, and says why it cannot", async () => {
    await app.goto('spiral.bpstudio');
    await app.editorShown(6);
    await app.compiled();
    await app.select('h2');
    const section = app.inspector.getByRole('region', { name: 'Primitives' });
    await section.getByRole('button', { name: 'Show' }).click();
    const backward = section.getByRole('list', { name: 'Backward primitives of h2' });
    const forward = section.getByRole('list', { name: 'Forward primitives of h2' });
    const lastForward = async () => (await forward.getByRole('listitem').last().textContent())?.replace(/\s+/g, ' ').trim();
    // relu(x W^T + b) and its VJPs: the gradient it sends back to h1, and its tensors'
    await until(lastForward).toBe('h2 = relu(%12) [B, 32]');
    const lines = (await backward.getByRole('listitem').allTextContents()).map((l) => l.replace(/\s+/g, ' ').trim());
    expect(lines).toHaveLength(9);
    expect(lines.filter((l) => l.startsWith('∇'))).toEqual(['∇h2.bias = reshape(%66) shape [32] · [32]', '∇h1 = matmul(%65, %68) [B, 32]', '∇h2.weight = transpose(%71) perm [1, 0] · [32, 32]']);
    // pointing at the gradient that comes in marks it where it is used
    await section.getByText('∇h2', { exact: true }).first().hover();
    await until(() => section.locator('.v.marked').allTextContents()).toEqual(['∇h2']);
    await section.getByText('%65', { exact: true }).first().hover();
    await until(() => section.locator('.v.marked').count()).toBe(4);
    await screenshot(app.page, 'editor-primitives.png');
    // Copy: the listing as `bpstudio program --of h2` prints it
    await app.page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await section.getByRole('button', { name: 'Copy' }).click();
    await until(() => app.page.getByText("Copied h2's primitives").count()).toBe(1);
    const copied = await app.page.evaluate<string>('navigator.clipboard.readText()');
    expect(copied.split('\n').slice(0, 3)).toEqual(['h2 (dense)', '  forward', expect.stringMatching(/^ {4}%9 = transpose\(h2\.weight\) {2}perm \[1, 0\] {2}\[32, 32\]$/)]);
    expect(copied).toContain('    ∇h1 = matmul(%65, %68)  [B, 32]\n');
    // an edit: the shapes follow
    await app.setAttr('units', '8');
    await until(lastForward).toBe('h2 = relu(%12) [B, 8]');
    // another node's name goes to it, the section still open: ∇h1, which h2 sends back, is read in h1's backward
    await section.getByRole('button', { name: '∇h1', exact: true }).click();
    await until(() => app.selectedIds()).toEqual(['h1']);
    const h1Backward = section.getByRole('list', { name: 'Backward primitives of h1' });
    await until(async () => (await h1Backward.getByRole('listitem').allTextContents()).some((l) => /= mul\(\s*∇h1/.test(l))).toBe(true);
    // its own names are not links; h2's are
    expect(await section.getByRole('button', { name: 'h1', exact: true }).count()).toBe(0);
    // an error elsewhere in the graph: the engine's message, and no listing
    await app.select('x');
    await app.press('Delete');
    await app.node('x').waitFor({ state: 'detached' });
    await app.select('h2');
    await until(() => section.getByRole('alert').textContent()).toMatch(/h1|x/);
    expect(await section.getByRole('list').count()).toBe(0);
  });

  it('lists the errors; clicking one selects and centres its node and the inspector shows it', async () => {
    await app.goto('spiral.bpstudio');
    await app.editorShown(6);
    await app.compiled();
    // Removing both sources leaves the first layer and the loss with unconnected ports.
    await app.select('x');
    await app.press('Delete');
    await app.node('x').waitFor({ state: 'detached' });
    await app.select('y');
    await app.press('Delete');
    await app.node('y').waitFor({ state: 'detached' });
    await until(() => app.errorCount()).toBeGreaterThanOrEqual(2);
    await app.clickPane();
    // its label on one line, within the button (its bold count once wrapped out of it)
    expect(await app.errorsButton.evaluate((b) => [b.scrollHeight <= b.clientHeight, b.scrollWidth <= b.clientWidth])).toEqual([true, true]);

    await app.errorsButton.click();
    const list = app.errorsList;
    await list.waitFor();
    const entries = list.getByRole('listitem').getByRole('button');
    expect(await entries.count()).toBe(await app.errorCount());
    const lossEntry = list.getByRole('button', { name: /^loss · labels/ });
    const h1Entry = list.getByRole('button', { name: /^h1 · x/ });

    // The view is moved away first, so that centring is seen.
    await app.clickPane();
    const flowBox = (await app.flow.boundingBox())!;
    const mid = { x: flowBox.x + flowBox.width / 2, y: flowBox.y + flowBox.height / 2 };
    for (const [entry, id, op] of [
      [lossEntry, 'loss', 'softmax_cross_entropy'],
      [h1Entry, 'h1', 'dense'],
    ] as const) {
      await entry.click();
      await until(() => app.selectedIds()).toEqual([id]);
      await until(() => app.field('Id').inputValue()).toBe(id);
      expect(await app.inspector.getByRole('heading', { level: 2 }).textContent()).toBe(op);
      expect(await app.inspector.getByRole('alert').filter({ hasText: 'not connected' }).count()).toBeGreaterThan(0);
      await until(async () => {
        const c = await app.centre(app.node(id));
        return Math.round(Math.hypot(c.x - mid.x, c.y - mid.y) / 4);
      }).toBe(0);
    }
  });
});
