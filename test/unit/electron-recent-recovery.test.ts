import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_RECENT, RecentList } from '../../electron/recent';
import { RecoveryStore } from '../../electron/recovery';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bps-recent-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('recent list', () => {
  it('puts the latest first, once, and keeps at most 10', () => {
    const recent = new RecentList(join(dir, 'data', 'recent.json'), MAX_RECENT, () => true);
    for (let i = 0; i < 12; i++) recent.add(`/p/${i}.bpstudio`);
    recent.add('/p/5.bpstudio');
    const list = recent.list();
    expect(list).toHaveLength(10);
    expect(list.slice(0, 3)).toEqual(['/p/5.bpstudio', '/p/11.bpstudio', '/p/10.bpstudio']);
    expect(list.filter((p) => p === '/p/5.bpstudio')).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, 'data', 'recent.json'), 'utf8'))).toEqual(list);
  });

  it('drops files that no longer exist', () => {
    const a = join(dir, 'a.bpstudio');
    const b = join(dir, 'b.bpstudio');
    writeFileSync(a, '');
    writeFileSync(b, '');
    const recent = new RecentList(join(dir, 'recent.json'));
    recent.add(a);
    recent.add(b);
    rmSync(a);
    expect(recent.list()).toEqual([b]);
    expect(recent.read()).toEqual([b]);
  });

  it('reads broken storage as empty and can be cleared', () => {
    writeFileSync(join(dir, 'recent.json'), '{ nope');
    const recent = new RecentList(join(dir, 'recent.json'), 10, () => true);
    expect(recent.list()).toEqual([]);
    writeFileSync(join(dir, 'recent.json'), JSON.stringify(['/x.bpstudio', 3, null]));
    expect(recent.list()).toEqual(['/x.bpstudio']);
    recent.clear();
    expect(recent.list()).toEqual([]);
  });
});

describe('recovery store', () => {
  it('round trip, newest first, replace by key, discard', () => {
    let t = 1000;
    const store = new RecoveryStore(join(dir, 'recovery'), 20, () => t++);
    store.save({ key: 'a', name: 'A', path: null, text: 'one' });
    store.save({ key: 'b/../../weird key', name: 'B', path: '/w/b.bpstudio', text: 'two' });
    store.save({ key: 'a', name: 'A', path: null, text: 'three' });
    expect(store.list()).toEqual([
      { key: 'a', name: 'A', path: null, savedAt: 1002, text: 'three' },
      { key: 'b/../../weird key', name: 'B', path: '/w/b.bpstudio', savedAt: 1001, text: 'two' },
    ]);
    // any key is stored under a hashed file name inside the folder
    expect(readdirSync(join(dir, 'recovery')).every((f) => /^[0-9a-f]{32}\.json$/.test(f))).toBe(true);
    store.discard('a');
    store.discard('never saved');
    expect(store.list().map((i) => i.key)).toEqual(['b/../../weird key']);
  });

  it('keeps the most recent items only, skips unreadable ones, refuses empty keys', () => {
    const store = new RecoveryStore(join(dir, 'recovery'), 3);
    for (let i = 0; i < 5; i++) store.save({ key: `k${i}`, name: 'n', path: null, text: String(i) });
    expect(readdirSync(join(dir, 'recovery'))).toHaveLength(3);
    writeFileSync(join(dir, 'recovery', '0'.repeat(32) + '.json'), '{"key": 1}');
    expect(store.list()).toHaveLength(3);
    expect(() => store.save({ key: '', name: 'n', path: null, text: '' })).toThrow(/recovery key/);
  });
});
