// etcd's users and roles from the Users page: root creates a role limited
// to `/team/`, a user (the password typed twice) and the grant, all in the
// page; a second browser logs in as that user, is told it may not read the
// top level, and sees `/team/` and nothing else; root revokes the role and
// the user's next read is refused with a sentence. The user's own Users
// page shows its role and every control disabled with the reason. Root
// revoking its own root role is warned of the lock-out and needs the name
// typed before the button works.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { startBrowser } from './support/browser.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);
const userRow = (page, name) => page.locator(`[data-testid="user-row"][data-user="${name}"]`);
const roleRow = (page, name) => page.locator(`[data-testid="role-row"][data-role="${name}"]`);
const CAROL = { user: 'carol', password: 'carol-Passw0rd-e2e' };

/** Waits until the Users page says the change was done. */
async function done(page, pattern) {
  const note = byTestId(page, 'users-done');
  await waitFor(async () => (await note.count()) === 1 && pattern.test(await note.innerText()), {
    what: `the Users page to say ${pattern}`,
    saw: async () => {
      const failed = byTestId(page, 'users-change-error');
      return (await failed.count()) ? await failed.innerText() : (await note.count()) ? await note.innerText() : '(nothing)';
    },
  });
}

/** Waits until `locator` exists and its text matches `pattern`. */
async function says(locator, pattern, what) {
  await waitFor(async () => (await locator.count()) > 0 && pattern.test(await locator.first().innerText()), {
    what,
    saw: async () => ((await locator.count()) ? JSON.stringify(await locator.first().innerText()) : '(absent)'),
  });
}

test('root creates a user limited to /team/, who sees only /team/ until the role is revoked', { timeout: 120_000 }, user(async (page, { app, etcd }) => {
  await etcd.put('/team/x', 'team x');
  await etcd.put('/team/y', 'team y');
  await etcd.put('/other/z', 'other z');

  await act.logIn(page, app);
  await page.goto(`${app.url}/`);
  await byTestId(page, 'nav-users').click();
  await page.waitForURL(/\/users$/);
  await says(userRow(page, 'root'), /root/, 'the root user listed');

  // The role and its permission on /team/.
  await byTestId(page, 'new-role-name').fill('team');
  await byTestId(page, 'new-role-add').click();
  await done(page, /added the role team/);
  await says(roleRow(page, 'team'), /no permissions/, 'the new role without permissions');
  await byTestId(page, 'perm-role').fill('team');
  await byTestId(page, 'perm-key').fill('/team/');
  await byTestId(page, 'perm-add').click();
  await done(page, /gave the role team readwrite on \/team\/ \(prefix\)/);
  await says(roleRow(page, 'team').locator('[data-testid="permission"]'), /^readwrite \/team\/ \(prefix\)$/, 'the permission shown as a prefix');

  // The user: two passwords that differ are refused before anything is sent.
  await byTestId(page, 'new-user-name').fill(CAROL.user);
  await byTestId(page, 'new-user-password').fill(CAROL.password);
  await byTestId(page, 'new-user-password2').fill(`${CAROL.password}-typo`);
  await byTestId(page, 'new-user-mismatch').waitFor({ state: 'visible' });
  assert.ok(await byTestId(page, 'new-user-add').isDisabled(), 'a mismatched password cannot be sent');
  await byTestId(page, 'new-user-password2').fill(CAROL.password);
  await byTestId(page, 'new-user-add').click();
  await done(page, /added the user carol/);
  await userRow(page, CAROL.user).waitFor({ state: 'visible' });
  assert.equal(await byTestId(page, 'new-user-password').inputValue(), '', 'the password is not kept in the form');
  assert.ok(!(await page.locator('body').innerText()).includes(CAROL.password), 'the password is not shown');

  await byTestId(page, 'grant-user').fill(CAROL.user);
  await byTestId(page, 'grant-role').fill('team');
  await byTestId(page, 'grant-submit').click();
  await done(page, /granted the role team to carol/);
  await userRow(page, CAROL.user).locator('[data-testid="user-role"][data-role="team"]').waitFor({ state: 'visible' });

  const other = await startBrowser();
  try {
    // Carol may not read the top level, and sees /team/ with its keys.
    await act.logIn(other.page, app, CAROL);
    await other.page.goto(`${app.url}/`);
    await says(
      other.page.locator('[data-testid="landing"]'),
      /etcd user 'carol' may not read the top level/,
      'the sentence naming carol, who may not read the top level',
    );
    await other.page.goto(`${app.url}/?prefix=/team/`);
    await check.atLevel(other.page, '/team/');
    await check.seesRows(other.page, ['x', 'y']);
    await other.page.goto(`${app.url}/?prefix=/team/&key=/team/x`);
    await check.showsKey(other.page, '/team/x');

    // Her own Users page: her role, and every control disabled with the reason.
    await other.page.goto(`${app.url}/users`);
    await says(byTestId(other.page, 'users-refused'), /only etcd's root manages users and roles; carol is not root/, 'the reason carol may not change users');
    await userRow(other.page, CAROL.user).locator('[data-testid="user-role"][data-role="team"]').waitFor({ state: 'visible' });
    for (const id of ['new-role-add', 'role-revoke', 'user-delete']) {
      const control = byTestId(other.page, id).first();
      assert.ok(await control.isDisabled(), `${id} is disabled for carol`);
      assert.match((await control.getAttribute('title')) ?? '', /only etcd's root/);
    }

    // Root revokes the role; Carol's next read is refused, with the reason.
    await userRow(page, CAROL.user).locator('[data-testid="role-revoke"]').click();
    await done(page, /revoked the role team from carol/);
    await says(userRow(page, CAROL.user), /no roles/, 'carol without roles');
    await other.page.goto(`${app.url}/?prefix=/team/&key=/team/x`);
    await says(
      other.page.locator('[data-testid="key-error"], [data-testid="tree-error"], [data-testid="landing"]'),
      /permission denied|may not read/,
      "carol's read refused with etcd's reason",
    );
  } finally {
    await other.stop();
  }
}));

test('root revoking its own root role is warned of the lock-out and must type the name', { timeout: 60_000 }, user(async (page, { app }) => {
  await act.logIn(page, app);
  await page.goto(`${app.url}/users`);
  const rootRole = userRow(page, 'root').locator('[data-testid="user-role"][data-role="root"]');
  await rootRole.waitFor({ state: 'visible' });
  await rootRole.locator('[data-testid="role-revoke"]').click();
  const dialog = byTestId(page, 'users-confirm');
  await dialog.waitFor({ state: 'visible' });
  await says(dialog.locator('[data-testid="users-confirm-text"]'), /Revoke the role root from root\?/, 'the question');
  await says(dialog.locator('[data-testid="lockout-warning"]'), /from yourself \(root\): you can no longer manage users and roles/, 'the lock-out warning');
  const go = dialog.locator('[data-testid="confirm-go"]');
  assert.ok(await go.isDisabled(), 'nothing is done before the name is typed');
  await dialog.locator('[data-testid="confirm-input"]').fill('roo');
  assert.ok(await go.isDisabled(), 'a wrong name does not unlock the button');
  await dialog.locator('[data-testid="confirm-input"]').fill('root');
  await waitFor(async () => !(await go.isDisabled()), { what: 'the button enabled once root is typed' });
  // Leave it: Escape closes the dialog and nothing changes.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  const res = await page.request.get(`${app.url}/api/v1/users`);
  assert.equal(res.status(), 200);
  const view = await res.json();
  assert.deepEqual(view.users.find((u) => u.name === 'root')?.roles, ['root']);
}));
