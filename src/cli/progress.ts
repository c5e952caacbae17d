/**
 * Live progress on stderr: an ora spinner line on a TTY, a plain line every few seconds otherwise.
 * A pure subscriber to the run's progress callback.
 */
import ora, { type Ora } from 'ora';
import type { LiveStats } from '../record/accumulator.js';
import { DASH, ms, num, pct, rate } from '../vocab/format.js';

const PLAIN_EVERY_S = 5;

/**
 * Formats one progress line. Before anything completed there is no rate or latency to show, so
 * both read `–` rather than a made-up `0/s` and `p99 0 ms`; so does p99 in a second where nothing
 * completed.
 */
export function progressLine(elapsedS: number, live: LiveStats): string {
  const t = live.totals;
  const errs = Object.entries(live.errors)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([c, n]) => `${c} ${num(n)}`)
    .join(' ');
  const sk = live.sockets;
  const ports = sk ? `  TIME_WAIT ${num(sk.timeWait)}${sk.utilization === null ? '' : `  ports ${pct(sk.utilization)}`}` : '';
  const started = t.completed > 0;
  const speed = started ? rate(live.rate) : `${DASH}/s`;
  const p99 = started && live.rate > 0 ? ms(live.p99Ms) : DASH;
  // HTTPS: handshakes in the last second and their p99 (– before any handshake completed).
  const hs = live.tls;
  const tls = hs ? `  tls ${(t.tlsHandshakes ?? 0) > 0 ? rate(hs.rate) : `${DASH}/s`} p99 ${hs.rate > 0 ? ms(hs.p99Ms) : DASH}` : '';
  return `${Math.floor(elapsedS)}s  ${speed}  completed ${num(t.completed)}  failed ${num(t.failed)}${errs ? ` (${errs})` : ''}  dropped ${num(t.dropped)}  p99 ${p99}${tls}${ports}${watchedHosts(live)}`;
}

/** One short field per watched host: its busiest destination's port utilization, else its TIME_WAIT, or `down` while its agent is out. */
function watchedHosts(live: LiveStats): string {
  return (live.hosts ?? [])
    .map((h) => `  ${h.name} ${!h.up ? 'down' : h.utilization !== null ? pct(h.utilization) : h.timeWait !== null ? `TW ${num(h.timeWait)}` : DASH}`)
    .join('');
}

/** A progress display; `stop` clears it. */
export interface Progress {
  update(elapsedS: number, live: LiveStats): void;
  note(text: string): void;
  stop(): void;
}

/** Picks the display for the given stream; `quiet` shows nothing. */
export function createProgress(stream: NodeJS.WriteStream, quiet: boolean): Progress {
  if (quiet) return { update: () => undefined, note: () => undefined, stop: () => undefined };
  // A pseudo-terminal without a size (columns 0, e.g. under `script` with no terminal) makes a
  // spinner's line arithmetic divide by zero, so it gets the plain lines instead.
  if (stream.isTTY && (stream.columns ?? 0) > 0) {
    const spinner: Ora = ora({ stream, text: 'starting', discardStdin: false }).start();
    return {
      update: (e, l) => (spinner.text = progressLine(e, l)),
      note: (text) => (spinner.text = text),
      stop: () => spinner.stop(),
    };
  }
  let lastPrinted = 0;
  return {
    update(e, l) {
      if (e - lastPrinted >= PLAIN_EVERY_S) {
        lastPrinted = e;
        stream.write(`portstorm: ${progressLine(e, l)}\n`);
      }
    },
    note: (text) => stream.write(`portstorm: ${text}\n`),
    stop: () => undefined,
  };
}
