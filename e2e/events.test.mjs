// Watching changes live on the events page: a change written with etcdctl
// shows up within a second, and when the etcdeck server goes away and comes
// back, the page reconnects by itself and shows what happened meanwhile,
// each change exactly once. The page starts with the prefix's history,
// marked as such, and shows one line per change in its compact list.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import * as find from './support/find.mjs';
import { startEtcdeck } from './support/etcdeck.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const PREFIX = '/e2e/live/';

test('a key put with etcdctl appears on the events page within a second', { timeout: 60_000 }, user(async (page, { etcd, app }, t) => {
  await act.open(page, app, `/events?prefix=${PREFIX}`);
  await check.liveStateIs(page, 'connected');
  await check.eventsWaiting(page, PREFIX);

  await etcd.put(`${PREFIX}first`, 'hello');
  const putReturned = Date.now();
  const rows = await check.eventsShown(page, [`${PREFIX}first`], { timeout: 5_000, every: 10 });
  const elapsed = Date.now() - putReturned;
  t.diagnostic(`shown ${elapsed} ms after etcdctl put returned`);
  assert.ok(elapsed < 1_000, `the event appeared ${elapsed} ms after the put returned (limit 1000 ms)`);
  const row = rows.find((r) => r.key === `${PREFIX}first`);
  assert.equal(row.kind, 'put');
  assert.ok(row.revision > 1, `a real revision, got ${row.revision}`);
  // The row links to the key's view.
  const link = find.eventRowsOf(page, `${PREFIX}first`).locator('[data-testid="event-key"]');
  assert.equal(await link.getAttribute('href'), `/?prefix=${PREFIX}&key=${PREFIX}first`);
}));

test('after etcdeck restarts, the page reconnects by itself and shows the changes made meanwhile exactly once', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  await act.open(page, app, `/events?prefix=${PREFIX}`);
  await check.liveStateIs(page, 'connected');
  await check.eventsWaiting(page, PREFIX);
  await etcd.put(`${PREFIX}before`, '1');
  await check.eventsShown(page, [`${PREFIX}before`]);
  // Marks this page load: a reload would lose it.
  await page.evaluate(() => {
    window.__sameLoad = true;
  });

  await app.kill();
  await check.liveStateIs(page, 'reconnecting');
  await etcd.put(`${PREFIX}while-down-1`, 'a');
  await etcd.put(`${PREFIX}while-down-2`, 'b');
  await app.restart();
  // Sessions live in etcdeck's memory (passwords are never stored): after a
  // restart the page asks to log in again over itself, then resumes.
  await act.logInAgain(page, app);

  const keys = [`${PREFIX}before`, `${PREFIX}while-down-1`, `${PREFIX}while-down-2`];
  // The socket retries with a backoff capped at 5 s.
  await check.eventsShown(page, keys, { timeout: 20_000 });
  await check.liveStateIs(page, 'connected');
  assert.equal(await page.evaluate(() => window.__sameLoad), true, 'the page was not reloaded');

  // Give a duplicate the chance to show up before counting.
  await etcd.put(`${PREFIX}after`, 'c');
  const rows = await check.eventsShown(page, [`${PREFIX}after`]);
  for (const key of keys) {
    const count = rows.filter((r) => r.key === key).length;
    assert.equal(count, 1, `${key} shown ${count} times: ${JSON.stringify(rows)}`);
  }
  // Newest first, in revision order.
  const revisions = rows.map((r) => r.revision);
  assert.deepEqual(revisions, [...revisions].sort((a, b) => b - a));
  await waitFor(async () => (await find.eventRowsOf(page, `${PREFIX}while-down-2`).count()) === 1, {
    what: 'one row for the second key written while etcdeck was down',
  });
}));

test('paused, changes are held and counted; resumed, each is shown once', { timeout: 60_000 }, user(async (page, { etcd, app }) => {
  const prefix = '/e2e/pause/';
  await act.open(page, app, `/events?prefix=${prefix}`);
  await check.eventsWaiting(page, prefix);
  await page.keyboard.press('p');
  await page.locator('[data-testid="events-resume"]').waitFor();

  for (const name of ['a', 'b', 'c']) await etcd.put(`${prefix}${name}`, name);
  await waitFor(
    async () => /3 new changes held/.test(await page.locator('[data-testid="events-buffered"]').innerText()),
    { what: 'the pause banner to count 3 held changes' },
  );
  assert.equal(await find.eventRows(page).count(), 0, 'nothing new is shown while paused');

  await page.locator('[data-testid="events-resume"]').click();
  const keys = ['a', 'b', 'c'].map((n) => `${prefix}${n}`);
  const rows = await check.eventsShown(page, keys);
  assert.deepEqual(rows.map((r) => r.key), [...keys].reverse(), 'each once, newest first');
}));

test('the key view and the tree level follow changes live', { timeout: 60_000 }, user(async (page, { etcd, app }) => {
  await etcd.put('/e2e/watch/k', 'v1');
  await act.open(page, app, { prefix: '/e2e/watch/', key: '/e2e/watch/k' });
  await check.showsKey(page, '/e2e/watch/k');
  await check.valueContains(page, ['v1']);
  await check.liveStateIs(page, 'connected');

  await etcd.put('/e2e/watch/k', 'v2');
  await check.valueContains(page, ['v2']);
  await etcd.put('/e2e/watch/added', 'x');
  await check.seesRows(page, ['k', 'added']);

  await etcd.del('/e2e/watch/k');
  await waitFor(
    async () => /deleted at revision \d+/.test(await find.keyView(page).innerText()),
    { what: 'the key view to say the key was deleted', saw: async () => find.keyView(page).innerText() },
  );
  await waitFor(
    async () => !(await find.treeRows(page).evaluateAll((rows) => rows.map((r) => r.dataset.name))).includes('k'),
    { what: 'the deleted key to leave the tree list' },
  );
}));

test('when the history to replay was compacted meanwhile, the page says so and resyncs to a snapshot', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  const prefix = '/e2e/gap/';
  await etcd.put(`${prefix}old`, '0');
  await act.open(page, app, `/events?prefix=${prefix}`);
  await check.eventsWaiting(page, prefix);
  await etcd.put(`${prefix}seen`, '1');
  await check.eventsShown(page, [`${prefix}seen`]);

  await app.kill();
  await check.liveStateIs(page, 'reconnecting');
  await etcd.put(`${prefix}missed`, '2');
  // A write elsewhere, so compacting at the current revision also removes
  // the missed one from history.
  await etcd.put('/e2e/elsewhere', 'x');
  const compacted = await etcd.compact();
  await app.restart();
  await act.logInAgain(page, app);

  const gap = page.locator('[data-testid="events-gap"]');
  await waitFor(
    async () => (await gap.count()) === 1 && /resynced to a snapshot of 3 keys at revision \d+/.test(await gap.innerText()),
    { what: 'a gap row with the snapshot that followed', timeout: 20_000, saw: async () => (await gap.count()) ? gap.innerText() : 'no gap row' },
  );
  assert.match(await gap.innerText(), new RegExp(`history compacted at revision ${compacted}`));
  await check.liveStateIs(page, 'resynced');
  // Live again after the snapshot: new changes follow as events.
  await etcd.put(`${prefix}after`, '3');
  await check.eventsShown(page, [`${prefix}after`]);
  // Dismissed, the indicator says connected.
  await page.locator('[data-testid="live-dismiss"]').click();
  await check.liveStateIs(page, 'connected');
}));

test('a prefix the etcd user may not read shows why instead of waiting forever', { timeout: 60_000 }, user(async (page, { etcd }) => {
  await etcd.addReader('e2e-viewer', 'viewer-pw-e2e', '/e2e/visible/');
  const viewerApp = await startEtcdeck(etcd, { user: 'e2e-viewer', password: 'viewer-pw-e2e' });
  try {
    await act.open(page, viewerApp, '/events?prefix=/e2e/secret/');
    const error = page.locator('[data-testid="events-error"]');
    await waitFor(async () => (await error.count()) === 1 && (await error.innerText()).includes('Cannot watch /e2e/secret/'), {
      what: 'the events page to say the prefix cannot be watched',
      saw: async () => page.locator('main').innerText(),
    });
    assert.equal(await find.eventsEmpty(page).count(), 0);
    // What the user may read is watched as usual.
    await act.open(page, viewerApp, '/events?prefix=/e2e/visible/');
    await check.eventsWaiting(page, '/e2e/visible/');
    await etcd.put('/e2e/visible/x', '1');
    await check.eventsShown(page, ['/e2e/visible/x']);
  } finally {
    await viewerApp.stop();
  }
}));

test('the page starts with the prefix\'s history, then shows live changes after it, each once, one line each', { timeout: 90_000 }, user(async (page, { etcd, app }, t) => {
  const prefix = '/e2e/history/';
  const before = Array.from({ length: 10 }, (_, i) => `${prefix}before-${String(i).padStart(2, '0')}`);
  for (const key of before) await etcd.put(key, `value of ${key}`);
  await act.open(page, app, `/events?prefix=${prefix}`);
  await check.liveStateIs(page, 'connected');

  // The ten earlier writes, marked as history, newest first in revision order.
  const historyRows = () => find.eventRows(page).evaluateAll((rows) =>
    rows.map((r) => ({ key: r.dataset.key, revision: Number(r.dataset.revision), history: r.dataset.history })));
  let rows = [];
  await waitFor(async () => (rows = await historyRows()).length === 10, {
    what: 'ten rows from history', saw: async () => JSON.stringify(rows),
  });
  assert.ok(rows.every((r) => r.history === 'true'), `all from history: ${JSON.stringify(rows)}`);
  assert.deepEqual(rows.map((r) => r.key), [...before].reverse(), 'newest first');
  const historyRevisions = rows.map((r) => r.revision);
  assert.deepEqual(historyRevisions, [...historyRevisions].sort((a, b) => b - a));
  assert.match(await page.locator('[data-testid="events-history"]').innerText(), /From etcd's history, not seen live/);
  const firstTime = find.eventRows(page).first().locator('[data-testid="event-time"]');
  assert.equal(await firstTime.innerText(), 'from history');
  await check.eventsWaiting(page, prefix);

  // Three live writes show after the history, each once, with the time received.
  const live = ['live-1', 'live-2', 'live-3'].map((n) => `${prefix}${n}`);
  for (const key of live) await etcd.put(key, 'x');
  rows = await check.eventsShown(page, live);
  await waitFor(async () => (rows = await historyRows()).length === 13, {
    what: 'thirteen rows', saw: async () => JSON.stringify(rows),
  });
  assert.deepEqual(rows.map((r) => r.key), [...live.reverse(), ...[...before].reverse()], 'each once, live above history');
  assert.ok(rows.slice(0, 3).every((r) => r.history === 'false'));
  assert.ok(rows[2].revision > historyRevisions[0], 'live after the last change from history');
  const allRevisions = rows.map((r) => r.revision);
  assert.deepEqual(allRevisions, [...allRevisions].sort((a, b) => b - a));
  assert.match(
    await find.eventRowsOf(page, live[0]).locator('[data-testid="event-time"]').innerText(),
    /^\d\d:\d\d:\d\d\.\d{3}$/,
  );

  // Compact is the default at 1280x800: at least 15 rows fit on the screen.
  assert.equal(await page.locator('[data-testid="events-compact"]').getAttribute('aria-pressed'), 'true');
  for (let i = 0; i < 12; i += 1) await etcd.put(`${prefix}more-${i}`, 'y');
  await waitFor(async () => (await find.eventRows(page).count()) === 25, { what: 'twenty-five rows' });
  const visible = await page.evaluate(() => {
    const list = document.querySelector('[data-testid="events-list"]').getBoundingClientRect();
    const bottom = Math.min(list.bottom, window.innerHeight);
    return [...document.querySelectorAll('[data-testid="event-row"]')]
      .map((r) => r.getBoundingClientRect())
      .filter((r) => r.top >= list.top && r.bottom <= bottom).length;
  });
  t.diagnostic(`${visible} compact rows fully visible at 1280x800`);
  assert.ok(visible >= 15, `${visible} rows on a 1280x800 screen`);

  // A row opens its value and diff on demand, by click or Enter.
  await etcd.put(before[0], 'changed');
  const changed = find.eventRows(page).first();
  await waitFor(async () => (await changed.getAttribute('data-key')) === before[0], { what: 'the change on top' });
  assert.equal(await page.locator('[data-testid="event-diff"]').count(), 0, 'diffs closed in compact mode');
  await changed.click({ position: { x: 5, y: 5 } });
  await page.locator('[data-testid="event-diff"]').waitFor();
  await changed.press('Enter');
  await waitFor(async () => (await page.locator('[data-testid="event-diff"]').count()) === 0, { what: 'the diff closed by Enter' });

  // The detailed list is remembered across a reload.
  await page.locator('[data-testid="events-compact"]').click();
  await page.reload();
  await check.eventsShown(page, live);
  assert.equal(await page.locator('[data-testid="events-compact"]').getAttribute('aria-pressed'), 'false');
}));
