/**
 * The hosts of a run in one shape, whatever the record's schema: schema 2 records list them in
 * `hosts`; a schema 1 record (or one made with the monitor off) has only the load generator, whose
 * figures are the top-level ones. Pure.
 */
import type { HostRecord, RunRecord } from '../record/types.js';
import { splitHostPort, unmappedIp } from '../vocab/address.js';

/** The name the load generator's own host has. */
export const CLIENT_HOST = 'client';

/** One host of a run with its name. */
export interface HostView extends HostRecord {
  name: string;
}

/** The load generator's host from a record's top-level figures (schema 1, or `hosts` absent). */
function clientFromTopLevel(r: RunRecord): HostView {
  const seconds = r.timeline.length;
  const withSockets = r.timeline.filter((e) => e.sockets !== null).length;
  const seen = r.timeline.filter((e) => e.sockets !== null || e.counters !== null).map((e) => e.t);
  return {
    name: CLIENT_HOST,
    role: 'client',
    address: 'local',
    source: 'local',
    clock: { method: 'local', offsetMs: 0, uncertaintyMs: 0 },
    host: r.host,
    timeline: r.timeline.map((e) => ({ t: e.t, sockets: e.sockets, counters: e.counters, ...(e.cpu !== undefined ? { cpu: e.cpu } : {}) })),
    ports: r.ports,
    destinations: r.destinations,
    monitor: r.monitor,
    coverage: {
      fromS: seen.length > 0 ? seen[0]! : null,
      toS: seen.length > 0 ? seen.at(-1)! : null,
      share: seconds > 0 ? Math.round((withSockets / seconds) * 1000) / 1000 : 0,
    },
    gaps: [],
  };
}

/** Every host of the run, the load generator (`client`) first, then the others in the record's order. */
export function hostViews(r: RunRecord): HostView[] {
  const hosts = r.hosts ?? {};
  const client = hosts[CLIENT_HOST] ? { ...hosts[CLIENT_HOST]!, name: CLIENT_HOST } : clientFromTopLevel(r);
  const others = Object.entries(hosts)
    .filter(([name]) => name !== CLIENT_HOST)
    .map(([name, h]) => ({ ...h, name }));
  return [client, ...others];
}

/** Whether a host gave a socket picture for at least one run second (a null second is unseen, never zeros). */
export function isSeen(h: HostRecord): boolean {
  return h.timeline.some((e) => e.sockets !== null);
}

/** The address part of a host's `address` (an agent's URL, `host:port`, a bare address), or null for a file path. */
function addressOf(where: string): string | null {
  let host: string;
  try {
    host = new URL(where).hostname;
  } catch {
    host = splitHostPort(where)?.host ?? where;
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare === '' || bare.includes('/') ? null : unmappedIp(bare.toLowerCase());
}

/**
 * The watched host that serves the run's target (its server-side TIME_WAIT and listen queue are the
 * target's): among the other hosts with role `service` or `proxy` that were seen, the one whose
 * address is the target's, else the first `service`, else the first `proxy`; null when none was
 * watched or seen.
 */
export function servingHost(r: RunRecord, views: readonly HostView[] = hostViews(r)): HostView | null {
  const candidates = views.filter((h) => h.name !== CLIENT_HOST && (h.role === 'service' || h.role === 'proxy') && isSeen(h));
  if (candidates.length === 0) return null;
  const targets = new Set<string>();
  for (const d of r.ownDestinations ?? []) {
    const a = addressOf(d);
    if (a) targets.add(a);
  }
  const fromUrl = addressOf(r.target.url);
  if (fromUrl) targets.add(fromUrl);
  const byAddress = candidates.find((h) => {
    const a = addressOf(h.address);
    return a !== null && targets.has(a);
  });
  return byAddress ?? candidates.find((h) => h.role === 'service') ?? candidates[0]!;
}
