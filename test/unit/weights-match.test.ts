import { describe, expect, it } from 'vitest';
import type { GraphNode } from '../../engine/graph/expand';
import { initTensor } from '../../engine/graph/init';
import type { Tensor } from '../../engine/io/safetensors';
import {
  describeProblems,
  matchWeights,
  partialWeights,
  reportLines,
  requireExactFit,
  WeightsMismatchError,
  type WeightsReport,
} from '../../engine/io/weights-match';

/** input [3] -> dense 4 (h) -> batchnorm (bn) -> dense 2 (out, no bias); parameter w [2]. */
const NODES: GraphNode[] = [
  { id: 'x', op: 'input', attrs: { shape: [3] } },
  { id: 'h', op: 'dense', attrs: { units: 4 }, inputs: { x: 'x' } },
  { id: 'bn', op: 'batchnorm', inputs: { x: 'h' } },
  { id: 'out', op: 'dense', attrs: { units: 2, bias: false }, inputs: { x: 'bn' } },
  { id: 'w', op: 'parameter', attrs: { shape: [2] } },
];

const t = (...shape: number[]): Tensor => ({ shape, data: Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, (_, i) => i + 1) });

/** Every tensor of NODES with its right shape. */
const exact = (): Record<string, Tensor> => ({
  'h.weight': t(4, 3),
  'h.bias': t(4),
  'bn.weight': t(4),
  'bn.bias': t(4),
  'bn.running_mean': t(4),
  'bn.running_var': t(4),
  'out.weight': t(2, 4),
  w: t(2),
});

const without = (names: string[], extra: Record<string, Tensor> = {}) => {
  const all = { ...exact(), ...extra };
  for (const n of names) delete all[n];
  return all;
};

describe('matchWeights', () => {
  const cases: [string, Record<string, Tensor>, Omit<WeightsReport, 'matched'>][] = [
    ['every tensor, right shapes', exact(), { missing: [], unexpected: [], misshaped: [] }],
    ['a missing bias and running statistic', without(['h.bias', 'bn.running_var']), {
      missing: [{ name: 'h.bias', shape: [4] }, { name: 'bn.running_var', shape: [4] }],
      unexpected: [],
      misshaped: [],
    }],
    ['an extra tensor, and out.bias of a layer without one', without([], { 'out.bias': t(2), 'z.weight': t(1) }), {
      missing: [],
      unexpected: [{ name: 'out.bias', shape: [2] }, { name: 'z.weight', shape: [1] }],
      misshaped: [],
    }],
    ['a dense weight in the wrong layout', without([], { 'h.weight': t(3, 4) }), {
      missing: [],
      unexpected: [],
      misshaped: [{ name: 'h.weight', expected: [4, 3], found: [3, 4] }],
    }],
    ['standardisation statistics of the input', without([], { 'data.x.mean': t(3), 'data.x.std': t(3) }), { missing: [], unexpected: [], misshaped: [] }],
    ['statistics of another shape, and of a node that is no input', without([], { 'data.x.mean': t(4), 'data.h.std': t(4) }), {
      missing: [],
      unexpected: [{ name: 'data.h.std', shape: [4] }],
      misshaped: [{ name: 'data.x.mean', expected: [3], found: [4] }],
    }],
    ["PyTorch's batchnorm counter is ignored; on a dense layer it is unexpected", without([], { 'bn.num_batches_tracked': t(), 'h.num_batches_tracked': t() }), {
      missing: [],
      unexpected: [{ name: 'h.num_batches_tracked', shape: [] }],
      misshaped: [],
    }],
  ];
  it.each(cases)('%s', (_what, tensors, problems) => {
    const r = matchWeights(NODES, tensors);
    expect({ missing: r.missing, unexpected: r.unexpected, misshaped: r.misshaped }).toEqual(problems);
    const listed = [...r.missing, ...r.unexpected, ...r.misshaped].map((p) => p.name);
    const ignored = Object.keys(tensors).filter((n) => n === 'bn.num_batches_tracked');
    // every tensor of the file is matched, unexpected, mis-shaped or ignored, exactly once
    expect([...r.matched, ...listed.filter((n) => n in tensors), ...ignored].sort()).toEqual(Object.keys(tensors).sort());
  });
});

describe('requireExactFit', () => {
  it('passes a file that fits, statistics and batchnorm counter included', () => {
    expect(() => requireExactFit(NODES, without([], { 'data.x.mean': t(3), 'data.x.std': t(3), 'bn.num_batches_tracked': t() }))).not.toThrow();
  });

  it('throws the whole report, with a message that lists the problems and names the first node', () => {
    const tensors = without(['w'], { 'h.weight': t(3, 4), extra: t(1) });
    let error: unknown;
    try {
      requireExactFit(NODES, tensors);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WeightsMismatchError);
    const e = error as WeightsMismatchError;
    expect(e.report).toEqual(matchWeights(NODES, tensors));
    expect(e.where).toEqual({ node: 'h' });
    expect(e.message).toBe(
      'the weights do not fit this graph: missing tensor w; unexpected tensor extra (no such parameter in the graph); ' +
        'h.weight has shape [3, 4] in the file, the graph needs [4, 3]',
    );
  });

  it('shortens long lists', () => {
    const many = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x${i}`, t(1)]));
    expect(describeProblems(matchWeights(NODES, without([], many)))).toBe(
      'unexpected tensors x0, x1, x2, x3, x4, x5, x6, x7 and 2 more (no such parameter in the graph)',
    );
  });
});

describe('partialWeights', () => {
  it('keeps matched tensors, starts the missing and mis-shaped ones from their seeded values, drops the rest', () => {
    const file = without(['h.bias', 'w'], { 'out.weight': t(4, 2), stray: t(5), 'data.x.mean': t(3), 'data.x.std': t(3) });
    const { weights, report } = partialWeights(NODES, file, 7);
    expect(Object.keys(weights).sort()).toEqual([...Object.keys(exact()), 'data.x.mean', 'data.x.std'].sort());
    for (const name of report.matched) expect(weights[name]).toBe(file[name]);
    expect(weights['out.weight'].shape).toEqual([2, 4]);
    expect([...weights['out.weight'].data]).toEqual([...initTensor('out.weight', [2, 4], { init: 'xavier' }, 7)]);
    expect([...weights['h.bias'].data]).toEqual([0, 0, 0, 0]);
    expect(() => requireExactFit(NODES, weights)).not.toThrow();
    expect(reportLines(report)).toEqual([
      'weights: 7 tensors loaded',
      '  missing w [2]: keeps its initial value',
      '  missing h.bias [4]: keeps its initial value',
      '  mis-shaped out.weight: [4, 2] in the file, [2, 4] in the graph: keeps its initial value',
      '  unexpected stray [5]: ignored',
    ]);
  });
});
