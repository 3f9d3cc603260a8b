// Sessions people can see and end: two browsers logged in as the same etcd
// user each list both sessions on the Sessions page; one ends the other's,
// and the other page asks to log in again within two seconds (its
// WebSocket is closed with the session-ended code); ending this session
// logs the page out; logging out clears what the page kept in the browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { startBrowser } from './support/browser.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);
const VIEWER = { user: 'viewer', password: 'viewer-password' };

/** Waits until the Sessions page lists `count` rows. */
async function rowsShown(page, count) {
  const rows = byTestId(page, 'session-row');
  await waitFor(async () => (await rows.count()) === count, {
    what: `${count} session rows`,
    saw: async () => `${await rows.count()} rows`,
  });
  return rows;
}

test('one browser ends the other session of the same user from the Sessions page', { timeout: 90_000 }, user(async (page, { app, etcd }) => {
  await etcd.put('/app/cfg', 'v1');
  await etcd.addReader(VIEWER.user, VIEWER.password, '/app/');
  const other = await startBrowser();
  try {
    await act.logIn(other.page, app, VIEWER);
    await other.page.goto(`${app.url}/?prefix=/app/`);
    await check.liveStateIs(other.page, 'connected');

    await act.logIn(page, app, VIEWER);
    await page.goto(`${app.url}/`);
    await byTestId(page, 'nav-sessions').click();
    await page.waitForURL(/\/sessions$/);
    const rows = await rowsShown(page, 2);
    const mine = page.locator('[data-testid="session-row"][data-this="true"]');
    assert.equal(await mine.count(), 1);
    assert.match(await mine.locator('[data-testid="session-this"]').innerText(), /this session/);
    assert.match(await mine.locator('[data-testid="session-browser"]').innerText(), /Chrom/);
    assert.equal((await mine.locator('[data-testid="session-address"]').innerText()).trim(), '127.0.0.1');
    assert.equal((await mine.locator('[data-testid="session-kind"]').innerText()).trim(), 'login');

    // "End" asks first; Cancel leaves the session alone.
    const theirs = page.locator('[data-testid="session-row"]:not([data-this])');
    await theirs.locator('[data-testid="session-end"]').click();
    await theirs.locator('[data-testid="session-end-cancel"]').click();
    await rowsShown(page, 2);
    await check.liveStateIs(other.page, 'connected');

    await theirs.locator('[data-testid="session-end"]').click();
    const confirm = theirs.locator('[data-testid="session-end-confirm"]');
    await confirm.waitFor({ state: 'visible' });
    const ended = Date.now();
    await confirm.click();
    await byTestId(other.page, 'session-ended-dialog').waitFor({ state: 'visible', timeout: 5_000 });
    const took = Date.now() - ended;
    assert.ok(took < 2_000, `the other page asked to log in again after ${took} ms`);
    await rowsShown(page, 1);
    assert.equal(await rows.first().getAttribute('data-this'), 'true');

    // Ending this very session logs this page out.
    await mine.locator('[data-testid="session-end"]').click();
    await mine.locator('[data-testid="session-end-confirm"]').click();
    await page.waitForURL(/\/login/);
    const res = await page.request.get(`${app.url}/api/v1/session`);
    assert.equal(res.status(), 401);
  } finally {
    await other.stop();
  }
}));

test('logging out clears what the page kept in the browser (Clear-Site-Data)', { timeout: 60_000 }, user(async (page, { app }) => {
  await act.logIn(page, app, VIEWER);
  await page.goto(`${app.url}/?prefix=/app/`);
  await check.liveStateIs(page, 'connected');
  // What the page remembers per browser (the last prefix, the events
  // page's compact choice) lives in localStorage.
  await page.evaluate(() => localStorage.setItem('etcdeck-e2e-probe', 'kept'));
  await byTestId(page, 'logout').click();
  await page.waitForURL(/\/login/);
  await waitFor(async () => (await page.evaluate(() => localStorage.getItem('etcdeck-e2e-probe'))) === null, {
    what: 'localStorage to be cleared by the logout',
    saw: async () => JSON.stringify(await page.evaluate(() => localStorage.getItem('etcdeck-e2e-probe'))),
  });
}));
