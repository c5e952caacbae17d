/**
 * The scenario file format: one zod schema that validates input, fills defaults and yields the
 * `Scenario` type. Durations are written as `500ms`, `30s`, `2m`, `1h` or a number of seconds and
 * resolve to **seconds**, so a resolved scenario (as stored in the run record) is valid input again.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { unmappedIp } from '../vocab/address.js';
import { sysctlProblem } from './sysctls.js';
import { isVariantName, parseVariant } from './variant.js';
import { watchBlock } from './watch.js';

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Parses `500ms`, `30s`, `2m`, `1h` or a plain number of seconds; returns seconds or null. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const m = DURATION_RE.exec(trimmed);
  if (!m) return null;
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}

const DURATION_HINT = 'a duration like 500ms, 30s, 2m or a number of seconds';

/** A duration in seconds (>= 0). */
const duration = z
  .union([z.number(), z.string()], { error: `expected ${DURATION_HINT}` })
  .transform((v, ctx) => {
    const s = parseDuration(v);
    if (s === null) {
      ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return s;
  });

/** A duration in seconds that must be > 0. */
const positiveDuration = duration.refine((s) => s > 0, { message: 'expected a duration greater than 0' });

const positiveInt = z.number().int().positive();

const request = z.strictObject({
  method: z.string().regex(/^[A-Z]+$/, 'expected an HTTP method in capitals, e.g. GET').default('GET'),
  path: z.string().startsWith('/', 'expected a path starting with /').optional(),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().default(''),
});

const connection = z.strictObject({
  reuse: z.boolean().default(false),
  poolSize: positiveInt.default(50),
  close: z.enum(['client', 'server', 'reset']).default('client'),
  /** Source addresses, used round-robin; resolved to one textual form (IPv6 per RFC 5952, an IPv4-mapped one as IPv4). */
  localAddresses: z
    .array(z.string().refine((a) => isIP(a) !== 0, 'expected an IPv4 or IPv6 address'))
    .default([]),
});

/** One stage of a piecewise arrival rate: the rate goes linearly from `startRate` (default: `rate`, a constant stage) to `rate` over `duration`. */
const arrivalStage = z.strictObject({
  duration: positiveDuration,
  rate: z.number().nonnegative(),
  startRate: z.number().nonnegative().optional(),
});

/** The peak rate of a list of stages. */
const stagesPeak = (stages: { rate: number; startRate?: number | undefined }[]): number =>
  Math.max(...stages.map((st) => Math.max(st.rate, st.startRate ?? st.rate)));
const stagesLength = (stages: { duration: number }[]): number => stages.reduce((sum, st) => sum + st.duration, 0);

/**
 * An open-model group: `rate` (ramped from `startRate` over `rampUp`) for `duration`, or `stages`
 * (piecewise: stepped or linear segments); with stages, `rate` resolves to their peak and `duration`
 * to their sum, and may be given only with those values (so a resolved group is valid input again).
 */
const arrivalRateGroup = z
  .strictObject({
    model: z.literal('arrival-rate'),
    rate: z.number().positive().optional(),
    startRate: z.number().nonnegative().optional(),
    rampUp: duration.default(0),
    duration: positiveDuration.optional(),
    stages: z.array(arrivalStage).min(1, 'expected at least one stage').optional(),
    startAfter: duration.default(0),
    maxInFlight: positiveInt.default(10_000),
  })
  .superRefine((g, ctx) => {
    if (g.stages === undefined) {
      if (g.rate === undefined) ctx.addIssue({ code: 'custom', path: ['rate'], message: 'expected a rate (requests per second), or stages' });
      if (g.duration === undefined) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'expected a duration, or stages' });
      return;
    }
    const peak = stagesPeak(g.stages);
    if (!(peak > 0)) ctx.addIssue({ code: 'custom', path: ['stages'], message: 'expected a stage with a rate greater than 0' });
    if (g.rate !== undefined && g.rate !== peak) ctx.addIssue({ code: 'custom', path: ['rate'], message: `expected no rate with stages (it is their peak, ${peak})` });
    const length = stagesLength(g.stages);
    if (g.duration !== undefined && Math.abs(g.duration - length) > 1e-9) ctx.addIssue({ code: 'custom', path: ['duration'], message: `expected no duration with stages (it is their sum, ${length}s)` });
    if (g.startRate !== undefined || g.rampUp > 0) ctx.addIssue({ code: 'custom', path: [g.startRate !== undefined ? 'startRate' : 'rampUp'], message: 'expected no startRate or rampUp with stages (give each stage its startRate)' });
  })
  .transform((g) => {
    if (g.stages === undefined) return { ...g, rate: g.rate!, duration: g.duration! };
    return { ...g, rate: stagesPeak(g.stages), duration: stagesLength(g.stages) };
  });

const usersGroup = z
  .strictObject({
    model: z.literal('users'),
    users: positiveInt,
    rampUp: duration.default(0),
    /** Start the users in this many equal steps over rampUp (as the bzm Concurrency Thread Group does) instead of one by one. */
    rampSteps: positiveInt.optional(),
    duration: positiveDuration.optional(),
    iterations: positiveInt.optional(),
    thinkTime: duration.default(0),
    /** A uniformly random extra think time in [0, thinkTimeRandom) after each request, on top of thinkTime. */
    thinkTimeRandom: duration.optional(),
    startAfter: duration.default(0),
  })
  .refine((g) => g.duration !== undefined || g.iterations !== undefined, {
    message: 'expected duration or iterations (or both)',
  });

const loadGroup = z.discriminatedUnion('model', [arrivalRateGroup, usersGroup], {
  error: 'expected a group with model: arrival-rate or model: users',
});

/** Why `t` is not a usable target, or null when it is. */
export function targetProblem(t: string): string | null {
  if (t === 'builtin') return null;
  const expected = 'expected builtin, http://host:port/path, https://host:port/path or tcp://host:port (IPv6 in brackets: http://[::1]:8080/)';
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return expected;
  }
  const web = u.protocol === 'http:' || u.protocol === 'https:';
  const ok = (web || u.protocol === 'tcp:') && u.hostname !== '' && (web || u.port !== '');
  return ok ? null : expected;
}

/**
 * TLS client settings of an HTTPS target (`https://` or `builtin.tls: true`). File paths are read
 * relative to the scenario file (scenario/load.ts resolves and checks them before any load).
 */
const tls = z.strictObject({
  /** Accept a certificate that does not verify (self-signed staging certificates); a warning is printed. */
  insecure: z.boolean().default(false),
  /** PEM file of CA certificates to trust instead of Node's root store. */
  ca: z.string().min(1, 'expected a file path').optional(),
  /** Client certificate (PEM); needs `key`. */
  cert: z.string().min(1, 'expected a file path').optional(),
  /** Client private key (PEM); needs `cert`. */
  key: z.string().min(1, 'expected a file path').optional(),
  /** The SNI name sent and checked against the certificate (default: the URL's host name). */
  servername: z.string().min(1).optional(),
  /** Resume TLS sessions across new connections (as browsers do); false: a full handshake every time. */
  sessionResumption: z.boolean().default(true),
  /** ALPN protocols offered; only HTTP/1.1 is spoken for now. */
  alpn: z.array(z.literal('http/1.1', { error: 'expected http/1.1 (the only protocol portstorm speaks over TLS for now)' })).default(['http/1.1']),
});

const target = z.string().superRefine((t, ctx) => {
  const problem = targetProblem(t);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

/** Namespace sysctls, checked as `--sysctl` is; keys resolve to their full names. */
const sysctlMap = z.record(z.string(), z.union([z.string(), z.number()])).transform((m, ctx) => {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(m)) {
    const checked = sysctlProblem(key, String(value));
    if (typeof checked === 'string') ctx.addIssue({ code: 'custom', path: [key], message: checked });
    else out[checked[0]] = checked[1];
  }
  return out;
});

/** A variant as an object, or as the `--variant` string `name:override,...`. */
const labVariant = z.preprocess(
  (v, ctx) => {
    if (typeof v !== 'string') return v;
    try {
      const parsed = parseVariant(v);
      return { name: parsed.name, sysctls: Object.fromEntries(parsed.sysctls.map((s) => s.split(/=(.*)/s).slice(0, 2))), set: parsed.sets };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  },
  z.strictObject(
    {
      name: z.string().refine(isVariantName, 'expected a name of letters, digits, - _ .'),
      sysctls: sysctlMap.default({}),
      set: z.array(z.string()).default([]),
    },
    { error: 'expected a variant: name:override,... or { name, sysctls, set }' },
  ).meta({ orString: 'the --variant form: name[:sysctl.<key>=<value>|<path>=<value>,...]' }),
);

/** A port range written `lo-hi` or `lo hi` (as ip_local_port_range takes it). */
const portRangeText = (low: number) =>
  z.preprocess((v) => (Array.isArray(v) && v.length === 2 ? `${String(v[0])}-${String(v[1])}` : v), z.string()).transform((v, ctx) => {
    const m = /^\s*(\d{1,5})\s*[- ]\s*(\d{1,5})\s*$/.exec(v);
    const lo = Number(m?.[1]);
    const hi = Number(m?.[2]);
    if (m && lo >= low && hi <= 65535 && lo <= hi) return [lo, hi] as [number, number];
    ctx.addIssue({ code: 'custom', message: `expected a port range lo-hi within ${low}-65535, got ${JSON.stringify(v)}` });
    return z.NEVER;
  });

/** A server command run in a lab host (`lab.serve`, `lab.backend.serve`): a shell command, or { command, port, ready }. */
const serveCommand = z.preprocess(
  (s) => (typeof s === 'string' ? { command: s } : s),
  z.strictObject(
    {
      command: z.string().min(1, 'expected a shell command'),
      port: z.number().int().min(1).max(65535).default(8080),
      ready: positiveDuration.default(10),
    },
    { error: 'expected a shell command, or { command, port, ready }' },
  ).meta({ orString: 'a shell command (port 8080, ready within 10 s)' }),
);

/** The lab topologies: `single` (one host: the client runs out), `chain` (client → service → backend), `nat` (clients → router → server). */
export const LAB_TOPOLOGIES = ['single', 'chain', 'nat'] as const;
/** The host names a topology has (its `lab.hosts` keys); `client` is the load generator. */
export const LAB_HOST_NAMES = { single: ['client'], chain: ['client', 'service', 'backend'], nat: ['client', 'router', 'server'] } as const;

/** An ip_local_port_range value (`lo-hi` or `lo hi`), checked as `--port-range` is; resolves to `lo hi`. */
const localPortRange = z.string().transform((v, ctx) => {
  const checked = sysctlProblem('net.ipv4.ip_local_port_range', v);
  if (typeof checked !== 'string') return checked[1];
  ctx.addIssue({ code: 'custom', message: checked });
  return z.NEVER;
});

/** One lab host's own settings (`lab.hosts.<name>`). */
const labHost = z.strictObject({
  portRange: localPortRange.optional(),
  sysctls: sysctlMap.default({}),
});

/** `lab.service: builtin-proxy` and its options: what the service does with its upstream connections. */
const labService = z.preprocess(
  (s) => (s === 'builtin-proxy' ? { kind: 'builtin-proxy' } : s),
  z.strictObject(
    {
      kind: z.literal('builtin-proxy').default('builtin-proxy'),
      /** Keep upstream connections open and reuse them (the fix); false: a new connection per request (the incident). */
      upstreamReuse: z.boolean().default(false),
      /** Upstream connections kept open at most (with upstreamReuse). */
      upstreamPoolSize: positiveInt.max(10_000).default(32),
      /** Who closes an upstream connection after its response (without reuse): the proxy (TIME_WAIT on the service), the backend, or a reset. */
      upstreamClose: z.enum(['client', 'server', 'reset']).default('client'),
      /** The status the proxy answers with when its upstream request fails. */
      failureStatus: z.number().int().min(500).max(599).default(502),
    },
    { error: 'expected builtin-proxy, or { upstreamReuse, upstreamPoolSize, upstreamClose, failureStatus }' },
  ).meta({ orString: 'builtin-proxy (a new upstream connection per request, 502 when it fails)' }),
);

/** `lab.nat`: the router's source NAT. */
const labNat = z.strictObject({
  /** Ports connections are translated to, on each address (default 40000-40049: 50 ports). */
  ports: portRangeText(1024).default([40000, 40049]),
  /** Public-side addresses the router translates to. */
  addresses: positiveInt.max(16).default(1),
  /** Client namespaces behind the router, the load split among them. */
  clients: positiveInt.max(16).default(1),
  /** Conntrack timeouts in the router's namespace (nf_conntrack_tcp_timeout_time_wait, _established). */
  timeouts: z.strictObject({ timeWait: positiveDuration.optional(), established: positiveDuration.optional() }).default({}),
});

/** `portstorm lab` settings; ignored by `portstorm run`. */
const lab = z.strictObject({
  /** The shape of the lab: `single` (default), `chain`, `nat`. */
  topology: z.enum(LAB_TOPOLOGIES, { error: `expected a topology: ${LAB_TOPOLOGIES.join(', ')}` }).default('single'),
  /** Per-host settings by host name (chain: client, service, backend; nat: client, router, server). */
  hosts: z.record(z.string(), labHost).default({}),
  /** chain: the service when it is the built-in proxy (the default when lab.serve is not given). */
  service: labService.optional(),
  /** chain: the backend's own server instead of the built-in target. */
  backend: z.strictObject({ serve: serveCommand }).optional(),
  /** nat: the router's NAT. */
  nat: labNat.optional(),
  /** true: an IPv6 lab, the client on fd00::1 and the target on fd00::2 (else 198.18.0.1 and 198.18.0.2). */
  ipv6: z.boolean().optional(),
  portRange: localPortRange.optional(),
  sysctls: sysctlMap.default({}),
  /** Your own server: the target (single), or the service (chain), with HOST and PORT (chain: BACKEND_URL, BACKEND_HOST, BACKEND_PORT) in its environment. */
  serve: serveCommand.optional(),
  variants: z
    .array(labVariant)
    .refine((vs) => new Set(vs.map((v) => v.name)).size === vs.length, 'expected variant names to differ')
    .default([]),
});

/** The scenario schema: input shape with defaults; `Scenario` is what it resolves to. */
export const scenarioSchema = z
  .strictObject({
    name: z.string().min(1).default('scenario'),
    target: target.default('builtin'),
    protocol: z.enum(['http', 'tcp']).optional(),
    request: request.default({ method: 'GET', headers: {}, body: '' }),
    payload: z.string().default('PING\n'),
    expectBytes: z.number().int().nonnegative().optional(),
    connection: connection.default({ reuse: false, poolSize: 50, close: 'client', localAddresses: [] }),
    load: z.array(loadGroup).min(1, 'expected at least one load group'),
    timeouts: z
      .strictObject({ connect: positiveDuration.default(2), tls: positiveDuration.optional(), request: positiveDuration.default(10) })
      .default({ connect: 2, request: 10 }),
    tls: tls.default({ insecure: false, sessionResumption: true, alpn: ['http/1.1'] }),
    dns: z.enum(['once', 'per-connection']).default('once'),
    workers: z.union([z.literal('auto'), positiveInt], { error: 'expected auto or a positive integer' }).default('auto'),
    /** When the load starts (ISO 8601 with a zone, e.g. 2026-12-08T10:00:00Z): every shard of a sharded run waits for it (`--start-at` overrides). */
    startAt: z
      .string()
      .refine((t) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(t) && Number.isFinite(Date.parse(t)), 'expected an ISO time with a zone, e.g. 2026-12-08T10:00:00Z')
      .optional(),
    thresholds: z.array(z.string()).default([]),
    builtin: z
      .strictObject({
        delayMs: z.number().nonnegative().default(0),
        bodyBytes: z.number().int().nonnegative().default(2),
        keepAlive: z.boolean().default(true),
        /** Serve HTTPS with a self-signed certificate made at start (the run trusts it). */
        tls: z.boolean().default(false),
      })
      .default({ delayMs: 0, bodyBytes: 2, keepAlive: true, tls: false }),
    allowRemote: z.boolean().default(false),
    monitor: z
      .strictObject({
        enabled: z.boolean().default(true),
        interval: positiveDuration.default(0.25),
        scanInterval: positiveDuration.default(1),
      })
      .default({ enabled: true, interval: 0.25, scanInterval: 1 }),
    limits: z
      .strictObject({
        maxDuration: positiveDuration.default(3600),
        maxRequests: positiveInt.default(100_000_000),
      })
      .default({ maxDuration: 3600, maxRequests: 100_000_000 }),
    lab: lab.optional(),
    /** Other hosts to watch during the run: `portstorm monitor --serve` agents by name. */
    watch: watchBlock.optional(),
  })
  .transform((s, ctx) => {
    const scheme = s.target === 'builtin' ? null : new URL(s.target).protocol.slice(0, -1);
    const urlProtocol = scheme === 'https' ? 'http' : scheme;
    if (urlProtocol && s.protocol && urlProtocol !== s.protocol) {
      ctx.addIssue({ code: 'custom', path: ['protocol'], message: `expected ${urlProtocol} to match the target URL scheme (${scheme}://)` });
    }
    const protocol = (s.protocol ?? urlProtocol ?? 'http') as 'http' | 'tcp';
    if (s.target === 'builtin' && s.builtin.tls && protocol === 'tcp') {
      ctx.addIssue({ code: 'custom', path: ['builtin', 'tls'], message: 'expected protocol: http (the built-in target serves TLS over HTTP only)' });
    }
    if ((s.tls.cert === undefined) !== (s.tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', s.tls.cert === undefined ? 'cert' : 'key'], message: `expected tls.cert and tls.key together (a client certificate needs its key)` });
    }
    const urlPath = urlProtocol === 'http' ? new URL(s.target).pathname + new URL(s.target).search : '/';
    return {
      ...s,
      connection: { ...s.connection, localAddresses: s.connection.localAddresses.map(unmappedIp) },
      protocol,
      request: { ...s.request, path: s.request.path ?? urlPath },
      expectBytes: s.expectBytes ?? Buffer.byteLength(s.payload),
      timeouts: { ...s.timeouts, tls: s.timeouts.tls ?? s.timeouts.connect },
    };
  });

/** A resolved scenario: every default filled, durations in seconds. */
export type Scenario = z.output<typeof scenarioSchema>;
/** One load group of a resolved scenario. */
export type LoadGroup = Scenario['load'][number];
export type ArrivalRateGroup = Extract<LoadGroup, { model: 'arrival-rate' }>;
export type UsersGroup = Extract<LoadGroup, { model: 'users' }>;
export type ConnectionPolicy = Scenario['connection'];
/** A resolved `lab:` block. */
export type LabBlock = NonNullable<Scenario['lab']>;

/** True when the scenario's connections speak TLS: an `https://` target, or the built-in target with `builtin.tls`. */
export function usesTls(s: Pick<Scenario, 'target' | 'builtin'>): boolean {
  return s.target === 'builtin' ? s.builtin.tls : s.target.startsWith('https:');
}
