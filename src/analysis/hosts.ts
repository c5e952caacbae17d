/**
 * The hosts of a run in one shape, whatever the record's schema: schema 2 records list them in
 * `hosts`; a schema 1 record (or one made with the monitor off) has only the load generator, whose
 * figures are the top-level ones. Pure.
 */
import type { HostRecord, RunRecord } from '../record/types.js';

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
