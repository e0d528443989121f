import { describe, expect, test } from 'vitest';
import { BUILTIN_NAMES, generateBuiltin, type BuiltinSpec } from '../../engine/data/builtin';
import type { Where } from '../../engine/util/errors';

const studioError = (where: Where, message?: RegExp) =>
  expect.objectContaining({ name: 'StudioError', where, ...(message ? { message: expect.stringMatching(message) } : {}) });

const spec = (name: string, more: Partial<BuiltinSpec> = {}): BuiltinSpec => ({ kind: 'builtin', name, ...more });

function counts(values: Float32Array): number[] {
  const c: number[] = [];
  for (const v of values) c[v] = (c[v] ?? 0) + 1;
  return c;
}

function column(features: Float32Array, width: number, f: number): number[] {
  return Array.from({ length: features.length / width }, (_, r) => features[r * width + f]);
}

describe('generateBuiltin', () => {
  test('the builtins are the ones project-format.md lists', () => {
    expect([...BUILTIN_NAMES].sort()).toEqual(['circles', 'gaussians', 'moons', 'sine', 'spiral', 'xor']);
  });

  // name, spec extras, rows, class counts, bound on |feature|
  test.each([
    ['spiral', {}, 600, [200, 200, 200], 1.0001],
    ['spiral', { samples: 100, classes: 4 }, 100, [25, 25, 25, 25], 1.0001],
    ['spiral', { samples: 7, classes: 3 }, 7, [3, 2, 2], 1.0001],
    ['circles', {}, 600, [300, 300], 1.6],
    ['xor', {}, 600, [300, 300], 1.6],
    ['moons', {}, 600, [300, 300], 2.6],
    ['gaussians', {}, 600, [200, 200, 200], 3],
    ['gaussians', { classes: 5, samples: 51 }, 51, [11, 10, 10, 10, 10], 3],
  ])('%s %j: shape, class balance and range', (name, extra, rows, classCounts, bound) => {
    const d = generateBuiltin(spec(name, extra), 1);
    expect(d.name).toBe(name);
    expect(d.rows).toBe(rows);
    expect(d.featureNames).toEqual(['x1', 'x2']);
    expect(d.features.length).toBe(rows * 2);
    expect(d.label!.name).toBe('y');
    expect(d.label!.kind).toBe('class');
    expect(d.label!.classes).toEqual(classCounts.map((_, k) => String(k)));
    expect(counts(d.label!.values)).toEqual(classCounts);
    for (const v of d.features) expect(Math.abs(v)).toBeLessThan(bound);
  });

  test('spiral radius grows from 0 to 1 along each arm', () => {
    const d = generateBuiltin(spec('spiral', { samples: 300, classes: 3 }), 1);
    const radius = (r: number) => Math.hypot(d.features[2 * r], d.features[2 * r + 1]);
    for (const start of [0, 100, 200]) {
      expect(radius(start)).toBeCloseTo(0, 5);
      expect(radius(start + 99)).toBeCloseTo(1, 5);
      expect(radius(start + 50)).toBeCloseTo(50 / 99, 5);
    }
  });

  test('circles: class 0 near radius 1, class 1 near radius 0.5', () => {
    const d = generateBuiltin(spec('circles', { noise: 0 }), 1);
    for (let r = 0; r < d.rows; r++) {
      expect(Math.hypot(d.features[2 * r], d.features[2 * r + 1])).toBeCloseTo(d.label!.values[r] === 0 ? 1 : 0.5, 5);
    }
  });

  test('xor without noise: class 1 exactly where x1 and x2 differ in sign', () => {
    const d = generateBuiltin(spec('xor', { noise: 0 }), 3);
    for (let r = 0; r < d.rows; r++) expect(d.features[2 * r] * d.features[2 * r + 1] < 0 ? 1 : 0).toBe(d.label!.values[r]);
  });

  test('sine: x in [-π, π), y = sin(x) + noise', () => {
    const d = generateBuiltin(spec('sine', { samples: 200 }), 1);
    expect(d.rows).toBe(200);
    expect(d.featureNames).toEqual(['x']);
    expect(d.label!.kind).toBe('real');
    expect(d.label!.classes).toBeUndefined();
    const x = column(d.features, 1, 0);
    for (const v of x) expect(Math.abs(v)).toBeLessThanOrEqual(Math.PI);
    const residuals = x.map((v, r) => d.label!.values[r] - Math.sin(v));
    const std = Math.sqrt(residuals.reduce((a, e) => a + e * e, 0) / residuals.length);
    expect(std).toBeGreaterThan(0.07);
    expect(std).toBeLessThan(0.13);
    const exact = generateBuiltin(spec('sine', { samples: 50, noise: 0 }), 1);
    exact.label!.values.forEach((y, r) => expect(y).toBeCloseTo(Math.sin(exact.features[r]), 6));
  });

  test.each(BUILTIN_NAMES)('%s is deterministic in the seed', (name) => {
    const a = generateBuiltin(spec(name), 7);
    expect(generateBuiltin(spec(name), 7)).toEqual(a);
    expect(generateBuiltin(spec(name), 8).features).not.toEqual(a.features);
  });

  test.each([
    [spec('swirl'), /unknown builtin dataset "swirl"; the builtins are spiral, circles, xor, moons, gaussians, sine/, 'data.name'],
    [spec('spiral', { samples: 0 }), /samples/, 'data.samples'],
    [spec('spiral', { samples: 2.5 }), /samples/, 'data.samples'],
    [spec('spiral', { samples: 2, classes: 3 }), /cannot cover 3 classes/, 'data.samples'],
    [spec('spiral', { classes: 1 }), /classes must be a whole number >= 2/, 'data.classes'],
    [spec('moons', { classes: 3 }), /moons always has 2 classes/, 'data.classes'],
    [spec('sine', { classes: 2 }), /regression/, 'data.classes'],
    [spec('xor', { noise: -1 }), /noise/, 'data.noise'],
  ])('%j is refused', (s, message, path) => {
    expect(() => generateBuiltin(s, 1)).toThrow(studioError({ path }, message));
  });

  test('2-class builtins accept classes: 2', () => {
    expect(generateBuiltin(spec('xor', { classes: 2 }), 1).label!.classes).toEqual(['0', '1']);
  });
});
