// Masked values: a key that looks secret (`/app/db/password`, the default
// `*password*` pattern) shows as hidden with its size to `app`, who may read
// `/app/`, and its value is nowhere in the page; edit is disabled with the
// reason. etcd's root sees it hidden too, with a Reveal button that shows it
// in the normal viewer; the audit page lists the reveal.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

const APP = { user: 'app', password: 'app-password' };
const KEY = '/app/db/password';
const SECRET = 'correct-horse-battery-staple';

/** The key view shows KEY, its value hidden; the notice's locator. */
async function showsHidden(page) {
  const hidden = byTestId(page, 'value-masked');
  await waitFor(
    async () => (await byTestId(page, 'key-name').innerText().catch(() => '')) === KEY && (await hidden.count()) > 0,
    {
      what: `the key view to show ${KEY} hidden`,
      saw: async () => `key view: ${await byTestId(page, 'key-view').innerText().catch(() => '(none)')}`,
    },
  );
  return hidden;
}

test('a secret key and a reader of /app/', { timeout: 60_000 }, user(async (_page, { etcd }) => {
  await etcd.put(KEY, SECRET);
  await etcd.put('/app/db/host', 'db.internal');
  await etcd.addReader(APP.user, APP.password, '/app/');
}));

test('as app the value is hidden and nowhere in the page', { timeout: 90_000 }, user(async (page, { app }) => {
  await act.logIn(page, app, APP);
  await page.goto(`${app.url}/?prefix=/app/db/&key=${KEY}`);
  const hidden = await showsHidden(page);
  assert.match(
    await hidden.innerText(),
    new RegExp(`Hidden: this key looks secret \\(matches \\*password\\*\\) · ${SECRET.length} bytes`),
  );
  assert.equal(await byTestId(page, 'reveal-value').count(), 0, 'no Reveal button for app');
  assert.ok(!(await page.content()).includes(SECRET), 'the value is not in the page');
  // Edit needs the value: disabled, saying why.
  const edit = byTestId(page, 'edit');
  await waitFor(async () => (await edit.isDisabled()) && /only etcd's root/.test((await edit.getAttribute('title')) ?? ''), {
    what: 'edit disabled with the reason',
    saw: async () => `title ${await edit.getAttribute('title')}`,
  });
  // A plain key next to it shows as usual.
  await page.goto(`${app.url}/?prefix=/app/db/&key=/app/db/host`);
  await check.valueContains(page, ['db.internal']);
}));

test('as root the Reveal button shows it, and the audit page lists the reveal', { timeout: 90_000 }, user(async (page, { app }) => {
  await act.logIn(page, app);
  await page.goto(`${app.url}/?prefix=/app/db/&key=${KEY}`);
  await showsHidden(page);
  assert.ok(!(await page.content()).includes(SECRET), 'hidden until revealed, for root too');
  await byTestId(page, 'reveal-value').click();
  await check.valueContains(page, [SECRET]);
  await byTestId(page, 'value-revealed').waitFor({ state: 'visible' });

  await page.goto(`${app.url}/audit`);
  const rows = byTestId(page, 'audit-row');
  await waitFor(
    async () => (await rows.allInnerTexts()).some((r) => r.includes('reveal') && r.includes(KEY)),
    { what: 'the reveal on the audit page', saw: async () => (await rows.allInnerTexts()).join('\n') },
  );
  assert.ok(!(await page.content()).includes(SECRET), 'the audit page does not carry the value');
}));
