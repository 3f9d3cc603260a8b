// The coordination pages with real peers: `etcdctl lock` and `etcdctl elect`
// sessions taking a lock and an election and dying under the page, a leased
// key whose lease is revoked, a queue filled and drained, a registered
// service. Every change shows on the open page by itself (no reload), through
// the live connection.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import * as find from './support/find.mjs';
import { startEtcdeck } from './support/etcdeck.mjs';
import { journey, startStack } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const QUEUE = 'e2e/queue/jobs';

let stack;
before(async () => {
  stack = await startStack({ etcdeckArgs: ['--queue-prefix', QUEUE] });
}, { timeout: 90_000 });
after(async () => {
  await stack?.stop();
}, { timeout: 30_000 });
const user = (body) => journey(() => stack, body);

/** Marks this page load, so a test can tell the page was never reloaded. */
const markLoad = (page) => page.evaluate(() => {
  window.__sameLoad = true;
});
const sameLoad = async (page) =>
  assert.equal(await page.evaluate(() => window.__sameLoad), true, 'the page was reloaded');

test('the header links to every coordination page, and each has a deep link', { timeout: 60_000 }, user(async (page, { app }) => {
  await act.open(page, app, '/');
  for (const [name, kind, path] of [
    ['leases', 'Leases', '/leases'],
    ['locks', 'Locks', '/locks'],
    ['elections', 'Elections', '/elections'],
    ['queues', 'Queues', '/queues'],
    ['services', 'Services', '/services'],
  ]) {
    await find.navLink(page, name).click();
    await check.coordPageRead(page, kind);
    assert.equal(new URL(page.url()).pathname, path);
    assert.equal(await find.navLink(page, name).getAttribute('aria-current'), 'page');
  }
  // A deep link opens the page directly (the server answers index.html).
  await act.open(page, app, '/elections');
  await check.coordPageRead(page, 'Elections');
}));

test('an etcdctl lock shows its holder and waiter, and the waiter takes over live when the holder dies', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  const name = 'e2e/lock/nightly';
  await act.open(page, app, '/locks');
  await check.coordPageRead(page, 'Locks');
  await markLoad(page);

  const first = etcd.lock(name, { ttl: 3 });
  const firstKey = await first.heldKey();
  await check.lockShows(page, name, { holder: firstKey });

  const second = etcd.lock(name, { ttl: 3 });
  // The second one waits: find its key from etcd's side of things.
  const secondKey = await waitFor(
    async () => (await etcd.keys(`${name}/`)).find((k) => k !== firstKey),
    { what: 'the second etcdctl lock to queue its key' },
  );
  await check.lockShows(page, name, { holder: firstKey, waiters: [secondKey] });

  // A crash: the first session's lease runs out (3 s) and its key goes.
  await first.kill();
  assert.equal(await second.heldKey(20_000), secondKey);
  await check.lockShows(page, name, { holder: secondKey, waiters: [] }, 20_000);
  await sameLoad(page);

  // A clean exit (Ctrl-C) unlocks: the lock is gone from the page.
  await second.stop();
  await check.lockShows(page, name, { holder: null });
  await sameLoad(page);
}));

test('an etcdctl election shows its leader, and the next candidate leads live after a failover', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  const name = 'e2e/elect/db';
  await act.open(page, app, '/elections');
  await check.coordPageRead(page, 'Elections');
  await markLoad(page);

  const a = etcd.elect(name, 'node-a');
  const aKey = await a.leads();
  await check.electionShows(page, name, { leader: 'node-a' });
  const b = etcd.elect(name, 'node-b');
  await check.electionShows(page, name, { leader: 'node-a', candidates: ['node-b'] });

  // The leader's session is lost (its lease revoked, as etcd does when
  // keep-alives stop): node-b takes over.
  await etcd.leaseRevoke(aKey.slice(`${name}/`.length));
  await b.leads(20_000);
  await check.electionShows(page, name, { leader: 'node-b', candidates: [] }, 20_000);
  await sameLoad(page);

  // node-b resigns cleanly: no leader, no election left.
  await b.stop();
  await waitFor(async () => (await find.electionCard(page, name).count()) === 0, {
    what: `the election ${name} to disappear once its last candidate resigned`,
    saw: async () => JSON.stringify(await find.coordPage(page).innerText()),
  });
  await a.kill();
}));

test('a leased key shows under its lease, counting down, and disappears when the lease is revoked', { timeout: 60_000 }, user(async (page, { etcd, app }) => {
  await act.open(page, app, '/leases');
  await check.coordPageRead(page, 'Leases');
  await markLoad(page);

  const lease = await etcd.leaseGrant(120);
  await etcd.putWithLease('e2e/lease/token', 'secret', lease);
  await check.leaseShown(page, lease);
  const link = find.leaseCard(page, lease).locator('[data-testid="lease-key"]');
  assert.equal(await link.getAttribute('href'), '/?prefix=e2e/lease/&key=e2e/lease/token');

  // The countdown runs in the browser, between answers.
  const before = await check.leaseSecondsLeft(page, lease);
  await waitFor(async () => (await check.leaseSecondsLeft(page, lease)) <= before - 2, {
    what: `the countdown of lease ${lease} to go down from ${before}s`,
    saw: async () => `${await check.leaseSecondsLeft(page, lease)}s left`,
  });

  await etcd.leaseRevoke(lease);
  await check.leaseShown(page, lease, false);
  await sameLoad(page);

  // Following the key's link opens it in the browse view.
  const other = await etcd.leaseGrant(120);
  await etcd.putWithLease('e2e/lease/other', 'x', other);
  await check.leaseShown(page, other);
  await find.leaseCard(page, other).locator('[data-testid="lease-key"]').click();
  await check.showsKey(page, 'e2e/lease/other');
}));

test('a queue filled and drained shows its depth live', { timeout: 60_000 }, user(async (page, { etcd, app }) => {
  await act.open(page, app, '/queues');
  await check.coordPageRead(page, 'Queues');
  await markLoad(page);
  await check.queueDepthIs(page, QUEUE, 0);

  for (let i = 0; i < 5; i++) await etcd.enqueue(QUEUE, `job-${i}`);
  await check.queueDepthIs(page, QUEUE, 5);
  await etcd.dequeue(QUEUE);
  await etcd.dequeue(QUEUE);
  await check.queueDepthIs(page, QUEUE, 3);
  while (await etcd.dequeue(QUEUE));
  await check.queueDepthIs(page, QUEUE, 0);
  await sameLoad(page);
}));

test('a registered service instance shows alive with its address, and goes when its lease is revoked', { timeout: 60_000 }, user(async (page, { etcd, app }) => {
  await act.open(page, app, '/services');
  await check.coordPageRead(page, 'Services');
  await markLoad(page);

  const lease = await etcd.leaseGrant(60);
  await etcd.putWithLease('services/billing/i-1', JSON.stringify({ address: '10.1.2.3:9000' }), lease);
  const instance = find.serviceCard(page, 'billing').locator('[data-testid="service-instance"][data-name="i-1"]');
  await waitFor(async () => (await instance.count()) === 1 && (await instance.getAttribute('data-state')) === 'alive', {
    what: 'the billing service to show instance i-1 alive',
    saw: async () => JSON.stringify(await find.coordPage(page).innerText()),
  });
  assert.match(await instance.innerText(), /10\.1\.2\.3:9000/);

  await etcd.leaseRevoke(lease);
  await waitFor(async () => (await find.serviceCard(page, 'billing').count()) === 0, {
    what: 'the billing service to disappear once its only instance is gone',
    saw: async () => JSON.stringify(await find.coordPage(page).innerText()),
  });
  await sameLoad(page);
}));

test('an etcd user who may read only a prefix follows its locks live, and is told new names need a read', { timeout: 90_000 }, user(async (page, { etcd }) => {
  await etcd.addReader('coord-viewer', 'coord-viewer-pw', 'team/');
  const viewerApp = await startEtcdeck(etcd, { user: 'coord-viewer', password: 'coord-viewer-pw' });
  const peers = [];
  try {
    const holder = etcd.lock('team/deploy', { ttl: 3 });
    peers.push(holder);
    const holderKey = await holder.heldKey();
    await act.open(page, viewerApp, '/locks');
    await check.lockShows(page, 'team/deploy', { holder: holderKey });
    // etcd refuses this user a watch on every key: the page says what that means.
    await waitFor(async () => /may not watch every key/.test(await find.coordLiveNote(page).innerText()), {
      what: 'the note that new names appear only when the page reads again',
      saw: async () => JSON.stringify(await find.coordPage(page).innerText()),
    });
    await markLoad(page);

    // The shown lock's prefix is still followed live.
    const waiter = etcd.lock('team/deploy', { ttl: 3 });
    peers.push(waiter);
    const waiterKey = await waitFor(
      async () => (await etcd.keys('team/deploy/')).find((k) => k !== holderKey),
      { what: 'the second etcdctl lock to queue its key' },
    );
    await check.lockShows(page, 'team/deploy', { holder: holderKey, waiters: [waiterKey] });
    await holder.stop();
    await check.lockShows(page, 'team/deploy', { holder: waiterKey, waiters: [] });

    // A lock under a new name shows after "read again" (etcdeck's readings
    // of lease keys may be a second old, so a click right away may be early,
    // as it would be for a person: click until it shows).
    const other = etcd.lock('team/other', { ttl: 3 });
    peers.push(other);
    const otherKey = await other.heldKey();
    await waitFor(async () => {
      await find.coordReadAgain(page).click();
      return (await find.lockCard(page, 'team/other').count()) === 1;
    }, { what: 'the lock team/other to show after "read again"', every: 700 });
    await check.lockShows(page, 'team/other', { holder: otherKey });
    await sameLoad(page);
  } finally {
    await Promise.all(peers.map((p) => p.kill()));
    await viewerApp.stop();
  }
}));
