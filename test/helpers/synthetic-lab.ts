/**
 * Lab topology records for analysis and report tests, built from their seconds: a `chain` whose
 * service opens one upstream connection per request and runs out, and a `nat` whose router has 50
 * ports for 70 users held open at once (the measured case: 20 connect timeouts, insert_failed 21).
 */
import { hostViews } from '../../src/analysis/hosts.js';
import type { HostRecord, LabInfo, LabTopologyInfo, RunRecord, TimelineEntry } from '../../src/record/types.js';
import type { LabBlock, Scenario } from '../../src/scenario/schema.js';
import { hostSecond, syntheticHost } from './synthetic-hosts.js';
import { entry, sockets, syntheticRecord } from './synthetic-record.js';

/** The lab block of a scenario, resolved: `over` on the defaults. */
function labBlock(over: Partial<LabBlock>): LabBlock {
  return { topology: 'single', hosts: {}, sysctls: {}, variants: [], ...over } as LabBlock;
}

function labInfo(topology: LabTopologyInfo, variant: string | null): LabInfo {
  return {
    namespace: 'user',
    sysctls: { 'net.ipv4.ip_local_port_range': '1024 65535' },
    addresses: { client: '198.18.1.1', target: topology.kind === 'nat' ? '198.18.2.2' : '198.18.1.2' },
    variant,
    topology,
  };
}

function client(r: RunRecord): HostRecord {
  const { name: _n, ...c } = hostViews(r)[0]!;
  return c;
}

/** What the chain record models. */
export interface ChainOptions {
  /** The built-in proxy reuses its upstream connections (the fix): no 5xx, the service's ports stay low. */
  upstreamReuse?: boolean;
}

/**
 * A 10 s `chain` run at 100 requests/s: the service's 500 ports (40000–40499) toward the backend,
 * held 60 s in TIME_WAIT, run out at t = 5 (the model: 500 ÷ 100/s = 5 s); 80 % 502s from t = 5.
 */
export function chainRecord(o: ChainOptions = {}): RunRecord {
  const reuse = o.upstreamReuse ?? false;
  const seconds = 10;
  const timeline: TimelineEntry[] = Array.from({ length: seconds }, (_, t) => {
    const failed = !reuse && t >= 5 ? 80 : 0;
    return entry(t, {
      attempted: 100,
      completed: 100 - failed,
      failed,
      errors: failed ? { HTTP_502: failed } : {},
      connectionsOpened: 1,
      sockets: sockets({ timeWait: 0, ephemeralInUse: 10, utilization: 10 / 64_512, established: 10 }),
    });
  });
  const base = syntheticRecord({
    timeline,
    targetUrl: 'http://198.18.1.2:8080/',
    host: { portRange: [1024, 65535], usablePorts: 64_512 },
    connection: { reuse: true },
    errorsByPhase: { 'response:HTTP_502': timeline.reduce((a, e) => a + e.failed, 0) },
    errorSamples: reuse ? [] : [{ t: 5.02, code: 'HTTP_502', phase: 'response', message: 'Bad Gateway', localPort: null }],
  });
  const inUse = (t: number): number => (reuse ? 32 : Math.min(500, 100 * (t + 1)));
  const service = syntheticHost({
    role: 'service',
    address: 'lab:service',
    source: 'agent',
    host: { portRange: [40000, 40499], usablePorts: 500, tcpTwReuse: 0 },
    dest: '198.18.2.2:8080',
    seconds: Array.from({ length: seconds }, (_, t) => hostSecond(t, { timeWait: reuse ? 0 : inUse(t), ephemeralInUse: inUse(t), utilization: inUse(t) / 500, serverTimeWait: 0, established: reuse ? 32 : 0 }, { ActiveOpens: reuse ? 0 : 100 })),
  });
  const backend = syntheticHost({ role: 'backend', address: 'lab:backend', host: { portRange: [1024, 65535], usablePorts: 64_512 }, dest: '198.18.2.1:40000', seconds: Array.from({ length: seconds }, (_, t) => hostSecond(t)) });
  const topology: LabTopologyInfo = {
    kind: 'chain',
    hosts: [
      { name: 'client', role: 'client', addresses: ['198.18.1.1'], portRange: [1024, 65535], sysctls: {}, runs: 'the load' },
      { name: 'service', role: 'service', addresses: ['198.18.1.2', '198.18.2.1'], portRange: [40000, 40499], sysctls: { 'net.ipv4.ip_local_port_range': '40000 40499' }, runs: reuse ? 'built-in proxy (upstream connections reused, a pool of 32)' : 'built-in proxy (a new upstream connection per request)' },
      { name: 'backend', role: 'backend', addresses: ['198.18.2.2'], portRange: [1024, 65535], sysctls: {}, runs: 'built-in target' },
    ],
    links: [
      { a: 'client', b: 'service', kind: 'data', subnet: '198.18.1.0/24', addresses: { client: '198.18.1.1', service: '198.18.1.2' } },
      { a: 'service', b: 'backend', kind: 'data', subnet: '198.18.2.0/24', addresses: { service: '198.18.2.1', backend: '198.18.2.2' } },
      { a: 'client', b: 'backend', kind: 'management', subnet: '198.18.9.0/24', addresses: { client: '198.18.9.1', backend: '198.18.9.2' } },
    ],
    nat: null,
    prediction: null,
  };
  const scenario: Scenario = { ...base.scenario, name: reuse ? 'lab-proxy-pool' : 'lab-proxy-chain', lab: labBlock({ topology: 'chain', service: { kind: 'builtin-proxy', upstreamReuse: reuse, upstreamPoolSize: 32, upstreamClose: 'client', failureStatus: 502 } }) };
  return { ...base, schema: 2, scenario, runId: reuse ? '20260101-000000-lab-pool-0000' : '20260101-000000-lab-chain-0000', lab: labInfo(topology, reuse ? 'pool' : null), hosts: { client: client(base), service, backend } };
}

/** What the nat record models. */
export interface NatOptions {
  /** The router's insert_failed/drop and the client's timeouts (default true): false gives a run that stayed within the NAT. */
  drops?: boolean;
  /** The router's conntrack table full (count at max): `conntrack-full`, not the NAT. */
  tableFull?: boolean;
  /** Public-side addresses (default 1). */
  addresses?: number;
}

/**
 * A 10 s `nat` run: 70 users keeping their connections open through a router that masquerades to
 * 40000–40049 on one address; 50 connect, 20 time out (connect timeout 2 s) with the router's
 * insert_failed = drop = 21 from t = 0; the client's own ports barely used.
 */
export function natRecord(o: NatOptions = {}): RunRecord {
  const drops = o.drops ?? true;
  const seconds = 10;
  const timeline: TimelineEntry[] = Array.from({ length: seconds }, (_, t) => {
    const failed = drops && t === 2 ? 20 : 0;
    return entry(t, {
      attempted: t === 0 ? 70 : 50,
      completed: (t === 0 ? 70 : 50) - (t === 0 && drops ? 20 : 0),
      failed,
      errors: failed ? { CONNECT_TIMEOUT: failed } : {},
      connectionsOpened: t === 0 ? 70 : 0,
      sockets: sockets({ timeWait: 0, ephemeralInUse: drops && t < 2 ? 70 : drops ? 50 : 70, utilization: 70 / 64_512, established: drops ? 50 : 70, synSent: drops && t < 2 ? 20 : 0 }),
    });
  });
  // Failures are counted where they end; the attempts belong to t = 0.
  for (const e of timeline) if (e.t === 0 && drops) e.completed = 50;
  const base = syntheticRecord({
    timeline,
    targetUrl: 'http://198.18.2.2:8080/',
    host: { portRange: [1024, 65535], usablePorts: 64_512 },
    connection: { reuse: true },
    errorsByPhase: drops ? { 'connect:CONNECT_TIMEOUT': 20 } : {},
    errorSamples: drops ? [{ t: 2.01, code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'Connect Timeout Error', localPort: null }] : [],
  });
  const max = o.tableFull ? 512 : 65_536;
  const count = o.tableFull ? 512 : drops ? 52 : 72;
  const router = syntheticHost({
    role: 'router',
    address: 'lab:router',
    host: { portRange: [1024, 65535], usablePorts: 64_512, conntrackMax: max },
    dest: '198.18.2.2:8080',
    seconds: Array.from({ length: seconds }, (_, t) =>
      hostSecond(t, {}, { ConntrackInsertFailed: drops && t < 2 ? (t === 0 ? 20 : 1) : 0, ConntrackDrop: drops && t < 2 ? (t === 0 ? 20 : 1) : 0, ConntrackEarlyDrop: 0 }, { count, max }),
    ),
  });
  const server = syntheticHost({ role: 'backend', address: 'lab:server', host: { portRange: [1024, 65535], usablePorts: 64_512 }, dest: '198.18.3.1:40000', seconds: Array.from({ length: seconds }, (_, t) => hostSecond(t)) });
  const n = o.addresses ?? 1;
  const publics = Array.from({ length: n }, (_, i) => `198.18.2.${1 + i * 10}`);
  const topology: LabTopologyInfo = {
    kind: 'nat',
    hosts: [
      { name: 'client', role: 'client', addresses: ['198.18.1.1'], portRange: [1024, 65535], sysctls: {}, runs: 'the load' },
      { name: 'router', role: 'router', addresses: ['198.18.1.2', ...publics], portRange: null, sysctls: { 'net.netfilter.nf_conntrack_tcp_timeout_time_wait': '120' }, runs: 'NAT (masquerade)' },
      { name: 'server', role: 'backend', addresses: ['198.18.2.2'], portRange: [1024, 65535], sysctls: {}, runs: 'built-in target' },
    ],
    links: [
      { a: 'client', b: 'router', kind: 'data', subnet: '198.18.1.0/24', addresses: { client: '198.18.1.1', router: '198.18.1.2' } },
      { a: 'router', b: 'server', kind: 'data', subnet: '198.18.2.0/24', addresses: { router: publics[0]!, server: '198.18.2.2' } },
      { a: 'client', b: 'server', kind: 'management', subnet: '198.18.9.0/24', addresses: { client: '198.18.9.1', server: '198.18.9.2' } },
    ],
    nat: { router: 'router', ports: [40000, 40049], addresses: publics, clients: 1, conntrack: { set: { 'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 120 }, notSettable: { 'net.netfilter.nf_conntrack_max': 'read-only in a child network namespace' } } },
    prediction: null,
  };
  const load: Scenario['load'] = [{ model: 'users', users: 70, rampUp: 0, duration: 10, thinkTime: 0, startAfter: 0 }];
  const scenario: Scenario = { ...base.scenario, name: 'lab-nat-gateway', load, lab: labBlock({ topology: 'nat', nat: { ports: [40000, 40049], addresses: n, clients: 1, timeouts: {} } }) };
  return { ...base, schema: 2, scenario, runId: `20260101-000000-lab-nat${n}-0000`, lab: labInfo(topology, n > 1 ? 'two-ips' : null), hosts: { client: client(base), router, server } };
}
