/** Text rendering of a doctor report. */
import type { DoctorReport } from '../analysis/doctor.js';
import { num, pct } from '../vocab/format.js';

const v = (x: number | null, unit = ''): string => (x === null ? 'unknown' : `${x}${unit}`);

/** Renders the doctor report for a terminal. */
export function renderDoctor(r: DoctorReport): string {
  const h = r.host;
  const reason = (k: string): string => (h.unavailable[k] ? ` (${h.unavailable[k]})` : '');
  const lines = [
    `portstorm doctor: ${h.platform} ${h.kernel}, node ${h.node}`,
    `  port range        ${h.portRange ? `${h.portRange[0]}–${h.portRange[1]}` : `unknown${reason('portRange')}`}; reserved ${h.reservedPorts ? (h.reservedPorts.length ? h.reservedPorts.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(',') : 'none') : 'unknown'}; usable ${v(r.usable)}`,
    `  TIME_WAIT         ${v(r.timeWaitS, ' s')}${h.platform === 'linux' ? ' (TCP_TIMEWAIT_LEN, not tunable; tcp_fin_timeout is for FIN_WAIT_2)' : ''}`,
    `  tcp_tw_reuse      ${v(h.tcpTwReuse)}${h.tcpTwReuse === 2 ? ' (loopback only)' : ''}, tw_reuse_delay ${v(h.tcpTwReuseDelayMs, ' ms')}, timestamps ${v(h.tcpTimestamps)}`,
    `  other             fin_timeout ${v(h.tcpFinTimeoutS, ' s')}, max_tw_buckets ${v(h.tcpMaxTwBuckets)}, somaxconn ${v(h.somaxconn)}, nofile ${v(h.nofileSoft)}/${v(h.nofileHard)}, conntrack max ${v(h.conntrackMax)}`,
    `  port hold         ${r.holdS} s after close: ${r.holdReason}${r.loopbackHoldS === null ? '' : `; toward loopback ${r.loopbackHoldS} s`}`,
    `  budget            ${r.sustainableRate === null ? 'unknown' : `≈ ${num(r.sustainableRate)} new connections/s ${r.budgetScope === 'source' ? 'per source address' : 'per destination'} with the client closing first (${num(r.usable ?? 0)} ports / ${r.holdS} s; ${r.budgetReason})`}`,
  ];
  if (r.now) {
    const u = r.now.utilization === null ? '' : ` (${pct(r.now.utilization)})`;
    lines.push(`  now               TIME_WAIT ${num(r.now.timeWait)}; ${r.now.destination ? `${num(r.now.inUse)} ports in use toward ${r.now.destination}${u}` : 'no client sockets'}`);
  }
  if (r.atRate) {
    lines.push(
      `  at ${r.atRate.rate}/s`.padEnd(20) +
        (r.atRate.sustainable ? 'sustainable: ports free up as fast as they are taken' : `first EADDRNOTAVAIL after ≈ ${r.atRate.secondsToExhaustion} s`),
    );
  }
  for (const w of r.warnings) lines.push(`  warning           ${w}`);
  lines.push('advice:');
  for (const a of r.advice) lines.push(`  - ${a.action}: ${a.effect}.`, `      trade-off: ${a.tradeOff}.`);
  return lines.join('\n') + '\n';
}
