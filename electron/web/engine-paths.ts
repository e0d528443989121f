/**
 * Web mode's engine requests read data files (a project's CSV or IDX paths, or its image folder, relative to its
 * folder `baseDir`). The page sees workspace paths, and may only reach what is inside the workspace: before a
 * request goes to the engine, its `baseDir` becomes the real folder inside the workspace and every data path of its
 * project is checked to lie inside too. A path that leaves it is an error naming the data key, and the request
 * never reaches the engine.
 */
import { isAbsolute, join, normalize, relative } from 'node:path';
import type { EngineRequest } from '../../engine/protocol/messages';
import { StudioError } from '../../engine/util/errors';
import { resolveInWorkspace } from '../workspace';

const DATA_PATH_KEYS = ['path', 'images', 'labels', 'folder'] as const;

/** The requests that read a project's data (and so carry its `baseDir`; export.onnx for its parity check). */
const READS_DATA: ReadonlySet<EngineRequest['type']> = new Set(['train.start', 'train.step', 'weights.load', 'data.preview', 'export.onnx']);

/**
 * `req` with `baseDir` resolved inside the workspace `root` (a real path); throws when a data path leaves it (for
 * data.inspect, the file it reads).
 */
export function confineEngineRequest(root: string, req: EngineRequest): EngineRequest {
  const clientBase = 'baseDir' in req && req.baseDir !== undefined && req.baseDir !== '' ? req.baseDir : '.';
  if (req.type === 'data.inspect') {
    const baseDir = resolveInWorkspace(root, clientBase);
    checkInside(root, baseDir, req.path, 'path');
    return { ...req, baseDir };
  }
  if (!READS_DATA.has(req.type) || !('project' in req) || req.project === undefined) return req;
  const baseDir = resolveInWorkspace(root, clientBase);
  const data = (req.project as { data?: Record<string, unknown> } | null)?.data;
  for (const key of DATA_PATH_KEYS) {
    const p = data?.[key];
    if (typeof p === 'string' && p !== '') checkInside(root, baseDir, p, `data.${key}`);
  }
  return { ...req, baseDir } as EngineRequest;
}

/** Throws a StudioError naming `key` when the path `p` (relative to `baseDir`, or absolute) leaves the workspace. */
function checkInside(root: string, baseDir: string, p: string, key: string): void {
  const inside = isAbsolute(p) ? p : normalize(join(relative(root, baseDir), p));
  try {
    resolveInWorkspace(root, inside);
  } catch (e) {
    throw new StudioError(`${key} "${p}": ${e instanceof Error ? e.message : String(e)}`, { path: key });
  }
}
