// Finding things on the page the way the DOM contract names them
// (`data-testid`, `data-name`, `data-mode`). Locators only: nothing here
// waits or asserts; `check.mjs` does.

/** A CSS attribute value in double quotes, escaped. */
const quoted = (text) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The connection indicator in the header. */
export const connection = (page) => page.locator('[data-testid="connection"]');

/** The breadcrumb links; the last one is the current level. */
export const crumbs = (page) => page.locator('[data-testid="crumb"]');
export const currentCrumb = (page) => page.locator('[data-testid="crumb"][aria-current="location"]');

/** All rows of the listed level, and one by its displayed name. */
export const treeRows = (page) => page.locator('[data-testid="tree-row"]');
export const treeRow = (page, name) =>
  page.locator(`[data-testid="tree-row"][data-name=${quoted(name)}]`);
/** The "open as directory" button of a row that is both a key and a directory. */
export const enterDirButton = (page, name) =>
  treeRow(page, name).locator('[data-testid="enter-dir"]');

/** The key view and its parts. */
export const keyView = (page) => page.locator('[data-testid="key-view"]');
export const keyName = (page) => keyView(page).locator('[data-testid="key-name"]');
export const keyHint = (page) => page.locator('[data-testid="key-hint"]');
export const value = (page) => keyView(page).locator('[data-testid="value"]');
/** A view-mode button by its label: Text, JSON, YAML, Hex or Base64. */
export const viewModeButton = (page, label) =>
  keyView(page).locator(`[data-testid="view-mode"][data-mode=${quoted(label)}]`);

/**
 * The browse location in the address bar, raw (still percent-encoded), as
 * `{ path, prefix, key }`; a missing parameter is `null`.
 */
export function location(page) {
  const url = new URL(page.url());
  const raw = (name) => {
    for (const pair of url.search.replace(/^\?/, '').split('&')) {
      const [n, ...v] = pair.split('=');
      if (n === name) return v.join('=');
    }
    return null;
  };
  return { path: url.pathname, prefix: raw('prefix'), key: raw('key') };
}

/** The header's live-connection indicator (`data-state` says which). */
export const liveState = (page) => page.locator('[data-testid="live-state"]');

/** The events page: its rows (newest first), one key's rows, and its states. */
export const eventRows = (page) => page.locator('[data-testid="event-row"]');
export const eventRowsOf = (page, key) =>
  page.locator(`[data-testid="event-row"][data-key=${quoted(key)}]`);
export const eventsEmpty = (page) => page.locator('[data-testid="events-empty"]');
export const eventsPrefix = (page) => page.locator('[data-testid="events-prefix"]');

/** The coordination pages (`data-kind`: Leases, Locks, ...) and their states. */
export const coordPage = (page) => page.locator('[data-testid="coord-page"]');
export const coordEmpty = (page) => page.locator('[data-testid="coord-empty"]');
export const coordError = (page) => page.locator('[data-testid="coord-error"]');
/** A header link by page name (`browse`, `events`, `leases`, `locks`, ...). */
export const navLink = (page, name) => page.locator(`[data-testid="nav-${name}"]`);
/** One card per lease (by hex id), lock, election or queue (by prefix), service (by name). */
export const leaseCard = (page, id) => page.locator(`[data-testid="lease-card"][data-lease=${quoted(id)}]`);
export const lockCard = (page, prefix) =>
  page.locator(`[data-testid="lock-card"][data-prefix=${quoted(prefix)}]`);
export const electionCard = (page, prefix) =>
  page.locator(`[data-testid="election-card"][data-prefix=${quoted(prefix)}]`);
export const queueCard = (page, prefix) =>
  page.locator(`[data-testid="queue-card"][data-prefix=${quoted(prefix)}]`);
export const serviceCard = (page, name) =>
  page.locator(`[data-testid="service-card"][data-name=${quoted(name)}]`);
/** The note above a coordination page's cards about how live it is, and its "read again" button. */
export const coordLiveNote = (page) => page.locator('[data-testid="coord-live-note"]');
export const coordReadAgain = (page) => page.locator('[data-testid="coord-read-again"]');
