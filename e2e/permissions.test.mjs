// Write controls follow what the etcd user may do: a user who may only read
// `/app/` finds edit, delete, new key, delete prefix and revoke disabled with
// etcd's reason; an editor of `/app/` finds them enabled there and disabled
// under `/other/`, which it may only read. Asking etcd writes nothing (its
// revision stays where it was) and costs one request per key or level
// opened, none per change seen. Also the delete-prefix dialog: Escape closes
// it, and a refused delete clears its count until the keys are counted again.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

const READER = { user: 'app-reader', password: 'app-reader-pw' };
const EDITOR = { user: 'app-editor', password: 'app-editor-pw' };

/** Counts the browser's probe requests (`/api/v1/may-write`) from now on. */
function countProbes(page) {
  const counter = { count: 0, asked: [] };
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/v1/may-write') {
      counter.count += 1;
      counter.asked.push(request.postData());
    }
  });
  return counter;
}

/** Waits until the control `id` is disabled with a title matching `why`. */
async function disabledBecause(page, id, why) {
  const control = byTestId(page, id).first();
  await waitFor(
    async () => (await control.isDisabled()) && why.test((await control.getAttribute('title')) ?? ''),
    {
      what: `${id} to be disabled with a title matching ${why}`,
      saw: async () => `disabled=${await control.isDisabled()} title=${JSON.stringify(await control.getAttribute('title'))}`,
    },
  );
}

/** Waits until the control `id` is enabled. */
async function enabled(page, id) {
  const control = byTestId(page, id).first();
  await waitFor(async () => !(await control.isDisabled()), {
    what: `${id} to be enabled`,
    saw: async () => `disabled, title ${JSON.stringify(await control.getAttribute('title'))}`,
  });
}

test('users and keys for the permission checks', { timeout: 60_000 }, user(async (_page, { etcd }) => {
  await etcd.put('/app/cfg', 'v1');
  await etcd.put('/app/sub/x', 'x');
  await etcd.put('/other/thing', 't');
  const lease = await etcd.leaseGrant(600);
  await etcd.putWithLease('/app/svc', 'up', lease);
  await etcd.addReader(READER.user, READER.password, '/app/');
  await etcd.addEditor(EDITOR.user, EDITOR.password, '/app/', ['/other/']);
}));

test('a read-only user of /app/ sees the write controls disabled with the reason, and browsing writes nothing', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  const revision = await etcd.revision();
  const probes = countProbes(page);
  await act.logIn(page, app, READER);
  await page.goto(`${app.url}/?prefix=/app/&key=/app/cfg`);
  await check.showsKey(page, '/app/cfg');

  for (const id of ['edit', 'delete-key', 'rename-key']) {
    await disabledBecause(page, id, /may not write/);
  }
  assert.match(await byTestId(page, 'write-hint').innerText(), /app-reader may not write/);
  for (const id of ['new-key', 'delete-prefix', 'rename-prefix']) {
    await disabledBecause(page, id, /may not write/);
  }
  assert.match(await byTestId(page, 'level-write-hint').innerText(), /may not write/);
  // One probe for the level, one for the key; a change to the key (a watch
  // event) asks nothing again.
  assert.equal(probes.count, 2, `one request per level and key opened, asked ${probes.asked.join(' ')}`);
  await etcd.put('/app/cfg', 'v2');
  await check.valueContains(page, ['v2']);
  assert.equal(probes.count, 2, 'no probe per watch event');
  const changed = await etcd.revision();

  // Revoking a lease deletes its keys, which this user may not write.
  await page.goto(`${app.url}/leases`);
  await disabledBecause(page, 'lease-revoke', /may not write/);
  assert.match(await byTestId(page, 'lease-revoke-hint').first().innerText(), /Revoking is off/);

  assert.equal(await etcd.revision(), changed, 'asking whether the user may write wrote nothing');
  assert.equal(changed, revision + 1, 'only the test\'s own put moved the revision');
}));

test('an editor of /app/ may write there and not under /other/, which it only reads', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  const revision = await etcd.revision();
  await act.logIn(page, app, EDITOR);
  await page.goto(`${app.url}/?prefix=/app/&key=/app/cfg`);
  await check.showsKey(page, '/app/cfg');
  for (const id of ['edit', 'delete-key', 'rename-key', 'new-key', 'delete-prefix']) {
    await enabled(page, id);
  }
  assert.equal(await byTestId(page, 'write-hint').count(), 0);
  assert.equal(await byTestId(page, 'level-write-hint').count(), 0);

  await page.goto(`${app.url}/?prefix=/other/&key=/other/thing`);
  await check.showsKey(page, '/other/thing');
  for (const id of ['edit', 'delete-key', 'rename-key', 'new-key', 'delete-prefix']) {
    await disabledBecause(page, id, /app-editor may not write/);
  }

  await page.goto(`${app.url}/leases`);
  await enabled(page, 'lease-revoke');
  assert.equal(await etcd.revision(), revision, 'browsing and asking wrote nothing');
}));

test('the delete-prefix dialog closes on Escape and drops its count after a refusal', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  await act.open(page, app, { prefix: '/app/sub/' });
  await check.seesRows(page, ['x']);
  const dialog = byTestId(page, 'delete-prefix-dialog');
  const count = byTestId(page, 'prefix-count');

  await byTestId(page, 'delete-prefix').click();
  await dialog.waitFor();
  await waitFor(async () => /1 key/.test(await count.innerText()), { what: 'the preview to count 1 key' });
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  await byTestId(page, 'delete-prefix').click();
  await dialog.waitFor();
  await waitFor(async () => /1 key/.test(await count.innerText()), { what: 'the preview to count 1 key' });
  // The prefix changes after its count: the delete is refused (409).
  await etcd.put('/app/sub/y', 'y');
  await byTestId(page, 'confirm-input').fill('/app/sub/');
  const confirm = byTestId(page, 'confirm-delete-prefix');
  await confirm.click();
  await byTestId(page, 'preview-cleared').waitFor();
  assert.equal(await count.count(), 0, 'the stale count is gone');
  assert.equal(await confirm.isDisabled(), true, 'no delete without a fresh count');
  assert.notEqual(await etcd.get('/app/sub/x'), null, 'nothing was deleted');

  await byTestId(page, 'recount-prefix').click();
  await waitFor(async () => /2 keys/.test(await count.innerText().catch(() => '')), { what: 'a fresh count of 2 keys' });
  await enabled(page, 'confirm-delete-prefix');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
}));
