/**
 * Shared by the integration tests: run `bpstudio` in-process (fast) or as the real binary (end to end), copy the
 * examples somewhere writable, and build project variants.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../engine/cli/main';
import { readSafetensors, type Safetensors } from '../../engine/io/safetensors';

export const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
export const EXAMPLES = join(REPO, 'examples');
export const BAD = join(REPO, 'test/fixtures/bad');
export const BIN = join(REPO, 'bin/bpstudio.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `bpstudio ARGV` in this process, with its output captured. A thrown exception is a crash: it propagates. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), tty: false });
  return { code, stdout, stderr };
}

/** `node bin/bpstudio.mjs ARGV` as a child process. */
export function bin(argv: string[], cwd = REPO): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...argv], { cwd, maxBuffer: 64 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** The JSON lines of a command's stdout. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The one JSON line of a command's stdout. */
export function jsonOut(r: CliResult): Record<string, unknown> {
  const lines = jsonLines(r.stdout);
  if (lines.length !== 1) throw new Error(`expected one JSON line, got ${lines.length}:\n${r.stdout}\n${r.stderr}`);
  return lines[0];
}

/** A writable copy of `examples/` (projects and data) in a fresh temp folder, with an empty `out/`; `cleanup` removes it. */
export function tempExamples(): { dir: string; project: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bpstudio-it-'));
  cpSync(EXAMPLES, dir, { recursive: true, filter: (src) => !src.endsWith('.safetensors') });
  mkdirSync(join(dir, 'out'));
  return { dir, project: (name) => join(dir, `${name}.bpstudio`), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ProjectJson {
  name?: string;
  graph: { nodes: NodeJson[] };
  data?: Record<string, unknown>;
  training?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface NodeJson {
  id: string;
  op: string;
  attrs?: Record<string, unknown>;
  inputs?: Record<string, string>;
  [key: string]: unknown;
}

export function readProject(path: string): ProjectJson {
  return JSON.parse(readFileSync(path, 'utf8')) as ProjectJson;
}

/** Writes `project` as `name`.bpstudio in `dir`; returns its path. */
export function writeProject(dir: string, name: string, project: unknown): string {
  const path = join(dir, `${name}.bpstudio`);
  writeFileSync(path, JSON.stringify(project, null, 2));
  return path;
}

export function node(p: ProjectJson, id: string): NodeJson {
  const n = p.graph.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  return n;
}

export function readWeights(path: string): Safetensors {
  return readSafetensors(readFileSync(path), path);
}

/** Stack-trace lines: what an uncaught exception prints. */
export const STACK_TRACE = /^\s+at .+[:(]/m;
