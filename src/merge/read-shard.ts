/** One input of `merge`: a run directory, a run.json, or a pod's log whose last PORTSTORM-RECORD line holds the record. */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { checkRunRecord } from '../record/run-file.js';
import type { RunRecord } from '../record/types.js';
import { displayArg } from '../scenario/load.js';
import { lastRecordLine, recordLineText } from './record-line.js';

/**
 * Reads one shard's record. A directory means its run.json; a file is a run record when its text
 * starts with `{`, else a log whose last PORTSTORM-RECORD line is decoded. Bad input is a one-line
 * `UsageError` naming the file.
 */
export async function readShardInput(where: string): Promise<RunRecord> {
  const isDir = await stat(where).then(
    (st) => st.isDirectory(),
    () => false,
  );
  const file = isDir ? path.join(where, 'run.json') : where;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${displayArg(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (/^\s*\{/.test(text)) return parseShard(text, displayArg(file));
  const line = lastRecordLine(text);
  if (line === null) throw new UsageError(`${displayArg(file)}: neither a run record (JSON) nor a log with a PORTSTORM-RECORD line`);
  const name = `${displayArg(file)} (last PORTSTORM-RECORD line)`;
  return parseShard(recordLineText(line, name), name);
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
