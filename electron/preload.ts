/**
 * The preload (sandboxed, bundled to one CommonJS file with only `electron` external). It exposes the page a small
 * typed API and nothing else: `window.studio` (StudioBridge in engine/protocol/messages.ts), and hands the
 * engine's MessagePort to the page as a window message (ENGINE_PORT_MESSAGE) after each load and engine restart.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { Check } from '../engine/protocol/check';
import {
  ENGINE_PORT_MESSAGE,
  engineStatus,
  menuCommand,
  type ShellReply,
  type ShellRequest,
  type StudioBridge,
} from '../engine/protocol/messages';

declare const window: { postMessage(message: unknown, targetOrigin: string, transfer?: unknown[]): void };

ipcRenderer.on('engine-port', (e: IpcRendererEvent) => {
  window.postMessage(ENGINE_PORT_MESSAGE, '*', e.ports);
});

/** Listens on `channel`, passing on only what the protocol's check accepts. */
function subscribe<T>(channel: string, check: Check<T>, callback: (value: T) => void): () => void {
  if (typeof callback !== 'function') throw new TypeError(`${channel}: expected a callback`);
  const listener = (_e: IpcRendererEvent, message: unknown): void => {
    let value: T;
    try {
      value = check(message);
    } catch {
      return;
    }
    callback(value);
  };
  ipcRenderer.on(channel, listener);
  return () => {
    ipcRenderer.removeListener(channel, listener);
  };
}

const studio: StudioBridge = {
  platform: 'electron',
  request: (request: ShellRequest) => ipcRenderer.invoke('shell', request) as Promise<ShellReply>,
  onMenu: (callback) => subscribe('menu', menuCommand, callback),
  onEngineStatus: (callback) => subscribe('engine-status', engineStatus, callback),
};

contextBridge.exposeInMainWorld('studio', studio);
