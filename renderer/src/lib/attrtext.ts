/**
 * Text forms of attribute values for the inspector's editors: what a field shows for a value and what a typed text
 * means. Parsing only turns text into a value of the right JSON type; whether the value is allowed is the
 * catalogue's `checkAttr`.
 */
import type { AttrSpec } from '../../../engine/graph/attrs';

export type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

/** Lists are written `2, 3` (brackets optional). */
function parseIntList(text: string): Parsed {
  const body = text.trim().replace(/^\[/, '').replace(/\]$/, '').trim();
  if (body === '') return { ok: true, value: [] };
  const parts = body.split(/[\s,]+/).filter((s) => s !== '');
  const out: number[] = [];
  for (const s of parts) {
    if (!/^[+-]?\d+$/.test(s)) return { ok: false, message: `"${s}" is not an integer` };
    out.push(Number(s));
  }
  return { ok: true, value: out };
}

function parseNumber(text: string): Parsed {
  const t = text.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return { ok: false, message: `"${t}" is not a number` };
  return { ok: true, value: Number(t) };
}

/**
 * What a typed text means for this attribute. Empty text means "unset" (the default applies) and is reported as
 * `{ ok: true, value: undefined }`, except for required attributes.
 */
export function parseAttr(spec: AttrSpec, text: string): Parsed {
  const t = text.trim();
  const k = spec.kind;
  if (t === '' && k.type !== 'string') {
    if (spec.default !== undefined || spec.optional) return { ok: true, value: undefined };
    return { ok: false, message: 'is required' };
  }
  switch (k.type) {
    case 'int': {
      const p = parseNumber(t);
      if (p.ok && !Number.isInteger(p.value)) return { ok: false, message: `"${t}" is not an integer` };
      return p;
    }
    case 'number':
      return parseNumber(t);
    case 'axis': {
      const p = parseNumber(t);
      if (p.ok && !Number.isInteger(p.value)) return { ok: false, message: `"${t}" is not an integer axis` };
      return p;
    }
    case 'shape':
    case 'axes':
      return parseIntList(t);
    case 'pair': {
      const p = parseIntList(t);
      if (!p.ok) return p;
      const v = p.value as number[];
      if (v.length === 1) return { ok: true, value: v[0] };
      if (v.length === 2) return { ok: true, value: v };
      return { ok: false, message: 'write one integer or two (h, w)' };
    }
    case 'padding': {
      if (t.replace(/"/g, '') === 'same') return { ok: true, value: 'same' };
      const p = parseIntList(t);
      if (!p.ok) return { ok: false, message: 'write "same", one integer or two (h, w)' };
      const v = p.value as number[];
      if (v.length === 1) return { ok: true, value: v[0] };
      if (v.length === 2) return { ok: true, value: v };
      return { ok: false, message: 'write "same", one integer or two (h, w)' };
    }
    case 'tensor':
      try {
        return { ok: true, value: JSON.parse(t) as unknown };
      } catch {
        return { ok: false, message: 'is not valid JSON (a number or a nested list such as [[1, 2], [3, 4]])' };
      }
    case 'strings':
      return { ok: true, value: t.replace(/^\[/, '').replace(/\]$/, '').split(',').map((s) => s.trim().replace(/^"|"$/g, '')).filter((s) => s !== '') };
    case 'string':
      return t === '' && (spec.optional || spec.default !== undefined) ? { ok: true, value: undefined } : { ok: true, value: text };
    case 'bool':
      if (t === 'true' || t === 'false') return { ok: true, value: t === 'true' };
      return { ok: false, message: 'must be true or false' };
    case 'enum':
      return { ok: true, value: t };
  }
}

/** The text a field shows for a value (undefined: empty, the default shows as the placeholder). */
export function formatAttr(spec: AttrSpec, v: unknown): string {
  if (v === undefined) return '';
  // An empty list is a value of its own (sum over no axes), not "unset".
  if (Array.isArray(v) && v.length === 0) return '[]';
  switch (spec.kind.type) {
    case 'shape':
    case 'axes':
    case 'pair':
      return Array.isArray(v) ? v.join(', ') : String(v);
    case 'padding':
      return Array.isArray(v) ? v.join(', ') : String(v);
    case 'strings':
      return Array.isArray(v) ? v.join(', ') : JSON.stringify(v);
    case 'tensor':
      return JSON.stringify(v);
    case 'string':
      return typeof v === 'string' ? v : JSON.stringify(v);
    default:
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

/** The placeholder: the default, written as a field would show it. */
export function placeholderOf(spec: AttrSpec): string {
  if (spec.default === undefined) return spec.optional ? (spec.whenUnset ?? 'automatic') : 'required';
  const s = formatAttr(spec, spec.default);
  if (spec.kind.type === 'shape' && s === '[]') return '[] (scalar)';
  return s;
}
