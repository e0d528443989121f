/**
 * The document: the one source of truth of the editor. It holds the parsed project object (unknown keys and all)
 * and changes only through `apply`, which records undo history. The canvas, the inspector and the file actions
 * read it; nothing else writes it.
 */
import type { Project } from '../../../engine/io/project';
import { analyze, type Analysis } from './analysis';
import { basename } from './format';
import { blankProject } from './graph';
import { History, memoized } from './history';

function newKey(): string {
  try {
    return crypto.randomUUID();
  } catch {
    return `doc-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  }
}

export class DocStore {
  /** The current document. Replaced (never mutated) by every edit. */
  project = $state.raw<Project>(blankProject());
  /** The document as last opened or saved; `dirty` compares by reference, so undoing back to it is clean. */
  saved = $state.raw<Project | null>(null);
  /** Where it lives on disk (or in the workspace); null until saved. */
  path = $state<string | null>(null);
  /** The recovery (autosave) key of this document. */
  key = $state(newKey());
  /** Bumped by every change, so that views can follow history state. */
  revision = $state(0);
  /** File name to suggest when saving an untitled document. */
  suggestedName = $state('untitled.bpstudio');

  /** Asked before every edit of the network (not of the layout): false refuses it (the app's training lock). */
  guard: (() => boolean) | null = null;

  private history = new History<Project>();

  constructor() {
    this.saved = this.project;
  }

  readonly dirty = $derived(this.project !== this.saved);
  /** What the title bar shows: the file's name, or the name it would be saved under. */
  readonly fileName = $derived(this.path ? basename(this.path) : this.suggestedName === 'untitled.bpstudio' ? 'Untitled' : this.suggestedName);
  readonly analysis: Analysis = $derived(analyze(this.project.graph.nodes));
  readonly canUndo = $derived(this.revision >= 0 && this.history.undoLabel !== undefined);
  readonly canRedo = $derived(this.revision >= 0 && this.history.redoLabel !== undefined);
  readonly undoLabel = $derived(this.revision >= 0 ? this.history.undoLabel : undefined);
  readonly redoLabel = $derived(this.revision >= 0 ? this.history.redoLabel : undefined);

  /**
   * One edit: `fn` returns the new document (or the same one for no change). `key` coalesces repeated edits. A
   * `layout` edit moves nodes only, which the guard allows whatever the state.
   */
  apply(label: string, fn: (p: Project) => Project, key?: string, kind: 'network' | 'layout' = 'network'): boolean {
    if (kind === 'network' && this.guard && !this.guard()) return false;
    const before = this.project;
    const after = fn(before);
    if (after === before) return false;
    this.history.record(label, before, after, key);
    this.project = after;
    this.revision++;
    return true;
  }

  /** Closes the current coalescing run (a field lost focus). */
  seal(): void {
    this.history.seal();
  }

  undo(): string | undefined {
    const e = this.history.undo();
    if (!e) return undefined;
    this.history.seal();
    this.project = e.before;
    this.revision++;
    return e.label;
  }

  redo(): string | undefined {
    const e = this.history.redo();
    if (!e) return undefined;
    this.history.seal();
    this.project = e.after;
    this.revision++;
    return e.label;
  }

  /** Replaces the whole document (open, new, restore): history starts again. */
  load(project: Project, opts: { path: string | null; clean: boolean; key?: string; suggestedName?: string }): void {
    this.history.clear();
    this.project = project;
    this.saved = opts.clean ? project : null;
    this.path = opts.path;
    this.key = opts.key ?? newKey();
    this.suggestedName = opts.suggestedName ?? (opts.path ? basename(opts.path) : 'untitled.bpstudio');
    this.revision++;
  }

  /**
   * Completes a document just loaded, before any edit (its layout redone once the canvas has measured its nodes):
   * part of opening it, so nothing to undo, and a clean document stays clean. Later, it changes nothing.
   */
  amendLoaded(fn: (p: Project) => Project): void {
    if (this.history.undoLabel !== undefined || this.history.redoLabel !== undefined) return;
    const clean = !this.dirty;
    this.project = fn(this.project);
    if (clean) this.saved = this.project;
    this.revision++;
  }

  /**
   * The document moved to another folder (a Save As): it, and every state undo and redo lead to, become their moved
   * versions (data paths read against the new folder). States shared between entries stay shared, so that undoing
   * back to the saved state is still clean. Not an edit: nothing to undo.
   */
  relocate(move: (p: Project) => Project): void {
    const once = memoized(move);
    this.history.map(once);
    this.project = once(this.project);
    this.revision++;
  }

  markSaved(path: string, project: Project): void {
    this.path = path;
    this.saved = project;
    this.revision++;
  }
}
