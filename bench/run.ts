/**
 * `npm run bench [-- --only NAME] [-- --backend cpu|webgpu]`: one JSON line per figure on stdout (architecture.md,
 * Conventions), progress on stderr. Peers (TensorFlow.js cpu and wasm) run on the same work in this process.
 */
import { BACKENDS, type BackendName, type Bench } from './context';
import { csvImport } from './csv-import';
import { editor } from './editor';
import { matmul } from './matmul';
import { mlpStep } from './mlp-step';
import { planPeakBytes } from './plan-peak-bytes';
import { note } from './report';
import { scalarGraph } from './scalar-graph';
import { training } from './training';
import { trainingApp } from './training-app';
import { autoThreshold, convVariants, dispatch, gpuProfile, hostCost, matmulRobustness, matmulVariants } from './webgpu';

const BENCHES: readonly Bench[] = [mlpStep, planPeakBytes, matmul, scalarGraph, training, trainingApp, editor, csvImport, dispatch, hostCost, gpuProfile, matmulVariants, convVariants, matmulRobustness, autoThreshold];

const USAGE = `usage: npm run bench -- [--only NAME] [--backend ${BACKENDS.join('|')}]
benchmarks: ${BENCHES.map((b) => b.name).join(', ')}`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const measures = (bench: Bench, backend: BackendName): boolean => (bench.backends ?? ['cpu']).includes(backend);

function parseArgs(argv: readonly string[]): { only?: string; backend: BackendName } {
  let only: string | undefined;
  let backend: string = 'cpu';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') fail(`${flag} needs a value`);
      return v;
    };
    if (flag === '--only') only = value();
    else if (flag === '--backend') backend = value();
    else if (flag === '--help' || flag === '-h') {
      process.stderr.write(USAGE + '\n');
      process.exit(0);
    } else fail(`unknown argument "${arg}"`);
  }
  if (!(BACKENDS as readonly string[]).includes(backend)) {
    fail(`unknown backend "${backend}": the engine's backends here are ${BACKENDS.join(', ')}`);
  }
  if (only !== undefined && !BENCHES.some((b) => b.name === only)) fail(`no benchmark named "${only}"`);
  if (only !== undefined && !measures(BENCHES.find((b) => b.name === only)!, backend as BackendName)) fail(`${only} does not run on ${backend}`);
  return { only, backend: backend as BackendName };
}

const args = parseArgs(process.argv.slice(2));
const started = performance.now();
for (const bench of BENCHES) {
  if ((args.only !== undefined && bench.name !== args.only) || !measures(bench, args.backend)) continue;
  const t0 = performance.now();
  await bench.run({ backend: args.backend });
  note(`${bench.name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
note(`all done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
