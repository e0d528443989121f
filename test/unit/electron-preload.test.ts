/**
 * The preload with Electron replaced at its boundary (contextBridge, ipcRenderer): it exposes exactly
 * window.studio, passes on only valid menu commands and engine statuses, and hands the engine port to the page.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ENGINE_PORT_MESSAGE, type StudioBridge } from '../../engine/protocol/messages';

const h = vi.hoisted(() => {
  type Listener = (event: unknown, ...args: unknown[]) => void;
  const listeners = new Map<string, Set<Listener>>();
  const exposed: Record<string, unknown> = {};
  const invoked: unknown[][] = [];
  const posted: unknown[][] = [];
  return {
    listeners,
    exposed,
    invoked,
    posted,
    emit(channel: string, event: unknown, ...args: unknown[]) {
      for (const l of listeners.get(channel) ?? []) l(event, ...args);
    },
    electron: {
      contextBridge: { exposeInMainWorld: (key: string, api: unknown) => void (exposed[key] = api) },
      ipcRenderer: {
        on(channel: string, l: Listener) {
          if (!listeners.has(channel)) listeners.set(channel, new Set());
          listeners.get(channel)!.add(l);
        },
        removeListener(channel: string, l: Listener) {
          listeners.get(channel)?.delete(l);
        },
        invoke: async (...args: unknown[]) => {
          invoked.push(args);
          return { ok: true, result: { platform: 'electron', version: '1' } };
        },
      },
    },
  };
});

vi.mock('electron', () => h.electron);

let studio: StudioBridge;
beforeAll(async () => {
  (globalThis as { window?: unknown }).window = { postMessage: (...args: unknown[]) => h.posted.push(args) };
  await import('../../electron/preload');
  studio = h.exposed.studio as StudioBridge;
});

describe('preload', () => {
  it('exposes only window.studio with the typed API', () => {
    expect(Object.keys(h.exposed)).toEqual(['studio']);
    expect(Object.keys(studio).sort()).toEqual(['onEngineStatus', 'onMenu', 'platform', 'request']);
    expect(studio.platform).toBe('electron');
  });

  it('request goes to the one shell handler and resolves with its reply', async () => {
    expect(await studio.request({ type: 'info' })).toEqual({ ok: true, result: { platform: 'electron', version: '1' } });
    expect(h.invoked).toEqual([['shell', { type: 'info' }]]);
  });

  it('onMenu passes valid commands only, and unsubscribes', () => {
    const got: unknown[] = [];
    const off = studio.onMenu((c) => got.push(c));
    h.emit('menu', {}, { command: 'file.open', path: '/a.bpstudio' });
    h.emit('menu', {}, { command: 'rm -rf' });
    h.emit('menu', {}, { command: 'edit.undo', extra: 1 });
    h.emit('menu', {}, { command: 'edit.undo' });
    off();
    h.emit('menu', {}, { command: 'edit.redo' });
    expect(got).toEqual([{ command: 'file.open', path: '/a.bpstudio' }, { command: 'edit.undo' }]);
    expect(h.listeners.get('menu')?.size).toBe(0);
  });

  it('onEngineStatus passes valid statuses only', () => {
    const got: unknown[] = [];
    const off = studio.onEngineStatus((s) => got.push(s));
    h.emit('engine-status', {}, { engine: 'restarting', message: 'the engine stopped' });
    h.emit('engine-status', {}, { engine: 'exploded' });
    h.emit('engine-status', {}, { engine: 'ready' });
    off();
    expect(got).toEqual([{ engine: 'restarting', message: 'the engine stopped' }, { engine: 'ready' }]);
  });

  it('hands the engine port to the page as a window message', () => {
    const port = { fake: 'port' };
    h.emit('engine-port', { ports: [port] });
    expect(h.posted).toEqual([[ENGINE_PORT_MESSAGE, '*', [port]]]);
    expect(ENGINE_PORT_MESSAGE).toBe('studio:engine-port');
  });

  it('refuses a callback that is not a function', () => {
    expect(() => studio.onMenu('x' as unknown as () => void)).toThrow(/callback/);
  });
});
