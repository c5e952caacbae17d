/**
 * PORTSTORM_SKIP_NATIVE: the one switch that turns both native addons off, at install and at run
 * time. scripts/build-native.mjs (which runs before TypeScript is compiled, so cannot import this
 * file) implements the same rule; test/unit/native-skip.test.ts checks that the two agree.
 *
 * Set and not one of '', '0', 'false', 'no', 'off' (any case, spaces ignored) means skip: the
 * install builds and keeps no addon, the loaders report `disabled by PORTSTORM_SKIP_NATIVE=<value>`,
 * the monitor reads /proc and the load uses node:net sockets, and the addon tests assert that
 * fallback (they never skip).
 */
export const SKIP_NATIVE_ENV = 'PORTSTORM_SKIP_NATIVE';

const OFF = new Set(['', '0', 'false', 'no', 'off']);

/** Whether `env` asks for the native addons to be skipped. */
export function nativeSkipped(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[SKIP_NATIVE_ENV];
  return v !== undefined && !OFF.has(v.trim().toLowerCase());
}

/** The loaders' reason when skipped. */
export function nativeSkipReason(env: NodeJS.ProcessEnv = process.env): string {
  return `disabled by ${SKIP_NATIVE_ENV}=${env[SKIP_NATIVE_ENV] ?? ''}`;
}
