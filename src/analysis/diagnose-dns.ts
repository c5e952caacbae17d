/**
 * `dns-failures`: lookups of the target's name that failed (`dns: per-connection`), with when they
 * began, whether they rose with port use or descriptors, and what the kernel says about it. Pure.
 */
import type { Verdict } from '../record/types.js';
import { ms, num, pct, sec } from '../vocab/format.js';
import { type Facts, phaseFailures } from './diagnose-facts.js';
import { firstFailureAt, pearson } from './exhaustion.js';
import { dnsSummaryOf, isPerConnectionDns } from './tls-facts.js';

/** What a lookup failure code means. */
export function explainDnsCode(code: string): string {
  switch (code) {
    case 'ENOTFOUND':
      return 'the resolver answered that the name does not exist (NXDOMAIN) or has no address';
    case 'EAI_AGAIN':
      return 'no answer came in time (a temporary failure: the resolver was slow, overloaded or unreachable)';
    case 'EAI_FAIL':
    case 'ESERVFAIL':
      return 'the resolver failed to answer (SERVFAIL)';
    case 'ECONNREFUSED':
      return 'the resolver refused the query (nothing answers on its port 53)';
    case 'ETIMEOUT':
      return 'the query timed out';
    case 'ENODATA':
      return 'the name exists but has no address of the family asked for';
    default:
      return 'the lookup failed';
  }
}

/** The target's host name, from the record's resolution or its URL. */
function targetName(f: Facts): string {
  const name = f.r.target.resolved?.name;
  if (name) return name;
  try {
    return new URL(f.r.target.url).hostname;
  } catch {
    return 'the target';
  }
}

/** Failures whose code is among `codes`, per timeline second. */
function perSecond(f: Facts, codes: readonly string[]): number[] {
  return f.timeline.map((e) => codes.reduce((a, c) => a + (e.errors[c] ?? 0), 0));
}

/** `dns-failures`: failures in phase `dns`. */
export function dnsFailures(f: Facts): Verdict | null {
  const { r, ex } = f;
  const codes = phaseFailures(r, 'dns');
  const total = codes.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return null;
  const share = total / Math.max(1, f.finished);
  const name = targetName(f);
  const firsts = codes.map(([c]) => firstFailureAt(r, c, 'dns')).filter((t): t is number => t !== null);
  const first = firsts.length > 0 ? Math.min(...firsts) : null;
  const mode = isPerConnectionDns(r) ? ' (dns: per-connection)' : '';
  const evidence = [
    `${num(total)} of ${num(f.finished)} requests (${pct(share)}) failed looking up ${name}${mode}: ${codes.slice(0, 5).map(([c, n]) => `${c} ${num(n)}`).join(', ')}${first === null ? '' : `; the first at ${sec(first)}`}.`,
  ];
  for (const [code] of codes.slice(0, 4)) evidence.push(`${code}: ${explainDnsCode(code)}.`);
  const lookups = r.totals.dnsLookups ?? 0;
  const s = dnsSummaryOf(r);
  evidence.push(lookups > 0 ? `${num(lookups)} lookups succeeded${s ? ` (p50 ${ms(s.p50)}, p99 ${ms(s.p99)})` : ''}.` : 'No lookup succeeded.');

  // Did they come with port use or with descriptors running out?
  const atFirst = first === null ? undefined : f.timeline.find((e) => e.t === Math.floor(first));
  const util = atFirst?.sockets?.utilization ?? null;
  const failing = perSecond(f, codes.map(([c]) => c));
  const points = f.timeline.map((e, i) => [e.sockets?.utilization ?? null, failing[i]!] as const).filter((p): p is readonly [number, number] => p[0] !== null);
  const corr = pearson(points.map((p) => p[0]), points.map((p) => p[1]));
  const portWords: string[] = [];
  if (util !== null) portWords.push(`at the first failure ${pct(util)} of the TCP ports toward the target were in use`);
  if (corr !== null) portWords.push(`the failures per second ${corr >= 0.5 ? 'rose with' : 'did not follow'} port utilization (correlation ${corr.toFixed(2)})`);
  if (ex.firstAtS !== null) portWords.push(`TCP ports ran out from ${sec(ex.firstAtS)}`);
  if (portWords.length > 0) evidence.push(`${portWords.join('; ')[0]!.toUpperCase()}${portWords.join('; ').slice(1)}.`);
  const fds = r.monitor.peakFds;
  const soft = fds?.soft ?? r.host.nofileSoft;
  const fdsNear = fds !== null && soft !== null && soft > 0 && fds.open >= 0.9 * soft;
  if (fds && soft !== null) {
    evidence.push(
      fdsNear
        ? `Descriptors peaked at ${num(fds.open)} of a soft limit of ${num(soft)}: a lookup needs a socket, and so a descriptor, of its own, so with none left lookups fail too${f.fdCount > 0 ? ' (see fd-exhaustion)' : ''}.`
        : `Descriptors peaked at ${num(fds.open)} of a soft limit of ${num(soft)}: not the cause.`,
    );
  }
  evidence.push(
    "A lookup goes over UDP: its socket takes an ephemeral port from the same range, but TCP's TIME_WAIT sockets do not hold UDP ports, so lookups failing while TCP ports run out point to the resolver (overloaded, rate-limiting, unreachable) or to descriptors, not to the TCP port budget.",
  );

  const advice: string[] = [];
  const attempts = lookups + total;
  if (isPerConnectionDns(r)) advice.push(`Resolve once (dns: once, the default): one lookup at the start instead of one per new connection (${num(attempts)} here).`);
  advice.push('Put a caching resolver next to the client (systemd-resolved, nscd, dnsmasq or a node-local DNS cache), so repeated lookups do not reach the upstream resolver.');
  advice.push('Check the resolver: /etc/resolv.conf (nameserver, options timeout and attempts), and its logs or rate limits for this client.');
  if (codes.some(([c]) => c === 'ENOTFOUND')) advice.push(`Check the name ${name}: its spelling, the search domains, /etc/hosts, and that the zone the resolver serves has it.`);
  if (fdsNear) advice.push(`Raise the open-file limit (now ${num(soft!)}): lookups need descriptors too.`);
  const fromStart = first !== null && first < 1 && lookups === 0;
  return {
    verdict: 'dns-failures',
    severity: share >= 0.05 ? 'critical' : 'warning',
    confidence: fromStart ? 0.95 : 0.85,
    atS: first,
    evidence,
    advice,
  };
}
