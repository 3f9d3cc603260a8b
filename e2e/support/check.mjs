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

/** A coordination page of `kind` (Leases, Locks, ...) is shown and has read its answer. */
export async function coordPageRead(page, kind) {
  const state = () =>
    find.coordPage(page).evaluateAll((pages) =>
      pages.map((p) => ({
        kind: p.dataset.kind,
        loading: !!p.querySelector('[data-testid="coord-loading"]'),
        error: p.querySelector('[data-testid="coord-error"]')?.innerText ?? null,
      })));
  await waitFor(async () => {
    const [shown] = await state();
    if (shown?.error) throw new Error(`the page shows an error: ${shown.error}`);
    return shown?.kind === kind && !shown.loading;
  }, { what: `the ${kind} page to have read its answer`, saw: async () => quote(await state()) });
}

/** The `data-key` (and `data-value`) of every element matching `selector` in `card`, in order. */
const contenders = (card, selector) =>
  card.locator(selector).evaluateAll((els) => els.map((e) => e.dataset.key));

/**
 * The lock card of `prefix` shows `holder` (a key) holding it and exactly
 * `waiters` (keys) waiting, in that order. `holder: null`: no card at all.
 */
export async function lockShows(page, prefix, { holder, waiters = [] }, timeout = 15_000) {
  const card = find.lockCard(page, prefix);
  const shown = async () =>
    (await card.count())
      ? { holders: await contenders(card, '[data-testid="lock-holder"]'),
          waiters: await contenders(card, '[data-testid="lock-waiter"]') }
      : null;
  await waitFor(async () => {
    const now = await shown();
    if (holder === null) return now === null;
    return now !== null && now.holders.length === 1 && now.holders[0] === holder
      && JSON.stringify(now.waiters) === JSON.stringify(waiters);
  }, {
    what: `the lock ${quote(prefix)} to be held by ${quote(holder)} with waiters ${quote(waiters)}`,
    timeout,
    saw: async () => quote(await shown()),
  });
}

/** The election card of `prefix` shows `leader` (a proposal) and `candidates` (proposals) in order. */
export async function electionShows(page, prefix, { leader, candidates = [] }, timeout = 15_000) {
  const card = find.electionCard(page, prefix);
  const shown = async () =>
    (await card.count())
      ? { leader: await card.locator('[data-testid="election-leader"]')
            .evaluateAll((els) => els.map((e) => e.dataset.value)[0] ?? null),
          candidates: await card.locator('[data-testid="election-candidate"]')
            .evaluateAll((els) => els.map((e) => e.dataset.value)) }
      : null;
  await waitFor(async () => {
    const now = await shown();
    return now !== null && now.leader === leader
      && JSON.stringify(now.candidates) === JSON.stringify(candidates);
  }, {
    what: `the election ${quote(prefix)} to be led by ${quote(leader)} with candidates ${quote(candidates)}`,
    timeout,
    saw: async () => quote(await shown()),
  });
}

/** The lease `id` (hex) has a card (`present`), or has none. */
export async function leaseShown(page, id, present = true, timeout = 10_000) {
  const ids = () => page.locator('[data-testid="lease-card"]').evaluateAll((els) => els.map((e) => e.dataset.lease));
  await waitFor(async () => (await ids()).includes(id) === present, {
    what: `the lease ${id} to be ${present ? 'shown' : 'gone'}`,
    timeout,
    saw: async () => `leases ${quote(await ids())}`,
  });
}

/** The seconds a lease card says are left (its countdown), as a number. */
export async function leaseSecondsLeft(page, id) {
  const text = await find.leaseCard(page, id).locator('[data-testid="lease-remaining"]').innerText({ timeout: 1_000 });
  const match = /^(?:(\d+)m )?(\d+)s$/.exec(text.trim());
  if (!match) throw new Error(`unexpected countdown ${quote(text)}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2]);
}

/** The queue card of `prefix` shows a depth of `depth`. */
export async function queueDepthIs(page, prefix, depth, timeout = 10_000) {
  const shown = () =>
    find.queueCard(page, prefix).locator('[data-testid="queue-depth"]')
      .evaluateAll((els) => els.map((e) => Number(e.dataset.depth))[0] ?? null);
  await waitFor(async () => (await shown()) === depth, {
    what: `the queue ${quote(prefix)} to show depth ${depth}`,
    timeout,
    saw: async () => `depth ${quote(await shown())}`,
  });
}
