/**
 * The shell service over Electron's policy with a fake dialog, for the file- and folder-choosing tests: an open
 * dialog records its options in `asked` and answers the next of `answers` (canceled once they run out); a save
 * dialog cancels. Its documents folder is `tmp/docs`, its user data `tmp/userData`.
 */
import { join } from 'node:path';
import { electronPolicy, type DialogApi } from '../../electron/electron-policy';
import { createShellService, type ShellService } from '../../electron/shell-service';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

export interface FakeElectronShell {
  service: ShellService;
  answers: { canceled: boolean; filePaths: string[] }[];
  asked: { title?: string; defaultPath?: string; properties: string[]; filters: unknown }[];
}

export function fakeElectronShell(tmp: string): FakeElectronShell {
  const answers: FakeElectronShell['answers'] = [];
  const asked: FakeElectronShell['asked'] = [];
  const dialog: DialogApi = {
    async showOpenDialog(options) {
      asked.push(options);
      return answers.shift() ?? { canceled: true, filePaths: [] };
    },
    async showSaveDialog() {
      return { canceled: true };
    },
  };
  const policy = electronPolicy({ dialog, examplesDir: EXAMPLES, documentsDir: join(tmp, 'docs') });
  return { service: createShellService({ policy, dataDir: join(tmp, 'userData'), examplesDir: EXAMPLES, version: '1' }), answers, asked };
}
