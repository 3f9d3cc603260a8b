// The cluster page on a real 3-member cluster: reached from the header, it
// shows three members healthy ("can lose 1"); a member SIGKILLed shows as
// down with "can lose 0" and an amber verdict within 5 s, without a reload;
// once it is restarted the page is green again. A member that hangs
// (SIGSTOP, not refusing) shows as unreachable within 5 s while the page
// and the API keep answering; and with the leader SIGKILLed, the page names
// a new leader within the election timeout and the prober's and page's
// rounds, with the change in the timeline, still without a reload.

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

/**
 * The `data-*` of the member row whose client URLs (its fourth cell) name
 * `endpoint` exactly, or null.
 */
const rowOf = (page, endpoint) => ({
  getAttribute: (name) => members(page).evaluateAll((rows, [url, attr]) => {
    const row = rows.find((r) => (r.cells[3]?.innerText ?? '').split(/\s+/).includes(url));
    return row ? row.getAttribute(attr) : null;
  }, [endpoint, name]),
});

/** Which member row the page marks as the leader: its id, or null. */
async function shownLeader(page) {
  const leader = members(page).and(page.locator('[data-leader="true"]'));
  if ((await leader.count()) !== 1) return null;
  return (await leader.locator('td').nth(1).innerText()).trim();
}

/** The index of the member etcd agrees is the leader, once it does. */
async function agreedLeader(etcd) {
  const found = await waitFor(async () => {
    const i = await etcd.leaderMember();
    return i === null ? null : { i };
  }, { what: 'etcd to agree on a leader', timeout: 15_000 });
  return found.i;
}

/** Marks the page so that a reload (which would drop the mark) is noticed. */
async function markPage(page) {
  await page.evaluate(() => {
    window.clusterPageMark = 'not reloaded';
  });
}

async function stillTheSamePage(page) {
  const mark = await page.evaluate(() => window.clusterPageMark ?? null);
  if (mark !== 'not reloaded') throw new Error('the page was reloaded');
}

test('a member that hangs shows as unreachable within 5 s while the page keeps answering', { timeout: 120_000 }, user(async (page, { etcd }) => {
  await pageShows(page, { tone: 'ok', states: ['up', 'up', 'up'], canLose: 1 }, 30_000);
  await markPage(page);
  const leader = await agreedLeader(etcd);
  const hung = (leader + 1) % 3;
  const started = Date.now();
  etcd.pauseMember(hung);
  try {
    await waitFor(async () => (await rowOf(page, etcd.endpoints[hung]).getAttribute('data-state')) === 'down', {
      what: `member ${hung + 1} (stopped) to show as down`,
      timeout: 5_000,
      every: 100,
      saw: async () => JSON.stringify(await members(page).evaluateAll((rows) => rows.map((r) => r.dataset.state))),
    });
    const took = Date.now() - started;
    await pageShows(page, { tone: 'warn', states: ['up', 'up', 'down'], canLose: 0 }, 2_000);
    // The page's own reads still answer at once: a hung member holds back
    // no one.
    const answered = await page.evaluate(async () => {
      const asked = performance.now();
      const answer = await fetch('/api/v1/cluster', { credentials: 'same-origin' });
      return { status: answer.status, ms: performance.now() - asked };
    });
    if (answered.status !== 200 || answered.ms > 1_000) {
      throw new Error(`the cluster API did not answer at once: ${JSON.stringify(answered)}`);
    }
    const todos = await page.locator('[data-testid="cluster-reason"] [data-testid="cluster-todo"]').allInnerTexts();
    if (!todos.some((t) => t.includes('endpoint health'))) {
      throw new Error(`no alert says what to do about the member: ${JSON.stringify(todos)}`);
    }
    console.log(`hung member shown down after ${took} ms; the API answered in ${Math.round(answered.ms)} ms`);
  } finally {
    await etcd.resumeMember(hung);
  }
  await pageShows(page, { tone: 'ok', states: ['up', 'up', 'up'], canLose: 1 }, 30_000);
  await stillTheSamePage(page);
}));

// etcd's default --election-timeout (a follower waits between one and two
// of them before it stands); the prober asks every second and the page
// reads every second, so a new leader can show this much after the kill,
// with a second for the vote and a loaded machine.
const ELECTION_TIMEOUT_MS = 1_000;
const PROBE_EVERY_MS = 1_000;
const PAGE_EVERY_MS = 1_000;
const SLACK_MS = 1_000;

test('the page follows the leader being killed: a new leader and the change in the timeline', { timeout: 120_000 }, user(async (page, { etcd }) => {
  await pageShows(page, { tone: 'ok', states: ['up', 'up', 'up'], canLose: 1 }, 30_000);
  await markPage(page);
  const leader = await agreedLeader(etcd);
  await waitFor(async () => (await rowOf(page, etcd.endpoints[leader]).getAttribute('data-leader')) === 'true', {
    what: `the page to mark member ${leader + 1} as the leader`,
    timeout: 10_000,
  });
  const oldLeader = await shownLeader(page);
  const changesBefore = await page.locator('[data-testid="cluster-leader-change"]').count();

  const started = Date.now();
  await etcd.killMember(leader);
  const budget = ELECTION_TIMEOUT_MS * 2 + PROBE_EVERY_MS + PAGE_EVERY_MS + SLACK_MS;
  const newLeader = await waitFor(async () => {
    const now = await shownLeader(page);
    return now !== null && now !== oldLeader ? now : null;
  }, {
    what: `a new leader within ${budget} ms (twice the election timeout of ${ELECTION_TIMEOUT_MS} ms, a probe round, a page read)`,
    timeout: budget,
    every: 100,
    saw: async () => `leader shown: ${await shownLeader(page)}`,
  });
  const took = Date.now() - started;
  const newest = page.locator('[data-testid="cluster-leader-change"]').first();
  await waitFor(async () => {
    const count = await page.locator('[data-testid="cluster-leader-change"]').count();
    const text = await newest.innerText({ timeout: 1_000 }).catch(() => '');
    return count > changesBefore && text.includes(newLeader);
  }, {
    what: `the timeline to show the change to ${newLeader}`,
    timeout: PAGE_EVERY_MS * 3,
    saw: async () => JSON.stringify(await page.locator('[data-testid="cluster-leader-change"]').allInnerTexts()),
  });
  const timeline = await page.locator('[data-testid="cluster-leader-change"]').allInnerTexts();
  if (!timeline.some((t) => t.includes(oldLeader))) {
    throw new Error(`the timeline does not name the old leader ${oldLeader}: ${JSON.stringify(timeline)}`);
  }
  console.log(`new leader ${newLeader} shown ${took} ms after killing ${oldLeader}`);
  await waitFor(async () => (await rowOf(page, etcd.endpoints[leader]).getAttribute('data-state')) === 'down', {
    what: 'the killed leader to show as down',
    timeout: 5_000,
  });
  await stillTheSamePage(page);

  await etcd.restartMember(leader);
  await pageShows(page, { tone: 'ok', states: ['up', 'up', 'up'], canLose: 1 }, 30_000);
}));
