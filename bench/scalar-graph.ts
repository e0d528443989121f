import type { Tensor } from '@tensorflow/tfjs';
import { reverseMode } from '../engine/autodiff/reverse';
import { Builder } from '../engine/ir/builder';
import type { IRNode } from '../engine/ir/node';
import { compilePlan } from '../engine/plan/plan';
import { Rng } from '../engine/util/rng';
import { makeBackend, type Bench, type BenchContext } from './context';
import { emitAgainst, note } from './report';
import { peerName, tfjsOn } from './tfjs';
import { measure } from './timing';

/** Forward nodes of the graph (primitive ops, inputs not counted). */
export const SCALAR_NODES = 10_000;
const INPUTS = [0.3, -0.7, 1.1, 0.5];
/** The second operand of a binary op is an input or one of this many most recent nodes. */
const WINDOW = 32;

const UNARY = ['sin', 'cos', 'tanh', 'sigmoid'] as const;
const BINARY = ['add', 'sub', 'mul'] as const;
type ScalarOpName = (typeof UNARY)[number] | (typeof BINARY)[number];

/** One op of the graph; operands index the values (inputs first, then the ops' results). */
export interface ScalarOp {
  op: ScalarOpName;
  a: number;
  /** -1 for unary ops. */
  b: number;
}

/**
 * A seeded random DAG of scalar ops. Each op takes the previous value as its first operand, so every op lies on
 * the path to the output (the last value) and nothing is pruned; binary ops take their second operand from the
 * inputs or a recent value, so values fan out and the backward pass sums adjoints from several paths.
 */
export function scalarProgram(count = SCALAR_NODES, seed = 1): ScalarOp[] {
  const rng = new Rng(seed, 21);
  const ops: ScalarOp[] = [];
  const k = INPUTS.length;
  for (let i = 0; i < count; i++) {
    const a = k + i - 1;
    const all = [...UNARY, ...BINARY];
    const op = all[Math.floor(rng.uniform() * all.length)];
    let b = -1;
    if ((BINARY as readonly string[]).includes(op)) {
      const pick = Math.floor(rng.uniform() * (k + WINDOW));
      b = pick < k ? pick : Math.max(0, a - (pick - k) - 1);
    }
    ops.push({ op, a, b });
  }
  return ops;
}

function build(b: Builder, x: IRNode, y: IRNode | undefined, op: ScalarOpName): IRNode {
  switch (op) {
    case 'sin':
      return b.sin(x);
    case 'cos':
      return b.cos(x);
    case 'tanh':
      return b.tanh(x);
    case 'sigmoid':
      return b.sigmoid(x);
    case 'add':
      return b.add(x, y!);
    case 'sub':
      return b.sub(x, y!);
    case 'mul':
      return b.mul(x, y!);
  }
}

/** Our engine: the graph and its reverse mode to the inputs, compiled once; seconds per run, and the results. */
async function ours(ctx: BenchContext, program: readonly ScalarOp[]): Promise<{ seconds: number; steps: number; results: Float32Array }> {
  const b = new Builder();
  const xs = INPUTS.map((_, i) => b.input(`x${i}`, []));
  const vals: IRNode[] = [...xs];
  for (const o of program) vals.push(build(b, vals[o.a], o.b < 0 ? undefined : vals[o.b], o.op));
  const out = vals[vals.length - 1];
  const adjoint = reverseMode(b, out, xs);
  const outputs: Record<string, IRNode> = { out };
  xs.forEach((x, i) => (outputs[`grad${i}`] = adjoint.get(x) ?? b.fullLike(x, 0)));
  const plan = compilePlan(outputs);
  const backend = makeBackend(ctx.backend);
  const exe = backend.load(plan);
  INPUTS.forEach((v, i) => exe.setInput(`x${i}`, Float32Array.of(v)));
  const t = measure(() => exe.run({ seed: 0, step: 0 }));
  const results = new Float32Array(Object.keys(outputs).length);
  for (const [i, k] of Object.keys(outputs).entries()) results[i] = (await exe.read(k))[0];
  backend.dispose();
  return { seconds: t.seconds, steps: plan.steps.length, results };
}

/** TensorFlow.js cpu: the same op sequence in a function, differentiated with tf.grads. */
async function peer(program: readonly ScalarOp[]): Promise<{ seconds: number; results: Float32Array } | undefined> {
  const tf = await tfjsOn('cpu');
  if (!tf) return undefined;
  const f = (...xs: Tensor[]): Tensor => {
    const vals: Tensor[] = [...xs];
    for (const o of program) {
      const x = vals[o.a];
      const y = vals[o.b];
      switch (o.op) {
        case 'sin': vals.push(tf.sin(x)); break;
        case 'cos': vals.push(tf.cos(x)); break;
        case 'tanh': vals.push(tf.tanh(x)); break;
        case 'sigmoid': vals.push(tf.sigmoid(x)); break;
        case 'add': vals.push(tf.add(x, y)); break;
        case 'sub': vals.push(tf.sub(x, y)); break;
        case 'mul': vals.push(tf.mul(x, y)); break;
      }
    }
    return vals[vals.length - 1];
  };
  const grads = tf.grads(f);
  const xs = INPUTS.map((v) => tf.scalar(v));
  let results = new Float32Array(0);
  const run = () =>
    tf.tidy(() => {
      const gs = grads(xs);
      results = Float32Array.from(gs.map((g) => g.dataSync()[0]));
    });
  // tfjs takes tens of microseconds an op: one warm-up call and three single-call rounds are enough.
  const t = measure(run, { warmupSeconds: 0, roundSeconds: 0, minRounds: 3, maxRounds: 3 });
  // The forward value, for the agreement check.
  const value = tf.tidy(() => f(...xs).dataSync()[0]);
  tf.dispose(xs);
  return { seconds: t.seconds, results: Float32Array.of(value, ...results) };
}

export const scalarGraph: Bench = {
  name: 'scalar_graph',
  async run(ctx) {
    const program = scalarProgram();
    note(`scalar_graph: ours (${SCALAR_NODES} forward nodes)`);
    const o = await ours(ctx, program);
    note(`scalar_graph: ours ran ${o.steps} plan steps a run (forward and backward)`);
    note(`scalar_graph: ${peerName('cpu')}`);
    const p = await peer(program);
    if (p && o.results.length === p.results.length) {
      const worst = Math.max(...o.results.map((v, i) => Math.abs(v - p.results[i]) / Math.max(1e-3, Math.abs(p.results[i]))));
      const msg = `ours [${[...o.results].map((v) => v.toPrecision(5))}] tfjs [${[...p.results].map((v) => v.toPrecision(5))}]`;
      note(`scalar_graph: output and gradients ${worst <= 1e-2 && o.results.every(Number.isFinite) ? 'agree' : 'DISAGREE'}: ${msg}`);
    }
    const perNode = (s: number) => (s / SCALAR_NODES) * 1e9;
    emitAgainst(
      { bench: 'scalar_graph', backend: ctx.backend, nodes: SCALAR_NODES, value: perNode(o.seconds), unit: 'ns/node' },
      p ? [{ name: peerName('cpu'), value: perNode(p.seconds) }] : [],
    );
  },
};
