/**
 * The dataset as the data panel shows it: the engine's `data.preview` of the document's data section (first rows,
 * class balance, which columns feed which input, the points of a scatter plot), kept up to date as the document
 * changes: refreshes are debounced and sequenced, so that only the latest one's answer is shown. Also the file
 * choice for data and weights files (the native dialog in Electron, the workspace picker in web mode).
 *
 * The logic lives in PreviewLoader (plain TypeScript, tested without Svelte); DatasetState holds its state in runes.
 */
import type { DataSpec, Project } from '../../../engine/io/project';
import type { DataPreview, ShellRequest, ShellResult } from '../../../engine/protocol/messages';
import { StudioError, describeWhere, type Where } from '../../../engine/util/errors';
import { inputNodes, relativeDataPath } from './data-edit';

/** A preview that failed: the engine's message and where (file, row, column, the data section's key). */
export interface DataError {
  message: string;
  where?: Where;
  /** `where` in words ("iris.csv: row 3, column \"x\""), '' when nothing is known. */
  at: string;
}

/** Why there is no preview to ask for: no data section, or a file still to be chosen. */
export type DataMissing = 'no-data' | 'no-file';

export interface PreviewSnapshot {
  /** The latest answer, for the data as it was asked (null: none yet, or the last request failed). */
  preview: DataPreview | null;
  /** A request is waiting (debounced) or in flight. */
  loading: boolean;
  error: DataError | null;
  /** A CSV file's columns, in header order (for the label select and the feature list), when known. */
  columns: string[] | null;
  missing: DataMissing | null;
}

export interface RefreshOptions {
  /** Ask again even when nothing changed (the file changed on disk), and read the CSV's columns again. */
  force?: boolean;
  /** Without the debounce. */
  immediate?: boolean;
}

export const PREVIEW_DEBOUNCE_MS = 250;

/** Asks the engine for a preview; `signal` is aborted when a newer refresh supersedes it (the engine stops reading). */
type Ask = (project: Project, baseDir: string | undefined, signal: AbortSignal) => Promise<DataPreview>;

/**
 * The parts of the Bridge (./bridge.ts) this module uses, written out so that it does not import the bridge (and
 * the DOM with it): node-side tests import it. A Bridge is both.
 */
export interface PreviewEngine {
  engine(
    req: { type: 'data.preview'; project: Project; baseDir?: string },
    opts?: { onProgress?: (p: { done: number; total: number }) => void; signal?: AbortSignal },
  ): Promise<DataPreview>;
}
export interface ShellBridge {
  readonly platform: 'electron' | 'web';
  request<R extends ShellRequest>(req: R): Promise<ShellResult<R['type']>>;
}

/**
 * What data.preview needs of a document, and nothing else (an error elsewhere in the graph does not stop the
 * preview): the data section, the input nodes (which columns they read) and the seed (builtins are generated from
 * it). `key` is the same for documents whose previews are the same.
 */
export function previewRequest(project: Project, baseDir: string | undefined): { key: string; project: Project; missing: DataMissing | null } {
  const data = project.data;
  const nodes = inputNodes(project).map((n) => ({ id: n.id, op: n.op, ...(n.attrs ? { attrs: n.attrs } : {}) }));
  const seed = project.training?.seed;
  const reduced: Project = {
    format: project.format,
    version: project.version,
    ...(project.name !== undefined ? { name: project.name } : {}),
    graph: { nodes },
    ...(data ? { data } : {}),
    ...(seed !== undefined ? { training: { seed } } : {}),
  };
  const noFile = (data?.kind === 'csv' && !data.path) || (data?.kind === 'idx' && !data.images) || (data?.kind === 'images' && !data.folder);
  const missing: DataMissing | null = !data ? 'no-data' : noFile ? 'no-file' : null;
  return { key: JSON.stringify([baseDir ?? null, reduced]), project: reduced, missing };
}

/** A label no CSV header has: asking for it makes the engine list the file's columns. */
const PROBE_LABEL = '\u0000';

/**
 * The CSV's header from the engine's answer to a preview whose label is PROBE_LABEL (engine/data/csv.ts: `no
 * column "…" for the label; the columns are a, b, c`), or null when the answer is another error.
 */
export function columnsFromProbeError(message: string): string[] | null {
  const m = /^no column .* for the label; the columns are ([^]*)$/.exec(message);
  if (!m) return null;
  return m[1].split(', ');
}

function errorOf(e: unknown): DataError {
  if (e instanceof StudioError) {
    const where = Object.fromEntries(Object.entries(e.where).filter(([, v]) => v !== undefined)) as Where;
    const at = describeWhere(where).replace(/: $/, '');
    return Object.keys(where).length ? { message: e.message, where, at } : { message: e.message, at };
  }
  return { message: e instanceof Error ? e.message : String(e), at: '' };
}

/**
 * Debounced, sequenced previews: each refresh supersedes the ones before it (an answer that comes after a newer
 * request was made is dropped, and the superseded request is canceled, so the engine stops reading for it), and a
 * refresh of what was last asked does nothing unless forced.
 */
export class PreviewLoader {
  private seq = 0;
  /** Cancels the requests of the latest run (the preview and the column probe). */
  private inFlight: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastKey: string | null = null;
  private columnsCache: { key: string; names: string[] } | null = null;
  private state: PreviewSnapshot = { preview: null, loading: false, error: null, columns: null, missing: null };

  constructor(
    private readonly ask: Ask,
    private readonly publish: (s: PreviewSnapshot) => void,
    private readonly debounceMs = PREVIEW_DEBOUNCE_MS,
  ) {}

  get snapshot(): PreviewSnapshot {
    return this.state;
  }

  private set(patch: Partial<PreviewSnapshot>): void {
    this.state = { ...this.state, ...patch };
    this.publish(this.state);
  }

  refresh(project: Project, baseDir?: string, opts: RefreshOptions = {}): void {
    const req = previewRequest(project, baseDir);
    if (!opts.force && req.key === this.lastKey) return;
    this.lastKey = req.key;
    if (opts.force) this.columnsCache = null;
    const seq = ++this.seq;
    this.cancelTimer();
    this.cancelRequests();
    const data = req.project.data;
    const columnsKey = data?.kind === 'csv' ? JSON.stringify([baseDir ?? null, data.path]) : null;
    const keptColumns = columnsKey !== null && this.columnsCache?.key === columnsKey ? this.columnsCache.names : null;
    if (req.missing) {
      this.set({ preview: null, loading: false, error: null, missing: req.missing, columns: keptColumns });
      return;
    }
    this.set({ loading: true, missing: null, columns: keptColumns });
    const run = () => {
      this.timer = null;
      void this.run(seq, req.project, baseDir, columnsKey);
    };
    if (opts.immediate || this.debounceMs <= 0) run();
    else this.timer = setTimeout(run, this.debounceMs);
  }

  /** Stops waiting: a pending refresh is dropped and answers in flight are ignored. */
  dispose(): void {
    this.cancelTimer();
    this.cancelRequests();
    this.seq++;
    this.lastKey = null;
  }

  private cancelRequests(): void {
    this.inFlight?.abort();
    this.inFlight = null;
  }

  private cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private async run(seq: number, project: Project, baseDir: string | undefined, columnsKey: string | null): Promise<void> {
    const data = project.data as DataSpec;
    const stop = (this.inFlight = new AbortController());
    const main = this.ask(project, baseDir, stop.signal).then(
      (preview) => ({ ok: true as const, preview }),
      (e: unknown) => ({ ok: false as const, error: errorOf(e) }),
    );
    let columns: Promise<string[] | null> = Promise.resolve(null);
    if (columnsKey !== null && data.kind === 'csv') {
      const cached = this.columnsCache?.key === columnsKey ? this.columnsCache.names : null;
      columns = cached ? Promise.resolve(cached) : this.probeColumns(project, baseDir, columnsKey, stop.signal);
    }
    const [m, names] = await Promise.all([main, columns]);
    if (seq !== this.seq) return;
    if (this.inFlight === stop) this.inFlight = null;
    if (m.ok) this.set({ preview: m.preview, error: null, loading: false, columns: names });
    else this.set({ preview: null, error: m.error, loading: false, columns: names });
  }

  /**
   * A CSV's header, asked of the engine with a label that no column has (its error lists them). Malformed rows are
   * skipped, so that a file with some (imported with `malformed: skip`) still names its columns.
   */
  private async probeColumns(project: Project, baseDir: string | undefined, key: string, signal: AbortSignal): Promise<string[] | null> {
    const data = project.data as Extract<DataSpec, { kind: 'csv' }>;
    const probe: Extract<DataSpec, { kind: 'csv' }> = { kind: 'csv', path: data.path, label: PROBE_LABEL, malformed: 'skip' };
    try {
      await this.ask({ ...project, graph: { nodes: [] }, data: probe }, baseDir, signal);
      return null;
    } catch (e) {
      const names = columnsFromProbeError(errorOf(e).message);
      if (names) this.columnsCache = { key, names };
      return names;
    }
  }
}

/** The data panel's state: a PreviewLoader's snapshot in runes. */
export class DatasetState {
  preview = $state.raw<DataPreview | null>(null);
  loading = $state(false);
  error = $state.raw<DataError | null>(null);
  /** The CSV file's columns in header order, when known. */
  columns = $state.raw<string[] | null>(null);
  missing = $state<DataMissing | null>(null);
  /** While loading a big file: the engine's reading of it (`data.progress`), the latest request's that reported. */
  progress = $state.raw<{ done: number; total: number } | null>(null);
  private readonly loader: PreviewLoader;

  constructor(bridge: PreviewEngine, debounceMs = PREVIEW_DEBOUNCE_MS) {
    this.loader = new PreviewLoader(
      (project, baseDir, signal) =>
        bridge.engine(
          { type: 'data.preview', project, ...(baseDir !== undefined ? { baseDir } : {}) },
          { onProgress: (p) => this.loading && (this.progress = p), signal },
        ),
      (s) => {
        if (this.preview !== s.preview) this.preview = s.preview;
        if (!s.loading) this.progress = null;
        this.loading = s.loading;
        if (this.error !== s.error) this.error = s.error;
        if (this.columns !== s.columns) this.columns = s.columns;
        this.missing = s.missing;
      },
      debounceMs,
    );
  }

  /** Previews `project`'s data (debounced; the latest call wins). `baseDir`: the project file's folder. */
  refresh(project: Project, baseDir?: string, opts?: RefreshOptions): void {
    this.loader.refresh(project, baseDir, opts);
  }

  dispose(): void {
    this.loader.dispose();
  }
}

// ---- choosing files ----------------------------------------------------------------------------------------------

/** What is chosen: a data file, a weights file, or a folder of images (one sub-folder per class). */
export type FilePurpose = 'data' | 'weights' | 'images';

/** Web mode's picker choosing another file than a project (a dataset, weights): what it lists, its title, where it starts. */
export interface PickFilter {
  /** The dialog's title ("Choose a data file"). */
  title: string;
  /** The extensions it offers, lowercase without the dot (`csv`), or `*` for any file. */
  extensions: string[];
  /** The workspace folder it opens in (the workspace's top when absent or gone). */
  dir?: string;
  /** Choose a folder (the one the picker shows), not a file. */
  folders?: boolean;
}

/** What web mode's picker offers for each purpose. */
export const PICK_FILTERS: Readonly<Record<FilePurpose, PickFilter>> = Object.freeze({
  // IDX files have no usual extension: any file.
  data: { title: 'Choose a data file', extensions: ['*'] },
  weights: { title: 'Load weights', extensions: ['safetensors'] },
  images: { title: 'Choose an image folder', extensions: ['png', 'jpg', 'jpeg'], folders: true },
});

/** What chooseFile needs of the app (AppState has it all). */
export interface FileChooserHost {
  readonly bridge: ShellBridge;
  /** The project file's folder (or, for an example's copy, the example's), where the dialogs start. */
  baseDir(): string | undefined;
  pick(mode: 'open', suggestedName: string, filter: PickFilter): Promise<string | null>;
}

/**
 * Asks the user for a data or weights file, or an image folder: the native dialog in Electron (starting in the
 * project's folder), the workspace picker in web mode (the shell then checks that the file or folder is readable). The path as the shell names it
 * (absolute in Electron, workspace-relative in web mode), or null when the user canceled. Rejects with the shell's
 * StudioError (naming the file) when the choice cannot be read.
 */
export async function chooseFile(app: FileChooserHost, purpose: FilePurpose): Promise<string | null> {
  const start = app.baseDir();
  if (app.bridge.platform === 'electron') {
    const r = await app.bridge.request({ type: 'chooseFile', purpose, ...(start ? { path: start } : {}) });
    return r?.path ?? null;
  }
  const filter: PickFilter = { ...PICK_FILTERS[purpose], ...(start && !/^([A-Za-z]:)?[\\/]/.test(start) ? { dir: start } : {}) };
  const picked = await app.pick('open', '', filter);
  if (picked === null) return null;
  const r = await app.bridge.request({ type: 'chooseFile', purpose, path: picked });
  return r?.path ?? null;
}

/**
 * chooseFile for the project's data section: the chosen CSV or IDX file, or image folder, as the section writes it
 * (relative to the project's folder where it can be), or null when the user canceled or the choice cannot be read
 * (then `showError` says why).
 */
export async function chooseDataPath(app: FileChooserHost & { showError(title: string, e: unknown): void }, purpose: 'data' | 'images'): Promise<string | null> {
  try {
    const picked = await chooseFile(app, purpose);
    return picked === null ? null : relativeDataPath(app.baseDir(), picked);
  } catch (e) {
    app.showError(purpose === 'images' ? 'This folder cannot be used' : 'This file cannot be used', e);
    return null;
  }
}
