/**
 * The engine host's entry. It runs unchanged as Electron's utility process (talking over the MessagePort that
 * main hands it) and as a Node child process (web mode and tests, over process.send); only this adapter differs.
 */
import { serveEngine, type HostPort } from './host';

interface ElectronMessagePort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  on(event: 'close', listener: () => void): void;
  postMessage(message: unknown): void;
  start(): void;
}
interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown; ports: ElectronMessagePort[] }) => void): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

if (parentPort) {
  // Electron: main sends one message carrying the port to the renderer's end of the channel.
  parentPort.on('message', (e) => {
    const port = e.ports[0];
    if (!port) return;
    const host: HostPort = {
      post: (m) => port.postMessage(m),
      onMessage: (h) => port.on('message', (ev) => h(ev.data)),
      // A page reload hands over a new port; the old page's training stops with its port.
      onClose: (h) => port.on('close', h),
    };
    serveEngine(host);
    port.start();
  });
} else if (process.send) {
  serveEngine({
    post: (m) => {
      if (process.connected) process.send!(m);
    },
    onMessage: (h) => process.on('message', h),
  });
  // The parent is gone (web mode's server stopped or crashed): a training loop must not outlive it.
  process.on('disconnect', () => process.exit(0));
} else {
  console.error('engine host: start me as an Electron utility process or a Node child process with an IPC channel');
  process.exit(2);
}
