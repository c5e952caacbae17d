/** What an import could not carry over, element by element, and the values it resolves on the way. */
import type { JmxElement } from './jmx-tree.js';
import { resolveValue, type ValueContext } from './jmx-values.js';

/** One thing not imported: `unmapped` counts for --strict; `not-needed` (listeners, disabled elements) only shows with --verbose. */
export interface ImportNote {
  element: string;
  class: string;
  why: string;
  kind: 'unmapped' | 'not-needed';
}

/** Collects notes and resolves values, noting each reference that is not constant. */
export class NoteBook {
  readonly notes: ImportNote[] = [];
  constructor(readonly ctx: ValueContext) {}

  add(el: Pick<JmxElement, 'testname' | 'testclass'>, why: string, kind: ImportNote['kind'] = 'unmapped'): void {
    this.notes.push({ element: el.testname, class: el.testclass, why, kind });
  }

  /**
   * `raw` with its constant references resolved; when some are not, the note says which and that
   * `fallback(resolved)` (a sensible literal) is used instead.
   */
  value(el: JmxElement, field: string, raw: string | undefined, fallback: (partial: string) => string): string {
    if (raw === undefined) return fallback('');
    const r = resolveValue(raw, this.ctx);
    if (r.unresolved.length === 0) return r.value;
    const literal = fallback(r.value);
    this.add(el, `${field} ${r.unresolved.join(' ')} is not constant: written as ${JSON.stringify(literal)}`);
    return literal;
  }

  /** A number (property text in ms, s, a count) or `dflt` when empty; not a number: a note and `dflt`. */
  number(el: JmxElement, field: string, raw: string | undefined, dflt: number): number {
    const s = this.value(el, field, raw, () => String(dflt)).trim();
    if (s === '') return dflt;
    const n = Number(s);
    if (Number.isFinite(n)) return n;
    this.add(el, `${field} ${JSON.stringify(s)} is not a number: written as ${dflt}`);
    return dflt;
  }
}
