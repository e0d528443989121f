/**
 * How long the renderer's bridge (bridge.ts) waits for an engine reply, by request type. Kept apart from the bridge,
 * which needs the DOM, so that node-side tests import it.
 */
import type { EngineRequest } from '../../../engine/protocol/messages';

/**
 * How long a request may take: those that load data (a big CSV; export.onnx loads it for its parity check), run a
 * step, or run a forward pass per element (gradcheck, jacobian) may take minutes.
 */
const TIMEOUT_MS: Partial<Record<EngineRequest['type'], number>> = {
  'train.start': 600_000,
  'train.step': 600_000,
  'weights.load': 600_000,
  'data.preview': 600_000,
  'data.inspect': 600_000,
  'export.onnx': 600_000,
  evaluate: 600_000,
  // a float64 forward pass per finite difference, or per column
  gradcheck: 600_000,
  jacobian: 600_000,
  distributions: 600_000,
};
const DEFAULT_TIMEOUT_MS = 60_000;

/** How long the bridge waits for the reply to an engine request of this type. */
export function engineTimeoutMs(type: EngineRequest['type']): number {
  return TIMEOUT_MS[type] ?? DEFAULT_TIMEOUT_MS;
}
