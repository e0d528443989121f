/**
 * How long the renderer's bridge waits for an engine reply (renderer/src/lib/engine-timeouts.ts): a request that
 * loads the project's data (its schema takes `baseDir`: a big CSV, an image folder) may take minutes, as
 * data.inspect and evaluate may; the others get the default minute.
 */
import { describe, expect, it } from 'vitest';
import { engineRequest, engineResults, type EngineRequest } from '../../engine/protocol/messages';
import { engineTimeoutMs } from '../../renderer/src/lib/engine-timeouts';

/** The request types whose schema takes a `baseDir` (they read the project's data against it). */
function readsData(): EngineRequest['type'][] {
  return (Object.keys(engineResults) as EngineRequest['type'][]).filter((type) => {
    try {
      engineRequest({ type, id: 1, baseDir: '' });
      return true;
    } catch (e) {
      return !String(e).includes('"baseDir"');
    }
  });
}

describe('engine request timeouts', () => {
  it('waits ten minutes for every request that loads the data (export.onnx runs its parity check on it)', () => {
    const types = readsData();
    expect(types).toEqual(expect.arrayContaining(['train.start', 'weights.load', 'data.preview', 'data.inspect', 'export.onnx']));
    for (const type of types) expect(engineTimeoutMs(type), type).toBe(600_000);
    expect(engineTimeoutMs('evaluate')).toBe(600_000);
  });

  it('waits a minute for the others', () => {
    expect(engineTimeoutMs('compile')).toBe(60_000);
    expect(engineTimeoutMs('export.pytorch')).toBe(60_000);
  });
});
