/**
 * Web mode confines engine requests to the workspace (electron/web/engine-paths.ts): `baseDir` becomes the real
 * folder inside it, and a project whose data paths leave it never reaches the engine.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { confineEngineRequest } from '../../electron/web/engine-paths';
import { engineRequest, engineResults, type EngineRequest } from '../../engine/protocol/messages';

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'bps-engine-paths-')));
const root = join(tmp, 'ws');
mkdirSync(join(root, 'sub', 'data'), { recursive: true });
mkdirSync(join(tmp, 'outside'));
writeFileSync(join(root, 'sub', 'data', 'a.csv'), 'x,y\n1,0\n');
writeFileSync(join(tmp, 'outside', 'b.csv'), 'x,y\n1,0\n');
symlinkSync(join(tmp, 'outside'), join(root, 'link'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const preview = (data: Record<string, unknown>, baseDir?: string): EngineRequest => ({
  type: 'data.preview',
  id: 1,
  project: { format: 1, graph: { nodes: [] }, data },
  ...(baseDir !== undefined ? { baseDir } : {}),
});

describe('confineEngineRequest', () => {
  it.each([
    ['no baseDir: the workspace', undefined, { kind: 'builtin', name: 'spiral' }, root],
    ['empty baseDir: the workspace', '', { kind: 'csv', path: 'sub/data/a.csv' }, root],
    ['a folder of the workspace', 'sub', { kind: 'csv', path: 'data/a.csv' }, join(root, 'sub')],
    ['.. that stays inside', 'sub/data', { kind: 'csv', path: '../data/a.csv' }, join(root, 'sub', 'data')],
    ['an absolute path inside', 'sub', { kind: 'csv', path: join(root, 'sub', 'data', 'a.csv') }, join(root, 'sub')],
  ])('%s', (_name, baseDir, data, want) => {
    const r = confineEngineRequest(root, preview(data, baseDir));
    expect((r as { baseDir?: string }).baseDir).toBe(want);
  });

  it.each([
    ['a relative path that leaves', 'sub', { kind: 'csv', path: '../../outside/b.csv' }, /data\.path .*outside the workspace|leaves the workspace/],
    ['an absolute path outside', 'sub', { kind: 'csv', path: join(tmp, 'outside', 'b.csv') }, /data\.path .*outside the workspace/],
    ['a link that leads outside', '', { kind: 'csv', path: 'link/b.csv' }, /data\.path .*link that leads outside/],
    ['IDX labels outside', '', { kind: 'idx', images: 'sub/data/a.csv', labels: '/etc/passwd' }, /data\.labels/],
    ['a baseDir outside', '../outside', { kind: 'builtin', name: 'spiral' }, /leaves the workspace/],
  ])('refuses %s', (_name, baseDir, data, message) => {
    expect(() => confineEngineRequest(root, preview(data, baseDir))).toThrow(message);
  });

  it('confines the file data.inspect reads', () => {
    const inspect = (path: string, baseDir?: string): EngineRequest => ({ type: 'data.inspect', id: 5, path, ...(baseDir !== undefined ? { baseDir } : {}) });
    expect(confineEngineRequest(root, inspect('data/a.csv', 'sub'))).toEqual({ ...inspect('data/a.csv'), baseDir: join(root, 'sub') });
    expect(confineEngineRequest(root, inspect('sub/data/a.csv', ''))).toEqual({ ...inspect('sub/data/a.csv'), baseDir: root });
    expect(() => confineEngineRequest(root, inspect('/etc/passwd'))).toThrow(/^path "\/etc\/passwd": .*outside the workspace/);
    expect(() => confineEngineRequest(root, inspect('../../outside/b.csv', 'sub'))).toThrow(/^path /);
    expect(() => confineEngineRequest(root, inspect('link/b.csv'))).toThrow(/link that leads outside/);
  });

  it('confines every request that carries a baseDir (export.onnx reads the data for its parity check)', () => {
    // A request type whose schema takes `baseDir` reads data against it: the check rejects a key not in the shape
    // before it checks the others, so only those types get past "unexpected key baseDir" here.
    const types = (Object.keys(engineResults) as EngineRequest['type'][]).filter((type) => {
      try {
        engineRequest({ type, id: 1, baseDir: '' });
        return true;
      } catch (e) {
        return !String(e).includes('"baseDir"');
      }
    });
    expect(types).toContain('export.onnx');
    const data = { kind: 'csv', path: join(tmp, 'outside', 'b.csv') };
    for (const type of types) {
      const req = { type, id: 1, baseDir: '', path: data.path, project: { format: 1, graph: { nodes: [] }, data } } as unknown as EngineRequest;
      expect(() => confineEngineRequest(root, req), type).toThrow(/outside the workspace/);
    }
  });

  it('passes requests that read no data unchanged', () => {
    const pause: EngineRequest = { type: 'train.pause', id: 3 };
    expect(confineEngineRequest(root, pause)).toBe(pause);
    const compile: EngineRequest = { type: 'compile', id: 4, project: { format: 1, graph: { nodes: [] }, data: { kind: 'csv', path: '/etc/passwd' } } };
    expect(confineEngineRequest(root, compile)).toBe(compile);
    // cancel names a request of the same connection (a data.inspect the wizard no longer waits for)
    const cancel: EngineRequest = { type: 'cancel', id: 6, request: 5 };
    expect(confineEngineRequest(root, cancel)).toBe(cancel);
  });
});
