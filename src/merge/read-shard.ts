/** One input of `merge`: a run directory, a run.json, or a pod's log whose last PORTSTORM-RECORD line holds the record. */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { checkRunRecord } from '../record/run-file.js';
import type { RunRecord } from '../record/types.js';
import { displayArg } from '../scenario/load.js';
import { RECORD_LINE_MARKER, recordLineText } from './record-line.js';

/** One record an input holds, with the name messages give it. */
export interface NamedRecord {
  name: string;
  record: RunRecord;
}

/**
 * The shard records one input holds. A directory means its run.json; a file is a run record when
 * its text starts with `{`, else a log: every PORTSTORM-RECORD line in it is a shard's record (the
 * pods' last lines gathered in one file by `kubectl logs -l job-name=… --tail=1`), and where one
 * file holds two lines of the same shard index, the last is taken (a log holding an earlier run).
 * Lines are decoded one at a time, last first; bad input is a one-line `UsageError` naming the file.
 */
export async function* readShardInputs(where: string): AsyncGenerator<NamedRecord> {
  const isDir = await stat(where).then(
    (st) => st.isDirectory(),
    () => false,
  );
  const file = isDir ? path.join(where, 'run.json') : where;
  const shown = displayArg(file);
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new UsageError(`${shown}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const text = await handle.readFile();
    if (/^\s*\{/.test(text.subarray(0, 64).toString('latin1'))) {
      yield { name: shown, record: parseShard(text.toString('utf8'), shown) };
      return;
    }
    const lines = recordLines(text);
    if (lines.length === 0) throw new UsageError(`${shown}: neither a run record (JSON) nor a log with a PORTSTORM-RECORD line`);
    const seen = new Set<number>();
    for (const { start, end, line } of lines.reverse()) {
      const name = lines.length === 1 ? `${shown} (last PORTSTORM-RECORD line)` : `${shown}:${line}`;
      const record = parseShard(recordLineText(text.subarray(start, end).toString('latin1'), name), name);
      const index = record.shard?.index;
      if (index !== undefined && seen.has(index)) continue;
      if (index !== undefined) seen.add(index);
      yield { name, record };
    }
  } finally {
    await handle.close();
  }
}

/** Where each PORTSTORM-RECORD line of a log is (byte offsets) and its line number (from 1). */
function recordLines(buf: Buffer): Array<{ start: number; end: number; line: number }> {
  const out: Array<{ start: number; end: number; line: number }> = [];
  let line = 1;
  let counted = 0;
  for (let at = buf.indexOf(RECORD_LINE_MARKER); at >= 0; ) {
    const start = buf.lastIndexOf(0x0a, at) + 1;
    for (let i = buf.indexOf(0x0a, counted); i >= 0 && i < start; i = buf.indexOf(0x0a, i + 1)) {
      line++;
      counted = i + 1;
    }
    const nl = buf.indexOf(0x0a, at);
    const end = nl < 0 ? buf.length : nl;
    out.push({ start, end, line });
    at = nl < 0 ? -1 : buf.indexOf(RECORD_LINE_MARKER, end);
  }
  return out;
}

/** Timeline seconds given to the full schema check (the first of every timeline); the rest get {@link checkSeconds}. */
const SAMPLED = 4;

function sampled<T>(xs: unknown): T {
  return (Array.isArray(xs) && xs.length > SAMPLED ? xs.slice(0, SAMPLED) : xs) as T;
}

const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const numbersOrNull = (v: unknown): boolean => isObj(v) && Object.values(v).every((x) => x === null || isNum(x));

/** What is wrong with one timeline second (as merge reads it), or null. */
function badSecond(e: unknown, i: number, full: boolean): string | null {
  if (!isObj(e)) return 'not a second of a timeline';
  if (e.t !== i) return `t: expected ${i} (one entry per second, from 0), got ${JSON.stringify(e.t)}`;
  if (e.sockets !== null && e.sockets !== undefined && !numbersOrNull(e.sockets)) return 'sockets: expected numbers or null';
  if (e.counters !== null && e.counters !== undefined && !numbersOrNull(e.counters)) return 'counters: expected numbers or null';
  if (e.cpu !== null && e.cpu !== undefined && !numbersOrNull(e.cpu)) return 'cpu: expected numbers or null';
  if (!full) return null;
  for (const k of ['attempted', 'completed', 'failed', 'dropped', 'connectionsOpened'] as const) if (!isNum(e[k])) return `${k}: expected a number`;
  if (!isObj(e.errors) || !Object.values(e.errors).every(isNum)) return 'errors: expected counts';
  for (const k of ['latencyMs', 'connectMs', 'tlsMs', 'dnsMs'] as const) {
    if (k !== 'latencyMs' && k !== 'connectMs' && e[k] === undefined) continue;
    if (!isObj(e[k]) || !Object.values(e[k]).every(isNum)) return `${k}: expected numbers`;
  }
  for (const k of ['tlsHandshakes', 'dnsLookups'] as const) if (e[k] !== undefined && !isNum(e[k])) return `${k}: expected a number`;
  return null;
}

/** Checks every second of a timeline for the fields merge adds up; throws a one-line `UsageError` at the first bad one. */
function checkSeconds(file: string, where: string, timeline: unknown, full: boolean): void {
  if (!Array.isArray(timeline)) return;
  for (let i = 0; i < timeline.length; i++) {
    const bad = badSecond(timeline[i], i, full);
    if (bad) throw new UsageError(`${file}: ${where}[${i}]: ${bad}`);
  }
}

/**
 * A shard's record from its text. A one-hour record holds thousands of timeline seconds (twice: the
 * run's and its client host's), and the full schema check of each costs more than all the merging:
 * the schema check takes the record with each timeline cut to its first and last seconds, and every
 * second is then checked for what merge reads of it (numbers where it adds numbers).
 */
export function parseShard(text: string, file: string): RunRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message.replace(/\s*\n\s*/g, ' ')})`);
  }
  if (!isObj(doc)) return checkRunRecord(doc, file);
  const hosts = isObj(doc.hosts) ? doc.hosts : null;
  const slim = {
    ...doc,
    timeline: sampled(doc.timeline),
    ...(hosts ? { hosts: Object.fromEntries(Object.entries(hosts).map(([n, h]) => [n, isObj(h) ? { ...h, timeline: sampled(h.timeline) } : h])) } : {}),
  };
  const checked = checkRunRecord(slim, file);
  checkSeconds(file, 'timeline', doc.timeline, true);
  for (const [n, h] of Object.entries(hosts ?? {})) if (isObj(h)) checkSeconds(file, `hosts.${n}.timeline`, h.timeline, false);
  return { ...(doc as unknown as RunRecord), scenario: checked.scenario };
}
