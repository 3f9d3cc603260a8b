// The wall screen on a real 3-member cluster with real coordination peers
// (`etcdctl lock` holder and waiter, `etcdctl elect`, a queue, a service kept
// alive by `etcdctl lease keep-alive`): a wall token lands on `/wall`;
// `/wall?kiosk` fits one screen without scrolling or an overflowing tile at
// 1920x1080 and 3840x2160, light and dark (screenshots kept under
// `target/e2e-screenshots/`); a follower SIGKILLed turns the cluster tile
// amber with "can lose 0" within 5 s and green again after its restart; with
// etcdeck killed every tile says "stale since" and the cluster tile is not
// green.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { journey, startStack } from './support/stack.mjs';
import { repoRoot, tempDir, removeDir } from './support/system.mjs';
import { waitFor } from './support/wait.mjs';

const TOKEN = 'e2e-wall-token-0123456789abcdef';
const QUEUE = 'e2e/queue/jobs';
const SHOTS = process.env.ETCDECK_SCREENSHOTS ?? path.join(repoRoot, 'target', 'e2e-screenshots');
const TILES = ['cluster', 'writes', 'events', 'locks', 'elections', 'queues', 'services'];

let stack;
let tokenDir;
before(async () => {
  tokenDir = await tempDir('wall-token');
  const tokenFile = path.join(tokenDir, 'token');
  await writeFile(tokenFile, TOKEN, { mode: 0o600 });
  stack = await startStack({
    members: 3,
    etcdeckArgs: ['--wall-token-file', tokenFile, '--queue-prefix', QUEUE],
  });
  const { etcd } = stack;
  // The demo-like coordination: real peers etcdeck did not write.
  const holder = etcd.lock('e2e/lock/deploy', { ttl: 10 });
  await holder.heldKey();
  etcd.lock('e2e/lock/deploy', { ttl: 10 });
  await etcd.elect('e2e/elect/primary', 'node-a').leads();
  for (let i = 0; i < 3; i += 1) await etcd.enqueue(QUEUE, `job-${i}`);
  const lease = await etcd.leaseGrant(30);
  await etcd.putWithLease('services/api/i-1', '{"address":"10.0.0.1:8080"}', lease);
  etcd.leaseKeepAlive(lease);
}, { timeout: 120_000 });
after(async () => {
  await stack?.stop();
  await removeDir(tokenDir);
}, { timeout: 30_000 });
const user = (body) => journey(() => stack, body);

const tile = (page, name) => page.locator(`[data-testid="wall-tile"][data-tile="${name}"]`);
const tone = (page) => page.locator('[data-testid="wall-cluster-tone"]');

/** What the wall shows now, for waits and their error messages. */
const seen = (page) => page.evaluate(() => ({
  tiles: Object.fromEntries(
    [...document.querySelectorAll('[data-testid="wall-tile"]')].map((t) => [t.dataset.tile, {
      state: t.dataset.state,
      stale: t.querySelector('[data-testid="wall-stale"]')?.textContent ?? null,
    }]),
  ),
  tone: document.querySelector('[data-testid="wall-cluster-tone"]')?.dataset.tone ?? null,
  tolerance: document.querySelector('[data-testid="wall-tolerance"]')?.textContent ?? null,
}));

async function wallShows(page, what, check, timeout = 15_000) {
  await waitFor(async () => check(await seen(page)), {
    what: `the wall to show ${what}`,
    timeout,
    every: 200,
    saw: async () => JSON.stringify(await seen(page)),
  });
}

const allLive = (now) => TILES.every((name) => now.tiles[name]?.state === 'live');

/** Logs the browser in with the wall token, as a wall screen does. */
async function openWall(page, app, where) {
  await page.goto(`${app.url}/login#token=${TOKEN}`);
  await page.waitForURL((url) => url.pathname === '/wall', { timeout: 15_000 });
  if (where !== '/wall') await page.goto(`${app.url}${where}`);
  await page.locator('[data-testid="wall"]').waitFor();
}

/** Whatever scrolls or overflows: the page, a tile, or a tile's body. */
const overflows = (page) => page.evaluate(() => {
  const out = [];
  const doc = document.scrollingElement;
  if (doc.scrollHeight > window.innerHeight || doc.scrollWidth > window.innerWidth) {
    out.push(`the page scrolls: ${doc.scrollWidth}x${doc.scrollHeight} in ${window.innerWidth}x${window.innerHeight}`);
  }
  const boxes = document.querySelectorAll('[data-testid="wall-tile"], [data-testid="wall-tile-body"]');
  for (const box of boxes) {
    if (box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight) {
      const name = box.closest('[data-testid="wall-tile"]').dataset.tile;
      out.push(`${box.dataset.testid} ${name} overflows: ${box.scrollWidth}x${box.scrollHeight} in ${box.clientWidth}x${box.clientHeight}`);
    }
  }
  return out;
});

test('a wall token lands on the wall screen, which the header links', { timeout: 60_000 }, user(async (page, { app }) => {
  await openWall(page, app, '/wall');
  assert.equal(new URL(page.url()).hash, '', 'the token stays out of the address bar');
  assert.equal(await page.locator('[data-testid="nav-wall"]').getAttribute('aria-current'), 'page');
  assert.equal(await page.locator('[data-testid="wall"]').getAttribute('data-kiosk'), 'false');
  await wallShows(page, 'every tile live and green', (now) => allLive(now) && now.tone === 'ok');
}));

test('kiosk mode fits one screen at 1920x1080 and 3840x2160, light and dark', { timeout: 120_000 }, user(async (page, { app }) => {
  await openWall(page, app, '/wall?kiosk');
  assert.equal(await page.locator('[data-testid="wall"]').getAttribute('data-kiosk'), 'true');
  assert.equal(await page.locator('header').count(), 0, 'kiosk mode has no navigation');
  await wallShows(page, 'every tile live, with the peers', async (now) => allLive(now) && now.tone === 'ok');
  await wallShows(page, 'the lock, the leader, the queue and the service', () => page.evaluate(() => {
    const text = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent;
    return text('wall-locks-held') === '1' && text('wall-leaders') === '1'
      && text('wall-queue-depth') === '3' && text('wall-services-alive') === '1';
  }));
  await mkdir(SHOTS, { recursive: true });
  for (const [width, height] of [[1920, 1080], [3840, 2160]]) {
    for (const colorScheme of ['light', 'dark']) {
      await page.setViewportSize({ width, height });
      await page.emulateMedia({ colorScheme });
      // One frame for the layout to follow the new size.
      await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
      const file = path.join(SHOTS, `wall-kiosk-${width}x${height}-${colorScheme}.png`);
      await page.screenshot({ path: file });
      console.log(`screenshot: ${file}`);
      assert.deepEqual(await overflows(page), [], `at ${width}x${height} ${colorScheme} (${file})`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });
}));

test('a follower killed turns the cluster tile amber with "can lose 0" within 5 s, and green after its restart', { timeout: 120_000 }, user(async (page, { app, etcd }) => {
  await openWall(page, app, '/wall?kiosk');
  await wallShows(page, 'green', (now) => now.tone === 'ok' && (now.tolerance ?? '').endsWith('can lose 1'));
  const view = await page.evaluate(async () => (await fetch('/api/v1/cluster')).json());
  const leader = view.members.find((m) => m.is_leader);
  const follower = etcd.endpoints.findIndex((e) => !leader.client_urls.includes(e));
  assert.ok(follower >= 0, `a follower among ${etcd.endpoints}`);

  const started = Date.now();
  await etcd.killMember(follower);
  await wallShows(page, 'amber with "can lose 0"', (now) =>
    now.tone === 'warn' && (now.tolerance ?? '').endsWith('can lose 0'), 5_000);
  console.log(`a killed follower turned the wall amber after ${Date.now() - started} ms`);
  const reasons = await page.locator('[data-testid="wall-reason"]').allInnerTexts();
  assert.ok(reasons.some((r) => r.includes('does not answer')), JSON.stringify(reasons));

  await etcd.restartMember(follower);
  await wallShows(page, 'green again', (now) =>
    now.tone === 'ok' && (now.tolerance ?? '').endsWith('can lose 1'), 30_000);
}));

test('with etcdeck gone every tile says "stale since" and the cluster tile is not green', { timeout: 120_000 }, user(async (page, { app }) => {
  await openWall(page, app, '/wall?kiosk');
  await wallShows(page, 'every tile live and green', (now) => allLive(now) && now.tone === 'ok');
  await app.kill();
  await wallShows(page, 'every tile stale, the cluster not green', (now) =>
    TILES.every((name) => now.tiles[name]?.state === 'stale' && /^stale since \d\d:\d\d:\d\d$/.test(now.tiles[name].stale ?? ''))
    && now.tone !== 'ok', 15_000);
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'wall-kiosk-stale.png') });
  assert.notEqual(await tone(page).getAttribute('data-tone'), 'ok');
  // The wall screen's cookie outlives a restart: the wall comes back by itself.
  await app.restart();
  await wallShows(page, 'every tile live and green again', (now) => allLive(now) && now.tone === 'ok', 60_000);
  assert.equal(await tile(page, 'cluster').locator('[data-testid="wall-stale"]').count(), 0);
}));
