// Headless Debian Chromium driven by playwright-core, with a fresh profile
// per test file. Keeps the page's console errors and uncaught exceptions so a
// failing test can show them, records every Content-Security-Policy
// violation (the shared `journey` fails a test that caused one), and takes
// screenshots into a temp folder.

import path from 'node:path';

import { chromium } from 'playwright-core';

import { removeDir, tempDir } from './system.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/**
 * Starts Chromium; `args` are more command-line flags (say
 * `--ignore-certificate-errors-spki-list=HASH` to trust one test
 * certificate).
 */
export async function startBrowser({ args = [] } = {}) {
  const profile = await tempDir('chromium-profile');
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      headless: true,
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        ...args,
      ],
      viewport: { width: 1280, height: 800 },
    });
  } catch (err) {
    await removeDir(profile);
    throw err;
  }
  context.setDefaultTimeout(10_000);
  // Every `securitypolicyviolation` of every page of the context, kept here
  // across navigations (the page's own `window.__cspViolations` starts
  // empty on each).
  const cspViolations = [];
  await context.exposeBinding('__etcdeckCspViolation', (_source, violation) => {
    cspViolations.push(violation);
  });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      const violation = {
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        source: `${e.sourceFile}:${e.lineNumber}`,
        sample: e.sample,
        page: document.location.href,
      };
      window.__cspViolations.push(violation);
      window.__etcdeckCspViolation?.(violation);
    });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  let shots;

  return {
    page,
    /** Console errors and uncaught exceptions seen so far. */
    problems: () => problems.slice(-20),
    /** The Content-Security-Policy violations since the last call, which forgets them. */
    takeCspViolations: () => cspViolations.splice(0),
    /** Saves a full-page screenshot and returns its path (or why it failed). */
    async screenshot(name) {
      try {
        shots ??= await tempDir('screenshots');
        const file = path.join(shots, `${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80)}.png`);
        await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
        return file;
      } catch (err) {
        return `(no screenshot: ${err.message})`;
      }
    },
    async stop() {
      await context.close().catch(() => {});
      await removeDir(profile);
    },
  };
}
