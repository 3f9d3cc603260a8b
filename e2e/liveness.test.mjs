// The header's live indicator and a page's stale notice turn within 5 s of
// the browser going offline and of etcdeck being killed, and "live" is
// never green next to "disconnected".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import * as find from './support/find.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const TURN_WITHIN_MS = 5_000;

/** The live indicator's state, the connection's words and the stale notice. */
const header = async (page) => ({
  live: await find.liveState(page).first().getAttribute('data-state', { timeout: 1_000 }),
  connection: (await find.connection(page).first().innerText({ timeout: 1_000 })).trim(),
  stale: (await page.locator('[data-testid="stale-notice"]').count()) > 0,
});

/** Waits (at most `TURN_WITHIN_MS` after `since`) until live is off and the page says stale. */
async function turnsWithin(page, since, what) {
  const shown = await waitFor(async () => {
    const now = await header(page);
    return now.live !== 'connected' && now.stale && now;
  }, {
    what: `the live indicator and the stale notice to turn within ${TURN_WITHIN_MS} ms of ${what}`,
    timeout: TURN_WITHIN_MS - (Date.now() - since),
    every: 100,
    saw: async () => JSON.stringify(await header(page)),
  });
  return { ...shown, after: Date.now() - since };
}

/** "live" (connected) never shows beside "disconnected". */
const neverGreenBesideDisconnected = (now) =>
  assert.ok(!(now.live === 'connected' && /^disconnected/.test(now.connection)), JSON.stringify(now));

test('offline: the live indicator and the stale notice turn within 5 s, and back when online', { timeout: 60_000 }, user(async (page, { etcd, app }, t) => {
  await etcd.put('services/web/i-1', JSON.stringify({ address: '10.0.0.2:80' }));
  await act.open(page, app, '/services');
  await check.coordPageRead(page, 'Services');
  await check.liveStateIs(page, 'connected');

  const offlineAt = Date.now();
  await page.context().setOffline(true);
  const turned = await turnsWithin(page, offlineAt, 'going offline');
  t.diagnostic(`turned after ${turned.after} ms: ${JSON.stringify(turned)}`);
  // Held for a while: the two indicators agree the whole time.
  const until = Date.now() + 8_000;
  while (Date.now() < until) {
    const now = await header(page);
    neverGreenBesideDisconnected(now);
    assert.notEqual(now.live, 'connected', JSON.stringify(now));
    await delay(250);
  }

  await page.context().setOffline(false);
  await check.liveStateIs(page, 'connected', 20_000);
  await waitFor(async () => !(await header(page)).stale, {
    what: 'the stale notice to go once online again',
    timeout: 20_000,
    saw: async () => JSON.stringify(await header(page)),
  });
}));

test('etcdeck killed: the live indicator and the stale notice turn within 5 s', { timeout: 60_000 }, user(async (page, { app }, t) => {
  await act.open(page, app, '/services');
  await check.coordPageRead(page, 'Services');
  await check.liveStateIs(page, 'connected');

  const killedAt = Date.now();
  await app.kill();
  const turned = await turnsWithin(page, killedAt, 'etcdeck being killed');
  t.diagnostic(`turned after ${turned.after} ms: ${JSON.stringify(turned)}`);
  await waitFor(async () => /^disconnected/.test((await header(page)).connection), {
    what: 'the header to say disconnected',
    timeout: 10_000,
    saw: async () => JSON.stringify(await header(page)),
  });
  neverGreenBesideDisconnected(await header(page));
  assert.notEqual((await header(page)).live, 'connected');
}));
