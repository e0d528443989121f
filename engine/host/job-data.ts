/** What the engine host needs of a request's project and data before it can load or train them. */
import { isAbsolute } from 'node:path';
import type { LoadOptions } from '../data/load';
import type { DataSpec } from '../data/types';
import { validateProject, type Project } from '../io/project';
import { StudioError } from '../util/errors';

/** A project from the wire, checked against the schema (the first problem is thrown, naming its path and node). */
export function projectOf(raw: unknown): Project {
  const problems = validateProject(raw);
  if (problems.length) {
    const p = problems[0];
    throw new StudioError(p.message, { path: p.path, ...(p.node ? { node: p.node } : {}) });
  }
  return raw as Project;
}

/**
 * The folder that the data's relative paths are read against: `baseDir` (the project file's folder). Without one
 * (a project not saved yet) a relative path is an error that says so; absolute paths, builtins and inline data need
 * none.
 */
export function dataBaseDir(data: DataSpec, baseDir: string | undefined): string {
  if (baseDir !== undefined && baseDir !== '') return baseDir;
  const paths: [string, unknown][] =
    data.kind === 'csv'
      ? [['path', data.path]]
      : data.kind === 'idx'
        ? [['images', data.images], ['labels', data.labels]]
        : data.kind === 'images'
          ? [['folder', data.folder]]
          : [];
  for (const [key, path] of paths) {
    if (typeof path === 'string' && path !== '' && !isAbsolute(path)) {
      throw new StudioError(`the data path "${path}" is relative to the project file: save the project first (or give an absolute path)`, {
        path: `data.${key}`,
      });
    }
  }
  return '.';
}

export function dataOptions(data: DataSpec, baseDir: string | undefined, seed: number): LoadOptions {
  return { baseDir: dataBaseDir(data, baseDir), seed };
}
