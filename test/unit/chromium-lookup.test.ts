/** The browser tests' lookup order (test/helpers/chromium.ts) as a pure function. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planChromium, SYSTEM_CHROMIUM } from '../helpers/chromium.js';

const only = (...present: string[]) => (p: string) => present.includes(p);

describe('browser lookup order', () => {
  it('takes PORTSTORM_CHROMIUM first, even when a system chromium exists', () => {
    const plan = planChromium({ PORTSTORM_CHROMIUM: '/opt/c/chrome', PATH: '/usr/bin' }, only('/opt/c/chrome', SYSTEM_CHROMIUM));
    assert.deepEqual(plan, { kind: 'path', source: 'PORTSTORM_CHROMIUM', path: '/opt/c/chrome', tried: [] });
  });

  it('fails on an unusable PORTSTORM_CHROMIUM instead of falling back', () => {
    const plan = planChromium({ PORTSTORM_CHROMIUM: '/nope' }, only(SYSTEM_CHROMIUM));
    assert.equal(plan.kind, 'fail');
    assert.match(plan.tried.join(), /PORTSTORM_CHROMIUM=\/nope/);
  });

  it('then /usr/bin/chromium, before PATH', () => {
    const plan = planChromium({ PATH: '/opt/bin:/usr/bin' }, only('/opt/bin/chromium', SYSTEM_CHROMIUM));
    assert.equal(plan.kind, 'path');
    assert.equal(plan.kind === 'path' && plan.path, SYSTEM_CHROMIUM);
  });

  it('then chromium on PATH (absolute directories only)', () => {
    const plan = planChromium({ PORTSTORM_CHROMIUM: '', PATH: 'rel:/opt/bin' }, only('rel/chromium', '/opt/bin/chromium'));
    assert.deepEqual(plan.kind === 'path' && [plan.source, plan.path], ['system', '/opt/bin/chromium']);
  });

  it('else the npm package, saying what was tried', () => {
    const plan = planChromium({ PATH: '/usr/bin:/bin' }, only());
    assert.equal(plan.kind, 'npm');
    assert.equal(plan.tried.length, 2);
    assert.match(plan.tried.join('; '), /PORTSTORM_CHROMIUM \(unset\); system chromium/);
  });
});
