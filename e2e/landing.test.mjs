// Where the browse page starts: a deep link to a key pages down a large
// level shows that row selected, in view and under the keyboard; an etcd
// user who may not read the top level is asked for a prefix by name, and
// next time lands on the last one they used. One etcd + etcdeck + browser
// for the whole file.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import * as find from './support/find.mjs';
import { stackPerFile } from './support/stack.mjs';
import { run } from './support/system.mjs';
import { browseHref } from './support/url.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const ETCDCTL = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

/**
 * Writes `keys` (plain names, no spaces) with value `v`, 100 to an
 * `etcdctl txn` (etcd takes at most 128 operations in one), so thousands
 * of keys take seconds rather than a process each.
 */
async function putMany(etcd, keys) {
  for (let i = 0; i < keys.length; i += 100) {
    const ops = keys.slice(i, i + 100).map((k) => `put ${k} v`).join('\n');
    await run(
      ETCDCTL,
      ['--endpoints', etcd.endpoint, '--user', `${etcd.user}:${etcd.password}`, 'txn'],
      { input: Buffer.from(`\n${ops}\n\n\n`), env: { ...process.env, ETCDCTL_API: '3' } },
    );
  }
}

const treeList = (page) => page.locator('[data-testid="tree-list"]');
const treeFooter = (page) => page.locator('[data-testid="tree-footer"]');

/** The row's box lies inside the tree list's box and the browser window. */
async function inView(page, row) {
  const [box, list] = await Promise.all([row.boundingBox(), treeList(page).boundingBox()]);
  const window = page.viewportSize();
  return Boolean(box && list)
    && box.y >= list.y && box.y + box.height <= list.y + list.height
    && box.y >= 0 && box.y + box.height <= window.height;
}

test('a deep link to the 1,500th of 2,000 children shows its row selected, in view, and arrow keys move on from it', { timeout: 120_000 }, user(async (page, { etcd, app }) => {
  const prefix = '/e2e/big/';
  const names = Array.from({ length: 2000 }, (_, i) => `k${String(i).padStart(4, '0')}`);
  await putMany(etcd, names.map((n) => `${prefix}${n}`));
  assert.equal((await etcd.keys(prefix)).length, 2000, 'set-up: 2,000 keys written');

  // Index 1499 is on the level's second page (pages hold 1,000 children).
  const key = `${prefix}k1499`;
  await act.open(page, app, browseHref({ prefix, key }));
  await check.showsKey(page, key);
  const row = find.treeRow(page, 'k1499');
  await waitFor(async () => (await row.count()) === 1
    && (await row.getAttribute('aria-selected')) === 'true'
    && inView(page, row), {
    what: 'the row k1499 to be rendered, selected and inside the visible list',
    saw: async () => `rows ${JSON.stringify(await find.treeRows(page).evaluateAll((rows) => rows.map((r) => r.dataset.name)))}; footer ${JSON.stringify(await treeFooter(page).innerText())}`,
  });
  // The keyboard starts at that row: the list has focus with its cursor there.
  const cursorRow = () => page.evaluate(() => {
    const active = document.activeElement;
    const id = active?.getAttribute('aria-activedescendant');
    return active?.dataset.testid === 'tree-list' && id
      ? document.getElementById(id)?.dataset.name ?? null
      : null;
  });
  await waitFor(async () => (await cursorRow()) === 'k1499', {
    what: 'keyboard focus on the tree list with its cursor on k1499',
    saw: async () => JSON.stringify(await cursorRow()),
  });

  await page.keyboard.press('ArrowDown');
  await waitFor(async () => (await cursorRow()) === 'k1500', {
    what: 'ArrowDown to move the cursor to k1500',
    saw: async () => JSON.stringify(await cursorRow()),
  });
  assert.ok(await inView(page, find.treeRow(page, 'k1500')), 'the cursor row stays in view');
  await page.keyboard.press('Enter');
  await check.showsKey(page, `${prefix}k1500`);
  await check.addressIs(page, { prefix, key: `${prefix}k1500` });
  assert.equal(await find.treeRow(page, 'k1500').getAttribute('aria-selected'), 'true');
}));

test('an etcd user who may not read the top level is asked for a prefix by name, and next time lands on it', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  await etcd.put('/app/alpha', '1');
  await etcd.put('/app/beta', '2');
  await etcd.put('/secret/gamma', '3');
  const viewer = { user: 'landing-viewer', password: 'landing-viewer-pw' };
  await etcd.addReader(viewer.user, viewer.password, '/app/');

  await act.logIn(page, app, viewer);
  await page.goto(`${app.url}/`);
  const landing = page.locator('[data-testid="landing"]');
  await waitFor(async () => (await landing.count()) === 1
    && (await landing.innerText()).includes(
      "etcd user 'landing-viewer' may not read the top level; type a prefix you may read",
    ), {
    what: 'the sentence naming the etcd user who may not read the top level',
    saw: async () => JSON.stringify(await page.locator('aside').innerText()),
  });
  // The box has the keyboard: the user just types.
  const box = page.locator('[data-testid="goto-prefix"]');
  await waitFor(() => box.evaluate((el) => el === document.activeElement), {
    what: 'the go-to-prefix box to have keyboard focus',
  });
  await page.keyboard.type('/app/');
  await page.keyboard.press('Enter');
  await check.atLevel(page, '/app/');
  await check.seesRows(page, ['alpha', 'beta']);
  await check.addressIs(page, { prefix: '/app/', key: null });

  // Next visit of the start page: straight to the last prefix used.
  await page.goto(`${app.url}/`);
  await check.addressIs(page, { prefix: '/app/', key: null });
  await check.atLevel(page, '/app/');
  await check.seesRows(page, ['alpha', 'beta']);
  assert.equal(await landing.count(), 0, 'no refusal shown once landed');

  // Root, as another user, still starts at the top level.
  await act.open(page, app, '/');
  await check.seesRows(page, ['/']);
  await check.addressIs(page, { prefix: null, key: null });
}));
