/**
 * The diagnosis of a merged record: each shard is diagnosed from its own figures (ports, sockets and
 * limits are per machine, so the fleet's sums would mislead), then the verdicts are gathered by what
 * they found and on which kind of host: one verdict per finding, naming the shard where it began
 * (the earliest onset) as its host, with every shard it holds on and each one's onset in its evidence.
 */
import type { Exhaustion, TimelineEntry, Verdict } from '../record/types.js';
import { CLIENT_HOST } from '../analysis/hosts.js';
import { errorRateFrom } from '../analysis/exhaustion.js';
import { sec } from '../vocab/format.js';

const SEVERITY_RANK: Record<Verdict['severity'], number> = { critical: 0, warning: 1, info: 2 };

/** A shard's host name in the merged record: its client `shard-<index>`, any other `<name>@shard-<index>`. */
export function shardHostName(index: number, host: string = CLIENT_HOST): string {
  return host === CLIENT_HOST ? `shard-${index}` : `${host}@shard-${index}`;
}

/** One shard's verdicts as its record has them, with where its seconds go on the merged axis. */
export interface ShardVerdicts {
  index: number;
  offset: number;
  verdicts: readonly Verdict[];
}

const at = (s: number | null): string => (s === null ? 'over the whole run' : `from ${sec(s)}`);

/**
 * One verdict per finding (verdict id and host kind: the client, or a watched host's name), most
 * severe first, then by onset. Its host is the shard where it came first; `healthy` only when every
 * shard is healthy. Seconds are on the merged axis.
 */
export function fleetDiagnosis(shards: readonly ShardVerdicts[]): Verdict[] {
  const groups = new Map<string, Array<{ index: number; v: Verdict }>>();
  for (const s of shards) {
    for (const v of s.verdicts) {
      const base = v.host ?? CLIENT_HOST;
      const moved: Verdict = { ...v, host: shardHostName(s.index, base), atS: v.atS === null ? null : v.atS + s.offset };
      const key = `${v.verdict}\u0000${base}`;
      const list = groups.get(key) ?? [];
      list.push({ index: s.index, v: moved });
      groups.set(key, list);
    }
  }
  const healthyKey = [...groups.keys()].filter((k) => k.startsWith('healthy\u0000'));
  const findings = [...groups.entries()].filter(([k]) => !healthyKey.includes(k));
  if (findings.length === 0) {
    const all = healthyKey.flatMap((k) => groups.get(k)!);
    const lead = all.sort((a, b) => a.index - b.index)[0];
    if (!lead) return [];
    return [{ ...lead.v, evidence: [`Healthy on all ${shards.length} shard${shards.length === 1 ? '' : 's'}.`, ...lead.v.evidence.map((e) => `${lead.v.host}: ${e}`)] }];
  }
  const out = findings.map(([, list]) => {
    list.sort((a, b) => (a.v.atS ?? Infinity) - (b.v.atS ?? Infinity) || a.index - b.index);
    const lead = list[0]!.v;
    const worst = list.reduce((w, x) => (SEVERITY_RANK[x.v.severity] < SEVERITY_RANK[w] ? x.v.severity : w), lead.severity);
    const where = list.map((x) => `${x.v.host} ${at(x.v.atS)}`).join(', ');
    const shardsWord = `${list.length} of ${shards.length} shard${shards.length === 1 ? '' : 's'}`;
    const verdict: Verdict = {
      verdict: lead.verdict,
      host: lead.host,
      severity: worst,
      confidence: Math.max(...list.map((x) => x.v.confidence)),
      atS: lead.atS,
      evidence: [`On ${shardsWord}: ${where}.`, ...lead.evidence.map((e) => `${lead.host}: ${e}`)],
      advice: lead.advice,
    };
    return verdict;
  });
  return out.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || (a.atS ?? Infinity) - (b.atS ?? Infinity));
}

/**
 * The merged record's exhaustion: that of the shard whose ports ran out first (else `fallback`'s),
 * its seconds moved onto the merged axis, its error rate after the onset taken over the whole fleet.
 */
export function fleetExhaustion(shards: ReadonlyArray<{ offset: number; exhaustion: Exhaustion }>, fallback: { offset: number; exhaustion: Exhaustion }, timeline: readonly TimelineEntry[]): Exhaustion {
  const onset = (s: { offset: number; exhaustion: Exhaustion }) => (s.exhaustion.firstAtS === null ? Infinity : s.exhaustion.firstAtS + s.offset);
  const lead = shards.reduce<{ offset: number; exhaustion: Exhaustion } | null>((best, s) => (onset(s) < (best ? onset(best) : Infinity) ? s : best), null) ?? fallback;
  const shift = (v: number | null) => (v === null ? null : Math.round((v + lead.offset) * 1000) / 1000);
  const ex = lead.exhaustion;
  const firstAtS = shift(ex.firstAtS);
  const errorRateAfter = errorRateFrom(timeline, firstAtS);
  return { ...ex, firstAtS, predictedAtS: shift(ex.predictedAtS), earlyWarningAtS: shift(ex.earlyWarningAtS), errorRateAfter };
}
