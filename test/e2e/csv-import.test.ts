/**
 * The CSV import wizard end to end (web mode's real server and engine host, Debian's Chromium): breast_cancer.csv
 * imported through the wizard into a project whose data was something else, as one undoable edit, then trained past
 * 93% validation accuracy; a file with malformed rows and missing cells, whose rows are listed by line and whose
 * import waits for the user's choices, and Esc that changes nothing; a big file's read that Cancel stops in the
 * engine; Enter right after a regression file is read, which applies it, and the fitted curve drawn on it. A screenshot of the wizard lands in test-output/screens/csv-wizard.png.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useStudio } from './fixture';
import { screenshot, type Locator, type Page, type Studio } from './harness';
import { MOD, percent, until, type StudioPage } from './studio';

let studio: Studio;
let app: StudioPage;
useStudio((s, a) => {
  studio = s;
  app = a;
});

type Message = Record<string, unknown>;

/** The engine channel's messages on the page's WebSocket to web mode's server, as they pass: requests and replies. */
function engineTraffic(page: Page): { sent: Message[]; received: Message[] } {
  const traffic = { sent: [] as Message[], received: [] as Message[] };
  const engineMessage = (payload: string | Buffer): Message | undefined => {
    const frame = JSON.parse(String(payload)) as { channel?: string; message?: Message };
    return frame.channel === 'engine' ? frame.message : undefined;
  };
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      const m = engineMessage(payload);
      if (m) traffic.sent.push(m);
    });
    ws.on('framereceived', ({ payload }) => {
      const m = engineMessage(payload);
      if (m) traffic.received.push(m);
    });
  });
  return traffic;
}

/** Opens the breast cancer example, shows the data panel, and switches its data to a builtin generator. */
async function startFromBuiltin(): Promise<Locator> {
  await app.goto('breast-cancer.bpstudio');
  await app.editorShown(5);
  await app.compiled();
  await app.clickPane();
  const data = app.inspector.getByRole('region', { name: 'Data' });
  await data.getByLabel('Source', { exact: true }).selectOption('builtin');
  await until(() => data.getByRole('img', { name: /^Scatter plot of x1 and x2/ }).count()).toBe(1);
  return data;
}

/** File > Import CSV… (the data panel offers it only under a CSV source, and without data). */
async function openImportCsv(): Promise<void> {
  await app.page.getByRole('menubar').getByRole('menuitem', { name: 'File', exact: true }).click();
  await app.page.getByRole('menu', { name: 'File' }).getByRole('menuitem', { name: 'Import CSV…', exact: true }).click();
}

/** Import CSV…, then the file in the workspace picker: the wizard, once it has read the file. */
async function importFile(folder: string | null, file: string): Promise<Locator> {
  await openImportCsv();
  const picker = app.dialog('Choose a data file');
  await picker.waitFor();
  if (folder) await picker.getByRole('option', { name: `Folder ${folder}`, exact: true }).click();
  await picker.getByRole('option', { name: file, exact: true }).click();
  await picker.getByRole('button', { name: 'Choose', exact: true }).click();
  const wizard = app.dialog('Import CSV');
  await wizard.getByRole('table', { name: 'Columns' }).waitFor();
  return wizard;
}

describe('the CSV import wizard in Chromium against web mode', () => {
  it('imports breast_cancer.csv as one undoable edit, and trains past 93% validation accuracy', async () => {
    const data = await startFromBuiltin();
    const wizard = await importFile('data', 'breast_cancer.csv');

    // The engine's inspection: 569 rows of 31 columns, the diagnosis proposed as the label, the 30 others numeric.
    await until(() => wizard.getByText(/569 rows · 31 columns/).count()).toBe(1);
    expect(await wizard.getByLabel('Label', { exact: true }).inputValue()).toBe('diagnosis');
    expect(await wizard.getByLabel('Type of diagnosis', { exact: true }).inputValue()).toBe('categorical');
    expect(await wizard.getByLabel('Type of mean_radius', { exact: true }).inputValue()).toBe('numeric');
    expect(await wizard.getByRole('checkbox', { name: /^Feature / }).count()).toBe(31);
    expect(await wizard.getByRole('checkbox', { name: 'Feature diagnosis', exact: true }).isDisabled()).toBe(true);
    expect(await app.text('csv-width')).toBe('30 features → 30 input values per row');
    expect(await wizard.getByText('none in the chosen columns').count()).toBe(1);
    // A feature left out, and back: the width follows.
    await wizard.getByRole('checkbox', { name: 'Feature mean_area', exact: true }).uncheck();
    expect(await app.text('csv-width')).toBe('29 features → 29 input values per row');
    await wizard.getByRole('checkbox', { name: 'Feature mean_area', exact: true }).check();
    expect(await wizard.getByRole('checkbox', { name: 'Standardise features', exact: true }).isChecked()).toBe(true);
    await screenshot(app.page, 'csv-wizard.png');

    // Enter applies.
    await wizard.getByLabel('Validation fraction', { exact: true }).fill('0.2');
    await app.press('Enter');
    await wizard.waitFor({ state: 'detached' });
    const source = data.getByLabel('Source', { exact: true });
    expect(await source.inputValue()).toBe('csv');
    expect(await data.getByLabel('CSV file', { exact: true }).inputValue()).toBe('data/breast_cancer.csv');
    await until(() => data.getByText('569 rows · 30 features', { exact: true }).count()).toBe(1);
    expect(await app.shape('cells')).toBe('[B, 30]');

    // One edit: one undo goes back to the builtin data, one redo brings the import back.
    await app.clickPane();
    await app.press(`${MOD}+z`);
    await until(() => source.inputValue()).toBe('builtin');
    await app.press(`${MOD}+Shift+z`);
    await until(() => source.inputValue()).toBe('csv');

    await app.compiled();
    await app.button('Train').click();
    await until(() => app.runState(), 120_000).toBe('done');
    const accuracy = percent(await app.text('val-accuracy'));
    expect(accuracy).toBeGreaterThan(93);
  });

  it('applies on Enter as soon as the file is read (Apply has the focus), and draws the fitted curve of a regression on it', async () => {
    // price against area: one numeric feature and a real label
    const rows = Array.from({ length: 120 }, (_, i) => `${30 + i},${(1.8 * (30 + i) + 40 + 10 * Math.sin(i)).toFixed(2)}`);
    writeFileSync(join(studio.workspace, 'data', 'house.csv'), ['area_m2,price_k', ...rows].join('\n') + '\n');
    await app.goto('sine.bpstudio');
    await app.editorShown(6);
    await app.compiled();
    const wizard = await importFile('data', 'house.csv');
    expect(await wizard.getByLabel('Label', { exact: true }).inputValue()).toBe('price_k');
    // a real label: the wizard offers to standardise it, ticked (prices in the hundreds fit with the usual rates)
    expect(await wizard.getByRole('checkbox', { name: 'Standardise label', exact: true }).isChecked()).toBe(true);
    const apply = wizard.getByRole('button', { name: 'Apply', exact: true });
    await until(() => apply.evaluate((el) => el === (el as unknown as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement)).toBe(true);
    await app.press('Enter');
    await wizard.waitFor({ state: 'detached' });
    expect(await app.toasts.getByText('Imported house.csv: 1 feature column, 1 input value', { exact: true }).count()).toBe(1);
    await app.clickPane();
    const data = app.inspector.getByRole('region', { name: 'Data' });
    expect(await data.getByLabel('CSV file', { exact: true }).inputValue()).toBe('data/house.csv');
    await until(() => data.getByRole('img', { name: 'Scatter plot of area_m2 and price_k, 120 points' }).count()).toBe(1);
    expect(await data.getByRole('checkbox', { name: 'Standardise label', exact: true }).isChecked()).toBe(true);

    await app.button('Train').click();
    await until(() => app.runState(), 120_000).toBe('done');
    // the loss is on the standardised label (a constant scores 1; the noise is about 7 of a spread of about 63), the
    // RMSE in the label's units, on its own tab too
    expect(Number(await app.text('val-loss'))).toBeLessThan(0.1);
    expect(Number(await app.text('val-rmse'))).toBeLessThan(20);
    await app.page.getByRole('tab', { name: 'RMSE', exact: true }).click();
    const rmseChart = app.page.getByTestId('chart-accuracy');
    expect(await rmseChart.getByRole('img', { name: 'RMSE at each epoch' }).count()).toBe(1);
    // its own log scale (no smoothing: it is a chart of epochs)
    expect(await rmseChart.getByRole('slider').count()).toBe(0);
    expect(await rmseChart.getAttribute('data-y-scale')).toBe('linear');
    await rmseChart.getByRole('checkbox', { name: 'Log scale', exact: true }).check();
    await until(() => rmseChart.getAttribute('data-y-scale')).toBe('log');
    // kept with the dock's other settings
    const stored = await app.page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('bpstudio.charts'));
    expect(JSON.parse(stored ?? '{}')).toMatchObject({ rmseLog: true, lossLog: false });
    await app.page.getByRole('tab', { name: 'Fit', exact: true }).click();
    const view = app.page.getByTestId('fit-view');
    await until(() => view.getAttribute('data-step')).toBe(await app.text('progress-step'));
    expect(await view.getByRole('img', { name: /^Fitted curve of price_k over area_m2 at step \d+$/ }).count()).toBe(1);
    expect(await view.textContent()).toContain('data (120 points)');
  });

  it('lists malformed rows by line, waits for skip and a missing-value policy, and changes nothing on Esc', async () => {
    writeFileSync(
      join(studio.workspace, 'data', 'pets.csv'),
      ['age,weight,colour,kind', '3,4.5,red,dog', '7,,green,cat', '1,2.5,blue', '4,3,"red"x,dog', '5,8,red,dog', '2,6,,cat', '9,9,green,dog', '6,7,blue,cat'].join('\n') + '\n',
    );
    const data = await startFromBuiltin();
    const before = await app.dirty();
    const wizard = await importFile('data', 'pets.csv');

    const malformed = wizard.getByRole('list', { name: 'Malformed rows' });
    await until(() => malformed.getByRole('listitem').count()).toBe(2);
    expect(await malformed.getByRole('listitem').first().textContent()).toMatch(/^line 4\b/);
    expect(await wizard.getByLabel('Type of colour', { exact: true }).inputValue()).toBe('categorical');
    const apply = wizard.getByRole('button', { name: 'Apply', exact: true });
    expect(await apply.isDisabled()).toBe(true);
    const problems = wizard.getByRole('list', { name: 'Before importing' });
    expect(await problems.textContent()).toMatch(/2 malformed rows/);
    expect(await problems.textContent()).toMatch(/2 missing cells in the features/);

    await wizard.getByRole('checkbox', { name: 'Skip these 2 rows', exact: true }).check();
    await wizard.getByRole('radio', { name: 'Fill with the mean', exact: true }).check();
    await until(() => apply.isDisabled()).toBe(false);
    // One-hot colour (3 categories) and the two numbers.
    expect(await app.text('csv-width')).toBe('3 features → 5 input values per row');
    await wizard.getByRole('radio', { name: 'Fill with a constant', exact: true }).check();
    expect(await app.text('csv-width')).toBe('3 features → 6 input values per row');
    await screenshot(app.page, 'csv-wizard-malformed.png');

    await app.press('Escape');
    await wizard.waitFor({ state: 'detached' });
    expect(await data.getByLabel('Source', { exact: true }).inputValue()).toBe('builtin');
    expect(await app.dirty()).toBe(before);

    // Applied with the rows skipped: the data panel says how many rows the file lost, and why.
    const again = await importFile('data', 'pets.csv');
    await again.getByRole('checkbox', { name: 'Skip these 2 rows', exact: true }).check();
    await again.getByRole('radio', { name: 'Drop the rows', exact: true }).check();
    await again.getByRole('button', { name: 'Apply', exact: true }).click();
    await again.waitFor({ state: 'detached' });
    await until(() => app.text('data-dropped')).toBe("4 of the file's rows left out: 2 with missing values, 2 malformed.");
    // The panel offers the columns the engine reads as features: the one-hot colour is one choice.
    const features = data.getByRole('group', { name: /^Features/ });
    expect((await features.locator('label').allTextContents()).map((t) => t.trim())).toEqual(['age', 'weight', 'colour']);
    await screenshot(app.page, 'data-panel-csv.png');
  });

  it('fits the output layer to a label with more classes, says so before Apply, and offers the import only for CSV data', async () => {
    await app.goto('breast-cancer.bpstudio');
    await app.editorShown(5);
    await app.compiled();
    await app.clickPane();
    const data = app.inspector.getByRole('region', { name: 'Data' });
    const wizard = await importFile('data', 'iris.csv');
    expect(await wizard.getByLabel('Label', { exact: true }).inputValue()).toBe('species');
    expect(await app.text('csv-graph-fit')).toBe('Apply also fits the graph: the output layer out gets 3 units.');
    await screenshot(app.page, 'csv-wizard-graph-fit.png');
    await wizard.getByRole('button', { name: 'Apply', exact: true }).click();
    await wizard.waitFor({ state: 'detached' });
    await until(() => app.shape('out')).toBe('[B, 3]');
    expect(await app.shape('cells')).toBe('[B, 4]');
    expect(await app.errorCount()).toBe(0);

    // An image folder still to choose: the panel asks for a folder, and has no CSV import.
    await data.getByLabel('Source', { exact: true }).selectOption('images');
    await until(() => data.getByText('Choose a folder to see its data.', { exact: true }).count()).toBe(1);
    expect(await data.getByRole('button', { name: 'Import CSV…', exact: true }).count()).toBe(0);
    await screenshot(app.page, 'data-panel-images-empty.png');
  });

  it("shows the engine's progress while it reads a big file, and Cancel stops the engine's read", async () => {
    // About 38 MB: the engine reads it in 1 MB chunks and reports each step.
    const row = Array.from({ length: 10 }, (_, c) => (c * 1.125).toFixed(3)).join(',');
    const rows = `${row},a\n${row},b\n`.repeat(300_000);
    writeFileSync(join(studio.workspace, 'data', 'big.csv'), `${Array.from({ length: 10 }, (_, c) => `f${c}`).join(',')},label\n${rows}`);
    const engine = engineTraffic(app.page);
    const data = await startFromBuiltin();
    await openImportCsv();
    const picker = app.dialog('Choose a data file');
    await picker.getByRole('option', { name: 'Folder data', exact: true }).click();
    await picker.getByRole('option', { name: 'big.csv', exact: true }).click();
    await picker.getByRole('button', { name: 'Choose', exact: true }).click();
    const wizard = app.dialog('Import CSV');
    const bar = wizard.getByRole('progressbar', { name: 'Reading big.csv' });
    await until(async () => Number(await bar.getAttribute('value')) > 0).toBe(true);
    expect(await wizard.getByText(/^[\d.]+ (B|KB|MB) of 3\d\.\d+ MB$/).count()).toBe(1);
    await wizard.getByRole('button', { name: 'Cancel', exact: true }).click();
    await wizard.waitFor({ state: 'detached' });
    expect(await data.getByLabel('Source', { exact: true }).inputValue()).toBe('builtin');

    // The bridge sent `cancel` for the data.inspect, and the engine stopped reading part way: its reply says so.
    const inspect = engine.sent.find((m) => m.type === 'data.inspect' && m.path === 'data/big.csv');
    expect(inspect).toBeDefined();
    // (Only this one matters here: a request the panel made earlier may have been superseded, and canceled, too.)
    expect(engine.sent.filter((m) => m.type === 'cancel' && m.request === inspect!.id)).toHaveLength(1);
    await until(() => engine.received.find((m) => m.id === inspect!.id)).toMatchObject({ ok: false, error: { message: 'canceled' } });
    const progress = engine.received.filter((m) => m.event === 'data.progress' && m.requestId === inspect!.id);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.bytes).toBeLessThan(progress.at(-1)!.total as number);
  });
});
