/**
 * Training in the app end to end: web mode's real server and engine host, Debian's Chromium. The spiral example
 * trained, paused, resumed, stopped and exported, its weights checked with the CLI; the deep sigmoid network's
 * vanishing gradient read off the gradient-norm chart against its ReLU twin; the engine killed mid-run. Screenshots
 * of the training view land in test-output/screens/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useStudio } from './fixture';
import { REPO, screenshot, type Studio } from './harness';
import { MOD, percent, until, type StudioPage } from './studio';
import { num4 } from '../../renderer/src/lib/format';

let studio: Studio;
let app: StudioPage;
useStudio((s, a) => {
  studio = s;
  app = a;
});

/** Opens an example of the workspace by path, as a user does from the recent list or `--open`. */
async function openExample(file: string, nodes: number): Promise<void> {
  await app.goto(file);
  await app.editorShown(nodes);
  await app.compiled();
}

async function step(): Promise<number> {
  return Number(await app.text('progress-step'));
}

/** The gradient-norm chart's latest norm of each layer, as the page shows it. */
async function latestNorms(): Promise<Record<string, number>> {
  const raw = await app.page.getByTestId('chart-gradnorm').getAttribute('data-latest');
  return raw ? (JSON.parse(raw) as Record<string, number>) : {};
}

/** The loss chart's latest (or first) training loss, as the page shows it. */
async function chartLoss(which: 'latest' | 'first' = 'latest'): Promise<number> {
  const raw = await app.page.getByTestId('chart-loss').getAttribute(`data-${which}-loss`);
  return raw ? Number(raw) : NaN;
}

/** Sets a training setting in the inspector's Training section (nothing selected). */
async function setTraining(label: string, value: string): Promise<void> {
  await app.clickPane();
  const field = app.inspector.getByLabel(label, { exact: true });
  await field.fill(value);
  await field.blur();
}


describe('training in Chromium against web mode', () => {
  it('trains the spiral example past 90%, pauses, resumes, stops, exports weights that the CLI scores the same', async () => {
    await openExample('spiral.bpstudio', 6);
    // Long enough to pause in the middle (the example's 100 epochs take about a second).
    await setTraining('Epochs', '3000');
    await app.button('Train').click();
    await until(() => app.runState()).toBe('running');
    await until(async () => (await step()) > 30).toBe(true);
    // Cross-entropy of three classes starts near ln 3.
    const start = await chartLoss('first');
    expect(start).toBeGreaterThan(0.8);

    await app.button('Pause').click();
    await until(() => app.runState()).toBe('paused');
    const paused = await step();
    await app.page.waitForTimeout(400);
    expect(await step()).toBe(paused);
    // Graph edits wait while the job holds the graph.
    expect(await app.inspector.getByLabel('Epochs', { exact: true }).isDisabled()).toBe(true);
    // and the commands that would change the network are off, a selection or not
    await app.select('h2');
    expect(await app.page.getByRole('button', { name: 'Delete', exact: true }).isDisabled()).toBe(true);
    await app.page.getByRole('menubar').getByRole('menuitem', { name: 'Edit', exact: true }).click();
    const edit = app.page.getByRole('menu', { name: 'Edit' });
    for (const name of [/^Cut/, /^Paste(?! with)/, /^Paste with links/, /^Delete/]) expect(await edit.getByRole('menuitem', { name }).isDisabled(), `${name}`).toBe(true);
    expect(await edit.getByRole('menuitem', { name: /^Copy/ }).isDisabled()).toBe(false);
    await app.press('Escape');
    await app.press('Delete');
    expect(await app.node('h2').count()).toBe(1);
    await app.clickPane();

    await app.button('Resume').click();
    await until(() => app.runState()).toBe('running');
    await until(async () => percent(await app.text('val-accuracy')) > 90, 120_000).toBe(true);
    expect(await chartLoss()).toBeLessThan(start / 3);
    await app.page.getByRole('tab', { name: 'Boundary' }).click();
    await until(() => app.page.getByTestId('boundary-view').getAttribute('data-step')).not.toBeNull();
    await screenshot(app.page, 'training-spiral.png');

    await app.button('Stop').click();
    await until(() => app.runState()).toBe('stopped');
    const stoppedAt = await step();
    await app.button('Evaluate').click();
    const appAccuracy = percent(await app.text('eval-all-accuracy'));
    expect(appAccuracy).toBeGreaterThan(90);

    await app.button('Export weights').click();
    const picker = app.dialog('Export weights');
    await picker.waitFor();
    await picker.getByLabel('File name', { exact: true }).fill('spiral-trained.safetensors');
    await picker.getByRole('button', { name: 'Save', exact: true }).click();
    await picker.waitFor({ state: 'detached' });
    const weights = join(studio.workspace, 'spiral-trained.safetensors');
    await until(() => existsSync(weights)).toBe(true);

    const cli = spawnSync(process.execPath, [join(REPO, 'bin', 'bpstudio.mjs'), 'eval', join(studio.workspace, 'spiral.bpstudio'), '--weights', weights, '--json'], {
      encoding: 'utf8',
    });
    expect(cli.status, cli.stderr).toBe(0);
    const scored = JSON.parse(cli.stdout) as { accuracy: number; rows: number };
    expect(scored.rows).toBe(600);
    expect((scored.accuracy * 100).toFixed(2)).toBe(appAccuracy.toFixed(2));
    expect(stoppedAt).toBeGreaterThan(paused);

    // The weights load back into the project (a new paused run) and evaluate the same.
    await app.button('Load weights').click();
    const chooser = app.dialog('Load weights');
    await chooser.waitFor();
    await chooser.getByText('spiral-trained.safetensors', { exact: true }).click();
    await chooser.getByRole('button', { name: 'Choose', exact: true }).click();
    await until(() => app.runState()).toBe('paused');
    await app.button('Evaluate').click();
    await until(async () => percent(await app.text('eval-all-accuracy'))).toBe(appAccuracy);
    // Resume trains on from those weights.
    await app.button('Resume').click();
    await until(async () => (await step()) > 0).toBe(true);
    await app.button('Stop').click();
    await until(() => app.runState()).toBe('stopped');
  });

  it('stops a run whose loss goes non-finite and names the node where it started', async () => {
    await openExample('spiral.bpstudio', 6);
    await app.clickPane();
    await app.inspector.getByLabel('Optimizer', { exact: true }).selectOption('sgd');
    await setTraining('Learning rate', '1e30');
    await app.button('Train').click();
    await until(() => app.runState()).toBe('error');
    const message = await app.text('run-error');
    expect(message).toMatch(/objective is (NaN|Infinity)/);
    expect(message).toMatch(/node "(h1|h2|out|loss)"/);
    await screenshot(app.page, 'training-nan.png');
  });

  it('trains under a learning-rate schedule and gradient clipping chosen in the panel, the fields as they apply, with undo, and draws the run before to compare', async () => {
    await openExample('spiral.bpstudio', 6);
    await setTraining('Epochs', '4');
    // a first run at the constant rate, unclipped
    await app.button('Train').click();
    await until(() => app.runState()).toBe('done');
    const before = await chartLoss();
    expect(await app.page.getByTestId('chart-loss').getAttribute('data-previous-loss')).toBe('');
    const schedule = app.inspector.getByLabel('LR schedule', { exact: true });
    expect(await schedule.inputValue()).toBe('constant');
    const shown = async () => Promise.all(['Every', 'Gamma', 'Minimum', 'Warm-up'].map((l) => app.inspector.getByLabel(l, { exact: true }).count()));
    expect(await shown()).toEqual([0, 0, 0, 1]);
    await schedule.selectOption('cosine');
    await until(shown).toEqual([0, 0, 1, 1]);
    await schedule.selectOption('step');
    await until(shown).toEqual([1, 1, 0, 1]);
    const every = app.inspector.getByLabel('Every', { exact: true });
    const unset = await every.inputValue();
    await setTraining('Every', '1');
    await app.press(`${MOD}+z`);
    await until(() => every.inputValue()).toBe(unset);
    await app.press(`${MOD}+Shift+z`);
    await until(() => every.inputValue()).toBe('1');
    await setTraining('Gamma', '0.5');
    // unset, no clipping; the spiral's gradients are far above 0.01
    expect(await app.inspector.getByLabel('Clip gradient norm', { exact: true }).getAttribute('placeholder')).toBe('none');
    await setTraining('Clip gradient norm', '0.01');
    await app.button('Train').click();
    // adam at 0.01, halved at each of the 3 epochs after the first
    await until(() => app.text('run-lr')).toBe(num4(0.01 * 0.5 ** 3));
    await until(() => app.runState()).toBe('done');
    expect(await app.text('run-grad-norm')).toMatch(/^\d\.\d+ \(clipped to 0\.01\)$/);
    // the loss chart keeps the first run's curve behind this one's
    expect(Number(await app.page.getByTestId('chart-loss').getAttribute('data-previous-loss'))).toBe(before);
    expect(await chartLoss()).not.toBe(before);
    await app.page.getByTestId('run-grad-norm').scrollIntoViewIfNeeded();
    // (for the picture only: the charts redraw a moment after the run's last events)
    await app.page.waitForTimeout(1000);
    await screenshot(app.page, 'training-schedule.png');
  });

  it('says a run could not start, naming the missing data file, and leaves the project as it was', async () => {
    const project = JSON.parse(readFileSync(join(studio.workspace, 'iris.bpstudio'), 'utf8')) as { data: { path: string } };
    project.data.path = 'data/gone.csv';
    writeFileSync(join(studio.workspace, 'gone.bpstudio'), JSON.stringify(project));
    await openExample('gone.bpstudio', 5);
    await app.button('Train').click();
    const dialog = app.dialog('Training could not start');
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/file not found: .*gone\.csv/);
    await dialog.getByRole('button', { name: 'OK', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await app.runState()).toBe('idle');
    expect(await app.text('dirty-marker')).toBe('');
  });

  it('chooses the objective and the prediction among the nodes that can be them, automatic naming the engine\'s pick, with undo', async () => {
    await openExample('logistic-regression.bpstudio', 14);
    await app.clickPane();
    const objective = app.inspector.getByLabel('Objective', { exact: true });
    const prediction = app.inspector.getByLabel('Prediction', { exact: true });
    const options = (select: typeof objective) => select.locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    // the file names both; the objective's choices are the scalars and per-example values, no source among them
    expect(await objective.inputValue()).toBe('L');
    expect(await prediction.inputValue()).toBe('score');
    expect(await options(objective)).toEqual(expect.arrayContaining(['', 'L', 'reg', 'nll', 'score']));
    for (const source of ['x', 'y', 'w', 'b', 'lambda']) expect(await options(objective), source).not.toContain(source);
    // automatic: the engine's pick, said under the field (the l2 term is the one loss op; L is no loss, so no prediction)
    expect(await app.inspector.getByText('automatic: reg').count()).toBe(1);
    expect(await app.inspector.getByText('automatic: none').count()).toBe(1);

    await prediction.selectOption('');
    await until(() => app.dirty()).toBe(true);
    expect(await prediction.inputValue()).toBe('');
    await app.press('Mod+Z');
    await until(() => prediction.inputValue()).toBe('score');
    expect(await app.dirty()).toBe(false);
    await objective.selectOption('nll');
    await until(() => app.page.getByTestId('plan-memory').getAttribute('class')).not.toMatch(/stale/);
    expect(await app.errorCount()).toBe(0);
  });

  it('says why a model has no accuracy: no label, or no prediction to score against its label', async () => {
    const accuracyMessage = async () => {
      await app.page.getByRole('tab', { name: 'Accuracy', exact: true }).click();
      return app.page.getByTestId('chart-accuracy').textContent();
    };
    await openExample('seed-function.bpstudio', 7);
    await app.button('Step').click();
    await until(() => step()).toBe(1);
    expect(await accuracyMessage()).toContain('its objective reads no label to score a prediction against');
    // no trainable tensor either: Check gradients checks the gradient with respect to its inputs, df/dx1 and df/dx2
    await app.clickPane();
    await app.inspector.getByRole('button', { name: 'Check gradients', exact: true }).click();
    const check = app.inspector.getByRole('table', { name: 'Gradient check' });
    await check.waitFor();
    expect(await check.locator('caption').textContent()).toMatch(/^\s*Gradients with respect to the inputs at step 1 on 1 row: ok,/);
    expect((await check.getByRole('columnheader').first().textContent())?.trim()).toBe('input');
    expect(await check.getByRole('row').count()).toBe(3);
    // f's Jacobian in the inspector, on its one row (x1 = 2, x2 = 5): df/dx1 = 1/x1 + x2, df/dx2 = x1 - cos(x2)
    await app.select('f');
    const jacobian = app.inspector.getByRole('region', { name: 'Jacobian' });
    expect(await jacobian.getByLabel('with respect to', { exact: true }).inputValue()).toBe('x1');
    await jacobian.getByRole('button', { name: 'Compute', exact: true }).click();
    await until(() => app.text('jacobian-caption')).toMatch(/^d f \/ d x1 on row 1: 1 × 1 \(\[1\] by \[1\]\)/);
    expect(Number(await app.text('jacobian-max'))).toBe(Number(num4(1 / 2 + 5)));
    await jacobian.getByRole('img', { name: 'Jacobian of f with respect to x1, 1 by 1' }).hover();
    await until(() => app.text('jacobian-readout')).toBe(`d f[0] / d x1[0] = ${num4(5.5)}`);
    await jacobian.getByLabel('with respect to', { exact: true }).selectOption('x2');
    await jacobian.getByRole('button', { name: 'Compute', exact: true }).click();
    await until(() => app.text('jacobian-caption')).toMatch(/^d f \/ d x2/);
    expect(await app.text('jacobian-max')).toBe(num4(Math.abs(2 - Math.cos(5))));
    await screenshot(app.page, 'training-jacobian.png');

    // logistic regression with the prediction unset: its objective L is no loss, so there is none
    await openExample('logistic-regression.bpstudio', 14);
    await app.clickPane();
    await app.inspector.getByLabel('Prediction', { exact: true }).selectOption('');
    await app.button('Step').click();
    await until(() => step()).toBe(1);
    expect(await accuracyMessage()).toContain('it has no prediction to score against its label');
  });

  it('edits the data in the data panel: builtin parameters, the split, with a preview, a scatter plot and undo', async () => {
    await openExample('spiral.bpstudio', 6);
    await app.clickPane();
    const data = app.inspector.getByRole('region', { name: 'Data' });
    await until(() => data.getByRole('img', { name: /^Scatter plot of x1 and x2, 600 points$/ }).count()).toBe(1);
    expect(await data.getByRole('listitem').allTextContents()).toHaveLength(3);

    const samples = data.getByLabel('Samples', { exact: true });
    await samples.fill('300');
    await samples.blur();
    await until(() => data.getByRole('img', { name: /300 points$/ }).count()).toBe(1);
    expect(await app.dirty()).toBe(true);
    await data.getByLabel('Classes', { exact: true }).fill('4');
    await data.getByLabel('Classes', { exact: true }).blur();
    await until(() => data.getByRole('list', { name: 'Class balance' }).getByRole('listitem').count()).toBe(4);
    await app.press(`${process.platform === 'darwin' ? 'Meta' : 'Control'}+z`);
    await until(() => data.getByRole('list', { name: 'Class balance' }).getByRole('listitem').count()).toBe(3);
    await app.press(`${process.platform === 'darwin' ? 'Meta' : 'Control'}+z`);
    await until(() => data.getByRole('img', { name: /600 points$/ }).count()).toBe(1);
    expect(await app.dirty()).toBe(false);
    await screenshot(app.page, 'data-panel-spiral.png');
  });

  it("shows the deep sigmoid network's vanishing gradient on the gradient-norm chart, and not its ReLU twin's", async () => {
    const ratios: Record<string, number> = {};
    for (const name of ['deep-sigmoid', 'deep-relu']) {
      await openExample(`${name}.bpstudio`, 13);
      await app.button('Train').click();
      await until(() => app.runState(), 120_000).toBe('done');
      expect(await step()).toBe(300);
      await app.page.getByRole('tab', { name: 'Gradient norms' }).click();
      const norms = await latestNorms();
      expect(Object.keys(norms)).toEqual(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8', 'h9', 'out']);
      ratios[name] = norms.h1 / norms.out;
      // The graph carries the same norms, and marks the vanishing layers.
      expect(await app.page.getByTestId('grad-h1').textContent()).toMatch(/\d/);
      await screenshot(app.page, `training-${name}.png`);
      if (name === 'deep-sigmoid') expect(await app.page.getByTestId('badge-h1').textContent()).toMatch(/vanishing/i);
      else expect(await app.page.getByTestId('badge-h1').count()).toBe(0);
    }
    // The same in numbers: the inspector of a layer, and a wire's hover label; its line stands out on the chart.
    const chart = app.page.getByTestId('chart-gradnorm');
    expect(await chart.getAttribute('data-focus')).toBe('');
    await app.select('h2');
    await until(() => chart.getAttribute('data-focus')).toBe('h2');
    const gradient = app.inspector.getByRole('region', { name: 'Gradient' });
    // (the overlay is rebuilt at most twice a second: the last step's measurement comes within half a second)
    await until(async () => (await gradient.getByRole('heading').textContent())?.trim()).toBe('Gradient · step 300');
    expect((await gradient.getByTestId('inspector-grad').textContent())?.trim()).toBe((await app.text('grad-h2')).replace(/\s+/g, ' '));
    expect(Number(await app.text('inspector-update-ratio'))).toBeGreaterThan(0);
    const wires = gradient.getByRole('table', { name: 'Gradient along the wires' });
    expect(await wires.getByRole('row').allTextContents()).toEqual([
      expect.stringMatching(/backward/),
      expect.stringMatching(/^from h3\d/),
      expect.stringMatching(/^to h1\d/),
    ]);
    const wire = app.page.locator('.svelte-flow__edge[data-id^="h1->h2."]');
    const along = Number(await wire.locator('g.wire-group').getAttribute('data-grad'));
    expect((await wires.getByRole('row').nth(2).textContent())?.replace(/^to h1/, '')).toBe(num4(along));
    await wire.hover();
    await until(() => app.page.getByText(`[B, 16] · ∇ ${num4(along)}`, { exact: true }).count()).toBe(1);
    // and how h2's values and gradients are spread, on the first 256 rows
    await app.select('h2');
    const spread = app.inspector.getByRole('region', { name: 'Distributions' });
    await spread.getByRole('button', { name: 'Compute', exact: true }).click();
    await until(() => app.text('dead-units')).toMatch(/^\s*\d+ of 16 units dead \(zero on every row\)/);
    const histograms = spread.getByRole('img');
    expect(await histograms.count()).toBe(6);
    // a ReLU's output: many exact zeros
    expect(await app.page.getByTestId('hist-output').getByRole('img').getAttribute('aria-label')).toMatch(/^Histogram of output: mean [\d.]+ · std [\d.]+ · \d+% zero$/);
    expect(await app.page.getByTestId('hist-∇ h2.weight').count()).toBe(1);
    // on a log scale of counts, the smallest bar of the output's histogram (beside its spike of zeros) grows
    const heights = () => app.page.getByTestId('hist-output').locator('rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    const linear = Math.min(...(await heights()));
    await spread.getByRole('checkbox', { name: 'Log scale (counts)' }).check();
    await until(async () => Math.min(...(await heights())) > linear).toBe(true);
    // the weight gradient's bins over its 1st to 99th percentile: the range narrows, and says what lies outside it
    const range = app.page.getByTestId('hist-∇ h2.weight').getByTestId('hist-range');
    const summary = app.page.getByTestId('hist-∇ h2.weight').getByTestId('hist-summary');
    const [lo, hi] = (await range.textContent())!.split(' … ').map(Number);
    expect(await summary.textContent()).not.toMatch(/the bins/);
    await spread.getByRole('checkbox', { name: '1st–99th percentile' }).check();
    await until(() => summary.textContent()).toMatch(/ · \d+ below, \d+ above the bins$/);
    const [clo, chi] = (await range.textContent())!.split(' … ').map(Number);
    expect(lo < clo && clo < chi && chi < hi).toBe(true);
    // the bin under the pointer, in words, in place of the range
    const svg = app.page.getByTestId('hist-∇ h2.weight').getByRole('img');
    await svg.hover({ position: { x: 1, y: 10 } });
    await until(() => range.textContent()).toMatch(new RegExp(`^${num4(clo).replace(/[.+-]/g, '\\$&')} … \\S+: \\d+ values?$`));
    // the 17th of the 30 bins (x 130 of 240, wherever the pointer is over a bar or not): it starts 16/30 of the way across
    await svg.hover({ position: { x: 130, y: 35 } });
    await until(async () => Number((await range.textContent())!.split(' … ')[0])).toBeCloseTo(clo + ((chi - clo) * 16) / 30, 2);
    await app.page.mouse.move(0, 0);
    await until(() => range.textContent()).toBe(`${num4(clo)} … ${num4(chi)}`);
    await spread.scrollIntoViewIfNeeded();
    await screenshot(app.page, 'training-distributions.png');
    expect(ratios['deep-sigmoid']).toBeLessThan(1 / 100);
    expect(ratios['deep-relu']).toBeGreaterThan(1 / 100);
  });

  it('badges a layer, or a relu node, with half its units dead on the batch, and says how many (exploding-relu, clipped)', async () => {
    await openExample('exploding-relu.bpstudio', 13);
    await app.button('Train').click();
    await until(() => app.runState(), 120_000).toBe('done');
    const dead = app.page.getByTestId('badge-h7');
    // (a badge may come during the run: the last step's measurement redraws it within half a second)
    await until(() => dead.getAttribute('aria-label')).toMatch(/^dead units: \d+ of h7's 16 units are zero on every row of step 300's batch/);
    // the other layers keep most of their units
    expect(await app.page.locator('[data-testid^="badge-"]').count()).toBe(1);

    // the same network with h7's ReLU a node of its own: the badge is the relu node's (it has no chip), h7 is linear
    type Nodes = { id: string; op: string; attrs?: Record<string, unknown>; inputs?: Record<string, string> }[];
    const project = JSON.parse(readFileSync(join(studio.workspace, 'exploding-relu.bpstudio'), 'utf8')) as { graph: { nodes: Nodes } };
    const nodes = project.graph.nodes;
    nodes.find((n) => n.id === 'h7')!.attrs!.activation = 'none';
    nodes.find((n) => n.id === 'h8')!.inputs!.x = 'r7';
    nodes.push({ id: 'r7', op: 'relu', inputs: { x: 'h7' } });
    writeFileSync(join(studio.workspace, 'exploding-relu-node.bpstudio'), JSON.stringify(project));
    await openExample('exploding-relu-node.bpstudio', 14);
    await app.button('Train').click();
    await until(() => app.runState(), 120_000).toBe('done');
    const relu = app.page.getByTestId('badge-r7');
    await until(() => relu.getAttribute('aria-label')).toMatch(/^dead units: \d+ of r7's 16 units are zero on every row of step 300's batch/);
    expect(await relu.textContent()).toBe('dead');
    expect(await app.page.getByTestId('grad-r7').count()).toBe(0);
    // the inspector says why
    await app.select('r7');
    await until(() => app.inspector.getByRole('region', { name: 'Gradient' }).getByText(/^\d+ of r7's 16 units are zero on every row of step 300's batch/).count()).toBe(1);
    expect(await app.page.getByTestId('grad-h7').count()).toBe(1);
    expect(await app.page.locator('[data-testid^="badge-"]').count()).toBe(1);
  });

  it('draws the sine regression\'s fitted curve over the data on the Fit tab, exports it as CSV, and evaluates from the Training menu', async () => {
    await openExample('sine.bpstudio', 6);
    // Before training, the data panel plots x against the label, and the last tab is the fit.
    await app.clickPane();
    await until(() => app.inspector.getByRole('img', { name: 'Scatter plot of x and y, 400 points' }).count()).toBe(1);
    const fitTab = app.page.getByRole('tab', { name: 'Fit', exact: true });
    await fitTab.click();
    await until(() => app.page.getByTestId('fit-view').textContent()).toContain('Train the model to see the curve');
    await app.button('Train').click();
    await until(() => app.runState(), 120_000).toBe('done');
    // 320 training rows in batches of 32, 100 epochs
    expect(await step()).toBe(1000);
    const view = app.page.getByTestId('fit-view');
    await until(() => view.getAttribute('data-step')).toBe('1000');
    expect(await view.getByRole('img', { name: 'Fitted curve of y over x at step 1000' }).count()).toBe(1);
    expect(await view.textContent()).toContain('data (400 points)');
    await screenshot(app.page, 'training-sine-fit.png');

    // Training > Evaluate with a node selected: the Training panel comes back with the figures (mean squared error,
    // no accuracy for a real label).
    await app.node('h1').click();
    await app.page.getByRole('menubar').getByRole('menuitem', { name: 'Training', exact: true }).click();
    await app.page.getByRole('menu', { name: 'Training' }).getByRole('menuitem', { name: 'Evaluate', exact: true }).click();
    const evaluation = app.inspector.getByRole('table', { name: 'Evaluation' });
    await evaluation.waitFor();
    expect(Number(await app.text('eval-all-objective'))).toBeLessThan(0.02);
    expect(await app.page.getByTestId('eval-all-accuracy').count()).toBe(0);
    // a regression's RMSE: the root of its mean squared error (the label is not standardised)
    expect(Number(await app.text('eval-all-rmse'))).toBeCloseTo(Math.sqrt(Number(await app.text('eval-all-objective'))), 3);
    // Training > Check gradients: reverse mode against forward mode and central differences, tensor by tensor.
    await app.page.getByRole('menubar').getByRole('menuitem', { name: 'Training', exact: true }).click();
    await app.page.getByRole('menu', { name: 'Training' }).getByRole('menuitem', { name: 'Check gradients', exact: true }).click();
    const check = app.inspector.getByRole('table', { name: 'Gradient check' });
    await check.waitFor();
    expect(await check.locator('caption').textContent()).toMatch(/^\s*Gradients at step 1000 on 8 rows: ok, largest relative error \d\.\de-\d+ \(tolerance 1\.0e-5\)\s*$/);
    const tensorRows = check.getByRole('row');
    const names = await Promise.all(Array.from({ length: (await tensorRows.count()) - 1 }, (_, i) => tensorRows.nth(i + 1).getByRole('cell').first().textContent()));
    expect(names).toEqual([
      'h1.weight',
      'h1.bias',
      'h2.weight',
      'h2.bias',
      'out.weight',
      'out.bias',
    ]);

    await view.getByRole('button', { name: 'Export CSV' }).click();
    const picker = app.dialog('Export fitted-curve-step1000.csv');
    await picker.waitFor();
    await picker.getByRole('button', { name: 'Save', exact: true }).click();
    const path = join(studio.workspace, 'fitted-curve-step1000.csv');
    await until(() => existsSync(path)).toBe(true);
    const [header, ...rows] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
    expect(header).toBe('x,predicted y');
    expect(rows.length).toBe(256);
    // Over the data's range the curve is sin(x) (a constant would be 0.7 off, root mean square).
    const inside = rows.map((r) => r.split(',').map(Number)).filter(([x]) => Math.abs(x) <= Math.PI);
    expect(inside.length).toBeGreaterThan(200);
    const rms = Math.sqrt(inside.reduce((a, [x, y]) => a + (y - Math.sin(x)) ** 2, 0) / inside.length);
    expect(rms).toBeLessThan(0.1);
  });

  it("draws a one-feature classifier's probability of each class on the Fit tab, its data in a lane per class", async () => {
    // the iris example on petal length alone
    const project = JSON.parse(readFileSync(join(studio.workspace, 'iris.bpstudio'), 'utf8')) as { graph: { nodes: { op: string; attrs?: object }[] } };
    for (const n of project.graph.nodes) if (n.op === 'input') n.attrs = { shape: [1], features: ['petal_length_cm'] };
    writeFileSync(join(studio.workspace, 'iris-petal.bpstudio'), JSON.stringify(project));
    await openExample('iris-petal.bpstudio', project.graph.nodes.length);
    await app.button('Train').click();
    await until(() => app.runState(), 120_000).toBe('done');
    await app.page.getByRole('tab', { name: 'Fit', exact: true }).click();
    const view = app.page.getByTestId('fit-view');
    const at = await app.text('progress-step');
    await until(() => view.getAttribute('data-step')).toBe(at);
    expect(await view.getByRole('img', { name: `Class probabilities over petal_length_cm at step ${at}` }).count()).toBe(1);
    expect(await view.textContent()).toMatch(/setosa.*versicolor.*virginica.*data \(150 points\)/);
    // The hover read-out: beside the pointer, inside the plot (wrapped where the room beside the pointer is short: the
    // window at its minimum width), gone on leaving.
    const viewport = app.page.viewportSize()!;
    await app.page.setViewportSize({ width: 900, height: viewport.height });
    const plot = view.getByRole('img', { name: /^Class probabilities/ });
    await until(async () => (await plot.boundingBox())!.width).toBeLessThan(900);
    const box = (await plot.boundingBox())!;
    const readout = app.page.getByTestId('fit-view-readout');
    for (const at of [0.2, 0.45, 0.8]) {
      await app.page.mouse.move(box.x + box.width * at, box.y + box.height * 0.3);
      await until(() => readout.textContent()).toMatch(/^petal_length_cm [\d.]+: setosa [\d.e-]+, versicolor [\d.e-]+, virginica [\d.e-]+$/);
      const r = (await readout.boundingBox())!;
      expect(r.x >= box.x && r.x + r.width <= box.x + box.width && r.y >= box.y && r.y + r.height <= box.y + box.height, JSON.stringify({ r, box })).toBe(true);
    }
    await screenshot(app.page, 'training-iris-petal-fit.png');
    await app.page.mouse.move(box.x + box.width / 2, box.y - 60);
    await until(() => readout.count()).toBe(0);
    await app.page.setViewportSize(viewport);

    await view.getByRole('button', { name: 'Export CSV' }).click();
    const picker = app.dialog(`Export fitted-curve-step${at}.csv`);
    await picker.waitFor();
    await picker.getByRole('button', { name: 'Save', exact: true }).click();
    const path = join(studio.workspace, `fitted-curve-step${at}.csv`);
    await until(() => existsSync(path)).toBe(true);
    const [header, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
    expect(header).toBe('petal_length_cm,p(setosa),p(versicolor),p(virginica)');
    const rows = lines.map((r) => r.split(',').map(Number));
    for (const [, ...p] of rows) expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 3);
    // short petals are setosa, long ones virginica (iris.csv: setosa's at most 1.9 cm, virginica's from 4.5 cm)
    expect(rows.find(([x]) => x >= 1.2)![1]).toBeGreaterThan(0.9);
    expect(rows.findLast(([x]) => x <= 6.5)![3]).toBeGreaterThan(0.9);
  });

  it('keeps the graph and the charts when the engine dies mid-training, restarts it, and trains again', async () => {
    await openExample('spiral.bpstudio', 6);
    await setTraining('Epochs', '100000');
    await app.button('Train').click();
    await until(async () => (await step()) > 200).toBe(true);

    const pids = spawnSync('pgrep', ['-P', String(studio.server.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    expect(pids.length).toBe(1);
    process.kill(Number(pids[0]), 'SIGKILL');

    await until(async () => (await app.page.getByTestId('run-error').textContent().catch(() => '')) ?? '').toMatch(/engine stopped/i);
    await until(() => app.runState()).toBe('error');
    const loss = await chartLoss();
    expect(loss).toBeGreaterThan(0);
    await app.engineReady();
    expect(await app.nodeIds()).toEqual(['h1', 'h2', 'loss', 'out', 'x', 'y']);
    expect(await chartLoss()).toBe(loss);
    expect(await chartLoss('first')).toBeGreaterThan(loss);
    await screenshot(app.page, 'training-engine-crash.png');

    await setTraining('Epochs', '5');
    await app.button('Train').click();
    await until(() => app.runState()).toBe('done');
    expect(await step()).toBe(75);
  });
});
