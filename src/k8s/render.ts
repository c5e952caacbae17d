/** The manifests as one multi-document YAML file, and the lines telling how to apply and collect them. */
import { stringify } from 'yaml';

/**
 * The objects as YAML documents separated by `---`, after a comment saying what made them. Written
 * as YAML 1.1, whose rules kubectl reads with: a string that 1.1 would take for a time, a number or
 * a boolean (`2026-12-08T10:00:00Z`, `"3"`, `on`) is quoted.
 */
export function renderManifests(objects: readonly object[], header: string): string {
  const docs = objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' }));
  return `# ${header}\n${docs.join('---\n')}`;
}

/** What the instructions name. */
export interface CollectPlan {
  name: string;
  namespace: string | null;
  shards: number;
  startAt: string;
  inSeconds: number;
  /** The manifests' file, or null when they went to stdout. */
  file: string | null;
  /** The Job's activeDeadlineSeconds (how long `kubectl wait` may take at most). */
  deadlineS: number;
}

/**
 * The lines printed after writing: when the shards start, then the commands to apply, wait,
 * collect each pod's last log line (the record line) and merge.
 */
export function collectInstructions(p: CollectPlan): string {
  const ns = p.namespace === null ? '' : ` -n ${p.namespace}`;
  const inS = Math.round(p.inSeconds);
  return [
    `${p.shards} shard${p.shards === 1 ? '' : 's'} start at ${p.startAt} (in ${inS} s): apply before then; a shard that starts late records how late`,
    `  kubectl apply -f ${p.file ?? 'portstorm-k8s.yaml'}`,
    `  kubectl wait${ns} --for=condition=complete job/${p.name} --timeout=${p.deadlineS}s`,
    `  kubectl logs${ns} -l job-name=${p.name} --tail=1 --prefix=false --max-log-requests=${Math.max(5, p.shards)} > shards.log`,
    `  portstorm merge shards.log --out results`,
    `  kubectl delete${ns} job/${p.name} configmap/${p.name}   # or wait for ttlSecondsAfterFinished`,
  ].join('\n');
}
