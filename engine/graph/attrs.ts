/**
 * Attribute kinds of the op catalogue: data that drives validation here and the inspector's editors in the app.
 */
export type AttrKind =
  | { type: 'int'; min?: number; max?: number }
  | { type: 'number'; min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean }
  | { type: 'bool' }
  | { type: 'enum'; options: readonly string[] }
  | { type: 'string' }
  | { type: 'strings' }
  /** A list of dimensions (>= 1, or >= 0 where `allowZero`); reshape also allows one -1. */
  | { type: 'shape'; allowInfer?: boolean }
  | { type: 'axes' }
  | { type: 'axis' }
  /** An int, or a pair [h, w]. */
  | { type: 'pair'; min: number }
  /** An int, a pair [h, w], or "same". */
  | { type: 'padding' }
  /** A number or a nested array of numbers (a constant's value). */
  | { type: 'tensor' };

export interface AttrSpec {
  readonly name: string;
  readonly kind: AttrKind;
  /** Absent: required (or, with `optional`, simply unset). */
  readonly default?: unknown;
  readonly optional?: boolean;
  /** What an unset optional attribute means, as its field's placeholder says it (default: automatic). */
  readonly whenUnset?: string;
  readonly doc: string;
  /**
   * It matters only while another attribute of the op has one of these values (an init's parameters: `std` for
   * `normal`); the inspector shows it only then. It is kept, and checked, whatever the other's value.
   */
  readonly shownWhen?: { readonly attr: string; readonly in: readonly unknown[] };
}

/**
 * Whether the inspector shows an attribute of a node with these attributes: always, unless it has `shownWhen` and
 * the other attribute's value (its default where unset) is not one of those listed.
 */
export function attrShown(spec: AttrSpec, specs: readonly AttrSpec[], attrs: Readonly<Record<string, unknown>> | undefined): boolean {
  const when = spec.shownWhen;
  if (!when) return true;
  const value = attrs?.[when.attr] ?? specs.find((s) => s.name === when.attr)?.default;
  return when.in.includes(value);
}

/** Checks one attribute's value; returns a message or null. */
export function checkAttr(spec: AttrSpec, v: unknown): string | null {
  const k = spec.kind;
  const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
  switch (k.type) {
    case 'int':
      if (!isInt(v)) return `must be an integer, got ${show(v)}`;
      if (k.min !== undefined && v < k.min) return `must be at least ${k.min}, got ${v}`;
      if (k.max !== undefined && v > k.max) return `must be at most ${k.max}, got ${v}`;
      return null;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return `must be a finite number, got ${show(v)}`;
      if (k.min !== undefined && (k.exclusiveMin ? v <= k.min : v < k.min)) return `must be ${k.exclusiveMin ? 'greater than' : 'at least'} ${k.min}, got ${v}`;
      if (k.max !== undefined && (k.exclusiveMax ? v >= k.max : v > k.max)) return `must be ${k.exclusiveMax ? 'less than' : 'at most'} ${k.max}, got ${v}`;
      return null;
    case 'bool':
      return typeof v === 'boolean' ? null : `must be true or false, got ${show(v)}`;
    case 'enum':
      return typeof v === 'string' && k.options.includes(v) ? null : `must be one of ${k.options.join(', ')}; got ${show(v)}`;
    case 'string':
      return typeof v === 'string' ? null : `must be a string, got ${show(v)}`;
    case 'strings':
      return Array.isArray(v) && v.every((s) => typeof s === 'string') ? null : `must be a list of strings, got ${show(v)}`;
    case 'shape': {
      if (!Array.isArray(v) || !v.every(isInt)) return `must be a list of integers, got ${show(v)}`;
      if (v.length > 8) return `has ${v.length} dimensions; at most 8 are supported`;
      const infer = v.filter((d) => d === -1).length;
      if (infer > (k.allowInfer ? 1 : 0)) return k.allowInfer ? 'may infer (-1) one dimension only' : `dimensions must be positive, got ${show(v)}`;
      if (v.some((d) => d < 1 && d !== -1)) return `dimensions must be positive, got ${show(v)}`;
      if (v.reduce((a, d) => a * Math.abs(d), 1) > 2 ** 31) return `is too large (${show(v)})`;
      return null;
    }
    case 'axes':
      return Array.isArray(v) && v.every(isInt) ? null : `must be a list of integer axes, got ${show(v)}`;
    case 'axis':
      return isInt(v) ? null : `must be an integer axis, got ${show(v)}`;
    case 'pair':
      return (isInt(v) && v >= k.min) || (Array.isArray(v) && v.length === 2 && v.every((d) => isInt(d) && d >= k.min))
        ? null
        : `must be an integer >= ${k.min} or a pair [h, w] of them, got ${show(v)}`;
    case 'padding':
      return v === 'same' || (isInt(v) && v >= 0) || (Array.isArray(v) && v.length === 2 && v.every((d) => isInt(d) && d >= 0))
        ? null
        : `must be "same", an integer >= 0 or a pair [h, w], got ${show(v)}`;
    case 'tensor':
      return tensorValueError(v);
  }
}

function tensorValueError(v: unknown, depth = 0): string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : `must be finite numbers, got ${show(v)}`;
  if (!Array.isArray(v) || v.length === 0) return `must be a number or a non-empty nested list of numbers, got ${show(v)}`;
  if (depth > 8) return 'is nested too deeply (at most 8 dimensions)';
  const errs = v.map((x) => tensorValueError(x, depth + 1)).find((e) => e !== null);
  if (errs) return errs;
  const s0 = JSON.stringify(nestedShape(v[0]));
  return v.every((x) => JSON.stringify(nestedShape(x)) === s0) ? null : 'must be a rectangular nested list';
}

/** Shape of a nested list of numbers (assumed rectangular). */
export function nestedShape(v: unknown): number[] {
  const s: number[] = [];
  let x = v;
  while (Array.isArray(x)) {
    s.push(x.length);
    x = x[0];
  }
  return s;
}

export function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number];
}

function show(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    return 'a value too deeply nested to show';
  }
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 37) + '...' : s;
}
