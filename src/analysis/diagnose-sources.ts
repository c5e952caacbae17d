/**
 * `source-address-unavailable`: bind() to a source address the host does not have fails with
 * EADDRNOTAVAIL, the same code Linux's connect() gives when no port is free. Told apart by the
 * failing syscall and by the host's own addresses. Pure.
 */
import type { Verdict } from '../record/types.js';
import type { Facts } from './diagnose-facts.js';
import { isBindSample } from './exhaustion.js';
import { num, pct, sec } from '../vocab/format.js';

/** Critical when bind() failed with EADDRNOTAVAIL, or a configured source address is missing and EADDRNOTAVAIL occurred. */
export function sourceAddressUnavailable(f: Facts): Verdict | null {
  const { r } = f;
  if (f.bindUnavailable <= 0) return null;
  const bindSamples = r.errorSamples.filter((s) => s.code === 'EADDRNOTAVAIL' && isBindSample(s));
  const first = bindSamples.length > 0 ? Math.min(...bindSamples.map((s) => s.t)) : (f.timeline.find((e) => (e.errors['EADDRNOTAVAIL'] ?? 0) > 0)?.t ?? null);
  const configured = r.scenario.connection.localAddresses;
  const missing = f.missingSources;
  const addresses = missing.length > 0 ? missing : configured;
  const evidence = [
    `${num(f.bindUnavailable)} of ${num(f.finished)} requests (${pct(f.bindUnavailable / Math.max(1, f.finished))}) failed with EADDRNOTAVAIL${r.errorsBySyscall ? ' from bind()' : ''}${first === null ? '' : `, the first at ${sec(first)}`}.`,
  ];
  if (missing.length > 0) {
    evidence.push(`connection.localAddresses has ${missing.join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not among this host's addresses (${(r.host.localAddresses ?? []).slice(0, 6).join(', ')}${(r.host.localAddresses?.length ?? 0) > 6 ? ', …' : ''}).`);
  } else if (configured.length > 0) {
    evidence.push(`bind() to a configured source address (${configured.join(', ')}) failed: the address is not (or no longer) on an interface of this host.`);
  }
  evidence.push('This is not port exhaustion: bind() of an address the host lacks fails with the same code as a connect() that finds no free port.');
  if (f.signalTotal > 0) evidence.push(`${num(f.signalTotal)} other failures do signal exhaustion (see client-port-exhaustion).`);
  const address = addresses[0] ?? 'ADDRESS';
  const example = address.includes(':') ? `ip -6 addr add ${address}/128 dev lo nodad` : `ip addr add ${address}/32 dev lo`;
  const advice = [
    `Add ${addresses.join(', ')} to an interface (e.g. ${example} for a test) or remove ${addresses.length > 1 ? 'them' : 'it'} from connection.localAddresses.`,
    'Check with `ip -br addr` (Linux) or `ifconfig` that every source address is configured before the run.',
  ];
  return { verdict: 'source-address-unavailable', severity: 'critical', confidence: missing.length > 0 || r.errorsBySyscall ? 0.95 : 0.85, atS: first, evidence, advice };
}
