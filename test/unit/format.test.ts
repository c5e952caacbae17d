/** The shared number formats (src/vocab/format.ts): every report and the CLI write figures with them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DASH, dec, ms, msValue, num, orDash, pct, perSecond, rate, sec, signedPct, thresholdValue } from '../../src/vocab/format.js';

describe('format', () => {
  it('num groups thousands as DOMAIN.md writes them', () => {
    assert.equal(num(28_232), '28 232');
    assert.equal(num(1_000_000), '1 000 000');
    assert.equal(num(999), '999');
    assert.equal(num(-1234.4), '-1 234');
    assert.equal(num(-0.2), '0');
  });

  it('pct writes shares', () => {
    assert.equal(pct(0), '0 %');
    assert.equal(pct(0.124), '12 %');
    assert.equal(pct(0.025), '2.5 %');
    assert.equal(pct(0.03), '3 %');
    assert.equal(pct(0.0004), '0.04 %');
  });

  it('dec groups the integer part and keeps the places', () => {
    assert.equal(dec(1234.56, 1), '1 234.6');
    assert.equal(dec(7.5), '7.5');
    assert.equal(dec(-0.04, 1), '0.0');
    assert.equal(dec(-12_345.5, 2), '-12 345.50');
    assert.equal(dec(42, 0), '42');
  });

  it('rates: one decimal below 100 per second, grouped integers above', () => {
    assert.equal(perSecond(7.46), '7.5');
    assert.equal(perSecond(124.8), '125');
    assert.equal(rate(0), '0.0/s');
    assert.equal(rate(1200), '1 200/s');
  });

  it('signedPct writes a relative change with its sign', () => {
    assert.equal(signedPct(0.998), '+100 %');
    assert.equal(signedPct(-0.988), '−99 %');
    assert.equal(signedPct(0.05), '+5 %');
    assert.equal(signedPct(-0.012), '−1.2 %');
    assert.equal(signedPct(0), '±0 %');
  });

  it('sec, ms and msValue', () => {
    assert.equal(sec(28.24), '28.2 s');
    assert.equal(sec(2.034, 2), '2.03 s');
    assert.equal(ms(35.4), '35 ms');
    assert.equal(ms(2.74), '2.7 ms');
    assert.equal(ms(0.0123), '0.012 ms');
    assert.equal(msValue(2.74), '2.7');
  });

  it('orDash shows – where there is no figure', () => {
    assert.equal(orDash(null, num), DASH);
    assert.equal(orDash(undefined, num), DASH);
    assert.equal(orDash(Number.NaN, num), DASH);
    assert.equal(orDash(Infinity, pct), DASH);
    assert.equal(orDash(1234, num), '1 234');
  });
});

describe('thresholdValue', () => {
  it('writes a measured value with at most three decimals, and n/a for none', () => {
    assert.equal(thresholdValue(0.7222222222222222), '0.722');
    assert.equal(thresholdValue(1800), '1800');
    assert.equal(thresholdValue(4.9305), '4.931');
    assert.equal(thresholdValue(null), 'n/a');
  });
});
