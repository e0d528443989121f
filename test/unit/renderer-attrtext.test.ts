/**
 * The inspector's text forms of attribute values (renderer/src/lib/attrtext.ts), for every attribute kind of the
 * catalogue, and the UI's number formats (renderer/src/lib/format.ts).
 */
import { describe, expect, it } from 'vitest';
import { checkAttr, type AttrSpec } from '../../engine/graph/attrs';
import { CATALOGUE, opSpec } from '../../engine/graph/catalogue';
import { formatAttr, parseAttr, placeholderOf } from '../../renderer/src/lib/attrtext';
import { attrValue, basename, bytes, count, num4, shape } from '../../renderer/src/lib/format';

/** The catalogue's spec of `op.attr`. */
function spec(op: string, attr: string): AttrSpec {
  const s = opSpec(op)?.attrs.find((a) => a.name === attr);
  if (!s) throw new Error(`no attribute ${op}.${attr}`);
  return s;
}

const OK = (value: unknown) => ({ ok: true, value });
const BAD = (message: string | RegExp) => ({ ok: false, message: typeof message === 'string' ? message : expect.stringMatching(message) });

describe('parseAttr', () => {
  // [op.attr (its kind), typed text, what it means]
  const table: [string, string, string, unknown][] = [
    // int
    ['dense', 'units', '16', OK(16)],
    ['dense', 'units', ' 16 ', OK(16)],
    ['dense', 'units', '+3', OK(3)],
    ['dense', 'units', '1e3', OK(1000)],
    ['dense', 'units', '2.0', OK(2)],
    ['dense', 'units', '-4', OK(-4)], // parses; checkAttr says it is below the minimum
    ['dense', 'units', '2.5', BAD('"2.5" is not an integer')],
    ['dense', 'units', 'sixteen', BAD('"sixteen" is not a number')],
    ['dense', 'units', '0x10', BAD('"0x10" is not a number')],
    ['dense', 'units', '16px', BAD('"16px" is not a number')],
    ['dense', 'units', '', OK(undefined)], // empty: unset, the default applies
    // number
    ['dropout', 'rate', '0.25', OK(0.25)],
    ['dropout', 'rate', '.5', OK(0.5)],
    ['dropout', 'rate', '5.', OK(5)],
    ['dropout', 'rate', '-1e-3', OK(-0.001)],
    ['dropout', 'rate', '1E2', OK(100)],
    ['dropout', 'rate', 'NaN', BAD('"NaN" is not a number')],
    ['dropout', 'rate', 'Infinity', BAD('"Infinity" is not a number')],
    ['dropout', 'rate', '1,5', BAD('"1,5" is not a number')],
    ['dropout', 'rate', '.', BAD('"." is not a number')],
    ['dropout', 'rate', '   ', OK(undefined)],
    // axis
    ['softmax', 'axis', '-1', OK(-1)],
    ['softmax', 'axis', '2', OK(2)],
    ['softmax', 'axis', '1.5', BAD('"1.5" is not an integer axis')],
    ['softmax', 'axis', 'last', BAD('"last" is not a number')],
    // shape
    ['input', 'shape', '2, 3', OK([2, 3])],
    ['input', 'shape', '[2,3]', OK([2, 3])],
    ['input', 'shape', ' [ 2 , 3 ] ', OK([2, 3])],
    ['input', 'shape', '2 3', OK([2, 3])],
    ['input', 'shape', '784', OK([784])],
    ['input', 'shape', '[]', OK([])],
    ['input', 'shape', '', OK(undefined)],
    ['input', 'shape', '2, x', BAD('"x" is not an integer')],
    ['input', 'shape', '2.5, 3', BAD('"2.5" is not an integer')],
    ['input', 'shape', '[[2, 3]]', BAD(/is not an integer/)],
    ['reshape', 'shape', '-1, 4', OK([-1, 4])],
    // axes (negatives allowed)
    ['sum', 'axes', '-1', OK([-1])],
    ['sum', 'axes', '0, -2', OK([0, -2])],
    ['sum', 'axes', '[1, 2]', OK([1, 2])],
    ['sum', 'axes', '[]', OK([])],
    ['sum', 'axes', '', OK(undefined)],
    ['sum', 'axes', '1, two', BAD('"two" is not an integer')],
    ['transpose', 'perm', '1, 0', OK([1, 0])],
    // pair
    ['conv2d', 'kernel', '3', OK(3)],
    ['conv2d', 'kernel', '3, 5', OK([3, 5])],
    ['conv2d', 'kernel', '[3,5]', OK([3, 5])],
    ['conv2d', 'kernel', '1, 2, 3', BAD('write one integer or two (h, w)')],
    ['conv2d', 'kernel', '[]', BAD('write one integer or two (h, w)')],
    ['conv2d', 'kernel', '3x3', BAD('"3x3" is not an integer')],
    ['maxpool2d', 'stride', '', OK(undefined)],
    // padding
    ['conv2d', 'padding', 'same', OK('same')],
    ['conv2d', 'padding', '"same"', OK('same')],
    ['conv2d', 'padding', ' same ', OK('same')],
    ['conv2d', 'padding', '1', OK(1)],
    ['conv2d', 'padding', '1, 2', OK([1, 2])],
    ['conv2d', 'padding', 'valid', BAD('write "same", one integer or two (h, w)')],
    ['conv2d', 'padding', '1, 2, 3', BAD('write "same", one integer or two (h, w)')],
    // tensor (JSON)
    ['constant', 'value', '3.5', OK(3.5)],
    ['constant', 'value', '[[1, 2], [3, 4]]', OK([[1, 2], [3, 4]])],
    ['constant', 'value', '[1, 2', BAD(/is not valid JSON/)],
    ['constant', 'value', '{1}', BAD(/is not valid JSON/)],
    ['constant', 'value', 'one', BAD(/is not valid JSON/)],
    ['constant', 'value', '"1"', OK('1')], // valid JSON; checkAttr refuses it
    // strings
    ['input', 'features', 'a, b', OK(['a', 'b'])],
    ['input', 'features', '["a", "b"]', OK(['a', 'b'])],
    ['input', 'features', 'petal length, petal width', OK(['petal length', 'petal width'])],
    ['input', 'features', '', OK(undefined)],
    // string
    ['input', 'feature', 'sepal_length', OK('sepal_length')],
    ['input', 'feature', '', OK(undefined)],
    // bool
    ['dense', 'bias', 'true', OK(true)],
    ['dense', 'bias', 'false', OK(false)],
    ['dense', 'bias', 'yes', BAD('must be true or false')],
    // enum: any text parses, checkAttr judges it
    ['dense', 'activation', 'relu', OK('relu')],
    ['dense', 'activation', 'swish', OK('swish')],
  ];

  it.each(table)('%s.%s: %j', (op, attr, text, want) => {
    expect(parseAttr(spec(op, attr), text)).toEqual(want);
  });

  it('covers every attribute kind of the catalogue', () => {
    const kinds = new Set(CATALOGUE.flatMap((s) => s.attrs.map((a) => a.kind.type)));
    const tested = new Set(table.map(([op, attr]) => spec(op, attr).kind.type));
    expect([...kinds].filter((k) => !tested.has(k))).toEqual([]);
  });

  it('an empty field of a required attribute (no default) is an error, not "unset"', () => {
    const required: AttrSpec = { name: 'n', kind: { type: 'int' }, doc: '' };
    expect(parseAttr(required, '  ')).toEqual(BAD('is required'));
    expect(parseAttr({ ...required, optional: true }, '')).toEqual(OK(undefined));
  });

  it('values that parse are judged by the catalogue', () => {
    const judged = (op: string, attr: string, text: string) => {
      const p = parseAttr(spec(op, attr), text);
      return p.ok && p.value !== undefined ? checkAttr(spec(op, attr), p.value) : null;
    };
    expect(judged('dense', 'units', '-4')).toMatch(/at least 1/);
    expect(judged('dense', 'activation', 'swish')).toMatch(/must be one of/);
    expect(judged('constant', 'value', '"1"')).toMatch(/number/);
    expect(judged('input', 'shape', '0, 3')).toMatch(/positive/);
    expect(judged('conv2d', 'kernel', '0')).toMatch(/>= 1/);
    expect(judged('conv2d', 'padding', 'same')).toBeNull();
    expect(judged('sum', 'axes', '-1')).toBeNull();
  });
});

describe('formatAttr and placeholders', () => {
  it.each([
    ['input', 'shape', [2, 3], '2, 3'],
    ['input', 'shape', [784], '784'],
    ['sum', 'axes', [0, -1], '0, -1'],
    ['conv2d', 'kernel', 3, '3'],
    ['conv2d', 'kernel', [3, 5], '3, 5'],
    ['conv2d', 'padding', 'same', 'same'],
    ['conv2d', 'padding', [1, 2], '1, 2'],
    ['constant', 'value', [[1, 2], [3, 4]], '[[1,2],[3,4]]'],
    ['constant', 'value', 0.5, '0.5'],
    ['input', 'features', ['a', 'b'], 'a, b'],
    ['input', 'feature', 'x1', 'x1'],
    ['dense', 'units', 16, '16'],
    ['dense', 'bias', false, 'false'],
    ['dense', 'activation', 'relu', 'relu'],
    ['dropout', 'rate', 0.1, '0.1'],
    ['dense', 'units', undefined, ''],
    // A value of the wrong type (from a hand-edited file) is still shown, so that it can be fixed.
    ['dense', 'units', [1, 2], '[1,2]'],
    ['input', 'feature', 3, '3'],
  ])('%s.%s: %j shows as %j', (op, attr, value, text) => {
    expect(formatAttr(spec(op, attr), value)).toBe(text);
  });

  it.each([
    ['dense', 'units', 16],
    ['dense', 'activation', 'tanh'],
    ['dense', 'bias', false],
    ['dropout', 'rate', 0.125],
    ['softmax', 'axis', -2],
    ['input', 'shape', [28, 28, 1]],
    ['reshape', 'shape', [-1, 4]],
    ['sum', 'axes', [0, -1]],
    ['transpose', 'perm', [1, 0, 2]],
    ['conv2d', 'kernel', 5],
    ['conv2d', 'kernel', [3, 5]],
    ['conv2d', 'padding', 'same'],
    ['conv2d', 'padding', [0, 2]],
    ['constant', 'value', [[1.5, -2], [3e-7, 4]]],
    ['input', 'features', ['sepal length', 'petal width']],
    ['input', 'feature', 'age'],
  ])('round trip %s.%s = %j: parse(format(v)) is v', (op, attr, value) => {
    const s = spec(op, attr);
    expect(parseAttr(s, formatAttr(s, value))).toEqual(OK(value));
  });

  // An empty list shows as "[]": for `sum.axes` it means "reduce nothing" while unset means "all but the batch
  // dimension"; for `reshape.shape` it means a scalar while the default is [-1].
  it.each([
    ['sum', 'axes'],
    ['reshape', 'shape'],
    ['transpose', 'perm'],
  ])('round trip %s.%s = []: an empty list is not shown as unset', (op, attr) => {
    const s = spec(op, attr);
    expect(parseAttr(s, formatAttr(s, []))).toEqual(OK([]));
  });

  it.each([
    ['dense', 'units', '16'],
    ['dense', 'activation', 'none'],
    ['input', 'shape', '[] (scalar)'],
    ['reshape', 'shape', '-1'],
    ['sum', 'axes', 'automatic'],
    ['maxpool2d', 'stride', 'automatic'],
    ['conv2d', 'kernel', '3'],
    ['constant', 'value', '0'],
    ['batchnorm', 'eps', '0.00001'],
  ])('placeholder of %s.%s is %j', (op, attr, want) => {
    expect(placeholderOf(spec(op, attr))).toBe(want);
  });

  it('a required attribute\'s placeholder says so', () => {
    expect(placeholderOf({ name: 'n', kind: { type: 'int' }, doc: '' })).toBe('required');
  });
});

describe('number formats', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [42, '42'],
    [9999, '9999'],
    [12345, '12350'],
    [123456.7, '123500'],
    [0.1, '0.1'],
    [0.1 + 0.2, '0.3'],
    [1 / 3, '0.3333'],
    [2 / 3, '0.6667'],
    [-1.23456, '-1.235'],
    [3.14159, '3.142'],
    [0.0001, '0.0001'],
    [0.00001234, '1.234e-5'],
    [1e-8, '1e-8'],
    [1e6, '1e+6'],
    [1234567, '1.235e+6'],
    [-2.5e9, '-2.5e+9'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
  ])('num4(%s) is %j', (x, want) => {
    expect(num4(x)).toBe(want);
  });

  it('num4 never shows more than 4 significant digits', () => {
    for (const x of [Math.PI, Math.E * 1e5, 1 / 7, 123.456789, 0.000123456, 98765.4321]) {
      const digits = num4(x).replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '');
      expect(digits.length, num4(x)).toBeLessThanOrEqual(4);
    }
  });

  it.each([
    [0, '0'],
    [99, '99'],
    [9999, '9999'],
    [10_000, '10.00k'],
    [12_345, '12.35k'],
    [1_234_567, '1.235M'],
    [7_000_000_000, '7.000G'],
    [NaN, '—'],
  ])('count(%s) is %j', (n, want) => {
    expect(count(n)).toBe(want);
  });

  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.000 KB'],
    [1536, '1.500 KB'],
    [1024 * 1024, '1.000 MB'],
    [5.5 * 1024 * 1024, '5.500 MB'],
    [3 * 1024 ** 3, '3.000 GB'],
    [2 * 1024 ** 4, '2.000 TB'],
    [2 * 1024 ** 5, '2048 TB'],
    [-1, '—'],
    [NaN, '—'],
  ])('bytes(%s) is %j', (n, want) => {
    expect(bytes(n)).toBe(want);
  });

  it.each([
    [[null, 16], '[B, 16]'],
    [[], '[]'],
    [[null, 28, 28, 1], '[B, 28, 28, 1]'],
    [[3], '[3]'],
  ])('shape(%j) is %j', (s, want) => {
    expect(shape(s)).toBe(want);
  });

  it.each([
    [16, '16'],
    [0.123456, '0.1235'],
    ['relu', 'relu'],
    [true, 'yes'],
    [false, 'no'],
    [[2, 3], '[2, 3]'],
    [[[0.333333, 1], [2, 3]], '[[0.3333, 1], [2, 3]]'],
    [[1, 2, 3, 4, 5, 6, 7], '[7…]'],
    [[[1, 2, 3, 4], [5, 6, 7, 8]], '[2…]'],
    [null, 'null'],
    [{ a: 1 }, '{"a":1}'],
  ])('attrValue(%j) is %j', (v, want) => {
    expect(attrValue(v)).toBe(want);
  });

  it.each([
    ['spiral.bpstudio', 'spiral.bpstudio'],
    ['sub/dir/net.bpstudio', 'net.bpstudio'],
    ['C:\\Users\\me\\net.bpstudio', 'net.bpstudio'],
  ])('basename(%j) is %j', (p, want) => {
    expect(basename(p)).toBe(want);
  });
});
