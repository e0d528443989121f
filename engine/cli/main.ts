import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend, type BackendChoice, type BackendWish } from '../backends/select';
import { opSpec } from '../graph/catalogue';
import { numel } from '../ir/shape';
import { parseProject, withTrainingDefaults, type Project } from '../io/project';
import { pytorchCode } from '../io/pytorch-code';
import { readSafetensors, weightsMetadata, writeSafetensors, type Tensor } from '../io/safetensors';
import { writeFileAtomic } from '../io/atomic';
import { partialWeights, reportLines, requireExactFit } from '../io/weights-match';
import { exportOnnxChecked } from '../io/onnx/parity';
import { analyzeProject } from '../train/analysis';
import { checkGradients, GRADCHECK_TOLERANCE } from '../train/gradient-check';
import { nodeJacobian } from '../train/node-jacobian';
import { isScheduled } from '../train/schedule';
import { gradProgram } from '../train/program';
import { stepProgram } from '../train/node-program';
import { programText } from '../train/primitive-text';
import { Session, type EpochResult } from '../train/session';
import { StudioError } from '../util/errors';
import { Progress } from './progress';

const USAGE = `usage: bpstudio COMMAND PROJECT [options]

commands:
  check PROJECT                        validate the file and graph, infer shapes
  train PROJECT                        train as the project's training section says
  eval PROJECT --weights W             objective and accuracy on the dataset's rows
  predict PROJECT --weights W          the prediction node's output for each row
  grad PROJECT [--nodes]               one forward and backward pass
  gradcheck PROJECT                    reverse mode, forward mode and central differences compared
  jacobian PROJECT [--of N] [--wrt X]  d N / d X by forward mode, on the first row (--rows for more); N: a node
                                       (default: the prediction, else the objective); X: an input node or a
                                       parameter tensor (default: the one input node N reads)
  program PROJECT [--of N]             the primitives of a training step, node by node, forward and backward
                                       (as far as the trainable tensors and the input nodes); N: that node alone
  export PROJECT --weights W --format safetensors|onnx|json|pytorch --out FILE

options:
  --json                machine-readable output on stdout
  --weights W           weights (.safetensors) to start from (train, grad, gradcheck, jacobian) or to use
  --partial-weights     with --weights (not export): load the tensors that fit by name and shape, keep the
                        others at their seeded initial values, and print what was loaded (on stderr)
  --rows N|all          the first N of the dataset's rows (eval, predict, grad, gradcheck; jacobian: default
                        1; export onnx: the parity check's, default 256)
  --epochs N, --steps N stop training after N epochs, or N optimizer steps
  --backend cpu|webgpu|auto
  --out FILE            train: where to save the weights (default: next to the project)
  --seed N              overrides training.seed
  --nodes               grad: also every node's value and adjoint
  --of N, --wrt X       jacobian: of node N, with respect to input node or parameter tensor X; program: node N
`;

/** Wrong use of the command line: exit status 2. */
class UsageError extends Error {}

interface Options {
  json: boolean;
  weights?: string;
  'partial-weights': boolean;
  rows?: string;
  epochs?: string;
  steps?: string;
  backend?: string;
  out?: string;
  seed?: string;
  nodes: boolean;
  format?: string;
  of?: string;
  wrt?: string;
  help: boolean;
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Whether stderr is a terminal (the progress bar draws only there). */
  tty: boolean;
}

const processIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  tty: !!process.stderr.isTTY,
};

/** node:util parseArgs's errors in this CLI's words (its own suggest quoting an unknown option as a positional). */
function parseError(e: Error & { code?: string }): string {
  const option = /'(-[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) return /argument missing/.test(e.message) ? `${option} needs a value` : `${option} takes no value`;
  return e.message;
}

/** Runs the CLI; returns the exit status (0 ok, 1 the work failed or the project is invalid, 2 bad usage). */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let opts: Options;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        weights: { type: 'string' },
        'partial-weights': { type: 'boolean', default: false },
        rows: { type: 'string' },
        epochs: { type: 'string' },
        steps: { type: 'string' },
        backend: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string' },
        nodes: { type: 'boolean', default: false },
        format: { type: 'string' },
        of: { type: 'string' },
        wrt: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    opts = parsed.values as Options;
    positionals = parsed.positionals;
  } catch (e) {
    io.stderr(`bpstudio: ${parseError(e as Error & { code?: string })}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    io.stdout(USAGE);
    return 0;
  }
  const [command, file, ...extra] = positionals;
  try {
    const run = COMMANDS[command ?? ''];
    if (!run) throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    if (!file) throw new UsageError(`${command} needs a project file`);
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
    validateOptions(command, opts);
    return await run(resolve(file), opts, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`bpstudio: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof StudioError) {
      const where = e.where.file ? e.where : { ...e.where, file: file ?? undefined };
      const described = new StudioError(e.message, where).describe();
      io.stderr(`bpstudio: ${described}\n`);
      if (opts.json) io.stdout(JSON.stringify({ error: { message: e.message, ...where } }) + '\n');
      return 1;
    }
    throw e;
  }
}

function positiveInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
  return Number(v);
}

function validateOptions(command: string, o: Options): void {
  positiveInt(o.epochs, 'epochs');
  positiveInt(o.steps, 'steps');
  if (o.seed !== undefined && !/^-?\d+$/.test(o.seed)) throw new UsageError(`--seed must be an integer, got "${o.seed}"`);
  if (o.rows !== undefined && o.rows !== 'all') positiveInt(o.rows, 'rows');
  if (o.backend !== undefined && !['cpu', 'webgpu', 'auto'].includes(o.backend)) throw new UsageError(`--backend must be cpu, webgpu or auto, got "${o.backend}"`);
  if (['eval', 'predict', 'export'].includes(command) && !o.weights) throw new UsageError(`${command} needs --weights W.safetensors`);
  if (o['partial-weights'] && (!o.weights || command === 'export')) throw new UsageError('--partial-weights goes with --weights, and not with export');
  if (o.wrt !== undefined && command !== 'jacobian') throw new UsageError('--wrt goes with jacobian');
  if (o.of !== undefined && command !== 'jacobian' && command !== 'program') throw new UsageError('--of goes with jacobian and program');
  if (command === 'export') {
    if (!o.format) throw new UsageError('export needs --format safetensors|onnx|json|pytorch');
    if (!['safetensors', 'onnx', 'json', 'pytorch'].includes(o.format)) throw new UsageError(`--format must be safetensors, onnx, json or pytorch, got "${o.format}"`);
    if (!o.out) throw new UsageError('export needs --out FILE');
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new StudioError(code === 'ENOENT' ? 'file not found' : `cannot read the file (${(e as Error).message})`, { file: path });
  }
}

function loadProject(file: string): Project {
  return parseProject(readText(file), file);
}

function loadWeights(path: string): Record<string, Tensor> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new StudioError(code === 'ENOENT' ? 'weights file not found' : `cannot read the weights file (${(e as Error).message})`, { file: path });
  }
  return readSafetensors(bytes, path).tensors;
}

/** `--backend`, else the project's training.backend, else auto (engine/backends/select.ts says how it picks). */
async function backendFor(o: Options, project: Project): Promise<BackendChoice> {
  return chooseBackend((o.backend ?? project.training?.backend ?? 'auto') as BackendWish, project);
}

/** `report`: where --partial-weights prints what it loaded (stderr). */
async function openSession(file: string, o: Options, withWeights: boolean, io?: Io, report: Io | undefined = io): Promise<Session> {
  const project = loadProject(file);
  const choice = await backendFor(o, project);
  if (io && !o.json) io.stdout(`backend: ${choice.name}${choice.adapter && choice.name === 'webgpu' ? ` (${choice.adapter})` : ''}; ${choice.reason}\n`);
  const seed = o.seed === undefined ? undefined : Number(o.seed);
  let weights = withWeights && o.weights ? loadWeights(resolve(o.weights)) : undefined;
  if (weights && o['partial-weights']) {
    const partial = partialWeights(project.graph.nodes, weights, seed ?? withTrainingDefaults(project.training).seed);
    weights = partial.weights;
    for (const line of reportLines(partial.report)) report?.stderr(line + '\n');
  }
  const session = new Session(project, { baseDir: dirname(file), backend: choice.backend, seed, weights });
  for (const note of session.notes) report?.stderr(`note: ${note}\n`);
  // Rows that data.missing `drop` or data.malformed `skip` left out are said, never dropped silently.
  const dropped = session.dataset.dropped;
  if (dropped && dropped.missing + dropped.malformed > 0) {
    report?.stderr(`data: ${dropped.missing + dropped.malformed} of the file's rows left out (${dropped.missing} with missing values, ${dropped.malformed} malformed)\n`);
  }
  return session;
}

/** The first N of the dataset's rows, in file order. */
function rowsOf(s: Session, o: Options): Int32Array {
  const n = o.rows === undefined || o.rows === 'all' ? s.dataset.rows : Math.min(Number(o.rows), s.dataset.rows);
  return Int32Array.from({ length: n }, (_, i) => i);
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(4));
const jsonLine = (io: Io, v: unknown) => io.stdout(JSON.stringify(v) + '\n');

type Command = (file: string, o: Options, io: Io) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  async check(file, o, io) {
    const { ok, errors, shapes, parameters, parameterCount, planBytes } = analyzeProject(loadProject(file));
    // planBytes is beyond cli.md (an extension): the bytes of one training step's plan at the project's batch size.
    if (o.json) jsonLine(io, { ok, errors, shapes, parameters, parameterCount, ...(planBytes !== undefined ? { planBytes } : {}) });
    else {
      for (const x of errors) io.stderr(`${file}: ${x.node ? `node "${x.node}"${x.port ? `, port "${x.port}"` : ''}: ` : ''}${x.message}\n`);
      if (ok) {
        for (const [id, s] of Object.entries(shapes)) io.stdout(`${id.padEnd(20)} [${s.map((d) => (d === null ? 'B' : d)).join(', ')}]\n`);
        io.stdout(`ok: ${Object.keys(shapes).length} nodes, ${parameterCount} trainable parameters, ${formatBytes(planBytes!)} per training step\n`);
      }
    }
    return ok ? 0 : 1;
  },

  async train(file, o, io) {
    const s = await openSession(file, o, true, io);
    const out = resolve(o.out ?? join(dirname(file), basename(file, extname(file)) + '.safetensors'));
    // Fail before training rather than after it.
    if (!existsSync(dirname(out))) throw new StudioError('cannot save the weights here: the folder does not exist', { file: out });
    const epochs = positiveInt(o.epochs, 'epochs') ?? s.training.epochs;
    const steps = positiveInt(o.steps, 'steps');
    const total = Math.min(epochs * s.stepsPerEpoch, steps ?? Infinity);
    const progress = new Progress(io, total);
    const scheduled = isScheduled(s.training.schedule);
    if (s.training.schedule.type === 'cosine' && epochs !== s.training.epochs) {
      io.stderr(`note: the cosine schedule runs over training.epochs (${s.training.epochs} epochs, ${s.training.epochs * s.stepsPerEpoch} steps), not --epochs ${epochs}\n`);
    }
    const started = performance.now();
    await s.train({
      epochs,
      steps,
      onStep: (r) => progress.update(r.step, `epoch ${r.epoch} loss ${fmt(r.loss)}`),
      onEpoch: (r: EpochResult) => {
        progress.clear();
        if (o.json) jsonLine(io, r);
        else io.stdout(describeEpoch(r, scheduled) + '\n');
      },
    });
    progress.clear();
    writeFileAtomic(out, writeSafetensors(await s.weights(), weightsMetadata(s.project.name ?? basename(file))));
    const seconds = (performance.now() - started) / 1000;
    if (o.json) jsonLine(io, { done: true, weights: out, steps: s.step, seconds, backend: s.backend.name });
    else io.stdout(`done: ${s.step} steps in ${fmt(seconds)} s; weights saved to ${out}\n`);
    return 0;
  },

  async eval(file, o, io) {
    const s = await openSession(file, o, true, undefined, io);
    const r = await s.evaluate(rowsOf(s, o));
    // rmse is beyond cli.md (an extension): a regression's root mean squared error in the label's units
    if (o.json) jsonLine(io, { objective: r.objective, ...(r.accuracy !== undefined ? { accuracy: r.accuracy } : {}), ...(r.rmse !== undefined ? { rmse: r.rmse } : {}), rows: r.rows });
    else {
      const scores = `${r.accuracy !== undefined ? `, accuracy ${(100 * r.accuracy).toFixed(2)}%` : ''}${r.rmse !== undefined ? `, RMSE ${fmt(r.rmse)}` : ''}`;
      io.stdout(`objective ${fmt(r.objective!)}${scores} on ${r.rows} rows\n`);
    }
    return 0;
  },

  async predict(file, o, io) {
    const s = await openSession(file, o, true, undefined, io);
    const outputs = await s.predict(rowsOf(s, o));
    if (o.json) jsonLine(io, { outputs: outputs.map((r) => [...r]) });
    else for (const r of outputs) io.stdout([...r].map(fmt).join('\t') + '\n');
    return 0;
  },

  async grad(file, o, io) {
    const s = await openSession(file, o, true, undefined, io);
    const rows = rowsOf(s, o);
    const { plan } = gradProgram(s.nodes, s.targets, rows.length, { nodes: o.nodes });
    const exe = s.backend.load(plan);
    for (const [id, t] of s.batch(rows)) exe.setInput(id, t);
    exe.run({ seed: s.training.seed, step: 1 });
    const objective = (await exe.read('objective'))[0];
    const pack = async (name: string) => ({ shape: plan.outputs.get(name)!.shape, values: [...(await exe.read(name))] });
    const section = async (prefix: string) => {
      const out: Record<string, { shape: number[]; values: number[] }> = {};
      for (const k of plan.outputs.keys()) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = await pack(k);
      return out;
    };
    const result: Record<string, unknown> = { objective, gradients: await section('grad:') };
    if (o.nodes) {
      result.values = await section('value:');
      result.adjoints = await section('adjoint:');
    }
    if (o.json) jsonLine(io, result);
    else {
      io.stdout(`objective ${fmt(objective)}\n`);
      const show = (title: string, m: Record<string, { shape: number[]; values: number[] }>) => {
        for (const [k, v] of Object.entries(m)) io.stdout(`${title} ${k} [${v.shape.join(', ')}]: ${v.values.slice(0, 8).map(fmt).join(' ')}${v.values.length > 8 ? ' ...' : ''}\n`);
      };
      show('d/d', result.gradients as Record<string, { shape: number[]; values: number[] }>);
      if (o.nodes) show('adjoint', result.adjoints as Record<string, { shape: number[]; values: number[] }>);
    }
    return 0;
  },

  async gradcheck(file, o, io) {
    const s = await openSession(file, o, true, undefined, io);
    const { ok, maxRelError, tensors: checks } = await checkGradients(s, rowsOf(s, o));
    const tensors = Object.fromEntries([...checks].map(([k, c]) => [k, { reverseVsNumeric: c.reverseVsNumeric, forwardVsReverse: c.forwardVsReverse }]));
    if (o.json) jsonLine(io, { ok, maxRelError, tensors });
    else {
      for (const [k, c] of Object.entries(tensors)) io.stdout(`${k.padEnd(24)} reverse vs numeric ${c.reverseVsNumeric.toExponential(2)}  forward vs reverse ${c.forwardVsReverse.toExponential(2)}\n`);
      io.stdout(`${ok ? 'ok' : 'FAILED'}: largest relative error ${maxRelError.toExponential(2)} (tolerance ${GRADCHECK_TOLERANCE})\n`);
    }
    return ok ? 0 : 1;
  },

  async jacobian(file, o, io) {
    const s = await openSession(file, o, true, undefined, io);
    const rows = o.rows === undefined ? Int32Array.of(0) : rowsOf(s, o);
    const j = await nodeJacobian(s, rows, { of: o.of, wrt: o.wrt, maxValues: MAX_JACOBIAN_VALUES, terms: { of: '--of', wrt: '--wrt', fewer: 'take fewer --rows' } });
    if (o.json) jsonLine(io, { of: j.of, wrt: j.wrt, rows: rows.length, shape: j.shape, values: [...j.values] });
    else {
      const wrtShape = j.shape.slice(j.ofRank);
      const cols = numel(wrtShape);
      io.stdout(`d ${j.of} / d ${j.wrt}: [${j.shape.join(', ')}] (${j.shape.slice(0, j.ofRank).join(' x ') || 'scalar'} by ${wrtShape.join(' x ') || 'scalar'}) on ${rows.length} ${rows.length === 1 ? 'row' : 'rows'}\n`);
      for (let i = 0; i < j.values.length; i += cols) {
        const row = [...j.values.subarray(i, i + Math.min(cols, 8))].map(fmt).join(' ');
        io.stdout(`${row}${cols > 8 ? ' ...' : ''}\n`);
      }
    }
    return 0;
  },

  async program(file, o, io) {
    const project = loadProject(file);
    const nodes = project.graph.nodes;
    const batch = withTrainingDefaults(project.training).batchSize;
    const of = stepProgram(project);
    const ids = o.of !== undefined ? [o.of] : nodes.filter((n) => opSpec(n.op)?.group !== 'sources').map((n) => n.id);
    const programs = ids.map((id) => of(id));
    if (o.json) jsonLine(io, { batch, nodes: programs.map(({ node, forward, backward }) => ({ node, forward, backward })) });
    else {
      io.stdout(`a training step of ${basename(file)}, batch B = ${batch}\n`);
      for (const p of programs) io.stdout(`\n${programText(p, nodes.find((n) => n.id === p.node)!.op)}`);
    }
    return 0;
  },

  async export(file, o, io) {
    if (o.format === 'onnx') {
      // --rows: the rows of the parity check (default PARITY_ROWS); the JSON line adds `parity` (format-extensions.md).
      const rows = o.rows === undefined ? undefined : o.rows === 'all' ? Infinity : Number(o.rows);
      const r = await exportOnnxChecked(loadProject(file), { baseDir: dirname(file), weights: loadWeights(resolve(o.weights!)), rows });
      const out = resolve(o.out!);
      writeFileAtomic(out, r.bytes);
      if (o.json) jsonLine(io, { out, format: o.format, parity: r.parity });
      else {
        const { rows, maxAbsDiff, scale } = r.parity;
        io.stdout(`wrote ${out} (onnx)\nparity: ONNX Runtime against the engine on the first ${rows} rows: max abs difference ${maxAbsDiff.toExponential(2)} (outputs up to ${scale.toPrecision(3)})\n`);
      }
      return 0;
    }
    const project = loadProject(file);
    const weights = loadWeights(resolve(o.weights!));
    if (o.format === 'pytorch') {
      // The generated load_weights takes exactly the graph's tensors: the file must fit (format-extensions.md).
      requireExactFit(project.graph.nodes, weights);
      const out = resolve(o.out!);
      writeFileAtomic(out, pytorchCode(project));
      if (o.json) jsonLine(io, { out, format: o.format });
      else io.stdout(`wrote ${out} (pytorch)\n`);
      return 0;
    }
    // Opening a session checks the weights against the graph (names and shapes) before anything is written.
    new Session(project, { baseDir: dirname(file), weights });
    const out = resolve(o.out!);
    const metadata = weightsMetadata(project.name ?? basename(file));
    if (o.format === 'safetensors') writeFileAtomic(out, writeSafetensors(weights, metadata));
    else {
      const tensors = Object.fromEntries(Object.entries(weights).map(([k, t]) => [k, { shape: t.shape, values: [...t.data] }]));
      writeFileAtomic(out, JSON.stringify({ ...metadata, version: 1, tensors }) + '\n');
    }
    if (o.json) jsonLine(io, { out, format: o.format });
    else io.stdout(`wrote ${out} (${o.format})\n`);
    return 0;
  },
};

/** The largest Jacobian `jacobian` computes (values of float64: 128 MB), one forward pass per column. */
const MAX_JACOBIAN_VALUES = 1 << 24;

function formatBytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** An epoch's line; with the learning rate where a schedule changes it. */
function describeEpoch(r: EpochResult, scheduled: boolean): string {
  const parts = [`epoch ${r.epoch}`, `step ${r.step}`, `loss ${fmt(r.loss)}`];
  if (r.accuracy !== undefined) parts.push(`acc ${(100 * r.accuracy).toFixed(1)}%`);
  if (r.rmse !== undefined) parts.push(`RMSE ${fmt(r.rmse)}`);
  if (r.valLoss !== undefined) parts.push(`val loss ${fmt(r.valLoss)}`);
  if (r.valAccuracy !== undefined) parts.push(`val acc ${(100 * r.valAccuracy).toFixed(1)}%`);
  if (r.valRmse !== undefined) parts.push(`val RMSE ${fmt(r.valRmse)}`);
  if (scheduled) parts.push(`lr ${fmt(r.lr)}`);
  return parts.join('  ');
}
