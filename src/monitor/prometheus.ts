/**
 * The monitor's figures in Prometheus text format (prom-client), served over HTTP at /metrics.
 * Serving needs no ephemeral port, so it keeps answering while the host is out of ports.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { CONNTRACK_COUNTER_NAMES, type MonitorSample } from './types.js';

const CONNTRACK_COUNTERS: ReadonlySet<string> = new Set(CONNTRACK_COUNTER_NAMES);

/** The capacity model's view of one destination (computed above this layer and injected). */
export interface DestinationCapacity {
  /** The destination as the scan names it (the `dest` label of the other per-destination metrics). */
  dest: string;
  /** Seconds to the first failed connect() at the current rate; Infinity when the rate is sustainable or zero; null when unknown. */
  etaS: number | null;
  /** New connections per second the destination's port pools sustain (usable ports ÷ hold); null when the usable ports are unknown. */
  sustainableRate: number | null;
  /** New connections per second toward the destination now (estimated); null when unknown. */
  newConnectionRate: number | null;
  /** Seconds a closed port stays unusable toward the destination. */
  holdS: number;
}

/** Turns the monitor's samples into the capacity view; sees every sample, answers (non-null) on samples with a scan. */
export interface CapacityEstimator {
  observe(sample: MonitorSample): DestinationCapacity[] | null;
}

/** A metrics registry fed from monitor samples. */
export class MonitorMetrics {
  readonly registry = new Registry();
  private readonly timeWait = new Gauge({ name: 'portstorm_time_wait_sockets', help: 'TCP sockets in TIME_WAIT (whole network namespace)', registers: [this.registry] });
  private readonly sockets = new Gauge({ name: 'portstorm_sockets', help: 'TCP sockets by state and side', labelNames: ['state', 'side'], registers: [this.registry] });
  private readonly inUse = new Gauge({ name: 'portstorm_ephemeral_ports_in_use', help: 'Client sockets holding an ephemeral port, by destination', labelNames: ['dest'], registers: [this.registry] });
  private readonly utilization = new Gauge({ name: 'portstorm_port_utilization', help: 'Ephemeral ports in use toward a destination / usable ports', labelNames: ['dest'], registers: [this.registry] });
  private readonly usable = new Gauge({ name: 'portstorm_usable_ports', help: 'Ephemeral ports connect() can pick', registers: [this.registry] });
  private readonly scanSeconds = new Gauge({ name: 'portstorm_scan_seconds', help: 'Cost of the last per-socket scan', registers: [this.registry] });
  private readonly counters = new Counter({ name: 'portstorm_tcp_events_total', help: 'Kernel TCP counters (increase since the monitor started)', labelNames: ['counter'], registers: [this.registry] });
  private readonly conntrackEvents = new Counter({ name: 'portstorm_conntrack_events_total', help: 'Connection-tracking counters of /proc/net/stat/nf_conntrack, summed over CPUs (increase since the monitor started)', labelNames: ['counter'], registers: [this.registry] });
  private readonly conntrack = new Gauge({ name: 'portstorm_conntrack_entries', help: 'Connection-tracking entries and table size', labelNames: ['kind'], registers: [this.registry] });
  private readonly eta = new Gauge({ name: 'portstorm_port_exhaustion_eta_seconds', help: 'Seconds until connect() toward a destination first fails at the current new-connection rate (+Inf: sustainable or no new connections)', labelNames: ['dest'], registers: [this.registry] });
  private readonly sustainable = new Gauge({ name: 'portstorm_sustainable_connection_rate', help: 'New connections per second a destination\'s ports sustain (usable ports / hold)', labelNames: ['dest'], registers: [this.registry] });
  private readonly newRate = new Gauge({ name: 'portstorm_new_connection_rate', help: 'New connections per second toward a destination (estimated from the scans and kernel counters)', labelNames: ['dest'], registers: [this.registry] });
  private readonly hold = new Gauge({ name: 'portstorm_port_hold_seconds', help: 'Seconds a closed port stays unusable toward a destination (TIME_WAIT, or tcp_tw_reuse_delay)', labelNames: ['dest'], registers: [this.registry] });

  /** `capacity` (optional) adds the per-destination ETA, sustainable and new-connection rates and hold. */
  constructor(
    usable: number | null,
    private readonly capacity: CapacityEstimator | null = null,
  ) {
    if (usable !== null) this.usable.set(usable);
  }

  /** Updates every metric from one sample. */
  update(s: MonitorSample): void {
    const view = this.capacity?.observe(s) ?? null;
    if (view) this.setCapacity(view);
    if (s.sockstat) this.timeWait.set(s.sockstat.timeWait);
    // A readable counter's series exists from its first delta, zero included: rate() and increase()
    // miss a counter's first rise when its series starts at the risen value.
    if (s.counters) {
      for (const [name, d] of Object.entries(s.counters)) {
        if (d !== null) (CONNTRACK_COUNTERS.has(name) ? this.conntrackEvents : this.counters).inc({ counter: name }, Math.max(0, d));
      }
    }
    if (s.conntrack) {
      this.conntrack.set({ kind: 'count' }, s.conntrack.count);
      this.conntrack.set({ kind: 'max' }, s.conntrack.max);
    }
    const scan = s.scan;
    if (!scan) return;
    if (!s.sockstat) this.timeWait.set(scan.states.timeWait);
    this.scanSeconds.set(scan.costMs / 1000);
    for (const side of ['client', 'server'] as const) {
      for (const [state, n] of Object.entries(scan[side])) this.sockets.set({ state, side }, n);
    }
    this.inUse.reset();
    this.utilization.reset();
    for (const d of scan.destinations) {
      this.inUse.set({ dest: d.dest }, d.inUse);
      if (d.utilization !== null) this.utilization.set({ dest: d.dest }, d.utilization);
    }
  }

  /** Replaces the capacity gauges: a destination the latest scan no longer keeps loses its series. */
  private setCapacity(view: DestinationCapacity[]): void {
    for (const g of [this.eta, this.sustainable, this.newRate, this.hold]) g.reset();
    for (const c of view) {
      const dest = { dest: c.dest };
      if (c.etaS !== null) this.eta.set(dest, c.etaS);
      if (c.sustainableRate !== null) this.sustainable.set(dest, c.sustainableRate);
      if (c.newConnectionRate !== null) this.newRate.set(dest, c.newConnectionRate);
      this.hold.set(dest, c.holdS);
    }
  }
}

/** Serves `registry` at http://host:port/metrics; resolves with the bound address. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
