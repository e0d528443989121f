import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeStaleTemps } from '../../electron/fs-util';
import { createShellService, dispatchShell } from '../../electron/shell-service';
import { webPolicy } from '../../electron/workspace';

const REPO = join(__dirname, '..', '..');
const EXAMPLES = join(REPO, 'examples');
const spiral = readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8');

let ws: string;
beforeEach(() => {
  ws = mkdtempSync(join(tmpdir(), 'bps-atomic-'));
  writeFileSync(join(ws, 'model.bpstudio'), spiral);
});
afterEach(() => rmSync(ws, { recursive: true, force: true }));

const temps = (): string[] => readdirSync(ws).filter((n) => n.endsWith('.tmp'));

describe('atomic save', () => {
  it('a process killed in the middle of a save leaves the original whole, and the next save clears its temp file', async () => {
    const target = join(ws, 'model.bpstudio');
    // A writer that saves through the same writeFileAtomic and stops for good between writing the data and
    // flushing it (its fsync is made to wait), where it is killed.
    const script = join(ws, 'writer.mts');
    writeFileSync(
      script,
      [
        "import fs from 'node:fs';",
        "import { syncBuiltinESMExports } from 'node:module';",
        'const flush = fs.fsyncSync;',
        "fs.fsyncSync = (fd) => { fs.writeSync(1, 'mid-write\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); flush(fd); };",
        'syncBuiltinESMExports();',
        `const { writeFileAtomic } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'engine/io/atomic.ts')).href)});`,
        `writeFileAtomic(${JSON.stringify(target)}, 'x'.repeat(1 << 20));`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    await new Promise<void>((ok, fail) => {
      child.stdout.on('data', (d) => String(d).includes('mid-write') && ok());
      child.once('exit', () => fail(new Error('the writer ended before writing')));
    });
    child.kill('SIGKILL');
    await exited;

    // the original is whole; what is left is the killed writer's temp file
    expect(readFileSync(target, 'utf8')).toBe(spiral);
    expect(temps()).toHaveLength(1);
    expect(readFileSync(join(ws, temps()[0])).length).toBe(1 << 20);

    const service = createShellService({ policy: webPolicy(ws), dataDir: join(ws, '.data'), examplesDir: EXAMPLES, version: '1' });
    const edited = spiral.replace('Spiral', 'Saved');
    expect((await dispatchShell(service, { type: 'save', path: 'model.bpstudio', text: edited })).ok).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(edited);
    expect(temps()).toEqual([]);
  });

  it('a failing save (a folder in the way) reports the error and leaves no temp file', async () => {
    const service = createShellService({ policy: webPolicy(ws), dataDir: join(ws, '.data'), examplesDir: EXAMPLES, version: '1' });
    const r = await dispatchShell(service, { type: 'save', path: 'model.bpstudio/inner.bpstudio', text: spiral });
    expect(r.ok).toBe(false);
    expect(temps()).toEqual([]);
    expect(readFileSync(join(ws, 'model.bpstudio'), 'utf8')).toBe(spiral);
  });

  it('removes only temp files of processes that no longer run', () => {
    const target = join(ws, 'model.bpstudio');
    writeFileSync(join(ws, '.model.bpstudio.999999.1.tmp'), 'dead');
    writeFileSync(join(ws, '.model.bpstudio.4242.1.tmp'), 'alive');
    writeFileSync(join(ws, '.other.bpstudio.999999.1.tmp'), 'not mine');
    expect(removeStaleTemps(target, (pid) => pid === 4242)).toEqual(['.model.bpstudio.999999.1.tmp']);
    expect(existsSync(join(ws, '.model.bpstudio.4242.1.tmp'))).toBe(true);
    expect(existsSync(join(ws, '.other.bpstudio.999999.1.tmp'))).toBe(true);
  });
});
