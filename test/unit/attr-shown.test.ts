/** Which attributes the inspector shows (engine/graph/attrs.ts's attrShown), by the catalogue's own specs. */
import { describe, expect, test } from 'vitest';
import { attrShown, type AttrSpec } from '../../engine/graph/attrs';
import { opSpec } from '../../engine/graph/catalogue';

const shown = (op: string, attrs: Record<string, unknown>) => {
  const specs = opSpec(op)!.attrs;
  return specs.filter((s) => attrShown(s, specs, attrs)).map((s) => s.name);
};

describe('attrShown', () => {
  test.each([
    ['dense', {}, ['units', 'activation', 'bias', 'init']],
    ['dense', { init: 'he' }, ['units', 'activation', 'bias', 'init']],
    ['dense', { init: 'constant' }, ['units', 'activation', 'bias', 'init', 'value']],
    ['dense', { init: 'normal', std: 0.1 }, ['units', 'activation', 'bias', 'init', 'std']],
    ['dense', { init: 'uniform', std: 0.1 }, ['units', 'activation', 'bias', 'init', 'low', 'high']],
    ['parameter', { shape: [2], init: 'normal' }, ['shape', 'init', 'std']],
  ])('%s with %j shows %j', (op, attrs, names) => {
    expect(shown(op, attrs)).toEqual(names);
  });

  // Where the other attribute is unset, its default decides.
  const specs: AttrSpec[] = [
    { name: 'mode', kind: { type: 'enum', options: ['a', 'b'] }, default: 'b', doc: '' },
    { name: 'x', kind: { type: 'number' }, default: 0, doc: '', shownWhen: { attr: 'mode', in: ['b'] } },
  ];
  test.each([
    [{}, true],
    [{ mode: 'b' }, true],
    [{ mode: 'a' }, false],
  ])('an unset attribute counts as its default: %j', (attrs, want) => {
    expect(attrShown(specs[1], specs, attrs)).toBe(want);
  });
});
