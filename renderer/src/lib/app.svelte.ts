/**
 * The app controller: the document, the bridge to the shell and engine, the canvas's derived nodes and edges, the
 * commands (menus, shortcuts, buttons all end here), files, recovery and dialogs. Components read its state and
 * call its methods; it is created once by App.svelte (its effects belong to that component).
 */
import { untrack } from 'svelte';
import type { useSvelteFlow } from '@xyflow/svelte';
import { opSpec } from '../../../engine/graph/catalogue';
import { parseProject, serializeProject, type Project } from '../../../engine/io/project';
import type { BackendsInfo, CompileResult, ExampleItem, MenuCommand, OnnxExportInfo, RecoveryItem, ShellInfo, WeightsReportInfo } from '../../../engine/protocol/messages';
import { StudioError, describeWhere } from '../../../engine/util/errors';
import { createBridge, EngineError, type Bridge, type EngineStatus } from './bridge';
import { DocStore } from './doc.svelte';
import { takesShape } from './analysis';
import { basename, dirname } from './format';
import { rebaseDataPaths } from './data-edit';
import {
  addNode,
  blankProject,
  connect,
  copyFragment,
  cycleThrough,
  disconnect,
  newNode,
  pasteFragment,
  positionOf,
  positionsOf,
  removeNodes,
  setPosition,
  setPositions,
  type Fragment,
  type Positions,
  type XY,
} from './graph';
import { layoutGraph, withLayout, type Size } from './layout';
import { buildEdges, buildNodes, fallbackPosition, type OpNode, type ShapeEdge, type UiError } from './nodes';
import { toggleTheme } from './theme.svelte';
import { busyToast, toast } from './toasts.svelte';
import { chooseDataPath, chooseFile, DatasetState, type PickFilter } from './data.svelte';
import { TrainingState, type RunSource } from './training.svelte';
import { OVERLAY_MIN_GAP_MS, overlayFor, type GradientOverlay } from './gradient-view';

export type View = 'start' | 'editor';
export type ConfirmChoice = 'save' | 'discard' | 'cancel';

export type Dialog =
  | { kind: 'confirm'; title: string; message: string; resolve: (c: ConfirmChoice) => void }
  | { kind: 'message'; title: string; message: string; where?: string }
  | { kind: 'picker'; mode: 'open' | 'saveAs'; suggestedName: string; filter?: PickFilter; resolve: (path: string | null) => void }
  | { kind: 'recovery'; items: RecoveryItem[] }
  | { kind: 'about' }
  /** A weights file that does not fit the graph: what fits and what does not; load the tensors that fit? */
  | { kind: 'weightsReport'; fileName: string; report: WeightsReportInfo; resolve: (load: boolean) => void }
  /** The CSV import wizard on a chosen file (`path` as the data section will name it). */
  | { kind: 'csvImport'; path: string };

/** The search-to-add popup: where it opened and, when it came from a dropped wire, what to wire the new node to. */
export interface AddSearch {
  screen: XY;
  at: XY;
  from?: { node: string; type: 'source' | 'target'; port: string | null };
}

type Flow = ReturnType<typeof useSvelteFlow>;

const AUTOSAVE_MS = 5000;
/** How long the document rests before the engine is asked about it (compile; a node's primitives). */
export const COMPILE_DEBOUNCE_MS = 300;
const PASTE_OFFSET = 40;

export class AppState {
  readonly bridge: Bridge;
  readonly doc = new DocStore();
  readonly training: TrainingState;
  /** The data panel's preview of the document's dataset (and the points the boundary view draws). */
  readonly dataset: DatasetState;
  /**
   * The folder the document's relative data paths are read against: its file's folder, or for an example opened
   * as an untitled copy, the example's folder. Undefined for a new document.
   */
  sourceDir = $state<string | undefined>(undefined);
  /** What the engine can train on (the training panel's backend list); null until the engine says. */
  backends = $state.raw<BackendsInfo | null>(null);
  /** The run's gradients as the canvas draws them (chips, badges, edge colours); rebuilt at most twice a second. */
  gradient = $state.raw<GradientOverlay | null>(null);
  private gradientAt = 0;
  view = $state<View>('start');
  engine = $state<EngineStatus>({ state: 'connecting' });
  compiled = $state.raw<{ project: Project; result?: CompileResult; failure?: string } | null>(null);
  compiling = $state(false);
  dialog = $state.raw<Dialog | null>(null);
  shortcutsOpen = $state(false);
  errorsOpen = $state(false);
  addSearch = $state.raw<AddSearch | null>(null);
  recent = $state.raw<string[]>([]);
  examples = $state.raw<ExampleItem[] | null>(null);
  examplesError = $state<string | null>(null);
  info = $state.raw<ShellInfo | null>(null);
  shellOnline = $state(false);
  /** Whether a document has been opened or created this session (the start page can then be closed). */
  hasDocument = $state(false);

  /** The canvas's nodes and edges, bound to SvelteFlow; derived from the document after every change. */
  nodes = $state.raw<OpNode[]>([]);
  edges = $state.raw<ShapeEdge[]>([]);
  selectedIds = $derived(this.nodes.filter((n) => n.selected).map((n) => n.id));
  selectedEdges = $derived(this.edges.filter((e) => e.selected));

  /** Everything wrong with the document: the renderer's own checks, then what only the engine's compile found. */
  errors: UiError[] = $derived.by(() => {
    const local: UiError[] = this.doc.analysis.errors.map((e) => ({ node: e.node, port: e.port, attr: e.attr, message: e.message }));
    const c = this.compiled;
    // An empty canvas has nothing wrong with it yet (the engine would say it has no loss).
    if (local.length || !c || c.project !== this.doc.project || this.doc.project.graph.nodes.length === 0) return local;
    if (c.failure) return [{ node: null, message: c.failure }];
    return (c.result?.errors ?? []).map((e) => ({ node: e.node, ...(e.port ? { port: e.port } : {}), message: e.message }));
  });
  errorsByNode = $derived.by(() => {
    const m = new Map<string, UiError[]>();
    for (const e of this.errors) if (e.node !== null) m.set(e.node, [...(m.get(e.node) ?? []), e]);
    return m;
  });
  /** The compile reply for the current document, if it has come. */
  current = $derived(this.compiled && this.compiled.project === this.doc.project ? this.compiled : null);
  /** Plan memory to show: the current compile's, or (while the next compile runs) the last one's, marked stale. */
  plan = $derived.by((): { bytes?: number; stale: boolean } => {
    if (this.current) return { bytes: this.current.result?.planBytes, stale: false };
    if (this.doc.analysis.errors.length || !this.compiled?.result) return { stale: false };
    return { bytes: this.compiled.result.planBytes, stale: true };
  });
  title = $derived(`${this.doc.fileName}${this.doc.dirty ? ' *' : ''} — Backprop Studio`);

  flow: Flow | null = null;
  private clipboard = $state.raw<Fragment | null>(null);
  private pasteCount = 0;
  /**
   * How the canvas should frame the next document once its nodes are measured: `layout` where it was laid out on
   * sizes estimated before rendering (relayoutMeasured, then fit).
   */
  pendingView = $state.raw<'layout' | 'fit' | { x: number; y: number; zoom: number } | null>(null);
  private lastCommand = { command: '', at: 0, source: '' };
  private lastAutosaved: Project | null = null;
  private compileSeq = 0;
  private cleanups: (() => void)[] = [];

  constructor() {
    this.bridge = createBridge();
    this.training = new TrainingState(this.bridge);
    this.dataset = new DatasetState(this.bridge);
    this.cleanups.push(() => this.dataset.dispose());
    this.cleanups.push(this.training.listen());
    // Edits wait while a job holds the graph; moving nodes around does not change the network.
    this.doc.guard = () => this.mayEdit();
    this.engine = this.bridge.engineStatus;
    this.cleanups.push(this.bridge.onEngineStatus((s) => (this.engine = s)));
    this.cleanups.push(this.bridge.onMenu((cmd, path) => void this.run(cmd, path, 'menu')));

    // Training -> gradient overlay: the deadline is set by the last rebuild, so a steady stream of events (up to
    // 10/s) cannot postpone it, and the latest event is always drawn.
    $effect(() => {
      void this.training.revision;
      const t = setTimeout(
        () => {
          this.gradientAt = performance.now();
          this.gradient = overlayFor(this.training);
        },
        Math.max(0, this.gradientAt + OVERLAY_MIN_GAP_MS - performance.now()),
      );
      return () => clearTimeout(t);
    });
    // Document (and gradient overlay) -> canvas. Reads the previous nodes untracked: only those changes rebuild.
    $effect(() => {
      const p = this.doc.project;
      const a = this.doc.analysis;
      const errs = this.errorsByNode;
      const g = this.gradient;
      untrack(() => {
        this.nodes = buildNodes(p, a, errs, this.nodes, null, g);
        this.edges = buildEdges(p, a, this.edges, null, g);
      });
    });
    // Canvas -> document: a finished drag or a keyboard nudge becomes one history entry.
    $effect(() => {
      const ns = this.nodes;
      untrack(() => this.commitMoves(ns));
    });
    // Compile in the engine host, debounced.
    $effect(() => {
      const p = this.doc.project;
      const ready = this.engine.state === 'ready';
      if (!ready) return;
      const t = setTimeout(() => void this.compile(p), COMPILE_DEBOUNCE_MS);
      return () => clearTimeout(t);
    });
    // Ask the engine once what it can train on (again after a restart).
    $effect(() => {
      if (this.engine.state !== 'ready') return;
      untrack(() => {
        this.bridge.engine({ type: 'backends' }).then(
          (b) => (this.backends = b),
          () => (this.backends = { webgpu: null, reason: 'the engine did not say' }),
        );
      });
    });
    // A run that fails says so where the user looks, whatever the inspector shows.
    $effect(() => {
      const e = this.training.error;
      if (e) untrack(() => toast(`Training stopped: ${e.message}`, 'error', 10_000));
    });
    // Data preview: edits that do not touch the data, the input nodes or the seed are skipped by the loader.
    $effect(() => {
      const p = this.doc.project;
      const ready = this.engine.state === 'ready';
      const dir = this.baseDir();
      if (ready) untrack(() => this.dataset.refresh(p, dir));
    });
    // Window title and unsaved state, to the shell (and the tab).
    $effect(() => {
      const title = this.title;
      const dirty = this.doc.dirty;
      document.title = title;
      untrack(() => {
        this.bridge.request({ type: 'windowState', title, dirty }).catch(() => {});
      });
    });
    const timer = setInterval(() => void this.autosave(), AUTOSAVE_MS);
    this.cleanups.push(() => clearInterval(timer));
    // Web mode: the browser asks before a tab with unsaved work is closed or reloaded (recovery keeps it too, up to
    // AUTOSAVE_MS old). Not in Electron, whose main process asks Save / Don't save / Cancel itself.
    if (this.bridge.platform === 'web') {
      const ask = (e: BeforeUnloadEvent) => {
        if (this.doc.dirty) e.preventDefault();
      };
      window.addEventListener('beforeunload', ask);
      this.cleanups.push(() => window.removeEventListener('beforeunload', ask));
    }
  }

  dispose(): void {
    for (const c of this.cleanups) c();
    this.bridge.dispose();
  }

  /** First start: shell info, recent files, examples, a file to open from the URL, recovered work. */
  async start(): Promise<void> {
    const info = this.bridge.request({ type: 'info' }).then(
      (i) => {
        this.info = i;
        this.shellOnline = true;
      },
      () => {
        this.shellOnline = false;
      },
    );
    void this.refreshRecent();
    void this.loadExamples();
    await info;
    const open = this.bridge.platform === 'web' ? new URLSearchParams(location.search).get('open') : null;
    if (open) await this.openPath(open);
    if (this.shellOnline) {
      try {
        const { items } = await this.bridge.request({ type: 'recoveryList' });
        if (items.length) this.dialog = { kind: 'recovery', items };
      } catch {
        // no recovery folder: nothing to offer
      }
    }
  }

  async refreshRecent(): Promise<void> {
    try {
      this.recent = (await this.bridge.request({ type: 'recent' })).paths;
    } catch {
      this.recent = [];
    }
  }

  async loadExamples(): Promise<void> {
    try {
      this.examples = (await this.bridge.request({ type: 'examples' })).examples;
      this.examplesError = null;
    } catch (e) {
      this.examples = [];
      this.examplesError = messageOf(e);
    }
  }

  // ---- commands -------------------------------------------------------------------------------------------------

  /** Every menu entry, shortcut and button ends here. `source` lets a key and the native menu's accelerator for the
   * same key count once. */
  async run(command: MenuCommand, path?: string, source: 'key' | 'menu' | 'ui' = 'ui'): Promise<void> {
    const now = Date.now();
    if (this.lastCommand.command === command && this.lastCommand.source !== source && source !== 'ui' && now - this.lastCommand.at < 150) return;
    this.lastCommand = { command, at: now, source };
    if (source === 'menu' && this.typingTarget() && this.nativeEdit(command)) return;
    if (this.dialog && !(command === 'file.open' && path)) return;
    const editing = this.view === 'editor';
    switch (command) {
      case 'file.new':
        return this.showStart();
      case 'file.open':
        return path ? this.openPath(path) : this.openDialog();
      case 'file.save':
        return void (await this.save());
      case 'file.saveAs':
        return void (await this.saveAs());
      case 'file.exportWeights':
        return this.exportWeights();
      case 'file.exportOnnx':
        return this.exportOnnx();
      case 'file.exportPytorch':
        return this.exportPytorch();
      case 'file.loadWeights':
        return this.loadWeights();
      case 'file.importCsv':
        return this.importCsv();
      case 'view.theme':
        return toggleTheme();
      case 'help.shortcuts':
        this.shortcutsOpen = !this.shortcutsOpen;
        return;
    }
    if (!editing) return;
    switch (command) {
      case 'train.toggle':
        return this.trainToggle();
      case 'train.step':
        return this.trainStep();
      case 'train.stop':
        return this.trainStop();
      case 'train.evaluate':
        return this.evaluate();
      case 'train.checkGradients':
        return this.checkGradients();
      case 'edit.undo':
        return this.undo();
      case 'edit.redo':
        return this.redo();
      case 'edit.cut':
        return this.cut();
      case 'edit.copy':
        return this.copy();
      case 'edit.paste':
        return this.paste(false);
      case 'edit.pasteWithLinks':
        return this.paste(true);
      case 'edit.delete':
        return this.deleteSelection();
      case 'edit.selectAll':
        return this.select(this.nodes.map((n) => n.id));
      case 'view.fit':
        return this.fitView();
      case 'view.layout':
        return this.autoLayout();
      case 'view.errors':
        this.errorsOpen = !this.errorsOpen;
        return;
    }
  }

  private typingTarget(): HTMLElement | null {
    const el = document.activeElement;
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || (el instanceof HTMLElement && el.isContentEditable)) return el;
    return null;
  }

  /** A native-menu edit command while a text field has focus acts on the text. */
  private nativeEdit(command: MenuCommand): boolean {
    const map: Partial<Record<MenuCommand, string>> = {
      'edit.undo': 'undo',
      'edit.redo': 'redo',
      'edit.cut': 'cut',
      'edit.copy': 'copy',
      'edit.paste': 'paste',
      'edit.selectAll': 'selectAll',
      'edit.delete': 'delete',
    };
    const exec = map[command];
    if (!exec) return false;
    document.execCommand(exec);
    return true;
  }

  undo(): void {
    if (this.mayEdit()) this.doc.undo();
  }

  redo(): void {
    if (this.mayEdit()) this.doc.redo();
  }

  /** Whether the network may change now: not while a training job holds the graph (moving nodes always may). */
  private mayEdit(): boolean {
    if (!this.training.active) return true;
    toast('Training holds the graph: stop training (or let it finish) to edit it.', 'info', 4000);
    return false;
  }

  // ---- editing ----------------------------------------------------------------------------------------------------

  /** Adds a node of `op` at a flow position (default: the middle of the view); returns its id. */
  addOp(op: string, at?: XY, wire?: AddSearch['from']): string | null {
    const spec = opSpec(op);
    if (!spec) return null;
    const p0 = this.doc.project;
    const node = newNode(p0, op);
    const place = at ?? this.freeSpot(this.viewCentre());
    const pos = { x: place.x - (at ? 0 : 84), y: place.y - (at ? 0 : 40) };
    let refused: string | null = null;
    this.doc.apply(wire ? `Add ${op} and connect` : `Add ${op}`, (p) => {
      let next = addNode(p, node, pos);
      if (wire) {
        if (wire.type === 'source' && spec.inputs.length) next = connect(next, wire.node, node.id, spec.inputs[0]);
        else if (wire.type === 'target' && wire.port) {
          if (cycleThrough(next, node.id, wire.node)) refused = wire.node;
          else next = connect(next, node.id, wire.node, wire.port);
        }
      }
      return next;
    });
    if (refused) toast(`Not connected: that would make a cycle through ${refused}`, 'error');
    this.selectNew([node.id]);
    return node.id;
  }

  /** Selects nodes that the last edit created (the canvas is rebuilt at once, so they exist to be selected). */
  selectNew(ids: string[]): void {
    const select = new Set(ids);
    this.nodes = buildNodes(this.doc.project, this.doc.analysis, this.errorsByNode, this.nodes, select, this.gradient);
    this.edges = buildEdges(this.doc.project, this.doc.analysis, this.edges, select, this.gradient);
  }

  /** Tries to wire `source`'s output into `target`'s `port`: refused (with a message) when it would make a cycle. */
  connectPorts(source: string, target: string, port: string): boolean {
    const cycle = cycleThrough(this.doc.project, source, target);
    if (cycle) {
      toast(`Refused: connecting ${source} → ${target} would make a cycle (${cycle.join(' → ')})`, 'error');
      return false;
    }
    const cur = this.doc.project.graph.nodes.find((n) => n.id === target)?.inputs?.[port];
    if (cur === source) return true;
    this.doc.apply(cur ? `Reconnect ${target}.${port}` : `Connect ${source} → ${target}.${port}`, (p) => connect(p, source, target, port));
    return true;
  }

  deleteSelection(): void {
    const ids = new Set(this.selectedIds);
    const wires = this.selectedEdges.filter((e) => !ids.has(e.source) && !ids.has(e.target)).map((e) => ({ target: e.target, port: e.targetHandle ?? '' }));
    if (!ids.size && !wires.length) return;
    const label = ids.size ? `Delete ${ids.size === 1 ? [...ids][0] : `${ids.size} nodes`}` : `Disconnect ${wires.length === 1 ? `${wires[0].target}.${wires[0].port}` : `${wires.length} wires`}`;
    this.doc.apply(label, (p) => disconnect(removeNodes(p, ids), wires));
  }

  copy(): void {
    const ids = new Set(this.selectedIds);
    if (!ids.size) return;
    this.clipboard = copyFragment(this.doc.project, ids);
    this.pasteCount = 0;
    try {
      void navigator.clipboard?.writeText(JSON.stringify({ format: 'backprop-studio/fragment', ...this.clipboard }, null, 2)).catch(() => {});
    } catch {
      // the system clipboard is a convenience; the app's own one is what paste uses
    }
    toast(`Copied ${ids.size} node${ids.size === 1 ? '' : 's'}`);
  }

  cut(): void {
    const ids = new Set(this.selectedIds);
    if (!ids.size) return;
    this.clipboard = copyFragment(this.doc.project, ids);
    this.pasteCount = 0;
    this.doc.apply(`Cut ${ids.size === 1 ? [...ids][0] : `${ids.size} nodes`}`, (p) => removeNodes(p, ids));
  }

  /** Whether Paste has something to paste (the app's own clipboard: a copy or a cut in this window). */
  get canPaste(): boolean {
    return !!this.clipboard?.nodes.length;
  }

  paste(keepLinks: boolean): void {
    const frag = this.clipboard;
    if (!frag || !frag.nodes.length) return;
    this.pasteCount++;
    const offset = { x: PASTE_OFFSET * this.pasteCount, y: PASTE_OFFSET * this.pasteCount };
    let ids: string[] = [];
    this.doc.apply(`Paste ${frag.nodes.length} node${frag.nodes.length === 1 ? '' : 's'}`, (p) => {
      const r = pasteFragment(p, frag, keepLinks, offset);
      ids = r.ids;
      return r.project;
    });
    this.selectNew(ids);
  }

  select(ids: readonly string[]): void {
    const set = new Set(ids);
    this.nodes = this.nodes.map((n) => (!!n.selected === set.has(n.id) ? n : { ...n, selected: set.has(n.id) }));
    this.edges = this.edges.map((e) => (e.selected ? { ...e, selected: false } : e));
  }

  /** Selects a node and brings it to the middle of the view (the errors list). */
  focusNode(id: string): void {
    if (!this.nodes.some((n) => n.id === id)) return;
    this.select([id]);
    const internal = this.flow?.getInternalNode(id);
    if (internal && this.flow) {
      const w = internal.measured.width ?? 180;
      const h = internal.measured.height ?? 80;
      void this.flow.setCenter(internal.internals.positionAbsolute.x + w / 2, internal.internals.positionAbsolute.y + h / 2, {
        zoom: Math.max(this.flow.getZoom(), 1),
        duration: 250,
      });
    }
  }

  fitView(): void {
    void this.flow?.fitView({ padding: 0.08, maxZoom: 1.25, duration: 200 });
  }

  autoLayout(): void {
    const nodes = this.doc.project.graph.nodes;
    if (!nodes.length) return;
    const positions = layoutGraph(nodes, this.measuredSizes());
    // Keep the graph where it was: the layout's top-left goes to the old top-left.
    const old = positionsOf(this.doc.project);
    const shift = offsetBetween(old, positions);
    const moved: Positions = Object.fromEntries(Object.entries(positions).map(([k, v]) => [k, { x: v.x + shift.x, y: v.y + shift.y }]));
    if (this.doc.apply('Auto-layout', (p) => setPositions(p, moved), undefined, 'layout')) setTimeout(() => this.fitView(), 30);
  }

  /**
   * Lays out again, on the sizes the canvas measured, a document that load laid out on estimated ones (a node's
   * attributes can widen it past the estimate): part of opening it, not an edit.
   */
  relayoutMeasured(): void {
    const positions = layoutGraph(this.doc.project.graph.nodes, this.measuredSizes());
    this.doc.amendLoaded((p) => setPositions(p, positions));
  }

  private measuredSizes(): Map<string, Size> {
    const m = new Map<string, Size>();
    for (const n of this.nodes) if (n.measured?.width && n.measured.height) m.set(n.id, { width: n.measured.width, height: n.measured.height });
    return m;
  }

  private commitMoves(ns: readonly OpNode[]): void {
    if (ns.some((n) => n.dragging)) return;
    const pos = positionsOf(this.doc.project);
    const index = new Map(this.doc.project.graph.nodes.map((n, i) => [n.id, i]));
    const moved: Positions = {};
    for (const n of ns) {
      const i = index.get(n.id);
      if (i === undefined) continue;
      const want = positionOf(pos, n.id) ?? fallbackPosition(i);
      if (Math.abs(want.x - n.position.x) > 0.01 || Math.abs(want.y - n.position.y) > 0.01) setPosition(moved, n.id, n.position);
    }
    const count = Object.keys(moved).length;
    if (!count) return;
    const drag = Date.now() - this.dragEndedAt < 500;
    this.doc.apply(`Move ${count === 1 ? Object.keys(moved)[0] : `${count} nodes`}`, (p) => setPositions(p, moved), drag ? undefined : 'nudge', 'layout');
  }

  dragEndedAt = 0;

  /** The middle of the visible canvas, in flow coordinates. */
  viewCentre(): XY {
    const el = document.querySelector('.svelte-flow');
    if (!el || !this.flow) return { x: 0, y: 0 };
    const r = el.getBoundingClientRect();
    return this.flow.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 2 });
  }

  /** A spot near `at` that no node's top-left already occupies (successive adds do not stack). */
  private freeSpot(at: XY): XY {
    const taken = Object.values(positionsOf(this.doc.project));
    const p = { ...at };
    for (let i = 0; i < 50 && taken.some((q) => Math.abs(q.x - (p.x - 84)) < 12 && Math.abs(q.y - (p.y - 40)) < 12); i++) {
      p.x += 28;
      p.y += 28;
    }
    return p;
  }

  // ---- engine -----------------------------------------------------------------------------------------------------

  private async compile(project: Project): Promise<void> {
    const seq = ++this.compileSeq;
    this.compiling = true;
    try {
      const result = await this.bridge.engine({ type: 'compile', project });
      if (seq === this.compileSeq) this.compiled = { project, result };
    } catch (e) {
      if (seq === this.compileSeq) {
        // The engine going away is shown by its status; a compile that failed on the project is an error.
        const gone = this.engine.state !== 'ready';
        this.compiled = gone ? null : { project, failure: messageOf(e) };
      }
    } finally {
      if (seq === this.compileSeq) this.compiling = false;
    }
  }

  // ---- training ---------------------------------------------------------------------------------------------------

  /** The folder the engine reads the document's relative data paths against (see `sourceDir`). */
  baseDir(): string | undefined {
    return this.doc.path ? dirname(this.doc.path) : this.sourceDir;
  }

  private runSource(): RunSource {
    const baseDir = this.baseDir();
    return { project: this.doc.project, ...(baseDir !== undefined ? { baseDir } : {}) };
  }

  /** Whether the document can be trained now; otherwise says why. */
  private canTrain(): boolean {
    if (this.engine.state !== 'ready') {
      toast('The engine is not ready yet.', 'info');
      return false;
    }
    if (this.errors.length) {
      toast(`Fix the graph first: ${this.errors.length} error${this.errors.length === 1 ? '' : 's'} (see the errors list).`, 'error');
      this.errorsOpen = true;
      return false;
    }
    return true;
  }

  /** Train (a new run), Pause (a running one) or Resume (a paused one): the Space key and the Train button. */
  async trainToggle(): Promise<void> {
    const t = this.training;
    if (t.busy) return;
    const starting = t.state !== 'running' && t.state !== 'paused';
    try {
      if (t.state === 'running') await t.pause();
      else if (t.state === 'paused') await t.resume();
      else if (this.canTrain()) await t.start(this.runSource());
    } catch (e) {
      this.showError(starting ? 'Training could not start' : 'Training could not go on', e);
    }
  }

  async trainStep(): Promise<void> {
    const t = this.training;
    if (t.busy || (!t.active && !this.canTrain())) return;
    try {
      await t.stepOnce(this.runSource());
    } catch (e) {
      this.showError('The step failed', e);
    }
  }

  async trainStop(): Promise<void> {
    const t = this.training;
    if (!t.active) return;
    try {
      await t.stop();
    } catch (e) {
      this.showError('Training could not be stopped', e);
    }
  }

  /** Evaluate: the run's weights on the validation part and all rows, shown in the Training panel (nothing selected). */
  evaluate(): Promise<void> {
    return this.onWeights('evaluate', () => this.training.evaluate());
  }

  /** Check gradients: the run's weights, reverse mode against forward mode and central differences, shown likewise. */
  checkGradients(): Promise<void> {
    return this.onWeights('check the gradients of', () => this.training.checkGradients());
  }

  /** Runs work on the job's weights, with the Training panel shown; says so when there are none yet. */
  private async onWeights(verb: string, work: () => Promise<void>): Promise<void> {
    const t = this.training;
    if (!t.hasWeights) {
      toast(`There are no weights to ${verb} yet: train the network (or take a step), or load weights.`, 'info', 5000);
      return;
    }
    if (!t.canEvaluate) return;
    this.select([]);
    await work();
  }

  /** Saves the run's weights now as safetensors (next to the project, or where the user picks). */
  async exportWeights(): Promise<void> {
    if (!this.training.hasWeights) {
      toast('There are no trained weights to export yet: train the network first.', 'info', 5000);
      return;
    }
    try {
      const w = await this.training.exportWeights();
      await this.exportBytes(`${this.fileStem('weights')}.safetensors`, base64ToBytes(w.base64), 'weights');
    } catch (e) {
      this.showError('Could not export the weights', e);
    }
  }

  /** Import CSV…: chooses a file, then the wizard (CsvWizard.svelte) reads it and writes the data section. */
  async importCsv(): Promise<void> {
    if (this.view !== 'editor' || !this.mayEdit()) return;
    const path = await chooseDataPath(this, 'data');
    if (path !== null) this.dialog = { kind: 'csvImport', path };
  }

  /**
   * Loads a safetensors file into a new paused run of this project (to continue training, or to evaluate). A file
   * that does not fit the graph shows what fits and what does not, and loads the tensors that fit if the user
   * says so (the others keep their initial values).
   */
  async loadWeights(): Promise<void> {
    if (this.view !== 'editor' || !this.canTrain()) return;
    if (this.training.active) {
      toast('Stop training before loading weights.', 'info');
      return;
    }
    const path = await chooseFile(this, 'weights');
    if (!path) return;
    const name = basename(path);
    try {
      const file = await this.bridge.request({ type: 'readFile', path });
      try {
        await this.training.loadWeights(this.runSource(), file.base64);
      } catch (e) {
        const report = e instanceof EngineError ? e.weightsReport : undefined;
        if (!report) throw e;
        const load = await new Promise<boolean>((resolve) => (this.dialog = { kind: 'weightsReport', fileName: name, report, resolve }));
        this.dialog = null;
        if (!load) return;
        await this.training.loadWeights(this.runSource(), file.base64, true);
        const total = report.matched.length + report.missing.length + report.misshaped.length;
        toast(`Loaded ${report.matched.length} of ${total} tensors from ${name}; the others keep their initial values.`, 'success', 6000);
        return;
      }
      toast(`Loaded ${name}: Train to continue from these weights, or Evaluate them.`, 'success', 5000);
    } catch (e) {
      this.showError(`Could not load ${name}`, e);
    }
  }

  /**
   * Exports the prediction part of the graph with the run's weights as ONNX, after ONNX Runtime ran it on the
   * data's first rows: the largest difference from the engine's own predictions is shown with the saved file.
   */
  async exportOnnx(): Promise<void> {
    if (this.view !== 'editor') return;
    if (!this.training.hasWeights) {
      toast('There are no trained weights to export yet: train the network (or load weights) first.', 'info', 5000);
      return;
    }
    let result: OnnxExportInfo;
    // Reading the data and running ONNX Runtime can take a while: a toast says so until the engine answers.
    const working = 'Exporting the ONNX model and checking it in ONNX Runtime…';
    const busy = busyToast(working);
    try {
      result = await this.training.exportOnnx(this.runSource(), {
        onProgress: ({ done, total }) => busy.update(`${working} ${Math.floor((100 * done) / Math.max(total, 1))}%`),
      });
    } catch (e) {
      this.showError('Could not export the ONNX model', e);
      return;
    } finally {
      busy.done();
    }
    const saved = await this.exportBytes(`${this.fileStem('model')}.onnx`, base64ToBytes(result.base64), 'the ONNX model');
    if (!saved) return;
    const { maxAbsDiff, rows, scale } = result.parity;
    this.dialog = {
      kind: 'message',
      title: 'ONNX model exported',
      message:
        `Saved ${basename(saved)}.\n\nParity check: ONNX Runtime ran the model on the first ${rows} rows of the data. ` +
        `The largest difference from Backprop Studio's own predictions is ${maxAbsDiff.toExponential(2)}, ` +
        `on outputs up to ${scale.toPrecision(3)} in size.`,
    };
  }

  /** Exports the graph as a self-contained PyTorch module (it loads the weights that Export weights saves). */
  async exportPytorch(): Promise<void> {
    if (this.view !== 'editor') return;
    try {
      const code = await this.bridge.engine({ type: 'export.pytorch', project: this.runSource().project });
      await this.exportBytes(code.fileName, new TextEncoder().encode(code.text), 'the PyTorch code');
    } catch (e) {
      this.showError('Could not export the PyTorch code', e);
    }
  }

  /** The document's file name without .bpstudio, or `fallback` for an untitled one. */
  private fileStem(fallback: string): string {
    return this.doc.fileName.replace(/\.bpstudio$/i, '').replace(/^Untitled$/, fallback);
  }

  /** Web mode: the workspace folder of the document (where exports are offered). */
  private webDir(): string | undefined {
    const d = this.baseDir();
    return d && d !== '.' ? d : undefined;
  }

  /**
   * Saves bytes through the shell (a native dialog in Electron, the workspace picker in web mode); resolves to the
   * saved path, or undefined when the user canceled or the save failed (then an error dialog says why).
   */
  async exportBytes(suggestedName: string, bytes: Uint8Array, what = suggestedName): Promise<string | undefined> {
    let path: string | undefined;
    if (this.bridge.platform === 'web') {
      const ext = /\.([^.]+)$/.exec(suggestedName)?.[1] ?? '*';
      const picked = await this.pick('saveAs', suggestedName, { title: `Export ${what}`, extensions: [ext], ...(this.webDir() ? { dir: this.webDir() } : {}) });
      if (!picked) return undefined;
      path = picked;
    }
    try {
      const r = await this.bridge.request({ type: 'exportFile', suggestedName, base64: bytesToBase64(bytes), ...(path ? { path } : {}) });
      if (!r) return undefined;
      toast(`Saved ${what} to ${basename(r.path)}`, 'success');
      return r.path;
    } catch (e) {
      this.showError(`Could not save ${suggestedName}`, e);
      return undefined;
    }
  }

  // ---- files ------------------------------------------------------------------------------------------------------

  showStart(): void {
    this.view = 'start';
    this.addSearch = null;
    void this.refreshRecent();
    if (!this.examples?.length) void this.loadExamples();
  }

  closeStart(): void {
    if (this.hasDocument) this.view = 'editor';
  }

  /** Before replacing the document: Save / Don't save / Cancel when it has unsaved work. */
  async confirmDiscard(): Promise<boolean> {
    if (!this.doc.dirty) return true;
    const choice = await new Promise<ConfirmChoice>((resolve) => {
      this.dialog = {
        kind: 'confirm',
        title: 'Save changes?',
        message: `“${this.doc.fileName}” has changes that are not saved. Save them first?`,
        resolve,
      };
    });
    this.dialog = null;
    if (choice === 'cancel') return false;
    if (choice === 'save') return this.save();
    this.discardRecovery(this.doc.key);
    return true;
  }

  async newBlank(): Promise<void> {
    if (!(await this.confirmDiscard())) return;
    this.load(blankProject(), { path: null, clean: true });
  }

  async openExample(item: ExampleItem): Promise<void> {
    // An example opens as an untitled copy, so saving never writes over the example itself; its data is still read
    // from the example's folder.
    if (await this.openText(item.text, item.path, { asCopy: true })) this.sourceDir = dirname(item.path);
  }

  async openDialog(): Promise<void> {
    if (this.bridge.platform === 'web') {
      const path = await this.pick('open');
      if (path) await this.openPath(path);
      return;
    }
    let file;
    try {
      file = await this.bridge.request({ type: 'open' });
    } catch (e) {
      return this.showError('Could not open the file', e);
    }
    if (file) await this.openText(file.text, file.path);
  }

  async openPath(path: string): Promise<void> {
    let file;
    try {
      file = await this.bridge.request({ type: 'open', path });
    } catch (e) {
      return this.showError(`Could not open ${basename(path)}`, e);
    }
    if (file) await this.openText(file.text, file.path);
  }

  /** Parses a file; an invalid one is reported (what and where) and changes nothing. */
  async openText(text: string, path: string, opts: { asCopy?: boolean } = {}): Promise<boolean> {
    let project: Project;
    try {
      project = parseProject(text, basename(path));
    } catch (e) {
      this.showError(`Could not open ${basename(path)}`, e);
      return false;
    }
    if (!(await this.confirmDiscard())) return false;
    this.load(project, opts.asCopy ? { path: null, clean: true, suggestedName: basename(path) } : { path, clean: true });
    if (!opts.asCopy) void this.refreshRecent();
    return true;
  }

  /** Makes a project the document; nodes without a position are laid out automatically. */
  load(project: Project, opts: { path: string | null; clean: boolean; key?: string; suggestedName?: string }): void {
    if (this.training.active) void this.training.stop().catch(() => {});
    this.training.clear();
    this.sourceDir = undefined;
    const p = withLayout(project);
    this.doc.load(p, opts);
    this.hasDocument = true;
    this.view = 'editor';
    this.errorsOpen = false;
    this.addSearch = null;
    this.lastAutosaved = null;
    this.pasteCount = 0;
    const vp = p.editor?.viewport;
    this.pendingView = vp && p === project ? vp : p !== project && !Object.keys(project.editor?.positions ?? {}).length ? 'layout' : 'fit';
    this.nodes = [];
    this.edges = [];
  }

  private serialize(project: Project): string {
    const viewport = this.flow?.getViewport();
    const withView: Project =
      viewport && this.view === 'editor'
        ? { ...project, editor: { ...(project.editor ?? {}), viewport: { x: Math.round(viewport.x), y: Math.round(viewport.y), zoom: Number(viewport.zoom.toFixed(3)) } } }
        : project;
    return serializeProject(withView);
  }

  async save(): Promise<boolean> {
    if (!this.doc.path) return this.saveAs();
    const project = this.doc.project;
    try {
      const r = await this.bridge.request({ type: 'save', path: this.doc.path, text: this.serialize(project) });
      this.saved(r.path, project);
      return true;
    } catch (e) {
      this.showError(`Could not save ${this.doc.fileName}`, e);
      return false;
    }
  }

  /**
   * Saves under a name the user chooses. In another folder, relative data paths are rewritten so that they still
   * name the same files (rebaseDataPaths): before the write where the path is known first (web mode's picker),
   * else by a second write once the native dialog has said where.
   */
  async saveAs(): Promise<boolean> {
    const project = this.doc.project;
    const from = this.baseDir();
    const suggestedName = this.doc.path ? basename(this.doc.path) : this.doc.suggestedName;
    let path: string | undefined;
    if (this.bridge.platform === 'web') {
      const picked = await this.pick('saveAs', suggestedName);
      if (!picked) return false;
      path = picked;
    }
    try {
      const text = this.serialize(path === undefined ? project : rebaseDataPaths(project, from, dirname(path)));
      const r = await this.bridge.request({ type: 'saveAs', suggestedName, text, ...(path ? { path } : {}) });
      if (!r) return false;
      const to = dirname(r.path);
      const moved = this.serialize(rebaseDataPaths(project, from, to));
      if (moved !== text) await this.bridge.request({ type: 'save', path: r.path, text: moved });
      this.doc.relocate((p) => rebaseDataPaths(p, from, to));
      this.saved(r.path, this.doc.project);
      return true;
    } catch (e) {
      this.showError('Could not save', e);
      return false;
    }
  }

  private saved(path: string, project: Project): void {
    this.doc.markSaved(path, project);
    this.discardRecovery(this.doc.key);
    this.lastAutosaved = null;
    toast(`Saved ${basename(path)}`, 'success');
    void this.refreshRecent();
  }

  /** The web mode file picker: resolves with a workspace path, or null. `filter`: another kind of file to open. */
  pick(mode: 'open' | 'saveAs', suggestedName = 'untitled.bpstudio', filter?: PickFilter): Promise<string | null> {
    return new Promise((resolve) => {
      this.dialog = {
        kind: 'picker',
        mode,
        suggestedName,
        ...(filter ? { filter } : {}),
        resolve: (p) => {
          this.dialog = null;
          resolve(p);
        },
      };
    });
  }

  // ---- recovery ---------------------------------------------------------------------------------------------------

  private async autosave(): Promise<void> {
    const p = this.doc.project;
    if (!this.doc.dirty || p === this.lastAutosaved || !this.bridge.shellConnected) return;
    if (!this.hasDocument && p.graph.nodes.length === 0) return;
    try {
      await this.bridge.request({ type: 'recoverySave', key: this.doc.key, name: this.doc.fileName, path: this.doc.path, text: serializeProject(p) });
      this.lastAutosaved = p;
    } catch {
      // best effort: the next tick tries again
    }
  }

  private discardRecovery(key: string): void {
    this.bridge.request({ type: 'recoveryDiscard', key }).catch(() => {});
  }

  async restore(item: RecoveryItem): Promise<void> {
    let project: Project;
    try {
      project = parseProject(item.text, item.name);
    } catch (e) {
      this.showError(`Could not restore ${item.name}`, e);
      return;
    }
    this.dropRecoveryItem(item.key);
    if (!(await this.confirmDiscard())) return;
    this.load(project, { path: item.path, clean: false, key: item.key, ...(item.name.endsWith('.bpstudio') ? { suggestedName: item.name } : {}) });
    toast(`Restored unsaved work: ${item.name}`, 'success');
  }

  discardItem(item: RecoveryItem): void {
    this.discardRecovery(item.key);
    this.dropRecoveryItem(item.key);
  }

  private dropRecoveryItem(key: string): void {
    const d = this.dialog;
    if (d?.kind !== 'recovery') return;
    const items = d.items.filter((i) => i.key !== key);
    this.dialog = items.length ? { kind: 'recovery', items } : null;
  }

  // ---- messages ---------------------------------------------------------------------------------------------------

  showError(title: string, e: unknown): void {
    if (e instanceof StudioError) {
      const where = describeWhere(e.where).replace(/: $/, '');
      this.dialog = { kind: 'message', title, message: e.message, ...(where ? { where } : {}) };
    } else this.dialog = { kind: 'message', title, message: messageOf(e) };
  }

  closeDialog(): void {
    const d = this.dialog;
    if (d?.kind === 'confirm') d.resolve('cancel');
    else if (d?.kind === 'picker') d.resolve(null);
    else if (d?.kind === 'weightsReport') d.resolve(false);
    else this.dialog = null;
  }

  connectFromSearch(op: string): void {
    const s = this.addSearch;
    this.addSearch = null;
    if (!s) return;
    this.addOp(op, s.at, s.from);
  }

  /**
   * An op can take the dropped wire: from an output, its first input port (where addOp wires it) must take the
   * output's shape, where that is known (else it needs an input port); into an input, any op can feed it.
   */
  fits(op: string, from: AddSearch['from']): boolean {
    const spec = opSpec(op);
    if (!spec) return false;
    if (!from || from.type === 'target') return true;
    const shape = this.doc.analysis.shapes.get(from.node);
    return shape ? takesShape(op, spec.inputs, shape) : spec.inputs.length > 0;
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function base64ToBytes(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function offsetBetween(old: Positions, next: Positions): XY {
  const ids = Object.keys(next).filter((k) => positionOf(old, k));
  if (!ids.length) return { x: 0, y: 0 };
  const minOld = { x: Math.min(...ids.map((k) => old[k].x)), y: Math.min(...ids.map((k) => old[k].y)) };
  const minNew = { x: Math.min(...ids.map((k) => next[k].x)), y: Math.min(...ids.map((k) => next[k].y)) };
  return { x: minOld.x - minNew.x, y: minOld.y - minNew.y };
}
