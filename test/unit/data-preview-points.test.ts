/**
 * data.preview's scatter points: two feature columns against each other, or for a label and one feature, the
 * feature against the label (`labelAxis`), which the Fit tab draws its curves over.
 */
import { describe, expect, it } from 'vitest';
import type { Project } from '../../engine/io/project';
import { EXAMPLES, example } from './host-harness';
import { previewData } from './preview-sync';

/** Inline data: x1, x2 and a real label t = x1 + 10 x2 (so which column went where shows). */
function inline(inputs: { id: string; features?: string[] }[]): Project {
  return {
    format: 'backprop-studio/project',
    version: 1,
    name: 'inline',
    graph: { nodes: inputs.map(({ id, features }) => ({ id, op: 'input', attrs: { shape: [features?.length ?? 2], ...(features ? { features } : {}) } })) },
    data: { kind: 'inline', columns: { x1: [1, 2, 3], x2: [4, 5, 6], t: [41, 52, 63] }, label: 't' },
  } as unknown as Project;
}

const withInputFeatures = (name: string, features: string[]) => {
  const p = example(name);
  p.graph.nodes = p.graph.nodes.map((n) => (n.op === 'input' ? { ...n, attrs: { ...(n.attrs as object), shape: [features.length], features } } : n));
  return p as unknown as Project;
};

describe('data.preview: scatter points', () => {
  it.each([
    // name, project, features, x1, x2 (null: no points)
    ['two features read', inline([{ id: 'x' }]), ['x1', 'x2'], [1, 2, 3], [4, 5, 6]],
    ['one feature read, real label: the feature against the label', inline([{ id: 'x', features: ['x2'] }]), ['x2', 't'], [4, 5, 6], [41, 52, 63]],
    ['one input of each feature: the two', inline([{ id: 'a', features: ['x1'] }, { id: 'b', features: ['x2'] }]), ['x1', 'x2'], [1, 2, 3], [4, 5, 6]],
  ] as const)('%s', (_, project, features, x1, x2) => {
    const p = previewData(project, undefined).points!;
    expect([p.features, p.x1, p.x2, p.label]).toEqual([features, x1, x2, [41, 52, 63]]);
    expect(p.labelAxis).toBe(features[1] === 't' ? true : undefined);
  });

  it('the sine example: x against y, 400 points of sin(x) + noise', () => {
    const p = previewData(example('sine') as unknown as Project, EXAMPLES).points!;
    expect([p.features, p.labelAxis, p.x1.length, p.sampled]).toEqual([['x', 'y'], true, 400, false]);
    expect(p.x2).toEqual(p.label);
    const residual = p.x1.map((x, i) => p.x2[i] - Math.sin(x));
    expect(Math.sqrt(residual.reduce((a, r) => a + r * r, 0) / residual.length)).toBeCloseTo(0.1, 1);
  });

  it("a class label and one feature: the feature against the class's index; no points for more than two features", () => {
    const p = previewData(withInputFeatures('iris', ['petal_length_cm']), EXAMPLES).points!;
    expect([p.features, p.labelAxis, p.x1.length]).toEqual([['petal_length_cm', 'species'], true, 150]);
    expect(p.x2).toEqual(p.label);
    expect(new Set(p.x2)).toEqual(new Set([0, 1, 2]));
    expect(previewData(example('iris') as unknown as Project, EXAMPLES).points).toBeUndefined();
  });
});
