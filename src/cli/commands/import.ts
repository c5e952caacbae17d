/** `portstorm import plan.jmx`: a JMeter test plan as a portstorm scenario file. */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { importPlan, NoteFailure } from '../../jmeter/jmx-import.js';
import type { ImportNote } from '../../jmeter/jmx-notes.js';
import { parseJmx } from '../../jmeter/jmx-tree.js';
import { parsePropFlag } from '../../jmeter/jmx-values.js';
import { renderImportedScenario } from '../../jmeter/jmx-yaml.js';
import { parseScenario } from '../../scenario/load.js';
import { defineCommand } from '../command.js';
import { emit } from '../output.js';

interface ImportArgs {
  plan: string;
  out?: string;
  prop: string[];
  strict: boolean;
  verbose: boolean;
}

/** The `--prop` / `-J` values as JMeter properties; a malformed one is a usage error. */
function properties(flags: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of flags) {
    const kv = parsePropFlag(f);
    if (kv === null) throw new UsageError(`--prop ${f}: expected name=value, e.g. --prop threads=50`);
    out.set(kv[0], kv[1]);
  }
  return out;
}

/** One stderr line per note: `portstorm: import: plan.jmx: <testname> (<class>): not imported: <why>`. */
function tell(file: string, notes: ImportNote[], verbose: boolean): void {
  for (const n of notes) {
    if (n.kind === 'not-needed' && !verbose) continue;
    process.stderr.write(`portstorm: import: ${file}: ${n.element.replace(/[\u0000-\u001f]/g, ' ')} (${n.class}): not imported: ${n.why}\n`);
  }
}

/** `portstorm import … -Jname=value …` with JMeter's `-J` spelling rewritten as `--prop=name=value` (yargs would read `-J…` as short flags). */
export function jmeterStyleArgs(args: string[]): string[] {
  if (args[0] !== 'import') return args;
  const end = args.indexOf('--') < 0 ? args.length : args.indexOf('--');
  return args.map((a, i) => (i < end && /^-J[^=]+=/.test(a) ? `--prop=${a.slice(2)}` : a));
}

/** The `import` command. */
export const importCommand = defineCommand<ImportArgs>({
  command: 'import <plan>',
  describe: 'Turn a JMeter test plan (.jmx) into a portstorm scenario (YAML); what cannot be mapped is listed on stderr',
  builder: (y) =>
    y
      .positional('plan', { type: 'string', demandOption: true, describe: 'a JMeter .jmx test plan' })
      .option('out', { type: 'string', describe: 'write the scenario to this file instead of stdout' })
      .option('prop', { type: 'string', array: true, nargs: 1, default: [], describe: 'a JMeter property for ${__P(name)} / ${__property(name)}: name=value (repeatable; JMeter\'s -Jname=value works too)' })
      .option('strict', { type: 'boolean', default: false, describe: 'refuse (exit 2, nothing written) when anything in the plan is not imported' })
      .option('verbose', { type: 'boolean', default: false, describe: 'also list what is not needed (listeners, disabled elements)' })
      .example('$0 import plan.jmx --out scenario.yaml', 'import, then: portstorm run scenario.yaml')
      .example('$0 import plan.jmx -Jthreads=200 --prop host=127.0.0.1', 'resolve ${__P(threads,10)} and ${__P(host)}') as never,
  async run(argv) {
    const props = properties(argv.prop);
    const xml = await readFile(argv.plan, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`${argv.plan}: cannot read the plan (${err.code ?? err.message})`);
    });
    const plan = parseJmx(xml, argv.plan);
    let result;
    try {
      result = importPlan(plan, argv.plan, props);
    } catch (err) {
      if (err instanceof NoteFailure) tell(argv.plan, err.notes, argv.verbose);
      throw err;
    }
    tell(argv.plan, result.notes, argv.verbose);
    const unmapped = result.notes.filter((n) => n.kind === 'unmapped').length;
    if (argv.strict && unmapped > 0) {
      throw new UsageError(`${argv.plan}: ${unmapped} element${unmapped === 1 ? '' : 's'} not imported (--strict): no scenario written`);
    }
    // What is written must be a valid scenario; a failure here is a bug in the import, said as such.
    parseScenario(result.scenario, `${argv.plan} (imported)`);
    await emit(renderImportedScenario(result, { file: argv.plan, plan, at: new Date() }), argv.out);
    return 0;
  },
});
