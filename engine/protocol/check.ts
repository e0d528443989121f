/**
 * A small runtime type checker for what crosses a process boundary: each checker validates an unknown value and
 * returns it typed, or throws a ProtocolError naming the path of the first mismatch. Pure TypeScript (no Node,
 * no eval), so main, preload, host, web server and renderer all use it.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export type Check<T> = (v: unknown, path?: string) => T;
export type Infer<C> = C extends Check<infer T> ? T : never;

const fail = (path: string, want: string, v: unknown): never => {
  const got = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
  throw new ProtocolError(`${path || 'message'}: expected ${want}, got ${got}`);
};

export const str: Check<string> = (v, p = '') => (typeof v === 'string' ? v : fail(p, 'a string', v));
export const num: Check<number> = (v, p = '') => (typeof v === 'number' && Number.isFinite(v) ? v : fail(p, 'a finite number', v));
export const int: Check<number> = (v, p = '') => (Number.isInteger(v) ? (v as number) : fail(p, 'an integer', v));
export const bool: Check<boolean> = (v, p = '') => (typeof v === 'boolean' ? v : fail(p, 'true or false', v));
/** Any JSON-like value, passed through unchecked (a project document is validated by its own schema). */
export const json: Check<unknown> = (v) => v;

export function literal<T extends string | number | boolean>(...values: T[]): Check<T> {
  return (v, p = '') => (values.includes(v as T) ? (v as T) : fail(p, values.map((x) => JSON.stringify(x)).join(' or '), v));
}

export function optional<T>(c: Check<T>): Check<T | undefined> {
  return (v, p) => (v === undefined ? undefined : c(v, p));
}

export function nullable<T>(c: Check<T>): Check<T | null> {
  return (v, p) => (v === null ? null : c(v, p));
}

export function arr<T>(c: Check<T>, max = 1_000_000): Check<T[]> {
  return (v, p = '') => {
    if (!Array.isArray(v)) return fail(p, 'an array', v);
    if (v.length > max) throw new ProtocolError(`${p || 'message'}: at most ${max} items`);
    return v.map((x, i) => c(x, `${p}[${i}]`));
  };
}

export function record<T>(c: Check<T>): Check<Record<string, T>> {
  return (v, p = '') => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, 'an object', v);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, c(x, `${p}.${k}`)]));
  };
}

type Shape = Record<string, Check<unknown>>;
type ObjOf<S extends Shape> = { [K in keyof S as undefined extends Infer<S[K]> ? never : K]: Infer<S[K]> } & {
  [K in keyof S as undefined extends Infer<S[K]> ? K : never]?: Infer<S[K]>;
};

/** An object with exactly these keys (unknown keys are an error: nothing unexpected crosses). */
export function obj<S extends Shape>(shape: S): Check<ObjOf<S>> {
  return (v, p = '') => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, 'an object', v);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!(k in shape)) throw new ProtocolError(`${p || 'message'}: unexpected key "${k}"`);
    const out: Record<string, unknown> = {};
    for (const [k, c] of Object.entries(shape)) {
      const x = c(o[k], p ? `${p}.${k}` : k);
      if (x !== undefined) out[k] = x;
    }
    return out as ObjOf<S>;
  };
}

/** One of several object shapes, told apart by the string in `key`. */
export function union<K extends string, M extends Record<string, Check<unknown>>>(key: K, members: M): Check<Infer<M[keyof M]>> {
  return (v, p = '') => {
    if (typeof v !== 'object' || v === null) return fail(p, 'an object', v);
    const tag = (v as Record<string, unknown>)[key];
    const c = typeof tag === 'string' && Object.hasOwn(members, tag) ? members[tag] : undefined;
    if (!c) throw new ProtocolError(`${p || 'message'}: unknown ${key} ${JSON.stringify(tag)}`);
    return c(v, p) as Infer<M[keyof M]>;
  };
}
