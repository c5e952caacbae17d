/** Headless Debian Chromium for the browser tests, driven by playwright-core (which downloads no browser). */
import { chromium, type BrowserContext } from 'playwright-core';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';
/** What a test says when the browser is missing: it fails, it is never skipped. */
export const MISSING = `${CHROMIUM} is missing: the browser tests need the system Chromium (.ci/run installs chromium; locally: apt-get install -y chromium)`;
/** Bound on every browser step. */
export const TIMEOUT = 30_000;

/** A fresh offline headless context (a new profile in `profileDir`, no background networking). */
export function launchChromium(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    offline: true,
    timeout: TIMEOUT,
  });
}
