/**
 * A FileChooserHost (renderer/src/lib/data.svelte.ts) faked for the choosing tests: the bridge records each request
 * and answers `shell` (or throws it, when it is an Error); the page's picker records its arguments and answers `pick`.
 */
import type { FileChooserHost } from '../../renderer/src/lib/data.svelte';

export interface ChooserAnswers {
  pick?: string | null;
  shell?: { path: string } | null | Error;
  baseDir?: string;
}

export function fakeFileChooser(platform: 'electron' | 'web', answers: ChooserAnswers): { h: FileChooserHost; requests: unknown[]; picks: unknown[] } {
  const requests: unknown[] = [];
  const picks: unknown[] = [];
  const h: FileChooserHost = {
    bridge: {
      platform,
      request: (async (req: unknown) => {
        requests.push(req);
        if (answers.shell instanceof Error) throw answers.shell;
        return answers.shell;
      }) as FileChooserHost['bridge']['request'],
    },
    baseDir: () => answers.baseDir,
    pick: async (mode, name, filter) => {
      picks.push({ mode, name, filter });
      return answers.pick ?? null;
    },
  };
  return { h, requests, picks };
}
