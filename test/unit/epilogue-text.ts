/** A matmul epilogue (engine/backends/webgpu/fold.ts) as text, for tests to compare. */
import type { MatmulEpilogue } from '../../engine/backends/webgpu/kernels/matmul';

/** Its steps' ops with their operands: `c` the matmul's value, `x0:col` its first input (read per column), `v0` its first step's value. */
export function epilogueText(e: MatmulEpilogue | undefined): string | undefined {
  if (!e) return undefined;
  const arg = (o: MatmulEpilogue['steps'][number]['operands'][number]) => (o === 'c' ? 'c' : 'input' in o ? `x${o.input}:${e.inputs[o.input]}` : `v${o.step}`);
  return e.steps.map((s) => `${s.call.op}(${s.operands.map(arg).join(', ')})`).join(' ');
}
