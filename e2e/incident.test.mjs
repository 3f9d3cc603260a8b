// The incident journey on a real etcd with a 16 MiB quota, filled until it
// refuses writes with "database space exceeded" (NOSPACE). A viewer (not
// root) sees the alarm on the cluster page and every operation disabled
// with the reason. Root then, in the UI: downloads a snapshot (the file
// the browser saved passes `etcdctl snapshot status`), compacts to the
// current revision (told how much history goes), defragments the member
// (typing its name, from the keyboard) and disarms the alarm; afterwards
// etcdctl writes work again. The wall screen is red with the alarm while it
// lasts, and drops it once disarmed.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import * as act from './support/act.mjs';
import { stackPerFile } from './support/stack.mjs';
import { run, tempDir, removeDir } from './support/system.mjs';
import { waitFor } from './support/wait.mjs';

const QUOTA = 16 * 1024 * 1024;
const { user } = stackPerFile({
  etcdArgs: [`--quota-backend-bytes=${QUOTA}`],
  etcdeckArgs: ['--quota-backend-bytes', String(QUOTA)],
});

const VIEWER = { user: 'viewer', password: 'viewer-password' };
const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Puts 512 KiB values until etcd refuses with "database space exceeded". */
async function fillUntilNoSpace(etcd) {
  const value = Buffer.alloc(512 * 1024, 'x');
  for (let i = 0; i < 128; i += 1) {
    try {
      await etcd.put(`/fill/${i}`, value);
    } catch (err) {
      if (String(err.message).includes('database space exceeded')) return;
      // A put that timed out on a loaded machine is sent again.
      if (/timed out|deadline exceeded/.test(String(err.message))) continue;
      throw err;
    }
  }
  throw new Error('etcd took 64 MiB without NOSPACE under a 16 MiB quota');
}

async function showsAlarm(page) {
  await waitFor(async () => (await byTestId(page, 'cluster-alarm').allInnerTexts()).some((t) => t.includes('NOSPACE')), {
    what: 'the NOSPACE alarm on the cluster page',
    timeout: 15_000,
    saw: async () => JSON.stringify(await byTestId(page, 'cluster-alarm').allInnerTexts()),
  });
}

/** Confirms the open operation by typing `word`, then waits for its result. */
async function confirmWith(page, word, result, { keyboard = false } = {}) {
  const dialog = byTestId(page, 'ops-dialog');
  await dialog.waitFor({ state: 'visible' });
  if (keyboard) {
    // The confirmation field has the focus as the dialog opens; Enter sends.
    await waitFor(async () => (await page.evaluate(() => document.activeElement?.dataset?.testid)) === 'ops-confirm', {
      what: 'the confirmation field to have the focus',
    });
    await page.keyboard.type(word);
    await page.keyboard.press('Enter');
  } else {
    await dialog.locator('[data-testid="ops-confirm"]').fill(word);
    await dialog.locator('[data-testid="ops-confirm-button"]').click();
  }
  await dialog.waitFor({ state: 'detached', timeout: 60_000 });
  await waitFor(async () => (await byTestId(page, 'ops-result').innerText().catch(() => '')).includes(result), {
    what: `the result "${result}"`,
    timeout: 10_000,
    saw: async () => byTestId(page, 'ops-result').innerText().catch(() => '(none)'),
  });
  return byTestId(page, 'ops-result').innerText();
}

// What the wall screen's cluster tile says, once it satisfies `ok`.
async function wallSays(page, app, what, ok) {
  const wall = await page.context().newPage();
  try {
    await wall.goto(`${app.url}/wall`);
    const seen = async () => ({
      tone: await byTestId(wall, 'wall-cluster-tone').getAttribute('data-tone', { timeout: 1_000 }).catch(() => null),
      reasons: await byTestId(wall, 'wall-reason').allInnerTexts(),
    });
    await waitFor(async () => ok(await seen()), {
      what: `the wall screen ${what}`,
      timeout: 15_000,
      every: 250,
      saw: async () => JSON.stringify(await seen()),
    });
  } finally {
    await wall.close();
  }
}

test('an etcd out of space is brought back from the cluster page', { timeout: 180_000 }, user(async (page, { etcd, app }) => {
  await fillUntilNoSpace(etcd);
  await etcd.addReader(VIEWER.user, VIEWER.password, '/app/');

  // A viewer sees the alarm and every operation disabled, with why.
  await act.logIn(page, app, VIEWER);
  await page.goto(`${app.url}/cluster`);
  await showsAlarm(page);
  await waitFor(async () => (await byTestId(page, 'ops-reason').innerText().catch(() => '')).includes('root'), {
    what: 'the reason operations are disabled',
    saw: async () => byTestId(page, 'ops-reason').innerText().catch(() => '(none)'),
  });
  for (const id of ['ops-compact', 'ops-disarm', 'ops-defragment', 'ops-snapshot', 'ops-move-leader']) {
    const controls = byTestId(page, id);
    assert.ok((await controls.count()) > 0, `no ${id} control`);
    for (const control of await controls.all()) {
      assert.equal(await control.isDisabled(), true, `${id} is enabled for the viewer`);
      assert.match(await control.getAttribute('title'), /root/, `${id} does not say why`);
    }
  }

  // The wall screen is red, naming the alarm.
  await wallSays(page, app, 'red with the NOSPACE alarm',
    (now) => now.tone === 'bad' && now.reasons.some((r) => r.includes('NOSPACE')));

  // Root, on the same page.
  await act.logIn(page, app);
  await page.goto(`${app.url}/cluster`);
  await showsAlarm(page);
  await waitFor(async () => !(await byTestId(page, 'ops-compact').isDisabled()), { what: 'root may compact' });
  const member = byTestId(page, 'ops-member').first();
  const name = await member.getAttribute('data-name');

  // A snapshot saved by the browser is one etcd can read back.
  const dir = await tempDir('snapshot');
  try {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      member.locator('[data-testid="ops-snapshot"]').click(),
    ]);
    assert.match(download.suggestedFilename(), new RegExp(`^etcd-${name}-\\d+\\.db$`));
    const file = path.join(dir, download.suggestedFilename());
    await download.saveAs(file);
    assert.equal(await download.failure(), null);
    const { stdout } = await run('/usr/bin/etcdctl', ['snapshot', 'status', file, '-w', 'json'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    const status = JSON.parse(stdout.toString());
    assert.ok(status.totalSize > QUOTA / 2, `a snapshot of ${status.totalSize} bytes`);
  } finally {
    await removeDir(dir);
  }

  // Compact to the current revision, told how much history goes.
  await byTestId(page, 'ops-compact').click();
  const revision = await byTestId(page, 'ops-revision').inputValue();
  assert.match(revision, /^\d+$/);
  assert.match(await byTestId(page, 'ops-history-lost').innerText(), /drops the history before it/);
  const compacted = await confirmWith(page, revision, 'done: compacting');
  assert.match(compacted, new RegExp(`revision ${revision}`));

  // Defragment every member, one at a time, confirmed from the keyboard.
  for (const row of await byTestId(page, 'ops-member').all()) {
    const word = await row.getAttribute('data-name');
    await waitFor(async () => !(await row.locator('[data-testid="ops-defragment"]').isDisabled()), {
      what: `defragment enabled for ${word}`,
    });
    await row.locator('[data-testid="ops-defragment"]').click();
    await confirmWith(page, word, 'defragmented', { keyboard: true });
  }

  // Disarm the alarm; writes work again.
  await byTestId(page, 'ops-disarm').first().click();
  await confirmWith(page, 'NOSPACE', 'disarmed');
  await etcd.put('/after-incident', 'works');
  await waitFor(async () => (await byTestId(page, 'cluster-alarm').count()) === 0, {
    what: 'the alarm gone from the cluster page',
    timeout: 15_000,
  });

  await wallSays(page, app, 'without the alarm',
    (now) => now.tone !== null && !now.reasons.some((r) => r.includes('NOSPACE')));

  // The audit page lists what root did.
  const audit = await page.request.get(`${app.url}/api/v1/audit`);
  const actions = (await audit.json()).entries.map((e) => e.action);
  for (const action of ['snapshot', 'compact', 'defragment', 'disarm']) {
    assert.ok(actions.includes(action), `no ${action} in the audit log: ${actions}`);
  }
}));
