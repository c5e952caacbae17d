/** portstorm's own version, from package.json. */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The version written into every run record. */
export const PORTSTORM_VERSION: string = pkg.version;
