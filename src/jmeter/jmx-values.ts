/**
 * JMeter's `${…}` references resolved where they are constant: `${__P(name,default)}`,
 * `${__property(name,var,default)}` from the given properties (`-Jname=value`), and `${var}` from
 * User Defined Variables. Anything else (`${__Random(…)}`, a CSV variable) is left as written and
 * reported.
 */

/** A value with the references that could not be resolved in it. */
export interface Resolved {
  value: string;
  /** Each unresolved reference as written, e.g. `${__Random(1,9)}`. */
  unresolved: string[];
}

/** Where references are resolved from. */
export interface ValueContext {
  /** JMeter properties (`--prop name=value`). */
  props: ReadonlyMap<string, string>;
  /** User Defined Variables, already resolved. */
  vars: ReadonlyMap<string, string>;
}

/** Index of the `}` closing the `${` at `start`, or -1. */
function closing(s: string, start: number): number {
  let depth = 0;
  for (let i = start; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Splits function arguments on commas not escaped (`\,`) and not inside a nested `${…}`. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
    } else if (c === '$' && s[i + 1] === '{') {
      const end = closing(s, i + 1);
      const stop = end < 0 ? s.length - 1 : end;
      cur += s.slice(i, stop + 1);
      i = stop;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Resolves every `${…}` in `s` that is constant. */
export function resolveValue(s: string, ctx: ValueContext): Resolved {
  const unresolved: string[] = [];
  let value = '';
  let i = 0;
  while (i < s.length) {
    const at = s.indexOf('${', i);
    if (at < 0) {
      value += s.slice(i);
      break;
    }
    value += s.slice(i, at);
    const end = closing(s, at + 1);
    if (end < 0) {
      value += s.slice(at);
      break;
    }
    const whole = s.slice(at, end + 1);
    const got = resolveReference(s.slice(at + 2, end), ctx);
    if (got === null) {
      unresolved.push(whole);
      value += whole;
    } else {
      value += got.value;
      unresolved.push(...got.unresolved);
    }
    i = end + 1;
  }
  return { value, unresolved };
}

/** The value of one reference's inside (`__P(a,b)` or `name`), or null when it is not constant. */
function resolveReference(inner: string, ctx: ValueContext): Resolved | null {
  const fn = /^__(\w+)\(([\s\S]*)\)$/.exec(inner);
  if (!fn) return ctx.vars.has(inner) ? { value: ctx.vars.get(inner)!, unresolved: [] } : null;
  const name = fn[1]!;
  if (name !== 'P' && name !== 'property') return null;
  const args = splitArgs(fn[2]!).map((a) => resolveValue(a, ctx));
  const nested = args.flatMap((a) => a.unresolved);
  const prop = args[0]?.value.trim() ?? '';
  if (ctx.props.has(prop)) return { value: ctx.props.get(prop)!, unresolved: [] };
  // __P's default is "1" when omitted; __property's is the property's name (JMeter's own rules).
  const fallback = name === 'P' ? args[1] : args[2];
  if (fallback !== undefined) return { value: fallback.value, unresolved: nested };
  return { value: name === 'P' ? '1' : prop, unresolved: nested };
}

/** Parses `name=value` (from `--prop` or `-Jname=value`); null when there is no `=` or no name. */
export function parsePropFlag(flag: string): [string, string] | null {
  const s = flag.startsWith('-J') ? flag.slice(2) : flag;
  const eq = s.indexOf('=');
  if (eq <= 0) return null;
  return [s.slice(0, eq), s.slice(eq + 1)];
}
