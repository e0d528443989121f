/** The real binary, `node bin/bpstudio.mjs`, end to end (a child process each; the other files run `main` in-process). */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bin, BAD, BIN, jsonLines, jsonOut, readWeights, REPO, STACK_TRACE, tempExamples } from './helpers';

let ex: ReturnType<typeof tempExamples>;
beforeAll(() => {
  ex = tempExamples();
});
afterAll(() => ex?.cleanup());

describe.concurrent('node bin/bpstudio.mjs', () => {
  test('check with a path relative to the working directory', async () => {
    const r = await bin(['check', 'examples/spiral.bpstudio', '--json'], REPO);
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut(r) as { ok: boolean; parameterCount: number };
    expect(out.ok).toBe(true);
    expect(out.parameterCount).toBe(1251);
  });

  test('grad --nodes --json on the seed function', async () => {
    const r = await bin(['grad', 'examples/seed-function.bpstudio', '--nodes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut(r) as { adjoints: Record<string, { values: number[] }> };
    expect(out.adjoints.x1.values[0]).toBeCloseTo(5.5, 6);
    expect(out.adjoints.x2.values[0]).toBeCloseTo(2 - Math.cos(5), 6);
  });

  test('train, then eval and predict on the weights it wrote', async () => {
    const project = ex.project('iris');
    const w = join(ex.dir, 'out', 'iris.safetensors');
    const t = await bin(['train', project, '--steps', '5', '--json', '--out', w]);
    expect(t.code, t.stderr).toBe(0);
    const lines = jsonLines(t.stdout);
    expect(lines[lines.length - 1]).toMatchObject({ done: true, weights: w, steps: 5 });
    expect(Object.keys(readWeights(w).tensors)).toContain('data.measurements.mean');

    const e = await bin(['eval', project, '--weights', w, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(jsonOut(e)).toMatchObject({ rows: 150 });

    const p = await bin(['predict', project, '--weights', w, '--json', '--rows', '2']);
    expect(p.code, p.stderr).toBe(0);
    const outputs = (jsonOut(p) as { outputs: number[][] }).outputs;
    expect(outputs.map((r) => r.length)).toEqual([3, 3]);
  });

  test('a bad project: exit 1, one message naming the place, no stack trace', async () => {
    const r = await bin(['train', join(BAD, 'csv-text-cell.bpstudio'), '--out', join(ex.dir, 'out', 'never.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bpstudio: .*text-cell\.csv: row 4, column "height": /);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  test('bad usage: exit 2 and the usage text', async () => {
    const r = await bin(['train', 'examples/spiral.bpstudio', '--backend', 'tpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: bpstudio');
    expect(r.stdout).toBe('');
  });

  test('a reader that stops early (| head -c 10) is not an error', async () => {
    const cmd = `set -o pipefail; "${process.execPath}" "${BIN}" predict examples/digits.bpstudio --weights "${join(ex.dir, 'out', 'digits.safetensors')}" --json | head -c 10 >/dev/null`;
    const train = await bin(['train', ex.project('digits'), '--steps', '1', '--out', join(ex.dir, 'out', 'digits.safetensors')]);
    expect(train.code, train.stderr).toBe(0);
    const code = await new Promise<number>((done) => {
      execFile('bash', ['-c', cmd], { cwd: REPO }, (err) => done(err ? Number(err.code) : 0));
    });
    expect(code).toBe(0);
  });
});
