// Service instances kept alive by real `etcdctl lease keep-alive` peers stay
// alive on the services page for a whole minute (keep-alives make no watch
// event: the page must ask etcd before a countdown could look late), and
// turn gone soon after their keep-alive dies.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import * as find from './support/find.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const SAMPLE_EVERY_MS = 500;
const SAMPLE_FOR_MS = 60_000;

/** Every instance of the `api` service card: name, state and TTL text. */
const instances = (page) =>
  find.serviceCard(page, 'api').locator('[data-testid="service-instance"]').evaluateAll((els) =>
    els.map((e) => ({
      name: e.dataset.name,
      state: e.dataset.state,
      ttl: e.querySelector('[data-testid="instance-ttl"]')?.innerText ?? null,
    })));

test('instances on 5 s and 10 s leases kept alive are never shown gone, and go soon after their keep-alive dies', { timeout: 150_000 }, user(async (page, { etcd, app }, t) => {
  const leases = { 'i-5': await etcd.leaseGrant(5), 'i-10': await etcd.leaseGrant(10) };
  const peers = {};
  for (const [name, lease] of Object.entries(leases)) {
    peers[name] = etcd.leaseKeepAlive(lease);
    await peers[name].prints('keepalived', 10_000);
    await etcd.putWithLease(`services/api/${name}`, JSON.stringify({ address: `10.0.0.1:${name.slice(2)}` }), lease);
  }
  await act.open(page, app, '/services');
  await check.coordPageRead(page, 'Services');
  await waitFor(async () => {
    const shown = await instances(page);
    return shown.length === 2 && shown.every((i) => i.state === 'alive');
  }, { what: 'both instances shown alive', saw: async () => JSON.stringify(await instances(page)) });

  // A minute of samples: never gone, never a zero TTL, while etcd has both.
  const states = {};
  const deadline = Date.now() + SAMPLE_FOR_MS;
  let samples = 0;
  while (Date.now() < deadline) {
    for (const [name, peer] of Object.entries(peers)) {
      assert.equal(peer.hasExited(), false, `the keep-alive of ${name} ended: ${peer.output()}`);
    }
    const shown = await instances(page);
    assert.deepEqual(shown.map((i) => i.name).sort(), ['i-10', 'i-5'], `sample ${samples}: ${JSON.stringify(shown)}`);
    for (const instance of shown) {
      assert.notEqual(instance.state, 'gone', `sample ${samples}: ${JSON.stringify(instance)}`);
      assert.doesNotMatch(instance.ttl, /^TTL 0s/, `sample ${samples}: ${JSON.stringify(instance)}`);
      states[instance.state] = (states[instance.state] ?? 0) + 1;
    }
    samples += 1;
    await delay(SAMPLE_EVERY_MS);
  }
  t.diagnostic(`${samples} samples; instance states seen: ${JSON.stringify(states)}`);
  assert.ok(samples >= 100, `only ${samples} samples in a minute`);

  // Their keep-alives die (as a crashed owner's would): each instance goes
  // within its TTL and two seconds.
  const killedAt = Date.now();
  await Promise.all(Object.values(peers).map((p) => p.kill()));
  await Promise.all(Object.entries({ 'i-5': 5, 'i-10': 10 }).map(([name, ttl]) =>
    waitFor(async () => {
      const instance = (await instances(page)).find((i) => i.name === name);
      return !instance || instance.state === 'gone';
    }, {
      what: `${name} to be gone within ${ttl} s + 2 s of its keep-alive's end`,
      timeout: ttl * 1000 + 2_000 - (Date.now() - killedAt),
      every: 100,
      saw: async () => JSON.stringify(await instances(page)),
    })));
}));
