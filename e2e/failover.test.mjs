// One member of a 3-member etcd cluster dies while the page is open: the
// header says degraded (naming what is away), not disconnected, and the
// page keeps reading and following changes; when the member is back, the
// header says connected again.

import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { stackPerFile } from './support/stack.mjs';

const { user } = stackPerFile({ members: 3 });

test('with one member of three down the header says degraded and the page keeps working', { timeout: 120_000 }, user(async (page, { etcd, app }) => {
  await etcd.put('/e2e/fo/before', 'written before');
  await act.open(page, app, { prefix: '/e2e/fo/', key: '/e2e/fo/before' });
  await check.connectionSays(page, /^connected · etcd 3\.4/);
  await check.valueContains(page, ['written before']);

  // The member listed first is the one etcdeck's requests go to first.
  await etcd.killMember(0);
  await check.connectionSays(page, /^degraded · etcd 3\.4\.\d+ · 1 member down/, 15_000);

  // Changes made meanwhile still appear live, and reads still answer.
  await etcd.put('/e2e/fo/during', 'written while a member is down');
  await check.seesRows(page, ['before', 'during']);
  await act.selectKey(page, 'during');
  await check.showsKey(page, '/e2e/fo/during');
  await check.valueContains(page, ['written while a member is down']);
  // A fresh page load (a new read of everything) works too.
  await act.reload(page);
  await check.showsKey(page, '/e2e/fo/during');
  await check.connectionSays(page, /^degraded/, 15_000);

  await etcd.restartMember(0);
  await check.connectionSays(page, /^connected · etcd 3\.4/, 30_000);
}));
