/** `portstorm merge SHARD... --out DIR`: one run record from the records of a run's shards (`run --shard I/N`). */
import { ExitCode } from '../../errors.js';
import { fileSource, mergeAndWrite } from '../../merge/merge.js';
import { checkOutputDir } from '../../record/run-file.js';
import { renderTextSummary } from '../../report/text.js';
import { defineCommand } from '../command.js';

interface MergeArgs {
  shards: string[];
  out: string;
  label?: string;
  json: boolean;
}

/** The `merge` command. */
export const mergeCommand = defineCommand<MergeArgs>({
  command: 'merge <shards..>',
  describe: "Merge the records of a run's shards (run --shard I/N) into one record: totals, histograms exactly, timelines on wall-clock seconds, each shard a host, a fleet-wide diagnosis",
  builder: (y) =>
    y
      .positional('shards', { type: 'string', array: true, demandOption: true, describe: "each shard's run directory, run.json, or pod log (its last PORTSTORM-RECORD line)" })
      .option('out', { type: 'string', default: 'results', describe: 'directory for <runId>/run.json and report.html' })
      .option('label', { type: 'string', describe: 'a label stored with the merged record' })
      .option('json', { type: 'boolean', default: false, describe: 'print the merged record to stdout instead of the summary' })
      .example('$0 merge host-a/results/<runId> host-b/results/<runId> host-c/results/<runId>', "the merged record of the shards' run directories, gathered from their machines")
      .example('$0 merge shards.log', "from the pods' record lines (kubectl logs -l job-name=<job> --tail=1 --prefix=false > shards.log)") as never,
  async run(argv) {
    await checkOutputDir(argv.out);
    const { record, file, html } = await mergeAndWrite(argv.shards.map(fileSource), argv.out, { label: argv.label ?? null });
    if (argv.json) process.stdout.write(JSON.stringify(record) + '\n');
    else process.stdout.write(renderTextSummary(record, file, html));
    return record.thresholds.some((t) => !t.passed) ? ExitCode.THRESHOLD_FAILED : ExitCode.OK;
  },
});
