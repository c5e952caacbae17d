/** The instant every shard starts: `--start-at`, or now + `--start-in`, or the scenario's `startAt`. */
import { UsageError } from '../errors.js';
import { parseDuration } from '../scenario/schema.js';

/** How long after the manifests are written the shards start by default: time to apply them and pull the image. */
export const DEFAULT_START_IN_S = 60;

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** The start, as an ISO string in UTC, and how far ahead of `now` it is. */
export interface StartAt {
  iso: string;
  inSeconds: number;
  /** Where it came from, for the line that tells it. */
  from: '--start-at' | '--start-in' | 'the scenario' | 'default';
}

/** `ms` rounded up to a whole second, as ISO 8601 UTC without the milliseconds. */
function wholeSecond(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Resolves the start; bad or past values are a `UsageError`. */
export function resolveStartAt(flags: { startAt?: string | undefined; startIn?: string | undefined }, scenarioStartAt: string | undefined, now: number): StartAt {
  if (flags.startAt !== undefined && flags.startIn !== undefined) throw new UsageError('--start-at and --start-in: give one of them');
  const ahead = (ms: number) => (ms - now) / 1000;
  if (flags.startAt !== undefined) {
    const t = Date.parse(flags.startAt);
    if (!ISO_WITH_ZONE.test(flags.startAt) || !Number.isFinite(t)) {
      throw new UsageError(`--start-at ${flags.startAt}: expected an ISO time with a zone, e.g. 2026-12-08T10:00:00Z`);
    }
    if (t <= now) throw new UsageError(`--start-at ${flags.startAt}: in the past (now is ${new Date(now).toISOString()}); the shards would all start late`);
    return { iso: new Date(t).toISOString(), inSeconds: ahead(t), from: '--start-at' };
  }
  if (flags.startIn !== undefined) {
    const s = parseDuration(flags.startIn);
    if (s === null || s <= 0) throw new UsageError(`--start-in ${flags.startIn}: expected a duration like 90s or 5m`);
    const iso = wholeSecond(now + s * 1000);
    return { iso, inSeconds: ahead(Date.parse(iso)), from: '--start-in' };
  }
  if (scenarioStartAt !== undefined && Date.parse(scenarioStartAt) > now) {
    const t = Date.parse(scenarioStartAt);
    return { iso: new Date(t).toISOString(), inSeconds: ahead(t), from: 'the scenario' };
  }
  const iso = wholeSecond(now + DEFAULT_START_IN_S * 1000);
  return { iso, inSeconds: ahead(Date.parse(iso)), from: 'default' };
}
