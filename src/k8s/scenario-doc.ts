/**
 * The scenario as the pods read it: the file's own YAML (comments kept) with `name` filled in as
 * `run` would name it and `startAt` set, so every shard waits for the same instant.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { UsageError } from '../errors.js';
import { displayArg, loadScenario, parseScenario } from '../scenario/load.js';
import type { Scenario } from '../scenario/schema.js';

/** The scenario text for the ConfigMap and what it resolves to. */
export interface PodScenario {
  /** YAML text: the file as given, plus `name` (when absent) and `startAt`. */
  text: string;
  scenario: Scenario;
}

/**
 * Reads and validates `file` (a bad one is the `UsageError` `run` would give). A scenario naming
 * files (tls.ca/cert/key) is refused: the pods see only the ConfigMap.
 */
export async function localScenario(file: string): Promise<Scenario> {
  const local = await loadScenario(file);
  const label = displayArg(file);
  const files = (['ca', 'cert', 'key'] as const).filter((f) => local.tls[f] !== undefined);
  if (files.length > 0) {
    throw new UsageError(`${label}: tls.${files.join(', tls.')}: the pods read only the scenario (from a ConfigMap), not the files it names; put them in the image or drop them`);
  }
  return local;
}

/** The document of `file` (already read by `localScenario` as `local`) with `startAt`, and what it resolves to. */
export async function podScenario(file: string, local: Scenario, startAt: string): Promise<PodScenario> {
  const label = displayArg(file);
  const doc = parseDocument(await readFile(file, 'utf8'), { logLevel: 'error' });
  if (!doc.has('name')) doc.set('name', local.name);
  // Quoted: a YAML 1.1 reader would take the bare time for a timestamp, not the string the schema wants.
  const at = doc.createNode(startAt);
  at.type = 'QUOTE_DOUBLE';
  doc.set('startAt', at);
  const text = doc.toString();
  // What the pods parse must be what was checked here; a difference is a bug, said as such.
  const scenario = parseScenario(doc.toJS(), `${label} (for the pods)`, [], path.dirname(path.resolve(file)));
  return { text, scenario };
}
