/**
 * The `run` flags for watched hosts: `--watch NAME=URL` (repeatable) merged into the scenario's
 * `watch:` block, `--watch-optional`, and what every agent request carries: the token
 * (`--watch-token`, else the PORTSTORM_TOKEN environment variable) and the CA certificates trusted
 * for `https://` agents (`--watch-ca FILE`, else Node's root store).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { displayArg } from '../scenario/load.js';
import type { Scenario } from '../scenario/schema.js';
import { readFailure } from '../scenario/tls-files.js';
import { mergeWatch, parseWatchFlag } from '../scenario/watch.js';
import type { AgentAccess } from '../watch/watch-hosts.js';

/** The environment variable an agent's token may come from (the agent reads the same one). */
export const TOKEN_ENV = 'PORTSTORM_TOKEN';

/** The watch flags as yargs gives them. */
export interface WatchArgs {
  watch: string[];
  'watch-token'?: string;
  'watch-ca'?: string;
  'watch-optional': boolean;
}

const TOKEN_RE = /^[\x21-\x7e]+$/;

function token(argv: WatchArgs, env: NodeJS.ProcessEnv, watching: boolean): string | null {
  const given = argv['watch-token'];
  if (given !== undefined) {
    if (!TOKEN_RE.test(given)) throw new UsageError('--watch-token: expected a token of printable ASCII characters without spaces');
    return given;
  }
  // The variable may be set for the agent on this host: it matters only when an agent is watched.
  if (!watching) return null;
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv === undefined || fromEnv === '') return null;
  if (!TOKEN_RE.test(fromEnv)) throw new UsageError(`${TOKEN_ENV}: expected a token of printable ASCII characters without spaces`);
  return fromEnv;
}

function ca(file: string | undefined): string | null {
  if (file === undefined) return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--watch-ca ${displayArg(file)}: cannot read it (${readFailure(err)})`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new UsageError(`--watch-ca ${displayArg(file)}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none`);
  blocks.forEach((b, i) => {
    try {
      new X509Certificate(b);
    } catch (err) {
      throw new UsageError(`--watch-ca ${displayArg(file)}: certificate ${i + 1} does not parse (${(err as Error).message.split('\n')[0]})`);
    }
  });
  return text;
}

/**
 * The scenario with the `--watch` flags merged into its `watch:` block (a flag adds a host, or
 * replaces the URL of the scenario's host of that name), and the agents' access. Bad flags are a
 * UsageError naming the flag.
 */
export function applyWatchFlags(scenario: Scenario, argv: WatchArgs, env: NodeJS.ProcessEnv = process.env): { scenario: Scenario; access: AgentAccess } {
  const flags = argv.watch.map(parseWatchFlag);
  const watch = mergeWatch(scenario.watch, flags, argv['watch-optional']);
  const access = { token: token(argv, env, watch !== undefined), ca: ca(argv['watch-ca']) };
  const { watch: _dropped, ...rest } = scenario;
  return { scenario: watch ? { ...rest, watch } : rest, access };
}
