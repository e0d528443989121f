/**
 * Taking a model out of the app, end to end (web mode's real server and engine host, Debian's Chromium): the trained
 * spiral exported from File > Export as ONNX (a toast while the engine works), with the parity check that ONNX
 * Runtime ran shown in the app, and as PyTorch code; a weights file that no longer fits the edited graph loaded
 * through the report of what fits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useStudio } from './fixture';
import { screenshot, type Studio } from './harness';
import { until, type StudioPage } from './studio';

let studio: Studio;
let app: StudioPage;
useStudio((s, a) => {
  studio = s;
  app = a;
});

/** Chooses an item of web mode's menu bar, as a user does with the mouse. */
async function menu(name: string, item: string): Promise<void> {
  await app.page.getByRole('menubar').getByRole('menuitem', { name, exact: true }).click();
  await app.page.getByRole('menu', { name }).getByRole('menuitem', { name: item, exact: true }).click();
}

/** Saves through the workspace picker that a File > Export command opens. */
async function saveAs(title: string, fileName: string): Promise<string> {
  const picker = app.dialog(title);
  await picker.waitFor();
  await picker.getByLabel('File name', { exact: true }).fill(fileName);
  await picker.getByRole('button', { name: 'Save', exact: true }).click();
  await picker.waitFor({ state: 'detached' });
  const path = join(studio.workspace, fileName);
  await until(() => existsSync(path)).toBe(true);
  return path;
}

/** Opens the spiral example and trains it to the end of its epochs. */
async function trainedSpiral(): Promise<void> {
  await app.goto('spiral.bpstudio');
  await app.editorShown(6);
  await app.compiled();
  await app.button('Train').click();
  await until(() => app.runState(), 120_000).toBe('done');
}

describe('exporting from the app', () => {
  it('exports the trained spiral as ONNX with the parity check shown, and as PyTorch code', async () => {
    await trainedSpiral();

    // While the engine exports the model and checks it in ONNX Runtime, a toast says so (with the share of the data
    // read so far, once it is reading), until the engine answers.
    const busy = app.toasts.getByText(/^Exporting the ONNX model and checking it in ONNX Runtime…( \d+%)?$/);
    const shown = busy.waitFor();
    await menu('File', 'Export ONNX model…');
    await shown;
    const onnx = await saveAs('Export the ONNX model', 'spiral.onnx');
    expect(await busy.count()).toBe(0);
    const done = app.dialog('ONNX model exported');
    await done.waitFor();
    const text = (await done.textContent()) ?? '';
    const diff = Number(/largest difference [^0-9]*([0-9.]+e[+-]\d+)/.exec(text)?.[1] ?? NaN);
    const scale = Number(/outputs up to ([0-9.e+-]+) in size/.exec(text)?.[1] ?? NaN);
    expect(text).toContain('first 256 rows');
    // float32 agreement: within 1e-5 of the outputs' size (trained logits are large)
    expect(scale).toBeGreaterThan(0);
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
    await screenshot(app.page, 'export-onnx.png');
    await done.getByRole('button', { name: 'OK' }).click();
    // An ONNX ModelProto: field 1 (ir_version) first, and the graph's op types inside.
    const bytes = readFileSync(onnx);
    expect(bytes[0]).toBe(0x08);
    expect(bytes.toString('latin1')).toContain('Gemm');

    await menu('File', 'Export PyTorch code…');
    const py = await saveAs('Export the PyTorch code', 'spiral_model.py');
    const code = readFileSync(py, 'utf8');
    expect(code).toContain('class Model(nn.Module)');
    expect(code).toContain('def load_weights(model, path)');
  });

  it('loads a weights file that no longer fits the edited graph through the report of what fits', async () => {
    await trainedSpiral();
    await app.button('Export weights').click();
    await saveAs('Export weights', 'spiral-trained.safetensors');

    // Widen the second hidden layer: its weight and bias, and the output layer's weight, no longer fit.
    await app.select('h2');
    await app.setAttr('units', '24');
    await app.field('units').blur();
    await app.compiled();

    await menu('File', 'Load weights…');
    const chooser = app.dialog('Load weights');
    await chooser.waitFor();
    await chooser.getByText('spiral-trained.safetensors', { exact: true }).click();
    await chooser.getByRole('button', { name: 'Choose', exact: true }).click();
    const report = app.dialog('The weights do not fit this graph');
    await report.waitFor();
    const lists = app.page.getByTestId('weights-report');
    await expect.poll(() => lists.textContent()).toContain('Of another shape (3)');
    const listed = (await lists.textContent()) ?? '';
    for (const name of ['h2.weight', 'h2.bias', 'out.weight']) expect(listed).toContain(name);
    expect(listed).not.toContain('Missing from the file');
    await screenshot(app.page, 'weights-report.png');
    await report.getByRole('button', { name: 'Load 3 tensors' }).click();
    await until(() => app.runState()).toBe('paused');
    await app.button('Resume').click();
    await until(() => app.runState(), 120_000).toBe('done');
  });
});
