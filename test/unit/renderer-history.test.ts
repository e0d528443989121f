/** The editor's undo history (renderer/src/lib/history.ts), with the document edits it records. */
import { describe, expect, it } from 'vitest';
import type { Project } from '../../engine/io/project';
import { History, memoized } from '../../renderer/src/lib/history';
import { addNode, blankProject, setAttr } from '../../renderer/src/lib/graph';

/**
 * A small driver that does what DocStore (doc.svelte.ts, a runes module) does with a History: `apply` records and
 * moves to the new document, undo/redo move to before/after and seal the run.
 */
class Doc {
  readonly h: History<string>;
  cur = 'v0';
  constructor(limit?: number, window?: number) {
    this.h = new History<string>(limit, window);
  }
  apply(label: string, next: string, key?: string, now = 0): void {
    this.h.record(label, this.cur, next, key, now);
    this.cur = next;
  }
  undo(): string | undefined {
    const e = this.h.undo();
    if (!e) return undefined;
    this.h.seal();
    this.cur = e.before;
    return e.label;
  }
  redo(): string | undefined {
    const e = this.h.redo();
    if (!e) return undefined;
    this.h.seal();
    this.cur = e.after;
    return e.label;
  }
}

type Step =
  | ['apply', string, string, string?, number?]
  | ['undo', string | undefined]
  | ['redo', string | undefined]
  | ['seal']
  | ['expect', string, string | undefined, string | undefined];

/** Each scenario: steps; `expect` checks the current document and the undo and redo labels. */
const scenarios: [string, Step[]][] = [
  [
    'undo and redo walk the edits',
    [
      ['apply', 'A', 'v1'],
      ['apply', 'B', 'v2'],
      ['expect', 'v2', 'B', undefined],
      ['undo', 'B'],
      ['expect', 'v1', 'A', 'B'],
      ['undo', 'A'],
      ['expect', 'v0', undefined, 'A'],
      ['undo', undefined],
      ['redo', 'A'],
      ['redo', 'B'],
      ['redo', undefined],
      ['expect', 'v2', 'B', undefined],
    ],
  ],
  [
    'a new edit clears redo',
    [
      ['apply', 'A', 'v1'],
      ['apply', 'B', 'v2'],
      ['undo', 'B'],
      ['apply', 'C', 'v3'],
      ['expect', 'v3', 'C', undefined],
      ['redo', undefined],
      ['undo', 'C'],
      ['expect', 'v1', 'A', 'C'],
    ],
  ],
  [
    'typing in one field within the window coalesces into one entry',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['apply', 'Set units', 'u12', 'attr:h:units', 500],
      ['apply', 'Set units', 'u128', 'attr:h:units', 1900],
      ['expect', 'u128', 'Set units', undefined],
      ['undo', 'Set units'],
      ['expect', 'v0', undefined, 'Set units'],
      ['redo', 'Set units'],
      ['expect', 'u128', 'Set units', undefined],
    ],
  ],
  [
    'a pause longer than the window starts a new entry',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['apply', 'Set units', 'u12', 'attr:h:units', 1501],
      ['undo', 'Set units'],
      ['expect', 'u1', 'Set units', 'Set units'],
    ],
  ],
  [
    'another field (another key) starts a new entry',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['apply', 'Set rate', 'r1', 'attr:d:rate', 10],
      ['undo', 'Set rate'],
      ['expect', 'u1', 'Set units', 'Set rate'],
    ],
  ],
  [
    'an edit without a key is never merged, nor merges the next one',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['apply', 'Connect', 'c1', undefined, 10],
      ['apply', 'Set units', 'u2', 'attr:h:units', 20],
      ['undo', 'Set units'],
      ['undo', 'Connect'],
      ['expect', 'u1', 'Set units', 'Connect'],
    ],
  ],
  [
    'seal (the field lost focus) ends the run',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['seal'],
      ['apply', 'Set units', 'u12', 'attr:h:units', 10],
      ['undo', 'Set units'],
      ['expect', 'u1', 'Set units', 'Set units'],
    ],
  ],
  [
    'typing again after an undo does not merge into the undone entry',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['undo', 'Set units'],
      ['apply', 'Set units', 'u9', 'attr:h:units', 10],
      ['undo', 'Set units'],
      ['expect', 'v0', undefined, 'Set units'],
    ],
  ],
  [
    'typing in a field after undoing another edit does not merge into the entry below',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['apply', 'Set rate', 'r1', 'attr:d:rate', 10],
      ['undo', 'Set rate'],
      ['apply', 'Set units', 'u2', 'attr:h:units', 20],
      ['undo', 'Set units'],
      ['expect', 'u1', 'Set units', 'Set units'],
    ],
  ],
  [
    'typing after a redo does not merge into the redone entry',
    [
      ['apply', 'Set units', 'u1', 'attr:h:units', 0],
      ['apply', 'Move', 'm1', undefined, 5],
      ['undo', 'Move'],
      ['undo', 'Set units'],
      ['redo', 'Set units'],
      ['apply', 'Set units', 'u2', 'attr:h:units', 10],
      ['undo', 'Set units'],
      ['expect', 'u1', 'Set units', 'Set units'],
    ],
  ],
];

describe('history', () => {
  it.each(scenarios)('%s', (_name, steps) => {
    const d = new Doc();
    steps.forEach((s, i) => {
      const at = `step ${i} ${JSON.stringify(s)}`;
      switch (s[0]) {
        case 'apply':
          d.apply(s[1], s[2], s[3], s[4] ?? i);
          break;
        case 'undo':
          expect(d.undo(), at).toBe(s[1]);
          break;
        case 'redo':
          expect(d.redo(), at).toBe(s[1]);
          break;
        case 'seal':
          d.h.seal();
          break;
        case 'expect':
          expect([d.cur, d.h.undoLabel, d.h.redoLabel], at).toEqual([s[1], s[2], s[3]]);
          break;
      }
    });
  });

  it('keeps at most `limit` entries, dropping the oldest', () => {
    const d = new Doc(3);
    for (let i = 1; i <= 5; i++) d.apply(`E${i}`, `v${i}`);
    const labels: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) labels.push(d.undo());
    expect(labels).toEqual(['E5', 'E4', 'E3', undefined, undefined]);
    expect(d.cur).toBe('v2');
  });

  it('clear forgets undo and redo', () => {
    const d = new Doc();
    d.apply('A', 'v1');
    d.apply('B', 'v2');
    d.undo();
    d.h.clear();
    expect([d.h.undoLabel, d.h.redoLabel, d.h.undo(), d.h.redo()]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('holds documents by reference: undo gives back the very object, so "dirty" can compare identity', () => {
    const h = new History<Project>();
    const p0 = blankProject();
    const p1 = addNode(p0, { id: 'h', op: 'dense' }, { x: 0, y: 0 });
    const p2 = setAttr(p1, 'h', 'units', 3);
    h.record('Add dense', p0, p1);
    h.record('Set units', p1, p2, 'attr:h:units', 0);
    const p3 = setAttr(p2, 'h', 'units', 32);
    h.record('Set units', p2, p3, 'attr:h:units', 100);
    expect(h.undo()!.before).toBe(p1);
    expect(h.undo()!.before).toBe(p0);
    expect(h.redo()!.after).toBe(p1);
    expect(h.redo()!.after).toBe(p3);
  });
  it('map rewrites every state, done and undone; memoized keeps shared states shared (a Save As elsewhere)', () => {
    const h = new History<{ v: string }>();
    const [p0, p1, p2] = ['a', 'b', 'c'].map((v) => ({ v }));
    h.record('A', p0, p1);
    h.record('B', p1, p2);
    h.undo();
    let calls = 0;
    const move = memoized((s: { v: string }) => (calls++, { v: s.v.toUpperCase() }));
    h.map(move);
    expect(calls).toBe(3);
    const redone = h.redo()!;
    expect([redone.before.v, redone.after.v]).toEqual(['B', 'C']);
    const undone = h.undo()!;
    expect(undone).toBe(redone);
    const first = h.undo()!;
    expect(first.after).toBe(redone.before);
    expect(first.before).toEqual({ v: 'A' });
    expect(move(p1)).toBe(redone.before);
  });
});
