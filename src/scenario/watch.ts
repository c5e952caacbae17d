/**
 * The hosts a run watches besides its own (`watch:` in a scenario, `--watch NAME=URL` on the
 * command line): each a `portstorm monitor --serve` agent named by the run, reached at its URL.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';

/** The roles a watched host may have (the load generator itself is `client`, never watched). */
export const WATCH_ROLES = ['service', 'proxy', 'backend', 'router', 'other'] as const;
/** The role of a watched host. */
export type WatchRole = (typeof WATCH_ROLES)[number];

/** The name the load generator's own host has in the record: no watched host may take it. */
const RESERVED_NAME = 'client';
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * Why `name` cannot name a watched host, or null. A name starts with a letter (so the record's
 * `hosts` keep the order given: JSON objects put integer-like keys first) and is not `client`.
 */
export function watchNameProblem(name: string): string | null {
  const got = `, got ${JSON.stringify(name)}`;
  if (name === RESERVED_NAME) return `expected a host name other than client (the load generator's own host)${got}`;
  return NAME_RE.test(name) ? null : `expected a host name: a letter, then letters, digits, - _ . (at most 64 characters)${got}`;
}

/**
 * The agent URL in one form (`http://host:port`, no path), or why it is not one: http or https, a
 * host, no user, path, query or fragment.
 */
export function agentUrl(text: string): { url: string } | { problem: string } {
  const expected = 'expected an agent URL http://host:port or https://host:port (IPv6 in brackets: http://[fd00::2]:9464)';
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return { problem: expected };
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') return { problem: expected };
  if (u.username !== '' || u.password !== '') return { problem: 'expected no user or password in the URL (give the token with --watch-token or PORTSTORM_TOKEN)' };
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') return { problem: 'expected an agent URL without a path, query or fragment: http://host:port' };
  return { url: u.origin };
}

const url = z
  .string()
  .meta({ pattern: '^https?://[^/?#@]+/?$', description: 'the agent URL, http(s)://host:port' })
  .transform((v, ctx) => {
  const r = agentUrl(v);
  if ('url' in r) return r.url;
  ctx.addIssue({ code: 'custom', message: r.problem });
  return z.NEVER;
});

const watchedHost = z.preprocess(
  (v, ctx) => {
    if (typeof v !== 'string') return v;
    // Checked here, so a problem names the entry as written (`watch.service`), not `watch.service.url`.
    const r = agentUrl(v);
    if ('url' in r) return { url: r.url };
    ctx.addIssue({ code: 'custom', message: r.problem });
    return z.NEVER;
  },
  z
    .strictObject(
      {
            /** The agent's URL, `http(s)://host:port`. */
        url,
        /** What the host is to the run. */
        role: z.enum(WATCH_ROLES).default('service'),
        /** true: the run goes on without it when it cannot be reached at the start (its seconds stay null). */
        optional: z.boolean().default(false),
      },
      { error: 'expected an agent URL (http://host:port) or { url, role, optional }' },
    )
    .meta({ orString: 'the agent URL, http(s)://host:port (role service, not optional)' }),
);

/** The `watch:` block: host name → agent. Names are checked here (one line each, naming the key); the JSON Schema says the same. */
export const watchBlock = z
  .record(z.string(), watchedHost)
  .superRefine((hosts, ctx) => {
    for (const name of Object.keys(hosts)) {
      const problem = watchNameProblem(name);
      if (problem !== null) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  })
  .meta({ propertyNames: { type: 'string', pattern: NAME_RE.source, not: { const: RESERVED_NAME } } });

/** One watched host as resolved: its URL, role and whether the run may go on without it. */
export type WatchedHostSpec = z.output<typeof watchedHost>;
/** The resolved `watch:` block. */
export type WatchBlock = z.output<typeof watchBlock>;

/** Parses one `--watch NAME=URL`; a bad one is a UsageError naming the flag. */
export function parseWatchFlag(text: string): { name: string; url: string } {
  const eq = text.indexOf('=');
  const from = `--watch ${text}`;
  if (eq <= 0) throw new UsageError(`${from}: expected NAME=URL, e.g. service=http://198.18.1.2:9464`);
  const name = text.slice(0, eq);
  const problem = watchNameProblem(name);
  if (problem !== null) throw new UsageError(`${from}: ${problem}`);
  const r = agentUrl(text.slice(eq + 1));
  if ('problem' in r) throw new UsageError(`${from}: ${r.problem}`);
  return { name, url: r.url };
}

/**
 * The scenario's `watch:` block with the `--watch` flags applied: a flag adds a host (role
 * service), or replaces the URL of the scenario's host of that name (its role stays); `optional`
 * (`--watch-optional`) makes every host optional. Flags naming the same host twice: the last wins.
 * Undefined when nothing is watched.
 */
export function mergeWatch(block: WatchBlock | undefined, flags: ReadonlyArray<{ name: string; url: string }>, optional = false): WatchBlock | undefined {
  const out: WatchBlock = {};
  for (const [name, h] of Object.entries(block ?? {})) out[name] = { ...h };
  for (const f of flags) out[f.name] = { ...(out[f.name] ?? { role: 'service', optional: false }), url: f.url };
  if (optional) for (const h of Object.values(out)) h.optional = true;
  return Object.keys(out).length > 0 ? out : undefined;
}
