// The cluster page on a real 3-member cluster: reached from the header, it
// shows three members healthy ("can lose 1"); a member SIGKILLed shows as
// down with "can lose 0" and an amber verdict within 5 s, without a reload;
// once it is restarted the page is green again.

import { test } from 'node:test';

import * as act from './support/act.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile({ members: 3 });

const verdict = (page) => page.locator('[data-testid="cluster-verdict"]');
const members = (page) => page.locator('[data-testid="cluster-member"]');
const tolerance = (page) => page.locator('[data-testid="cluster-tolerance"]');

async function pageShows(page, { tone, states, canLose }, timeout = 5_000) {
  const seen = async () => ({
    tone: await verdict(page).getAttribute('data-tone', { timeout: 1_000 }).catch(() => null),
    states: await members(page).evaluateAll((rows) => rows.map((r) => r.dataset.state).sort()),
    tolerance: await tolerance(page).innerText({ timeout: 1_000 }).catch(() => null),
  });
  await waitFor(async () => {
    const now = await seen();
    return now.tone === tone
      && JSON.stringify(now.states) === JSON.stringify([...states].sort())
      && (now.tolerance ?? '').endsWith(`can lose ${canLose}`);
  }, {
    what: `the cluster page to show ${tone}, members ${states}, can lose ${canLose}`,
    timeout,
    every: 200,
    saw: async () => JSON.stringify(await seen()),
  });
}

test('the cluster page follows a member going down and coming back', { timeout: 120_000 }, user(async (page, { etcd, app }) => {
  await act.open(page, app, '/');
  await page.locator('[data-testid="nav-cluster"]').click();
  await pageShows(page, { tone: 'ok', states: ['up', 'up', 'up'], canLose: 1 }, 15_000);

  const started = Date.now();
  await etcd.killMember(2);
  await pageShows(page, { tone: 'warn', states: ['up', 'up', 'down'], canLose: 0 }, 5_000);
  const reasons = await page.locator('[data-testid="cluster-reason"]').allInnerTexts();
  if (!reasons.some((r) => r.includes('does not answer'))) {
    throw new Error(`no reason names the member that is down: ${JSON.stringify(reasons)}`);
  }
  console.log(`member down shown after ${Date.now() - started} ms`);

  await etcd.restartMember(2);
  await pageShows(page, { tone: 'ok', states: ['up', 'up', 'up'], canLose: 1 }, 30_000);
}));
