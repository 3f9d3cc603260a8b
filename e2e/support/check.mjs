// What the user should see. Every check polls until it holds or times out
// saying what was there instead; none sleeps.

import * as find from './find.mjs';
import { fromUrl } from './url.mjs';
import { waitFor } from './wait.mjs';

/** The visible text of the first match, or null when there is none. */
const textOf = async (locator) =>
  (await locator.count()) ? await locator.first().innerText({ timeout: 1_000 }) : null;
const quote = (x) => JSON.stringify(x);

/** The connection indicator reads something matching `pattern`. */
export async function connectionSays(page, pattern, timeout = 10_000) {
  await waitFor(async () => pattern.test((await textOf(find.connection(page))) ?? ''), {
    what: `the connection indicator to match ${pattern}`,
    timeout,
    every: 250,
    saw: async () => quote(await textOf(find.connection(page))),
  });
}

/** The level listed is `prefix`: its breadcrumb is the current one. */
export async function atLevel(page, prefix) {
  const current = () => find.currentCrumb(page).first().getAttribute('data-prefix', { timeout: 1_000 });
  await waitFor(async () => (await current()) === prefix, {
    what: `the current breadcrumb to be the level ${quote(prefix)}`,
    saw: async () => `current crumb ${quote(await current())}`,
  });
}

/** The listed level shows rows with these names (among others). */
export async function seesRows(page, names) {
  const shown = () => find.treeRows(page).evaluateAll((rows) => rows.map((r) => r.dataset.name));
  await waitFor(async () => {
    const rows = await shown();
    return names.every((n) => rows.includes(n));
  }, { what: `tree rows named ${quote(names)}`, saw: async () => `rows ${quote(await shown())}` });
}

/** The key view shows `key` by name, with its value loaded. */
export async function showsKey(page, key) {
  await waitFor(
    async () => (await textOf(find.keyName(page))) === key && (await find.value(page).count()) > 0,
    {
      what: `the key view to show the key ${quote(key)} with its value`,
      saw: async () => `key view: ${quote(await textOf(find.keyView(page)))}`,
    },
  );
}

/** The key view shows no key, only the hint to select one. */
export async function showsNoKey(page) {
  await waitFor(
    async () => (await find.keyHint(page).count()) > 0 && (await find.keyName(page).count()) === 0,
    {
      what: 'the key view to show no key',
      saw: async () => `key view: ${quote(await textOf(find.keyView(page)))}`,
    },
  );
}

/** The shown value's text contains every one of `parts`. */
export async function valueContains(page, parts) {
  await waitFor(
    async () => {
      const shown = await textOf(find.value(page));
      return shown !== null && parts.every((p) => shown.includes(p));
    },
    {
      what: `the value to contain ${quote(parts)}`,
      saw: async () => `value ${quote(await textOf(find.value(page)))}`,
    },
  );
}

/** The pressed view-mode button is `label`. */
export async function viewModeIs(page, label) {
  const pressed = () =>
    find.keyView(page).locator('[data-testid="view-mode"][aria-pressed="true"]')
      .first().getAttribute('data-mode', { timeout: 1_000 });
  await waitFor(async () => (await pressed()) === label, {
    what: `the ${label} view mode to be selected`,
    saw: async () => `${quote(await pressed())} selected`,
  });
}

/**
 * The address bar is the deep link of `prefix` and `key` (`null`: the
 * parameter is absent). Compared as bytes after percent-decoding; with
 * `raw`, the encoded text must also be exactly `prefix` / `key`.
 */
export async function addressIs(page, { prefix, key }, { raw = false } = {}) {
  const same = (shown, want) =>
    want === null
      ? shown === null
      : shown !== null && (raw ? shown === want : fromUrl(shown).equals(Buffer.from(want)));
  await waitFor(
    async () => {
      const here = find.location(page);
      return here.path === '/' && same(here.prefix, prefix) && same(here.key, key);
    },
    {
      what: `the address to be the link of prefix ${quote(prefix)} and key ${quote(key)}`,
      saw: async () => page.url(),
    },
  );
}

/** The live indicator's `data-state` is `state`. */
export async function liveStateIs(page, state, timeout = 10_000) {
  const shown = () => find.liveState(page).first().getAttribute('data-state', { timeout: 1_000 });
  await waitFor(async () => (await shown()) === state, {
    what: `the live indicator to be ${quote(state)}`,
    timeout,
    every: 100,
    saw: async () => quote(await shown()),
  });
}

/** The events page is subscribed and waiting ("waiting for changes under ..."). */
export async function eventsWaiting(page, prefix) {
  await waitFor(
    async () => ((await textOf(find.eventsEmpty(page))) ?? '').includes(`waiting for changes under ${prefix}`),
    {
      what: `the events page to wait for changes under ${quote(prefix)}`,
      saw: async () => quote(await textOf(page.locator('main'))),
    },
  );
}

/** The (key, kind, revision) of every event row, newest first. */
export const eventRowsShown = (page) =>
  find.eventRows(page).evaluateAll((rows) =>
    rows.map((r) => ({ key: r.dataset.key, kind: r.dataset.kind, revision: Number(r.dataset.revision) })));

/**
 * The events page shows a row for each of `keys`; polls every `every` ms
 * until `timeout`. Returns the rows shown then.
 */
export async function eventsShown(page, keys, { timeout = 10_000, every = 100 } = {}) {
  let rows = [];
  await waitFor(
    async () => {
      rows = await eventRowsShown(page);
      return keys.every((k) => rows.some((r) => r.key === k));
    },
    { what: `event rows for ${quote(keys)}`, timeout, every, saw: async () => quote(rows) },
  );
  return rows;
}
