/** The inspector's Jacobian (renderer/src/lib/jacobian-view.ts): its sources, the matrix, cells and CSV by hand. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProject } from '../../engine/io/project';
import type { JacobianResult } from '../../engine/protocol/messages';
import { analyze } from '../../renderer/src/lib/analysis';
import { cellRgba, imagesLayout, indexLabel, jacobianMatrix, jacobianSources, jacobianTable, matrixLayout } from '../../renderer/src/lib/jacobian-view';

const example = (name: string) => parseProject(readFileSync(new URL(`../../examples/${name}.bpstudio`, import.meta.url), 'utf8'));

describe('what a Jacobian is taken with respect to', () => {
  it.each([
    ['spiral', 'h2', ['x', 'h2.weight', 'h2.bias']],
    ['spiral', 'loss', ['x']],
    // seed-function: f reads both inputs, through primitives without tensors of their own
    ['seed-function', 'f', ['x1', 'x2']],
    ['seed-function', 'ln_x1', ['x1']],
  ])('%s %s', (name, id, want) => {
    const p = example(name);
    expect(jacobianSources(p, id, analyze(p.graph.nodes).params.get(id) ?? [])).toEqual(want);
  });

  it('leaves out tensors that are not trained (a batch norm\'s running statistics)', () => {
    const p = example('wine');
    const norm = p.graph.nodes.find((n) => n.op === 'batchnorm')!.id;
    const sources = jacobianSources(p, norm, analyze(p.graph.nodes).params.get(norm) ?? []);
    expect(sources.filter((s) => s.includes('running'))).toEqual([]);
    expect(sources).toContain(`${norm}.weight`);
  });
});

const reply = (shape: number[], ofRank: number, values: (number | null)[]): JacobianResult => ({ job: 1, step: 5, of: 'out', wrt: 'x', rows: 1, shape, ofRank, values });

describe('the matrix', () => {
  it('puts the node\'s elements down and the source\'s across, with the largest finite magnitude', () => {
    expect(jacobianMatrix(reply([1, 3, 1, 2], 2, [1, -4, 0, 2, null, 3]))).toEqual({ rows: 3, cols: 2, ofShape: [1, 3], wrtShape: [1, 2], maxAbs: 4 });
    expect(jacobianMatrix(reply([2], 0, [0, 0]))).toEqual({ rows: 1, cols: 2, ofShape: [], wrtShape: [2], maxAbs: 0 });
  });

  it('labels an element by its index', () => {
    expect(indexLabel([1, 3], 2)).toBe('[0, 2]');
    expect(indexLabel([2, 3, 4], 23)).toBe('[1, 2, 3]');
    expect(indexLabel([], 0)).toBe('[]');
  });

  it('colours blue below zero and red above, as opaque as the value is strong against the largest', () => {
    expect(cellRgba(-2, 4)).toEqual([33, 102, 172, 128]);
    expect(cellRgba(4, 4)).toEqual([178, 24, 43, 255]);
    expect(cellRgba(0, 4)[3]).toBe(0);
    expect(cellRgba(1, 0)[3]).toBe(0);
    expect(cellRgba(null, 4)).toEqual([128, 128, 128, 255]);
  });

  it('writes a row per element of the node, a column per element of the source', () => {
    expect(jacobianTable(reply([1, 2, 3], 2, [1, 2, 3, 4, 5, 6]))).toEqual({ header: ['out \\ x', '[0]', '[1]', '[2]'], rows: [['[0, 0]', 1, 2, 3], ['[0, 1]', 4, 5, 6]] });
  });
});

describe('the picture', () => {
  it('draws the matrix a pixel a cell, and finds the cell under a pixel', () => {
    const l = matrixLayout(jacobianMatrix(reply([1, 3, 1, 2], 2, [1, 2, 3, 4, 5, 6])));
    expect([l.width, l.height]).toEqual([2, 3]);
    expect(l.at(2, 1)).toEqual([1, 2]);
    expect(l.cellAt(1, 2)).toEqual([2, 1]);
    expect(l.cellAt(2, 0)).toBeNull();
  });

  it('draws each row as an image of an image source, channels side by side, and back', () => {
    // 3 class scores by an image [1, 2 channels, 2, 3], two images to a row: 2 x (6 + 1 + 6) wide, 2 x (2 + 1) - 1 high
    const m = jacobianMatrix(reply([1, 3, 1, 2, 2, 3], 2, new Array(36).fill(0)));
    const l = imagesLayout(m, 2)!;
    expect([l.width, l.height]).toEqual([13, 5]);
    // row 1, channel 1, y 1, x 2: j = 6 + 3 + 2 = 11; the second image of the first row, pixel (7 + 3 + 2, 1)
    expect(l.at(1, 11)).toEqual([12, 1]);
    expect(l.cellAt(12, 1)).toEqual([1, 11]);
    // row 2 starts the second row of images
    expect(l.at(2, 0)).toEqual([0, 3]);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 12; j++) expect(l.cellAt(...l.at(i, j))).toEqual([i, j]);
    // the gaps, and the place of a fourth image that is not there
    expect(l.cellAt(6, 0)).toBeNull();
    expect(l.cellAt(0, 2)).toBeNull();
    expect(l.cellAt(8, 3)).toBeNull();
  });

  it('is no image where the source is not one', () => {
    expect(imagesLayout(jacobianMatrix(reply([1, 3, 1, 64], 2, new Array(192).fill(0))), 2)).toBeNull();
    expect(imagesLayout(jacobianMatrix(reply([1, 3, 1, 1, 8], 2, new Array(24).fill(0))), 2)).toBeNull();
  });
});
