/**
 * PORTSTORM_SKIP_NATIVE means one thing: nativeSkipped() (src/native-skip.ts, used by the loaders
 * and the tests) and scripts/build-native.mjs (the install script, plain JS) agree on every value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SKIP_NATIVE_ENV, nativeSkipReason, nativeSkipped } from '../../src/native-skip.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/build-native.mjs', import.meta.url));
const VALUES: Array<[string | undefined, boolean]> = [
  [undefined, false],
  ['', false],
  ['0', false],
  ['false', false],
  ['FALSE', false],
  [' no ', false],
  ['off', false],
  ['1', true],
  ['true', true],
  ['yes', true],
  ['on', true],
  ['2', true],
];

describe('PORTSTORM_SKIP_NATIVE', () => {
  it('nativeSkipped() reads it as documented', () => {
    for (const [v, want] of VALUES) assert.equal(nativeSkipped(v === undefined ? {} : { [SKIP_NATIVE_ENV]: v }), want, JSON.stringify(v));
  });

  it('the install script (scripts/build-native.mjs) reads it the same way', async () => {
    const script = (await import(pathToFileURL(SCRIPT).href)) as { nativeSkipped(env: NodeJS.ProcessEnv): boolean };
    for (const [v, want] of VALUES) assert.equal(script.nativeSkipped(v === undefined ? {} : { [SKIP_NATIVE_ENV]: v }), want, JSON.stringify(v));
  });

  it('the loaders name the value in their reason', () => {
    assert.equal(nativeSkipReason({ [SKIP_NATIVE_ENV]: 'yes' }), 'disabled by PORTSTORM_SKIP_NATIVE=yes');
  });
});
