/**
 * `portstorm report RUN --attach NAME[:ROLE]=FILE`: hosts observed apart from the run (`monitor
 * --out` on the service) attached to its record, which is rewritten with them (the original kept
 * beside it) along with its HTML report.
 */
import path from 'node:path';
import { readAnalysedRun } from '../analysis/analysed-run.js';
import { attachHost, attachWindow, overlapSentence, runSpan } from '../analysis/attach.js';
import { CLIENT_HOST } from '../analysis/hosts.js';
import { UsageError } from '../errors.js';
import { readSamplesFile } from '../monitor/samples-file.js';
import { reviseRunRecord, runRecordFile, writeBeside, type RevisedRecord } from '../record/run-file.js';
import { hostNameSchema } from '../record/schema.js';
import type { HostRole, RunRecord } from '../record/types.js';
import { renderHtml } from '../report/html.js';
import { displayArg } from '../scenario/load.js';

/** One `--attach`. */
export interface AttachFlag {
  name: string;
  role: HostRole;
  file: string;
}

/** The roles `NAME:ROLE=FILE` takes; without one a host is a `service`. */
const ROLES: readonly HostRole[] = ['service', 'proxy', 'backend', 'router', 'other', 'client'];

/** Parses every `--attach` value; a malformed one, the name `client` or a name given twice is a one-line `UsageError`. */
export function parseAttachFlags(values: readonly string[]): AttachFlag[] {
  const seen = new Map<string, string>();
  return values.map((value) => {
    const shown = `--attach ${displayArg(value)}`;
    const eq = value.indexOf('=');
    if (eq < 0) throw new UsageError(`${shown}: expected NAME=FILE or NAME:ROLE=FILE, e.g. service=samples.ndjson`);
    const [name = '', role, ...more] = value.slice(0, eq).split(':');
    const file = value.slice(eq + 1);
    if (name === CLIENT_HOST) throw new UsageError(`${shown}: ${CLIENT_HOST} is the load generator's own host (the run's monitor); name the attached host otherwise, e.g. service=${displayArg(file || 'samples.ndjson')}`);
    if (!hostNameSchema.safeParse(name).success || more.length > 0) throw new UsageError(`${shown}: the name ${displayArg(value.slice(0, eq)) || '(none)'}: expected letters, digits, - _ . (then :ROLE if any)`);
    if (role !== undefined && !(ROLES as readonly string[]).includes(role)) throw new UsageError(`${shown}: role ${displayArg(role)}: expected one of ${ROLES.join(', ')}`);
    if (file === '') throw new UsageError(`${shown}: no file after =`);
    const before = seen.get(name);
    if (before !== undefined) throw new UsageError(`${shown}: ${name} is attached twice (also ${displayArg(before)}); give each host once`);
    seen.set(name, value);
    return { name, role: (role as HostRole | undefined) ?? 'service', file };
  });
}

/** What attaching did: the revised record, where it went, and its HTML report (null when that could not be written). */
export interface AttachOutcome {
  record: RunRecord;
  revised: RevisedRecord;
  html: string | null;
}

/** Control characters (a bad line's parse message can quote any): written as `\uXXXX` so a note stays one line. */
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Attaches each file to the record at `where`, telling on `note` (one line each, no prefix) how it
 * went: lines skipped, a host replaced, how the file covers the run. Every file is read and
 * checked before anything is written, so a refused one leaves the run as it was.
 */
export async function attachFiles(where: string, flags: readonly AttachFlag[], note: (line: string) => void): Promise<AttachOutcome> {
  const file = await runRecordFile(where);
  let record = await readAnalysedRun(where);
  const span = runSpan(record);
  const notes: string[] = [];
  if (!span.exact) {
    notes.push(`${displayArg(file)} has no loadStartedAt (written before portstorm recorded it): the attached samples are aligned to its startedAt, so only to within the run's start-up (a second or two)`);
  }
  for (const f of flags) {
    const label = `attach ${f.name}: ${displayArg(f.file)}`;
    const samples = await readSamplesFile(f.file, label, attachWindow(span));
    const attached = attachHost(record, { name: f.name, role: f.role, address: path.resolve(f.file), label, file: samples });
    record = attached.record;
    for (const p of samples.problems) notes.push(`${oneLine(p)}; skipped`);
    const more = samples.badLines - samples.problems.length;
    if (more > 0) notes.push(`${label}: ${more} more line${more === 1 ? '' : 's'} that could not be read; skipped`);
    if (attached.replaced) notes.push(`attach ${f.name}: replaces the host ${f.name} the record held (${attached.replaced.source} ${displayArg(attached.replaced.address)})`);
    notes.push(overlapSentence(label, attached.overlap));
  }
  for (const n of notes) note(n);
  const revised = await reviseRunRecord(file, record);
  if (revised.fallback) note(`${revised.fallback}; wrote the revised record to ${revised.dir} instead`);
  const base = path.basename(revised.file);
  const htmlName = base === 'run.json' ? 'report.html' : `${base.replace(/\.json$/i, '')}.html`;
  const html = await writeBeside(revised.dir, htmlName, renderHtml(record)).catch((err: Error) => {
    note(`cannot write ${htmlName} beside ${displayArg(revised.file)}: ${err.message}`);
    return null;
  });
  return { record, revised, html };
}
