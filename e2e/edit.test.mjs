// Careful manual editing, as a person does it: logging in through the login
// page, editing a JSON value, meeting the conflict screen when etcdctl changed
// the key meanwhile, restoring an old version from the key's history,
// deleting a prefix with its typed confirmation, granting and revoking a
// lease, reading the audit page, and logging out.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { stackPerFile } from './support/stack.mjs';
import { browseHref } from './support/url.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** A key's value in etcd as text, or null when it does not exist. */
const valueIn = async (etcd, key) => (await etcd.get(key))?.toString() ?? null;

/** The login page, filled and sent as a person would. */
async function logInThroughThePage(page, { user: name, password }) {
  await byTestId(page, 'login-user').fill(name);
  await byTestId(page, 'login-password').fill(password);
  await byTestId(page, 'login-submit').click();
}

/** Opens the editor on the key shown and replaces its text. */
async function editTo(page, text) {
  await byTestId(page, 'edit').click();
  const area = byTestId(page, 'editor-text');
  await area.waitFor();
  await area.fill(text);
}

test('log in, edit a key, meet a conflict made by etcdctl, restore an old version, log out', { timeout: 120_000 }, user(async (page, { etcd, app }) => {
  const key = '/e2e/edit/cfg';
  await etcd.put(key, '{"replicas": 1}');

  // A deep link without a session goes through the login page and back.
  await page.goto(`${app.url}${browseHref({ prefix: '/e2e/edit/', key })}`);
  await byTestId(page, 'login-form').waitFor();
  await logInThroughThePage(page, { user: 'root', password: 'wrong password' });
  await waitFor(async () => (await byTestId(page, 'login-error').count()) === 1, {
    what: 'the refusal of a wrong password',
  });
  assert.match(await byTestId(page, 'login-error').innerText(), /rejected this user name or password/);
  await logInThroughThePage(page, app.credentials);
  await check.showsKey(page, key);
  assert.match(await byTestId(page, 'session-user').innerText(), /\broot\b/);

  // An edit in JSON mode: invalid JSON is shown with its line and not sent.
  await editTo(page, '{"replicas": 2,}');
  await byTestId(page, 'editor-mode-json').click();
  await waitFor(async () => /line 1/.test(await byTestId(page, 'editor-error').innerText().catch(() => '')), {
    what: 'the JSON error with its line',
    saw: async () => byTestId(page, 'editor-error').innerText().catch(() => 'no error shown'),
  });
  assert.equal(await byTestId(page, 'save').isDisabled(), true, 'invalid JSON cannot be saved');
  await byTestId(page, 'editor-text').fill('{"replicas": 2}');
  await byTestId(page, 'save').click();
  await check.valueContains(page, ['"replicas"', '2']);
  assert.equal(await valueIn(etcd, key), '{"replicas": 2}');

  // etcdctl changes the key while the editor is open: saving shows both
  // versions and writes nothing.
  await editTo(page, '{"replicas": 3}');
  await etcd.put(key, '{"replicas": 9}');
  await byTestId(page, 'save').click();
  await byTestId(page, 'conflict').waitFor();
  assert.match(await byTestId(page, 'conflict-mine').innerText(), /3/);
  assert.match(await byTestId(page, 'conflict-theirs').innerText(), /9/);
  assert.equal(await valueIn(etcd, key), '{"replicas": 9}', 'nothing was written');
  await byTestId(page, 'take-theirs').click();
  await check.valueContains(page, ['9']);

  // The first version, restored from the history as a normal guarded save.
  await byTestId(page, 'history').click();
  const versions = byTestId(page, 'history-version');
  await waitFor(async () => (await versions.count()) >= 3, {
    what: 'three versions in the history',
    saw: async () => `${await versions.count()} rows`,
  });
  // Newest first: the first version is the last row.
  await versions.last().locator('[data-testid="restore"]').click();
  await waitFor(async () => /"replicas": 1/.test(await byTestId(page, 'editor-text').inputValue()), {
    what: 'the editor to hold the restored value',
  });
  await byTestId(page, 'save').click();
  await waitFor(async () => (await valueIn(etcd, key)) === '{"replicas": 1}', {
    what: 'etcd to hold the restored value',
  });
  await check.valueContains(page, ['1']);

  // Every write is on the audit page.
  await page.goto(`${app.url}/audit`);
  const rows = byTestId(page, 'audit-row');
  await waitFor(async () => (await rows.count()) >= 3, { what: 'the audit rows of the writes' });
  const audit = await rows.allInnerTexts();
  assert.ok(audit.some((r) => r.includes(key) && /conflict/i.test(r)), audit.join('\n'));
  assert.ok(audit.filter((r) => r.includes(key) && /\bok\b/i.test(r)).length >= 2, audit.join('\n'));

  // Logging out ends the session: the page and its deep links need a login.
  await byTestId(page, 'logout').click();
  await byTestId(page, 'login-form').waitFor();
  await page.goto(`${app.url}${browseHref({ prefix: '/e2e/edit/', key })}`);
  await byTestId(page, 'login-form').waitFor();
}));

test('a prefix is deleted in one go after its preview and the typed prefix', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  for (const n of [1, 2, 3]) await etcd.put(`/e2e/doomed/k${n}`, `${n}`);
  await etcd.put('/e2e/doomed-not', 'stays');
  await act.open(page, app, { prefix: '/e2e/doomed/' });
  await check.seesRows(page, ['k1', 'k2', 'k3']);

  await byTestId(page, 'delete-prefix').click();
  const dialog = byTestId(page, 'delete-prefix-dialog');
  await dialog.waitFor();
  await waitFor(async () => /3/.test(await byTestId(page, 'prefix-count').innerText()), {
    what: 'the preview to count 3 keys',
  });
  const confirm = byTestId(page, 'confirm-delete-prefix');
  await byTestId(page, 'confirm-input').fill('/e2e/doomed');
  assert.equal(await confirm.isDisabled(), true, 'a wrong confirmation keeps the button off');
  await byTestId(page, 'confirm-input').fill('/e2e/doomed/');
  await confirm.click();
  await waitFor(async () => (await valueIn(etcd, '/e2e/doomed/k1')) === null, { what: 'the prefix to be deleted' });
  assert.equal(await valueIn(etcd, '/e2e/doomed/k3'), null);
  assert.equal(await valueIn(etcd, '/e2e/doomed-not'), 'stays');
}));

test('leases are granted, kept alive and revoked from the leases page', { timeout: 90_000 }, user(async (page, { app }) => {
  await act.open(page, app, '/leases');
  await byTestId(page, 'lease-ttl').fill('600');
  await byTestId(page, 'lease-grant').click();
  const revoke = byTestId(page, 'lease-revoke');
  await waitFor(async () => (await revoke.count()) >= 1, { what: 'the granted lease to show' });
  const before = await revoke.count();
  await byTestId(page, 'lease-keep-alive').first().click();
  await revoke.first().click();
  await byTestId(page, 'confirm-revoke').click();
  await waitFor(async () => (await revoke.count()) === before - 1, {
    what: 'the revoked lease to go',
    saw: async () => `${await revoke.count()} leases`,
  });
}));
