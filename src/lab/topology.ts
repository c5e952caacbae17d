/**
 * The plan of a multi-host lab (`lab.topology: chain | nat`): which hosts, their addresses, links,
 * sysctls, what runs in each and how the run watches them. Pure: lab-inner.ts carries it out.
 *
 * The lab's namespace is the client host; every other host is a child network namespace. Each data
 * link is one /24 of 198.18.0.0/15; each non-client host also has a management link to the client
 * on 198.19.<i>.0/24 that carries only its monitor agent's stream, so the agent's connection never
 * crosses a data link or the NAT.
 */
import type { HostRole, LabHostInfo, LabLinkInfo, LabNatInfo, LabTopologyInfo, LabTopologyKind, TargetStats } from '../record/types.js';
import type { WatchRole } from '../scenario/watch.js';
import { LAB_HOST_NAMES, type Scenario } from '../scenario/schema.js';
import { UsageError } from '../errors.js';
import { LAB_TARGET_PORT } from './netns.js';

/** The service's default ip_local_port_range in `chain` (500 ports: it runs out before the client). */
export const CHAIN_SERVICE_PORT_RANGE = '40000 40499';
/** The monitor agent's port on each host's management address. */
export const AGENT_PORT = 9464;

/** What a non-client host runs besides its monitor agent. */
export type HostRun =
  | { kind: 'builtin'; host: string; port: number; protocol: Scenario['protocol']; delayMs: number; bodyBytes: number; close: 'never' | 'after-response' }
  | { kind: 'serve'; host: string; command: string; port: number; ready: number; env: Record<string, string>; logFile: string }
  | { kind: 'proxy'; host: string; port: number; args: string[]; logFile: string }
  | { kind: 'router' };

/** One interface of a host with its addresses (CIDR). */
export interface IfacePlan {
  name: string;
  addresses: string[];
}

/** One non-client host as planned. */
export interface HostPlan {
  name: string;
  role: HostRole;
  ifaces: IfacePlan[];
  /** `ip route` argument lists (e.g. ['add', 'default', 'via', '198.18.1.1']). */
  routes: string[][];
  sysctls: Record<string, string>;
  /** nft script (`nft -f -`) for the host's namespace, or null. */
  nft: string | null;
  /** Conntrack timeouts to try to set (sysctl key → seconds); those the kernel refuses are reported. */
  conntrack: Record<string, number>;
  run: HostRun;
  runs: string;
  /** The monitor agent's listening address (management link). */
  agent: { host: string; port: number; intervalS: number; scanIntervalS: number };
}

/** A veth pair: `a` and `b` are host names (`client` is the lab's own namespace). */
export interface LinkPlan extends LabLinkInfo {
  kind: 'data' | 'management';
  /** Interface names at either end. */
  ifaces: Record<string, string>;
}

/** The whole lab. */
export interface TopologyPlan {
  kind: Exclude<LabTopologyKind, 'single'>;
  client: { ifaces: IfacePlan[]; routes: string[][]; addresses: { client: string; target: string }; runs: string };
  hosts: HostPlan[];
  links: LinkPlan[];
  /** The load's URL (scheme, host, port; the request path is added by the caller). */
  targetOrigin: string;
  /** The `watch:` entries the lab adds to the scenario it runs. */
  watch: Record<string, { url: string; role: HostRole }>;
  nat: { router: string; ports: [number, number]; addresses: string[]; clients: number; timeouts: Record<string, number> } | null;
}

const short = (p: string): string => p.replace(/^\d+\.\d+\.\d+\./, '');

/**
 * Refuses what a topology does not have, one line each (exit 2): host names, blocks of other
 * topologies, IPv6, HTTPS. `file` names the scenario.
 */
export function checkTopology(file: string, s: Scenario): void {
  const lab = s.lab;
  const kind = lab?.topology ?? 'single';
  const names: readonly string[] = LAB_HOST_NAMES[kind];
  for (const name of Object.keys(lab?.hosts ?? {})) {
    if (!names.includes(name)) throw new UsageError(`${file}: lab.hosts.${name}: not a host of topology ${kind}; its hosts are ${names.join(', ')}`);
  }
  if (kind !== 'chain' && lab?.service) throw new UsageError(`${file}: lab.service: only topology chain has a service (this is ${kind}); set lab.topology: chain or remove lab.service`);
  if (kind !== 'chain' && lab?.backend) throw new UsageError(`${file}: lab.backend: only topology chain has a backend (this is ${kind}); set lab.topology: chain or remove lab.backend`);
  if (kind !== 'nat' && lab?.nat) throw new UsageError(`${file}: lab.nat: only topology nat has a router (this is ${kind}); set lab.topology: nat or remove lab.nat`);
  if (kind === 'single') return;
  if (lab?.ipv6) throw new UsageError(`${file}: lab.ipv6: topology ${kind} has IPv4 links only (198.18.0.0/15); run it without --ipv6 / lab.ipv6`);
  if (kind === 'chain' && lab?.service && lab.serve) throw new UsageError(`${file}: lab.service: chain's service is lab.serve or the built-in proxy, not both; remove one`);
  if (kind === 'nat' && lab?.serve) throw new UsageError(`${file}: lab.serve: topology nat's server is the built-in target; remove lab.serve`);
  if (s.builtin.tls || s.target.startsWith('https:')) throw new UsageError(`${file}: tls: topology ${kind} runs plain HTTP or TCP; HTTPS labs are topology single`);
  if (kind === 'chain' && s.protocol !== 'http' && !lab?.serve) throw new UsageError(`${file}: protocol: the built-in proxy speaks HTTP; use protocol: http or give lab.serve`);
}

/** A host's sysctls: its port range (explicit, else the default given), then its own sysctls. */
function hostSysctls(s: Scenario, name: string, defaultRange: string | null): Record<string, string> {
  const h = s.lab?.hosts?.[name];
  const out: Record<string, string> = {};
  const range = h?.portRange ?? defaultRange;
  if (range) out['net.ipv4.ip_local_port_range'] = range;
  return { ...out, ...(h?.sysctls ?? {}) };
}

/** The client's own sysctls in a topology: the lab's, with `lab.hosts.client` over them. */
export function clientSysctls(s: Scenario, labSysctls: Record<string, string>): Record<string, string> {
  return { ...labSysctls, ...hostSysctls(s, 'client', null) };
}

/** The port range in a sysctl map, or null. */
export function rangeOf(sysctls: Record<string, string>): [number, number] | null {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(sysctls['net.ipv4.ip_local_port_range'] ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Plans a chain or nat lab for scenario `s`; `serveLogPrefix` starts the names of the serve commands' log files. */
export function planTopology(s: Scenario, serveLogPrefix: string): TopologyPlan {
  const kind = s.lab?.topology;
  if (kind !== 'chain' && kind !== 'nat') throw new Error(`planTopology: topology ${String(kind)}`);
  const agent = (i: number) => ({ host: `198.19.${i}.2`, port: AGENT_PORT, intervalS: s.monitor.interval, scanIntervalS: s.monitor.scanInterval });
  const mgmt = (name: string, i: number): LinkPlan => ({
    a: 'client',
    b: name,
    kind: 'management',
    subnet: `198.19.${i}.0/24`,
    addresses: { client: `198.19.${i}.1`, [name]: `198.19.${i}.2` },
    ifaces: { client: `m-${name}`, [name]: 'm-client' },
  });
  const builtin = (host: string): HostRun => ({
    kind: 'builtin',
    host,
    port: LAB_TARGET_PORT,
    protocol: s.protocol,
    delayMs: s.builtin.delayMs,
    bodyBytes: s.builtin.bodyBytes,
    close: !s.builtin.keepAlive || (s.protocol === 'tcp' && s.connection.close === 'server') ? 'after-response' : 'never',
  });
  const watch = (hosts: HostPlan[]) => Object.fromEntries(hosts.map((h) => [h.name, { url: `http://${h.agent.host}:${h.agent.port}`, role: h.role }]));

  if (kind === 'chain') {
    const backendSpec = s.lab?.backend?.serve ?? null;
    const backendPort = backendSpec?.port ?? LAB_TARGET_PORT;
    const backendUrl = `http://198.18.2.2:${backendPort}`;
    const backendRun: HostRun = backendSpec
      ? { kind: 'serve', host: '198.18.2.2', command: backendSpec.command, port: backendPort, ready: backendSpec.ready, env: {}, logFile: `${serveLogPrefix}.backend.serve.log` }
      : builtin('198.18.2.2');
    const serveSpec = s.lab?.serve ?? null;
    const servicePort = serveSpec?.port ?? LAB_TARGET_PORT;
    const backendEnv = { BACKEND_URL: backendUrl, BACKEND_HOST: '198.18.2.2', BACKEND_PORT: String(backendPort) };
    const svc = s.lab?.service ?? { kind: 'builtin-proxy' as const, upstreamReuse: false, upstreamPoolSize: 32, upstreamClose: 'client' as const, failureStatus: 502 };
    const serviceRun: HostRun = serveSpec
      ? { kind: 'serve', host: '198.18.1.2', command: serveSpec.command, port: servicePort, ready: serveSpec.ready, env: backendEnv, logFile: `${serveLogPrefix}.service.serve.log` }
      : {
          kind: 'proxy',
          host: '198.18.1.2',
          port: servicePort,
          logFile: `${serveLogPrefix}.service.proxy.log`,
          args: [
            'serve',
            '--host', '198.18.1.2',
            '--port', String(servicePort),
            '--proxy-to', backendUrl,
            ...(svc.upstreamReuse ? ['--upstream-reuse', '--upstream-pool-size', String(svc.upstreamPoolSize)] : ['--upstream-close', svc.upstreamClose]),
            '--failure-status', String(svc.failureStatus),
          ],
        };
    const serviceRuns = serveSpec
      ? `lab.serve: ${serveSpec.command}`
      : `built-in proxy (${svc.upstreamReuse ? `upstream connections reused, pool of ${svc.upstreamPoolSize}` : 'a new upstream connection per request'}, ${svc.failureStatus} when the upstream fails)`;
    const service: HostPlan = {
      name: 'service',
      role: 'service',
      ifaces: [
        { name: 'to-client', addresses: ['198.18.1.2/24'] },
        { name: 'to-backend', addresses: ['198.18.2.1/24'] },
        { name: 'm-client', addresses: ['198.19.1.2/24'] },
      ],
      routes: [],
      sysctls: hostSysctls(s, 'service', CHAIN_SERVICE_PORT_RANGE),
      nft: null,
      conntrack: {},
      run: serviceRun,
      runs: serviceRuns,
      agent: agent(1),
    };
    const backend: HostPlan = {
      name: 'backend',
      role: 'backend',
      ifaces: [
        { name: 'to-service', addresses: ['198.18.2.2/24'] },
        { name: 'm-client', addresses: ['198.19.2.2/24'] },
      ],
      routes: [],
      sysctls: hostSysctls(s, 'backend', null),
      nft: null,
      conntrack: {},
      run: backendRun,
      runs: backendSpec ? `lab.backend.serve: ${backendSpec.command}` : 'built-in target',
      agent: agent(2),
    };
    const links: LinkPlan[] = [
      { a: 'client', b: 'service', kind: 'data', subnet: '198.18.1.0/24', addresses: { client: '198.18.1.1', service: '198.18.1.2' }, ifaces: { client: 'to-service', service: 'to-client' } },
      { a: 'service', b: 'backend', kind: 'data', subnet: '198.18.2.0/24', addresses: { service: '198.18.2.1', backend: '198.18.2.2' }, ifaces: { service: 'to-backend', backend: 'to-service' } },
      mgmt('service', 1),
      mgmt('backend', 2),
    ];
    return {
      kind,
      client: {
        ifaces: [
          { name: 'to-service', addresses: ['198.18.1.1/24'] },
          { name: 'm-service', addresses: ['198.19.1.1/24'] },
          { name: 'm-backend', addresses: ['198.19.2.1/24'] },
        ],
        routes: [],
        addresses: { client: '198.18.1.1', target: '198.18.1.2' },
        runs: 'the load',
      },
      hosts: [service, backend],
      links,
      targetOrigin: `${s.protocol}://198.18.1.2:${servicePort}`,
      watch: watch([service, backend]),
      nat: null,
    };
  }

  const nat = s.lab?.nat ?? { ports: [40000, 40049] as [number, number], addresses: 1, clients: 1, timeouts: {} };
  // NAT addresses are contiguous (an nft address range) beside the router's own 198.18.2.1 and the server's .2.
  const natAddresses = Array.from({ length: nat.addresses }, (_, i) => `198.18.2.${3 + i}`);
  const clientAddresses = Array.from({ length: nat.clients }, (_, i) => `198.18.1.${2 + i}`);
  const [lo, hi] = nat.ports;
  // Several addresses: each new connection takes the next address in turn (as a cloud NAT gateway
  // spreads them). A plain address range would not do: Linux picks its address by a hash of the
  // source and destination, so one client toward one server would use one address only.
  const to =
    natAddresses.length === 1
      ? `to ${natAddresses[0]}:${lo}-${hi}`
      : `ip to numgen inc mod ${natAddresses.length} map { ${natAddresses.map((a, i) => `${i} : ${a} . ${lo}-${hi}`).join(', ')} }`;
  const nft = [
    'table ip portstorm {',
    '  chain post {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname "to-server" meta l4proto tcp snat ${to}`,
    '  }',
    '}',
    '',
  ].join('\n');
  const timeouts: Record<string, number> = {};
  if (nat.timeouts.timeWait !== undefined) timeouts['net.netfilter.nf_conntrack_tcp_timeout_time_wait'] = Math.round(nat.timeouts.timeWait);
  if (nat.timeouts.established !== undefined) timeouts['net.netfilter.nf_conntrack_tcp_timeout_established'] = Math.round(nat.timeouts.established);
  const router: HostPlan = {
    name: 'router',
    role: 'router',
    ifaces: [
      { name: 'to-client', addresses: ['198.18.1.1/24'] },
      { name: 'to-server', addresses: ['198.18.2.1/24', ...natAddresses.map((a) => `${a}/24`)] },
      { name: 'm-client', addresses: ['198.19.1.2/24'] },
    ],
    routes: [],
    sysctls: { 'net.ipv4.ip_forward': '1', ...hostSysctls(s, 'router', null) },
    nft,
    conntrack: timeouts,
    run: { kind: 'router' },
    runs: `NAT (snat to ${natAddresses.join(', ')}${natAddresses.length > 1 ? ' in turn' : ''}, ports ${lo}-${hi})`,
    agent: agent(1),
  };
  const server: HostPlan = {
    name: 'server',
    role: 'backend',
    ifaces: [
      { name: 'to-router', addresses: ['198.18.2.2/24'] },
      { name: 'm-client', addresses: ['198.19.2.2/24'] },
    ],
    routes: [],
    sysctls: hostSysctls(s, 'server', null),
    nft: null,
    conntrack: {},
    run: builtin('198.18.2.2'),
    runs: 'built-in target',
    agent: agent(2),
  };
  return {
    kind,
    client: {
      ifaces: [
        { name: 'to-router', addresses: clientAddresses.map((a) => `${a}/24`) },
        { name: 'm-router', addresses: ['198.19.1.1/24'] },
        { name: 'm-server', addresses: ['198.19.2.1/24'] },
      ],
      routes: [['add', 'default', 'via', '198.18.1.1', 'dev', 'to-router', 'src', clientAddresses[0]!]],
      addresses: { client: clientAddresses[0]!, target: '198.18.2.2' },
      runs:
        nat.clients > 1
          ? `the load, from ${nat.clients} client addresses (${short(clientAddresses[0]!)}–${short(clientAddresses.at(-1)!)}) bound round-robin: ${nat.clients} instances to the NAT, one load generator and one namespace`
          : 'the load',
    },
    hosts: [router, server],
    links: [
      { a: 'client', b: 'router', kind: 'data', subnet: '198.18.1.0/24', addresses: { client: clientAddresses.join(','), router: '198.18.1.1' }, ifaces: { client: 'to-router', router: 'to-client' } },
      { a: 'router', b: 'server', kind: 'data', subnet: '198.18.2.0/24', addresses: { router: ['198.18.2.1', ...natAddresses].join(','), server: '198.18.2.2' }, ifaces: { router: 'to-server', server: 'to-router' } },
      mgmt('router', 1),
      mgmt('server', 2),
    ],
    targetOrigin: `${s.protocol}://198.18.2.2:${LAB_TARGET_PORT}`,
    watch: watch([router, server]),
    nat: { router: 'router', ports: [lo, hi], addresses: natAddresses, clients: nat.clients, timeouts },
  };
}

/** The record's hosts (client first) from a plan and the client's sysctls. */
export function hostInfos(plan: TopologyPlan, clientSysctls: Record<string, string>): LabHostInfo[] {
  const addrs = (ifaces: IfacePlan[]) => ifaces.flatMap((i) => i.addresses.map((a) => a.replace(/\/\d+$/, '')));
  return [
    { name: 'client', role: 'client', addresses: addrs(plan.client.ifaces), portRange: rangeOf(clientSysctls), sysctls: clientSysctls, runs: plan.client.runs },
    ...plan.hosts.map((h) => ({ name: h.name, role: h.role, addresses: addrs(h.ifaces), portRange: rangeOf(h.sysctls), sysctls: h.sysctls, runs: h.runs })),
  ];
}

/**
 * What the lab changes in the scenario it runs: the hosts' agents added to `watch:`, and in nat with
 * several clients (and no source addresses given) the load bound round-robin to the client addresses.
 */
export function topologyScenario(s: Scenario, plan: TopologyPlan): Pick<Scenario, 'watch' | 'connection'> {
  const watch = { ...(s.watch ?? {}) };
  for (const [name, w] of Object.entries(plan.watch)) watch[name] = { url: w.url, role: w.role as WatchRole, optional: false };
  const clients = plan.client.ifaces[0]!.addresses.map((a) => a.replace(/\/\d+$/, ''));
  const connection = plan.kind === 'nat' && clients.length > 1 && s.connection.localAddresses.length === 0 ? { ...s.connection, localAddresses: clients } : s.connection;
  return { watch, connection };
}

/** The record's `lab.topology` (the model's prediction is filled in by the caller, if any). */
export function topologyInfo(plan: TopologyPlan, clientSysctls: Record<string, string>, conntrack: Record<string, LabNatInfo['conntrack']>): LabTopologyInfo {
  return {
    kind: plan.kind,
    hosts: hostInfos(plan, clientSysctls),
    links: plan.links.map(({ a, b, kind, subnet, addresses }) => ({ a, b, kind, subnet, addresses })),
    nat: plan.nat
      ? { router: plan.nat.router, ports: plan.nat.ports, addresses: plan.nat.addresses, clients: plan.nat.clients, conntrack: conntrack[plan.nat.router] ?? { set: {}, notSettable: {} } }
      : null,
    prediction: null,
  };
}

/** The built-in target's counters for the record's `target.stats`: nat's server (the load's target); null in chain (the load's target is the service). */
export function builtinStats(plan: TopologyPlan, ended: Record<string, { stats: unknown }>): TargetStats | null {
  return plan.kind === 'nat' ? ((ended['server']?.stats ?? null) as TargetStats | null) : null;
}

/**
 * The scenario and sysctls the capacity model sees for the host that runs out first in a chain: the
 * service's port range and its upstream connections (the built-in proxy's options; `lab.serve` is
 * taken as a new connection per request that it closes first).
 */
export function chainServiceModel(s: Scenario): { scenario: Scenario; sysctls: Record<string, string> } {
  const svc = s.lab?.serve ? null : s.lab?.service;
  const connection = { ...s.connection, reuse: svc?.upstreamReuse ?? false, close: svc?.upstreamClose ?? 'client', localAddresses: [] };
  return { scenario: { ...s, connection }, sysctls: hostSysctls(s, 'service', CHAIN_SERVICE_PORT_RANGE) };
}
