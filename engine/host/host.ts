import { validateProject, type Project } from '../io/project';
import { engineRequest, type EngineReply, type EngineRequest } from '../protocol/messages';
import { ProtocolError } from '../protocol/check';
import { analyzeProject } from '../train/analysis';
import { StudioError } from '../util/errors';

/** The one thing the host needs of its transport: send a message, receive messages. */
export interface HostPort {
  post(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

/**
 * The engine host: validates each request against the protocol, does the work, and replies with the same id.
 * The same code runs in Electron's utility process, in a Node child process (web mode, tests) and in-process.
 */
export function serveEngine(port: HostPort): void {
  port.onMessage((raw) => {
    let request: EngineRequest;
    try {
      request = engineRequest(raw);
    } catch (e) {
      const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : -1;
      port.post({ id, ok: false, error: { message: e instanceof ProtocolError ? e.message : String(e) } } satisfies EngineReply);
      return;
    }
    void handle(request).then((reply) => port.post(reply));
  });
}

async function handle(r: EngineRequest): Promise<EngineReply> {
  try {
    switch (r.type) {
      case 'compile': {
        const problems = validateProject(r.project);
        if (problems.length) {
          const p = problems[0];
          return { id: r.id, ok: false, error: { message: p.message, where: { path: p.path, ...(p.node ? { node: p.node } : {}) } } };
        }
        const { ok, errors, parameterCount, planBytes } = analyzeProject(r.project as Project);
        return { id: r.id, ok: true, result: { ok, errors, parameterCount, ...(planBytes !== undefined ? { planBytes } : {}) } };
      }
    }
  } catch (e) {
    if (e instanceof StudioError) return { id: r.id, ok: false, error: { message: e.message, where: e.where } };
    return { id: r.id, ok: false, error: { message: `internal error: ${e instanceof Error ? e.message : String(e)}` } };
  }
}
