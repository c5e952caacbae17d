/**
 * Types shared by `portstorm lab`'s outer process (which makes the namespace) and the inner
 * process (which runs inside it). `LabInfo` is what a lab run adds to its run record as `lab`.
 */

export type { LabInfo, LabNamespace } from '../record/types.js';
import type { LabNamespace } from '../record/types.js';

/** What the outer process hands the inner one (as JSON in argv). */
export interface LabInnerConfig {
  /** The resolved scenario (valid scenario input again). */
  scenario: unknown;
  /** Absolute directory under which `<runId>/run.json` is written. */
  resultsDir: string;
  label: string | null;
  namespace: LabNamespace;
  /** Validated, normalised sysctls to write inside the namespace. */
  sysctls: Record<string, string>;
  variant: string | null;
  /** What the inner process prints on stdout: the summary, the record as JSON, or nothing. */
  print: 'text' | 'json' | 'none';
  quiet: boolean;
  /** Where the inner process writes its pid (so the outer can forward signals to it). */
  pidFile: string;
  /** Where the inner process writes `{ file, dir }` of the run record once it is written. */
  resultFile: string;
  /**
   * A private directory (mode 0700) for `lab.serve`'s certificate and key over HTTPS, made by the
   * outer process, which removes it once the lab has ended; absent when the run needs none.
   */
  tlsDir?: string | null;
}

/** What the inner process writes to `resultFile`. */
export interface LabInnerResult {
  file: string;
  dir: string;
}
