// What the user does in the browser. Each action waits only for its target
// to be there (Playwright's actionability checks), never for a fixed time;
// what should follow is asserted with `check.mjs`.

import * as find from './find.mjs';
import { browseHref } from './url.mjs';
import { waitFor } from './wait.mjs';

/** Waits for the row named `name` in the listed level; a timeout lists the rows there are. */
async function rowNamed(page, name) {
  const row = find.treeRow(page, name);
  await waitFor(async () => (await row.count()) > 0 && (await row.first().isVisible()), {
    what: `a tree row named ${JSON.stringify(name)} (data-name)`,
    saw: async () =>
      `rows with data-name ${JSON.stringify(
        await find.treeRows(page).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name'))),
      )}`,
  });
  return row.first();
}

/**
 * Logs the browser in to `app` as its etcd user (or `as`) through the login
 * API, as the login page does: the session cookie lands in the browser.
 * Cookies are per host, not per port, so this also switches the browser
 * between etcdeck instances.
 */
export async function logIn(page, app, as = app.credentials) {
  const res = await page.request.post(`${app.url}/api/v1/login`, {
    data: { kind: 'password', user: as.user, password: as.password },
  });
  if (!res.ok()) throw new Error(`logging in as ${as.user} failed: HTTP ${res.status()} ${await res.text()}`);
}

/**
 * Answers the "log in again" dialog that appears over the page when the
 * session ended (etcdeck restarted, idle expiry), as a person would.
 */
export async function logInAgain(page, app, as = app.credentials) {
  const dialog = page.locator('[data-testid="session-ended-dialog"]');
  await dialog.waitFor({ state: 'visible', timeout: 30_000 });
  await dialog.locator('[data-testid="login-user"]').fill(as.user);
  await dialog.locator('[data-testid="login-password"]').fill(as.password);
  await dialog.locator('[data-testid="login-submit"]').click();
  await dialog.waitFor({ state: 'detached', timeout: 10_000 });
}

/** Logs in, then opens the app at `where` (a path like `/` or `/?prefix=..`, or `{prefix, key}`). */
export async function open(page, app, where = '/') {
  await logIn(page, app);
  const path = typeof where === 'string' ? where : browseHref(where);
  await page.goto(`${app.url}${path}`);
}

/** Clicks the row of a directory to list its children (the row itself, or its
 * "open as directory" button when it is a key too). */
export async function openDirectory(page, name) {
  const row = await rowNamed(page, name);
  const button = find.enterDirButton(page, name);
  if (await button.count()) await button.click();
  else await row.click();
}

/** Clicks a key's row to show it in the key view. */
export async function selectKey(page, name) {
  await (await rowNamed(page, name)).click();
}

/** Switches the value view to Text, JSON, YAML, Hex or Base64. */
export async function chooseViewMode(page, label) {
  await find.viewModeButton(page, label).click();
}

export async function reload(page) {
  await page.reload();
}

export async function goBack(page) {
  await page.goBack();
}
