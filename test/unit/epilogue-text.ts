/** An epilogue (engine/backends/webgpu/epilogue.ts) as text, for tests to compare. */
import type { Epilogue } from '../../engine/backends/webgpu/epilogue';

/** Its steps' ops with their operands: `c` the kernel's value, `x0:col` its first input (read per column), `v0` its first step's value. */
export function epilogueText(e: Epilogue | undefined): string | undefined {
  if (!e) return undefined;
  const arg = (o: Epilogue['steps'][number]['operands'][number]) => (o === 'value' ? 'c' : 'input' in o ? `x${o.input}:${e.inputs[o.input]}` : `v${o.step}`);
  return e.steps.map((s) => `${s.call.op}(${s.operands.map(arg).join(', ')})`).join(' ');
}
