// Waiting for conditions, never for a fixed time: `waitFor` polls a check
// until it holds or a deadline passes, and then says what it was waiting for
// and what it saw last.

import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `check` (sync or async) until it returns something truthy, and
 * returns that. A check that throws counts as "not yet"; its last error is
 * part of the timeout message, as is the last value it returned, unless
 * `saw` is given: then its answer says what was there instead.
 *
 * @param {() => any} check
 * @param {{ what: string, timeout?: number, every?: number, saw?: () => any }} options
 */
export async function waitFor(check, { what, timeout = 10_000, every = 100, saw }) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = `last saw: ${JSON.stringify(value)}`;
    } catch (err) {
      last = `last error: ${err?.message ?? err}`;
    }
    if (Date.now() >= deadline) {
      if (saw) {
        try {
          last = `saw instead: ${await saw()}`;
        } catch (err) {
          last = `${last}; could not tell what was there: ${err?.message ?? err}`;
        }
      }
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (${last})`);
    }
    await delay(every);
  }
}
