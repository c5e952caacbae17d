/**
 * Default CPU and memory for a shard's pod, from its number of load workers. Each worker is a
 * thread that can keep one core busy; the main thread, the monitor's samplers and GC need about one
 * more core at peak. A run's RSS measured 195–320 MB (BENCHMARKS.md, "Memory over a long run"), so
 * 256 MiB plus 64 MiB per worker is requested and twice that is the limit: a shard killed for memory
 * mid-run is a lost shard.
 */

/** Requests and limits as Kubernetes quantities; a null limit is left out. */
export interface PodResources {
  cpu: string;
  memory: string;
  cpuLimit: string | null;
  memoryLimit: string | null;
}

/** The load workers a pod runs when the scenario says `workers: auto` (set with `--set workers=`). */
export const AUTO_POD_WORKERS = 2;

/** The default resources of a pod that runs `workers` load workers. */
export function defaultResources(workers: number): PodResources {
  const memoryMi = 256 + 64 * workers;
  return { cpu: String(workers), memory: `${memoryMi}Mi`, cpuLimit: String(workers + 1), memoryLimit: `${2 * memoryMi}Mi` };
}
