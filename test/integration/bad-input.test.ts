/**
 * Bad input never crashes: every case exits 1 with a message on stderr naming where the problem is (file; node and
 * port; row and column; tensor), and no exception escapes `main` (one would fail the test, as it would crash the
 * binary with a stack trace). Usage errors exit 2. Fixed files are in test/fixtures/bad/; graph variants are made
 * here from examples/spiral.bpstudio, and corrupt weights files from weights trained here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeSafetensors } from '../../engine/io/safetensors';
import { BAD, cli, jsonOut, node, readProject, readWeights, STACK_TRACE, tempExamples, writeProject, type CliResult, type ProjectJson } from './helpers';

let ex: ReturnType<typeof tempExamples>;
let spiral: string;
/** Spiral weights after one training step. */
let weights: string;

beforeAll(async () => {
  ex = tempExamples();
  spiral = ex.project('spiral');
  weights = join(ex.dir, 'out', 'spiral.safetensors');
  const r = await cli('train', spiral, '--steps', '1', '--out', weights);
  if (r.code !== 0) throw new Error(`train exited ${r.code}: ${r.stderr}`);
});
afterAll(() => ex?.cleanup());

/** Runs and checks the common part: exit 1, a one-line-or-more message on stderr, no stack trace. */
async function fails(argv: string[]): Promise<CliResult> {
  const r = await cli(...argv);
  expect(r.code, `${argv.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(1);
  expect(r.stderr.trim().length).toBeGreaterThan(0);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toMatch(/usage:/); // not mistaken for a usage error
  return r;
}

function expectMentions(stderr: string, wanted: readonly (string | RegExp)[]): void {
  for (const w of wanted) {
    if (typeof w === 'string') expect(stderr, `stderr should mention ${w}`).toContain(w);
    else expect(stderr).toMatch(w);
  }
}

const spiralJson = () => readProject(join(ex.dir, 'spiral.bpstudio'));

type Mutation = (p: ProjectJson) => void;

/** Project variants: [case, mutation of spiral, what the message must name]. Each runs under several commands. */
const PROJECT_CASES: [string, Mutation, (string | RegExp)[]][] = [
  ['nodes is not an array', (p) => void ((p.graph as { nodes: unknown }).nodes = { h1: {} }), ['/graph/nodes', 'array']],
  ['an attribute of the wrong type (units "x")', (p) => void (node(p, 'h1').attrs!.units = 'x'), ['node "h1"', 'units', '"x"']],
  ['an unknown op', (p) => void (node(p, 'h2').op = 'dense3d'), ['node "h2"', 'dense3d']],
  ['an unknown attribute', (p) => void (node(p, 'h1').attrs!.colour = 'red'), ['node "h1"', 'colour']],
  ['a missing input port', (p) => void (node(p, 'loss').inputs = { logits: 'out' }), ['node "loss"', 'port "labels"']],
  ['an input wired to a missing node', (p) => void (node(p, 'h2').inputs!.x = 'ghost'), ['node "h2"', 'port "x"', 'ghost']],
  ['a cycle', (p) => void (node(p, 'h1').inputs!.x = 'h2'), [/cycle/, /\bh1\b[^\n]*\bh2\b|\bh2\b[^\n]*\bh1\b/]],
  [
    'a shape mismatch (add of [B,3] and [B,4])',
    (p) => {
      p.graph.nodes.push(
        { id: 'a3', op: 'dense', attrs: { units: 3 }, inputs: { x: 'x' } },
        { id: 'a4', op: 'dense', attrs: { units: 4 }, inputs: { x: 'x' } },
        { id: 'sum34', op: 'add', inputs: { a: 'a3', b: 'a4' } },
      );
    },
    ['node "sum34"', /port "[ab]"/, '[B, 3]', '[B, 4]'],
  ],
  [
    'a matmul of [B,2] and [3,4]',
    (p) => {
      p.graph.nodes.push(
        { id: 'm', op: 'parameter', attrs: { shape: [3, 4] } },
        { id: 'mm', op: 'matmul', inputs: { a: 'x', b: 'm' } },
      );
    },
    ['node "mm"', /\[B, 2\]/, /\[3, 4\]/],
  ],
  [
    'two loss nodes and no training.objective',
    (p) => void p.graph.nodes.push({ id: 'loss2', op: 'softmax_cross_entropy', inputs: { logits: 'out', labels: 'y' } }),
    ['loss, loss2', 'training.objective'],
  ],
  ['a duplicate node id', (p) => void p.graph.nodes.push({ ...node(p, 'h2') }), ['h2']],
  ['training.objective naming no node', (p) => void (p.training!.objective = 'nope'), ['training.objective', 'nope']],
  ['a format that is not a project', (p) => void (p.format = 'something/else'), ['/format']],
  ['a newer project version', (p) => void (p.version = 2), ['/version', /newer/]],
];

const COMMANDS: [string, (file: string) => string[]][] = [
  ['check', (f) => ['check', f]],
  ['train', (f) => ['train', f, '--out', join(ex.dir, 'out', 'never.safetensors')]],
  ['grad', (f) => ['grad', f, '--rows', '4']],
  ['gradcheck', (f) => ['gradcheck', f, '--rows', '4']],
  ['eval', (f) => ['eval', f, '--weights', weights]],
  ['export', (f) => ['export', f, '--weights', weights, '--format', 'json', '--out', join(ex.dir, 'out', 'never.json')]],
];

describe.each(PROJECT_CASES)('a project with %s', (name, mutate, wanted) => {
  test.each(COMMANDS)('%s: exit 1, names the file and the place', async (_cmd, argv) => {
    const p = spiralJson();
    mutate(p);
    const file = writeProject(join(ex.dir, 'out'), name.replace(/\W+/g, '-'), p);
    const r = await fails(argv(file));
    expect(r.stderr).toContain(file);
    expectMentions(r.stderr, wanted);
  });
});

const FIXTURE_CASES: [string, string, string[], (string | RegExp)[]][] = [
  ['truncated JSON', 'truncated.bpstudio', ['check', 'train'], [/row \d+, column \d+/, /ends too early|cut short/]],
  ['not JSON', 'not-json.bpstudio', ['check', 'train'], ['row 1, column 1', /not JSON/]],
  ['a newer project version', 'newer-version.bpstudio', ['check', 'train'], ['/version', 'version 2']],
  ['a text cell in a numeric CSV column', 'csv-text-cell.bpstudio', ['train', 'grad', 'gradcheck'], ['text-cell.csv', 'row 4', 'column "height"', 'n/a']],
  ['an empty CSV file', 'csv-empty.bpstudio', ['train', 'grad'], ['empty.csv', /empty/]],
  ['a CSV file that does not exist', 'csv-missing.bpstudio', ['train', 'grad'], ['no-such-file.csv', /not found/]],
];

describe.each(FIXTURE_CASES)('test/fixtures/bad: %s (%s)', (_name, fixture, commands, wanted) => {
  test.each(commands)('%s: exit 1, names the file and the place', async (cmd) => {
    const file = join(BAD, fixture);
    const argv = cmd === 'train' ? ['train', file, '--out', join(ex.dir, 'out', 'never.safetensors')] : [cmd, file];
    const r = await fails(argv);
    expectMentions(r.stderr, wanted);
    if (!fixture.startsWith('csv-')) expect(r.stderr).toContain(file);
  });
});

test('a project file that does not exist, or is a folder', async () => {
  const missing = join(ex.dir, 'no-such-project.bpstudio');
  expectMentions((await fails(['check', missing])).stderr, [missing, /not found/]);
  expectMentions((await fails(['train', ex.dir])).stderr, [ex.dir, /cannot read/]);
});

/** Corrupt weights files: [case, bytes from the good file's bytes, what the message must name]. */
const WEIGHTS_CASES: [string, (good: Uint8Array) => Uint8Array, (string | RegExp)[]][] = [
  ['fewer than 8 bytes', (b) => b.slice(0, 5), [/8-byte header length/]],
  ['a file cut inside its header', (b) => b.slice(0, 40), [/header length \d+ runs past the end/]],
  [
    'a header cut short (its length field agrees)',
    (b) => {
      const out = b.slice(0, 8 + 30);
      new DataView(out.buffer).setBigUint64(0, 30n, true);
      return out;
    },
    [/header is not JSON/],
  ],
  [
    'a header length past the end of the file',
    (b) => {
      const out = b.slice();
      new DataView(out.buffer).setBigUint64(0, 1n << 40n, true);
      return out;
    },
    [/header length 1099511627776 runs past the end/],
  ],
  ['a header length of 2^64 - 1', (b) => Uint8Array.from([...new Array(8).fill(0xff), ...b.slice(8)]), [/runs past the end/]],
  ['a file cut inside the data', (b) => b.slice(0, b.length - 100), [/tensor "[\w.]+"/, /data_offsets/]],
  ['text, not safetensors', () => new TextEncoder().encode('{"h1.weight": [1, 2, 3]}\n'), [/runs past the end|not JSON/]],
];

describe.each(WEIGHTS_CASES)('--weights with %s', (name, corrupt, wanted) => {
  test.each([
    ['eval', (f: string, w: string) => ['eval', f, '--weights', w]],
    ['predict', (f: string, w: string) => ['predict', f, '--weights', w, '--json']],
    ['train', (f: string, w: string) => ['train', f, '--weights', w, '--steps', '1', '--out', join(ex.dir, 'out', 'never.safetensors')]],
    ['grad', (f: string, w: string) => ['grad', f, '--weights', w]],
    ['export', (f: string, w: string) => ['export', f, '--weights', w, '--format', 'safetensors', '--out', join(ex.dir, 'out', 'never2.safetensors')]],
  ])('%s: exit 1, names the weights file', async (_cmd, argv) => {
    const w = join(ex.dir, 'out', `corrupt-${name.replace(/\W+/g, '-')}.safetensors`);
    writeFileSync(w, corrupt(new Uint8Array(readFileSync(weights))));
    const r = await fails(argv(spiral, w));
    expect(r.stderr).toContain(w);
    expectMentions(r.stderr, wanted);
  });
});

describe('--weights that do not fit the graph', () => {
  const rewrite = (name: string, change: (t: Record<string, { shape: number[]; data: Float32Array }>) => void) => {
    const w = readWeights(weights);
    change(w.tensors);
    const path = join(ex.dir, 'out', `${name}.safetensors`);
    writeFileSync(path, writeSafetensors(w.tensors, w.metadata));
    return path;
  };
  const CASES: [string, () => string, (string | RegExp)[]][] = [
    ['a tensor of the wrong shape (h1.weight transposed)', () => rewrite('transposed', (t) => void (t['h1.weight'].shape = [2, 32])), ['h1.weight', 'node "h1"', '[2, 32]', '[32, 2]']],
    ['a missing tensor (out.bias)', () => rewrite('missing', (t) => void delete t['out.bias']), ['out.bias']],
    ['weights that do not exist', () => join(ex.dir, 'out', 'no-such-weights.safetensors'), ['no-such-weights.safetensors', /not found/]],
  ];
  test.each(CASES)('%s: eval, predict, export, train all exit 1 naming the tensor', async (_name, make, wanted) => {
    const w = make();
    for (const argv of [
      ['eval', spiral, '--weights', w],
      ['predict', spiral, '--weights', w],
      ['export', spiral, '--weights', w, '--format', 'json', '--out', join(ex.dir, 'out', 'never.json')],
      ['train', spiral, '--weights', w, '--steps', '1', '--out', join(ex.dir, 'out', 'never.safetensors')],
    ]) {
      const r = await fails(argv);
      expectMentions(r.stderr, wanted);
    }
  });
});

describe('--json keeps stdout machine-readable on failure', () => {
  test('train --json on a cycle: stdout holds JSON lines only, the message is on stderr', async () => {
    const p = spiralJson();
    node(p, 'h1').inputs!.x = 'h2';
    const file = writeProject(join(ex.dir, 'out'), 'cycle-json', p);
    const r = await fails(['train', file, '--json', '--out', join(ex.dir, 'out', 'never.safetensors')]);
    for (const line of r.stdout.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
  });
});

// Writing into a folder that does not exist is a StudioError naming the path (train checks before training).
describe('an --out path in a folder that does not exist', () => {
  test.each([
    ['train', () => ['train', ex.project('seed-function'), '--out', join(ex.dir, 'no-such-folder', 'w.safetensors')]],
    ['export', () => ['export', spiral, '--weights', weights, '--format', 'json', '--out', join(ex.dir, 'no-such-folder', 'w.json')]],
  ])('%s: exit 1 with a message naming the path', async (_cmd, argv) => {
    const r = await fails(argv());
    expect(r.stderr).toContain('no-such-folder');
  });
});

describe('check on a project with several errors', () => {
  const broken = () => {
    const p = spiralJson();
    node(p, 'h1').op = 'dense3d';
    node(p, 'h2').inputs!.x = 'ghost';
    node(p, 'out').attrs!.units = 'x';
    node(p, 'loss').inputs = { logits: 'out' };
    return writeProject(join(ex.dir, 'out'), 'several-errors', p);
  };

  test('--json: ok false, every error listed with its node (and port), exit 1', async () => {
    const r = await cli('check', broken(), '--json');
    expect(r.code).toBe(1);
    const out = jsonOut(r) as { ok: boolean; errors: { node: string | null; port?: string; message: string }[] };
    expect(out.ok).toBe(false);
    const where = out.errors.map((e) => `${e.node}${e.port ? `:${e.port}` : ''}`);
    expect(where).toEqual(expect.arrayContaining(['h1', 'h2:x', 'out', 'loss:labels']));
    expect(out.errors).toHaveLength(4);
    for (const e of out.errors) expect(e.message.length).toBeGreaterThan(0);
    expect(out.errors.find((e) => e.node === 'h1')!.message).toContain('dense3d');
    expect(out.errors.find((e) => e.node === 'h2')!.message).toContain('ghost');
    expect(out.errors.find((e) => e.node === 'out')!.message).toContain('units');
  });

  test('without --json: one line per error on stderr, each naming the file and node', async () => {
    const file = broken();
    const r = await fails(['check', file]);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l.startsWith(`${file}: node "`)).toBe(true);
    expectMentions(r.stderr, ['node "h1"', 'node "h2", port "x"', 'node "out"', 'node "loss", port "labels"']);
  });
});

describe('usage errors exit 2 with the usage text', () => {
  const USAGE_CASES: [string, () => string[], RegExp][] = [
    ['an unknown command', () => ['frobnicate', spiral], /unknown command "frobnicate"/],
    ['no command', () => [], /no command/],
    ['a missing project argument', () => ['train'], /needs a project file/],
    ['eval without --weights', () => ['eval', spiral], /--weights/],
    ['predict without --weights', () => ['predict', spiral], /--weights/],
    ['export without --format', () => ['export', spiral, '--weights', weights, '--out', 'x.json'], /--format/],
    ['export --format pdf', () => ['export', spiral, '--weights', weights, '--format', 'pdf', '--out', 'x.pdf'], /--format/],
    ['export without --out', () => ['export', spiral, '--weights', weights, '--format', 'json'], /--out/],
    ['--epochs abc', () => ['train', spiral, '--epochs', 'abc'], /--epochs.*"abc"/],
    ['--epochs 0', () => ['train', spiral, '--epochs', '0'], /--epochs/],
    ['--steps -3', () => ['train', spiral, '--steps=-3'], /--steps/],
    ['--rows 0', () => ['eval', spiral, '--weights', weights, '--rows', '0'], /--rows/],
    ['--seed x', () => ['train', spiral, '--seed', 'x'], /--seed/],
    ['--backend tpu', () => ['train', spiral, '--backend', 'tpu'], /--backend.*"tpu"/],
    ['an unknown option', () => ['train', spiral, '--turbo'], /^bpstudio: unknown option --turbo\n/],
    ['an option without its value', () => ['eval', spiral, '--weights'], /^bpstudio: --weights needs a value\n/],
    ['a flag with a value', () => ['check', spiral, '--json=yes'], /^bpstudio: --json takes no value\n/],
    ['an extra argument', () => ['check', spiral, 'extra.bpstudio'], /unexpected argument "extra.bpstudio"/],
  ];
  test.each(USAGE_CASES)('%s', async (_name, argv, message) => {
    const r = await cli(...argv());
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('usage: bpstudio COMMAND PROJECT');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stdout).toBe('');
  });

  test('--help prints the usage on stdout and exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: bpstudio COMMAND PROJECT');
  });
});
