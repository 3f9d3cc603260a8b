// Guessing root's password through the login page: after 5 wrong passwords
// the next ones must wait (one a second up to 10, then 30 s); the page shows
// the backend's sentence and counts the wait down on the button while the
// fields stay usable; after the wait the right password logs in, and the
// audit page lists the refused and throttled logins with their address.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Sends the login form and returns the HTTP status of its answer. */
async function logInThroughThePage(page, { user: name, password }) {
  await byTestId(page, 'login-user').fill(name);
  await byTestId(page, 'login-password').fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/login')),
    byTestId(page, 'login-submit').click(),
  ]);
  return response.status();
}

const retryIn = async (page) => Number((await byTestId(page, 'login-submit').getAttribute('data-retry-in')) ?? 0);

test('wrong passwords are throttled on the login page; after the wait root logs in and the audit page lists them', { timeout: 120_000 }, user(async (page, { app }) => {
  await page.goto(`${app.url}/login`);
  await byTestId(page, 'login-form').waitFor();
  const submit = byTestId(page, 'login-submit');
  let denied = 0;
  let throttled = 0;
  for (let n = 0; ; n += 1) {
    const status = await logInThroughThePage(page, { user: 'root', password: `guess-${n}` });
    if (status === 401) {
      denied += 1;
      await waitFor(async () => /rejected this user name or password/.test(await byTestId(page, 'login-error').innerText()), {
        what: 'the refusal of a wrong password',
      });
      continue;
    }
    assert.equal(status, 429);
    throttled += 1;
    await waitFor(async () => (await retryIn(page)) > 0, { what: 'the countdown on the button' });
    assert.match(await byTestId(page, 'login-error').innerText(), /^too many failed logins for this user or from this address; try again in \d+ s$/);
    assert.match(await submit.innerText(), /^Try again in \d+ s$/);
    assert.equal(await submit.isDisabled(), true);
    // The fields stay usable while the button waits.
    assert.equal(await byTestId(page, 'login-password').isEditable(), true);
    if ((await retryIn(page)) > 5) {
      break;
    }
    // A short wait (the first tier): wait it out and guess again.
    await waitFor(async () => (await retryIn(page)) === 0, { what: 'the short wait to pass', timeout: 5_000 });
  }
  assert.equal(denied, 10, 'five failures at once, then one a second up to 10');

  // The long wait counts down each second.
  const first = await retryIn(page);
  await waitFor(async () => (await retryIn(page)) < first, { what: 'the countdown to tick', timeout: 3_000 });

  // After the wait the right password logs in.
  await waitFor(async () => !(await submit.isDisabled()), { what: 'the wait to end', timeout: 40_000, every: 500 });
  assert.equal(await submit.innerText(), 'Log in');
  assert.equal(await logInThroughThePage(page, app.credentials), 200);
  await byTestId(page, 'session-user').waitFor();

  // The audit page lists every refused and throttled login with its address.
  await page.goto(`${app.url}/audit`);
  const rows = page.locator('[data-testid="audit-row"]');
  await waitFor(async () => (await rows.count()) >= denied + throttled + 1, { what: 'the login rows' });
  const results = await rows.evaluateAll((all) => all.map((row) => row.dataset.result));
  assert.equal(results.filter((r) => r === 'denied').length, denied, results.join(' '));
  assert.equal(results.filter((r) => r === 'throttled').length, throttled, results.join(' '));
  assert.equal(results[0], 'ok', 'the latest login, newest first');
  const texts = await rows.allInnerTexts();
  assert.ok(texts.every((t) => t.includes('127.0.0.1') && /\blogin\b/.test(t) && t.includes('root')), texts.join('\n'));
  assert.equal(await byTestId(page, 'audit-no-key').count(), results.length);
  assert.ok(texts.every((t) => !t.includes('guess-')), 'no password on the audit page');
}));
