/**
 * `portstorm demo` (what `npm start` runs): scenarios/demo.yaml in the lab, where client-side port
 * exhaustion shows within seconds; where no network namespace can be made, on loopback, saying why
 * exhaustion will not show there. `--tls`: the same over HTTPS (`builtin.tls: true`).
 */
import { fileURLToPath } from 'node:url';
import { RuntimeFailure } from '../../errors.js';
import { detectNamespace } from '../../lab/netns.js';
import { defineCommand } from '../command.js';
import { labCommand } from './lab.js';
import { runCommand } from './run.js';

const DEMO = fileURLToPath(new URL('../../../../scenarios/demo.yaml', import.meta.url));

interface DemoArgs {
  out: string;
  quiet: boolean;
  tls?: boolean;
}

/** The `demo` command. */
export const demoCommand = defineCommand<DemoArgs>({
  command: 'demo',
  describe: 'Reproduce client port exhaustion in a private network namespace (or run on loopback where that is impossible)',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'results', describe: 'directory for <runId>/run.json' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
      .option('tls', { type: 'boolean', default: false, describe: 'the same over HTTPS: the built-in target serves TLS (builtin.tls: true) with a certificate made at start' })
      .example('$0 demo', 'client port exhaustion in a private network namespace')
      .example('$0 demo --tls', 'the same over HTTPS: a TLS handshake on every new connection') as never,
  async run(argv) {
    const set = argv.tls ? ['builtin.tls=true'] : [];
    const over = argv.tls ? ' over HTTPS (builtin.tls: true)' : '';
    let unavailable: string | null = null;
    try {
      detectNamespace();
    } catch (err) {
      if (!(err instanceof RuntimeFailure)) throw err;
      unavailable = err.message.replace(/^lab: /, '');
    }
    if (unavailable === null) {
      process.stderr.write(`portstorm demo: scenarios/demo.yaml${over} in a private network namespace with 1 000 client ports (the host is not touched)\n`);
      return labCommand.run({ scenario: DEMO, out: argv.out, set, sysctl: [], variant: [], json: false, quiet: argv.quiet });
    }
    process.stderr.write(
      `portstorm demo: the lab is not available here (${unavailable}); running on loopback instead, where Linux's ` +
        'default tcp_tw_reuse=2 recycles TIME_WAIT ports, so exhaustion will not show\n',
    );
    return runCommand.run({ scenario: DEMO, out: argv.out, set, json: false, quiet: argv.quiet, 'allow-remote': false, 'log-requests': false, watch: [], 'watch-optional': false });
  },
});
