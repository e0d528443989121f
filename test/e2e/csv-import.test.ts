/**
 * The CSV import wizard end to end (web mode's real server and engine host, Debian's Chromium): breast_cancer.csv
 * imported through the wizard into a project whose data was something else, as one undoable edit, then trained past
 * 93% validation accuracy; a file with malformed rows and missing cells, whose rows are listed by line and whose
 * import waits for the user's choices, and Esc that changes nothing. A screenshot of the wizard lands in
 * test-output/screens/csv-wizard.png.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useStudio } from './fixture';
import { screenshot, type Locator, type Studio } from './harness';
import { MOD, until, type StudioPage } from './studio';

let studio: Studio;
let app: StudioPage;
useStudio((s, a) => {
  studio = s;
  app = a;
});

const percent = (text: string) => Number(/([\d.]+)%/.exec(text)?.[1] ?? NaN);

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

/** Import CSV… in the data panel, then the file in the workspace picker: the wizard, once it has read the file. */
async function importFile(data: Locator, folder: string | null, file: string): Promise<Locator> {
  await data.getByRole('button', { name: 'Import CSV…', exact: true }).click();
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
    const wizard = await importFile(data, 'data', 'breast_cancer.csv');

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
    expect(await wizard.getByRole('checkbox', { name: 'Standardise', exact: true }).isChecked()).toBe(true);
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
    await until(async () => (await app.page.getByTestId('run-progress').getAttribute('data-state')) ?? '', 120_000).toBe('done');
    const accuracy = percent(await app.text('val-accuracy'));
    expect(accuracy).toBeGreaterThan(93);
  });

  it('lists malformed rows by line, waits for skip and a missing-value policy, and changes nothing on Esc', async () => {
    writeFileSync(
      join(studio.workspace, 'data', 'pets.csv'),
      ['age,weight,colour,kind', '3,4.5,red,dog', '7,,green,cat', '1,2.5,blue', '4,3,"red"x,dog', '5,8,red,dog', '2,6,,cat', '9,9,green,dog', '6,7,blue,cat'].join('\n') + '\n',
    );
    const data = await startFromBuiltin();
    const before = await app.dirty();
    const wizard = await importFile(data, 'data', 'pets.csv');

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
    const again = await importFile(data, 'data', 'pets.csv');
    await again.getByRole('checkbox', { name: 'Skip these 2 rows', exact: true }).check();
    await again.getByRole('radio', { name: 'Drop the rows', exact: true }).check();
    await again.getByRole('button', { name: 'Apply', exact: true }).click();
    await again.waitFor({ state: 'detached' });
    await until(() => app.text('data-dropped')).toBe("4 of the file's rows left out: 2 with missing values, 2 malformed.");
  });

  it("shows the engine's progress while it reads a big file, and Cancel stops waiting for it", async () => {
    // About 19 MB: the engine reads it in 1 MB chunks and reports each step.
    const row = Array.from({ length: 10 }, (_, c) => (c * 1.125).toFixed(3)).join(',');
    const rows = `${row},a\n${row},b\n`.repeat(150_000);
    writeFileSync(join(studio.workspace, 'data', 'big.csv'), `${Array.from({ length: 10 }, (_, c) => `f${c}`).join(',')},label\n${rows}`);
    const data = await startFromBuiltin();
    await data.getByRole('button', { name: 'Import CSV…', exact: true }).click();
    const picker = app.dialog('Choose a data file');
    await picker.getByRole('option', { name: 'Folder data', exact: true }).click();
    await picker.getByRole('option', { name: 'big.csv', exact: true }).click();
    await picker.getByRole('button', { name: 'Choose', exact: true }).click();
    const wizard = app.dialog('Import CSV');
    const bar = wizard.getByRole('progressbar', { name: 'Reading big.csv' });
    await until(async () => Number(await bar.getAttribute('value')) > 0).toBe(true);
    expect(await wizard.getByText(/^[\d.]+ (B|KB|MB) of 1\d\.\d+ MB$/).count()).toBe(1);
    await wizard.getByRole('button', { name: 'Cancel', exact: true }).click();
    await wizard.waitFor({ state: 'detached' });
    expect(await data.getByLabel('Source', { exact: true }).inputValue()).toBe('builtin');
  });
});
