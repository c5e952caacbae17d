/** `portstorm doctor`: the port budget of this host and what to change. */
import { diagnoseHost } from '../../analysis/doctor.js';
import { UsageError } from '../../errors.js';
import { hostInfo } from '../../monitor/host.js';
import { Sampler } from '../../monitor/sampler.js';
import { renderDoctor } from '../../report/doctor-text.js';
import { defineCommand } from '../command.js';

interface DoctorArgs {
  json: boolean;
  dest?: string;
  rate?: number;
}

/** The `doctor` command. */
export const doctorCommand = defineCommand<DoctorArgs>({
  command: 'doctor',
  describe: "Show this host's port budget, the sustainable new-connection rate, and advice",
  builder: (y) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .option('dest', { type: 'string', describe: 'the destination (ip:port) to report on; default: the busiest' })
      .option('rate', { type: 'number', describe: 'how long this many new connections per second last' })
      .example('$0 doctor --rate 1000', 'when does 1000 new connections/s run out of ports?') as never,
  async run(argv) {
    if (argv.rate !== undefined && !(argv.rate > 0)) throw new UsageError(`--rate ${argv.rate}: expected a number of new connections per second greater than 0`);
    if (argv.dest !== undefined && !/^(\[[^\]]+\]|[^:]+):\d{1,5}$/.test(argv.dest)) throw new UsageError(`--dest ${argv.dest}: expected ip:port, e.g. 10.0.0.5:443`);
    const host = hostInfo();
    const sampler = new Sampler(
      { intervalMs: 1000, scanIntervalMs: 1000, budget: { range: host.portRange ?? [0, 65535], usable: host.usablePorts ?? 0 } },
      () => undefined,
    );
    const sample = await sampler.sample(true);
    const report = diagnoseHost(host, sample.scan, argv.rate ?? null, argv.dest ?? null);
    process.stdout.write(argv.json ? JSON.stringify(report, null, 1) + '\n' : renderDoctor(report));
    return 0;
  },
});
