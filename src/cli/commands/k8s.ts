/** `portstorm k8s scenario.yaml --shards N`: the Kubernetes manifests of a sharded run. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeFailure } from '../../errors.js';
import { DEFAULT_TTL_S, k8sPlan, MAX_SHARDS } from '../../k8s/plan.js';
import { collectInstructions } from '../../k8s/render.js';
import { DEFAULT_START_IN_S } from '../../k8s/start-at.js';
import { PORTSTORM_VERSION } from '../../version.js';
import { defineCommand } from '../command.js';
import { emit } from '../output.js';

interface K8sArgs {
  scenario: string;
  shards: string;
  image: string;
  namespace?: string;
  name?: string;
  out?: string;
  'start-at'?: string;
  'start-in'?: string;
  workers?: string;
  cpu?: string;
  memory?: string;
  'cpu-limit'?: string;
  'memory-limit'?: string;
  'port-range'?: string;
  'anti-affinity': string;
  ttl: string;
  'allow-remote': boolean;
}

/** The file `--out DIR` writes. */
export const MANIFEST_FILE = 'portstorm-k8s.yaml';

/** The `k8s` command. */
export const k8sCommand = defineCommand<K8sArgs>({
  command: 'k8s <scenario>',
  describe: 'Write Kubernetes manifests (a ConfigMap and an Indexed Job) that run a scenario as N shards on N nodes, all starting at one instant',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario file' })
      .option('shards', { type: 'string', demandOption: true, describe: `how many pods share the load (1 to ${MAX_SHARDS}), one per node` })
      .option('image', { type: 'string', default: `portstorm:${PORTSTORM_VERSION}`, describe: 'the image the pods run (built from the repository\'s Dockerfile)' })
      .option('namespace', { type: 'string', describe: 'the namespace of the ConfigMap and the Job (default: kubectl\'s current one)' })
      .option('name', { type: 'string', describe: 'the Job\'s and ConfigMap\'s name (default: portstorm-<scenario>-<start time>)' })
      .option('out', { type: 'string', describe: `write DIR/${MANIFEST_FILE} instead of printing the manifests` })
      .option('start-in', { type: 'string', describe: `start the load this long after now (default ${DEFAULT_START_IN_S}s, or the scenario's startAt when later than now)` })
      .option('start-at', { type: 'string', describe: 'start the load at this instant (ISO 8601 with a zone, e.g. 2026-12-08T10:00:00Z)' })
      .option('workers', { type: 'string', describe: 'load workers per pod (default: the scenario\'s, or 2 for workers: auto); the resources follow' })
      .option('cpu', { type: 'string', describe: 'CPU request per pod (default: one core per worker)' })
      .option('memory', { type: 'string', describe: 'memory request per pod (default: 256Mi + 64Mi per worker)' })
      .option('cpu-limit', { type: 'string', describe: 'CPU limit per pod, or none (default: workers + 1)' })
      .option('memory-limit', { type: 'string', describe: 'memory limit per pod, or none (default: twice the request)' })
      .option('port-range', { type: 'string', describe: 'the pods\' net.ipv4.ip_local_port_range (lo-hi), a safe namespaced sysctl set in the pod\'s securityContext' })
      .option('anti-affinity', { type: 'string', default: 'required', describe: 'required: one shard per node (pods wait for free nodes); preferred: spread when possible' })
      .option('ttl', { type: 'string', default: `${DEFAULT_TTL_S / 3600}h`, describe: 'ttlSecondsAfterFinished: how long the finished Job and its pods\' logs are kept' })
      .option('allow-remote', { type: 'boolean', default: false, describe: 'let the pods load a target that is not loopback or private (run --allow-remote)' })
      .example('$0 k8s s.yaml --shards 3 --image registry.example/portstorm:0.1.0 > ps.yaml', 'then: kubectl apply -f ps.yaml')
      .example('$0 k8s s.yaml --shards 10 --out k8s --start-in 3m --port-range 1024-65535', 'write k8s/portstorm-k8s.yaml') as never,
  async run(argv) {
    const plan = await k8sPlan({
      scenario: argv.scenario,
      shards: argv.shards,
      image: argv.image,
      namespace: argv.namespace,
      name: argv.name,
      startAt: argv['start-at'],
      startIn: argv['start-in'],
      workers: argv.workers,
      cpu: argv.cpu,
      memory: argv.memory,
      cpuLimit: argv['cpu-limit'],
      memoryLimit: argv['memory-limit'],
      portRange: argv['port-range'],
      antiAffinity: argv['anti-affinity'],
      ttl: argv.ttl,
      allowRemote: argv['allow-remote'],
      version: PORTSTORM_VERSION,
    });
    for (const w of plan.warnings) process.stderr.write(`portstorm: ${w}\n`);
    let file: string | null = null;
    if (argv.out !== undefined) {
      await mkdir(argv.out, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
        throw new RuntimeFailure(`cannot create ${argv.out}: ${err.code ?? err.message}`);
      });
      file = path.join(argv.out, MANIFEST_FILE);
    }
    await emit(plan.yaml, file ?? undefined);
    const lines = collectInstructions({ ...plan.collect, file }).split('\n');
    process.stderr.write(lines.map((l, i) => (i === 0 ? `portstorm: ${l}\n` : `${l}\n`)).join(''));
    return 0;
  },
});
