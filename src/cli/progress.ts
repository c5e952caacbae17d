/**
 * Live progress on stderr: an ora spinner line on a TTY, a plain line every few seconds otherwise.
 * A pure subscriber to the run's progress callback.
 */
import ora, { type Ora } from 'ora';
import type { LiveStats } from '../record/accumulator.js';

const PLAIN_EVERY_S = 5;

/** Formats one progress line. */
export function progressLine(elapsedS: number, live: LiveStats): string {
  const t = live.totals;
  const errs = Object.entries(live.errors)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([c, n]) => `${c} ${n}`)
    .join(' ');
  const sk = live.sockets;
  const ports = sk ? `  TIME_WAIT ${sk.timeWait}${sk.utilization === null ? '' : `  ports ${(sk.utilization * 100).toFixed(1)}%`}` : '';
  return `${elapsedS.toFixed(0)}s  ${live.rate}/s  completed ${t.completed}  failed ${t.failed}${errs ? ` (${errs})` : ''}  dropped ${t.dropped}  p99 ${live.p99Ms.toFixed(1)} ms${ports}`;
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
