/** An imported scenario as a YAML scenario file, with a header comment saying where it came from. */
import { stringify } from 'yaml';
import { PORTSTORM_VERSION } from '../version.js';
import type { ImportResult } from './jmx-import.js';
import type { JmxPlan } from './jmx-tree.js';

/** Where an import came from, for the header. */
export interface ImportOrigin {
  file: string;
  plan: Pick<JmxPlan, 'version' | 'jmeter'>;
  /** When the import ran. */
  at: Date;
}

/** Comment text as one line (a testname may hold anything). */
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');

/** The scenario file: header comment (source, date, JMeter version, what was not imported), then the scenario. */
export function renderImportedScenario(result: ImportResult, origin: ImportOrigin): string {
  const header = [
    `Imported by portstorm ${PORTSTORM_VERSION} (portstorm import) from ${origin.file} on ${origin.at.toISOString()}`,
    `JMeter plan: saved by JMeter ${origin.plan.jmeter ?? 'unknown'} (jmeterTestPlan version ${origin.plan.version ?? 'unknown'})`,
    `Thread groups imported: ${result.imported.join(', ')}`,
  ];
  const unmapped = result.notes.filter((n) => n.kind === 'unmapped');
  if (unmapped.length === 0) header.push('Everything in the plan was imported.');
  else {
    header.push('Not imported:');
    for (const n of unmapped) header.push(`  - ${n.element} (${n.class}): ${n.why}`);
  }
  return `${header.map((l) => `# ${oneLine(l)}`).join('\n')}\n${stringify(result.scenario, { lineWidth: 0 })}`;
}
