// One test file's whole set-up: a real etcd with auth, the real etcdeck
// against it, and a browser. `journey` wraps a test so that a failure comes
// with a screenshot, the page's errors and the servers' logs, and so that a
// Content-Security-Policy violation during the test fails it.

import { after, before } from 'node:test';

import { startBrowser } from './browser.mjs';
import { startEtcd } from './etcd.mjs';
import { requireBuilds, startEtcdeck } from './etcdeck.mjs';

/**
 * Starts etcd (of `members` members, with more flags `etcdArgs`), etcdeck (with more flags
 * `etcdeckArgs`, and `etcdeck` the other options of `startEtcdeck`: `bin`,
 * `cwd`, `dist`) and Chromium; stops what did start if one fails.
 */
export async function startStack({ etcdeckArgs = [], etcdArgs = [], members = 1, etcdeck = {} } = {}) {
  requireBuilds();
  const stack = { etcd: null, app: null, browser: null };
  stack.stop = async () => {
    // Each part is stopped even if another fails to stop.
    await Promise.allSettled([stack.browser?.stop(), stack.app?.stop()]);
    await stack.etcd?.stop();
  };
  try {
    stack.etcd = await startEtcd({ members, args: etcdArgs });
    stack.app = await startEtcdeck(stack.etcd, undefined, { ...etcdeck, args: etcdeckArgs });
    stack.browser = await startBrowser();
    stack.page = stack.browser.page;
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

const tail = (text, lines = 40) => text.trim().split('\n').slice(-lines).join('\n');

/**
 * One stack for the whole test file: started before the first test, stopped
 * after the last. Returns `user`, which wraps a test body in `journey`.
 */
export function stackPerFile(options = {}) {
  let stack;
  before(async () => {
    stack = await startStack(options);
  }, { timeout: 90_000 });
  after(async () => {
    await stack?.stop();
  }, { timeout: 30_000 });
  return { user: (body) => journey(() => stack, body) };
}

/**
 * A test body that, on failure, adds evidence to the error: a screenshot
 * path, the page's console errors, etcdeck's and etcd's last log lines.
 * Use as `test(name, journey(() => stack, async (page) => { ... }))`.
 */
export function journey(getStack, body) {
  return async (t) => {
    const stack = getStack();
    try {
      stack.browser?.takeCspViolations();
      await body(stack.page, stack, t);
      // The app must run under its own Content-Security-Policy: anything the
      // policy blocked is a failure, even when the page still looked right.
      const violations = stack.browser?.takeCspViolations() ?? [];
      if (violations.length) {
        throw new Error(
          `the page broke its Content-Security-Policy ${violations.length} time(s):\n` +
            violations.map((v) => JSON.stringify(v)).join('\n'),
        );
      }
    } catch (err) {
      const shot = stack.browser ? await stack.browser.screenshot(t.name) : '(no browser)';
      const evidence = [
        `screenshot: ${shot}`,
        `page address: ${stack.page?.url()}`,
        `page errors:\n${stack.browser?.problems().join('\n') || '(none)'}`,
        `--- etcdeck output (tail) ---\n${tail(stack.app?.output() ?? '')}`,
        `--- etcd output (tail) ---\n${tail(stack.etcd?.output() ?? '', 15)}`,
      ].join('\n');
      if (err instanceof Error) {
        err.message += `\n${evidence}`;
        throw err;
      }
      throw new Error(`${err}\n${evidence}`);
    }
  };
}
