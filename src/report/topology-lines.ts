/**
 * The lines every run report prints about a lab topology (text, Markdown): the path along the data
 * links, each host with its role, addresses, port range and what runs there, the router's NAT, and
 * the model's prediction. Plain text; each renderer escapes it.
 */
import type { LabHostInfo, LabNatInfo, LabPrediction, LabTopologyInfo, RunRecord } from '../record/types.js';
import { num, sec } from '../vocab/format.js';

/** The topology of a lab record with more than one host, else null (single, or no topology). */
export function topologyOf(r: RunRecord): LabTopologyInfo | null {
  const t = r.lab?.topology;
  return t && t.kind !== 'single' && t.hosts.length > 1 ? t : null;
}

/** "40000–40499", or "–" when the range is unknown. */
export function rangeText(range: [number, number] | null): string {
  return range ? `${range[0]}–${range[1]}` : '–';
}

/**
 * The hosts in the order the load crosses them: from `client` along the data links (each host once),
 * then any host no data link reaches, in the topology's order.
 */
export function hostsAlongPath(t: LabTopologyInfo): LabHostInfo[] {
  const byName = new Map(t.hosts.map((h) => [h.name, h]));
  const data = t.links.filter((l) => l.kind === 'data');
  const order: string[] = [];
  let at: string | undefined = (t.hosts.find((h) => h.role === 'client') ?? t.hosts[0])?.name;
  while (at !== undefined && !order.includes(at)) {
    order.push(at);
    const here: string = at;
    const next = data.find((l) => (l.a === here && !order.includes(l.b)) || (l.b === here && !order.includes(l.a)));
    at = next ? (next.a === here ? next.b : next.a) : undefined;
  }
  for (const h of t.hosts) if (!order.includes(h.name)) order.push(h.name);
  return order.map((n) => byName.get(n)!).filter(Boolean);
}

/** "chain: client → service → backend". */
export function pathText(t: LabTopologyInfo): string {
  return `${t.kind}: ${hostsAlongPath(t).map((h) => h.name).join(' → ')}`;
}

/** "service (service): 198.18.1.2, 198.18.2.1; ports 40000–40499; built-in proxy (…)". */
export function hostText(h: LabHostInfo): string {
  const addrs = h.addresses.length > 0 ? h.addresses.join(', ') : 'no address';
  return `${h.name} (${h.role}): ${addrs}; ports ${rangeText(h.portRange)}; ${h.runs}`;
}

/** "router masquerades to 40000–40049 × 1 address (198.18.2.1) = 50 per destination; conntrack …". */
export function natText(n: LabNatInfo): string {
  const ports = n.ports[1] - n.ports[0] + 1;
  const set = Object.entries(n.conntrack.set).map(([k, v]) => `${k.replace('net.netfilter.', '')} ${num(v)} s`);
  const not = Object.entries(n.conntrack.notSettable).map(([k, why]) => `${k.replace('net.netfilter.', '')} not settable (${why})`);
  const conntrack = [...set, ...not].join(', ');
  const clients = n.clients > 1 ? `; ${num(n.clients)} clients behind it` : '';
  return `${n.router} masquerades to ${n.ports[0]}–${n.ports[1]} × ${num(n.addresses.length)} address${n.addresses.length === 1 ? '' : 'es'} (${n.addresses.join(', ')}) = ${num(ports * n.addresses.length)} connections per destination${clients}${conntrack ? `; conntrack ${conntrack}` : ''}`;
}

/** "service runs out at 5.0 s (observed 5.0 s): 500 ports, hold 60 s, by rate". */
export function predictionText(p: LabPrediction): string {
  const when = p.predictedAtS === null ? 'never runs out within the run' : `runs out at ${sec(p.predictedAtS, 2)}`;
  const seen = p.observedAtS === null ? 'no failure observed' : `observed ${sec(p.observedAtS, 2)}`;
  return `${p.host} ${when} (${seen}): ${num(p.budget)} ports, hold ${sec(p.holdS)}, by ${p.basis}`;
}

/** Every line of the topology block: the path, one per host, the NAT, the prediction. */
export function topologyLines(t: LabTopologyInfo): string[] {
  const out = [pathText(t), ...hostsAlongPath(t).map(hostText)];
  if (t.nat) out.push(`NAT: ${natText(t.nat)}`);
  if (t.prediction) out.push(`model: ${predictionText(t.prediction)}`);
  return out;
}
