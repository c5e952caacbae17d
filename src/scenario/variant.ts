/** A lab variant: the same scenario again under other sysctls and scenario overrides. */
import { UsageError } from '../errors.js';
import { parseSysctlFlag } from './sysctls.js';

/** One variant: a name, sysctl overrides (`key=value`) and scenario overrides (`path=value`, as `--set`). */
export interface LabVariant {
  name: string;
  sysctls: string[];
  sets: string[];
}

const NAME_RE = /^[A-Za-z0-9][\w.-]*$/;
/** Lab topology paths a variant may give without `lab.` (`service.upstreamReuse=true`, `nat.addresses=2`). */
const LAB_SHORT = /^(service|nat|hosts|backend)\./;

/** Whether `name` is usable as a variant name (it becomes the run's label). */
export function isVariantName(name: string): boolean {
  return NAME_RE.test(name);
}

/**
 * Parses `name` or `name:override[,override...]`; an override is `sysctl.<key>=<value>` or a scenario
 * path `connection.reuse=true` (`service.`, `nat.`, `hosts.`, `backend.` stand for `lab.service.` and so on). A piece without `=` continues the previous value (so
 * `sysctl.net.ipv4.ip_local_reserved_ports=8080,9000-9010` keeps its comma).
 */
export function parseVariant(spec: string): LabVariant {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  if (!isVariantName(name)) {
    throw new UsageError(`--variant ${spec}: expected name or name:override,... with a name of letters, digits, - _ .`);
  }
  const overrides: string[] = [];
  if (colon >= 0) {
    for (const piece of spec.slice(colon + 1).split(',')) {
      if (piece.includes('=') || overrides.length === 0) overrides.push(piece.trim());
      else overrides[overrides.length - 1] += `,${piece}`;
    }
  }
  const variant: LabVariant = { name, sysctls: [], sets: [] };
  for (const o of overrides) {
    if (!o.includes('=')) throw new UsageError(`--variant ${spec}: ${JSON.stringify(o)} is not path=value or sysctl.<key>=<value>`);
    if (o.startsWith('sysctl.')) variant.sysctls.push(o.slice('sysctl.'.length));
    else variant.sets.push(LAB_SHORT.test(o) ? `lab.${o}` : o);
  }
  for (const s of variant.sysctls) parseSysctlFlag(s);
  return variant;
}
