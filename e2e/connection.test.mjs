// The header's connection indicator through an etcd outage: etcd is killed
// and started again on the same ports and data.

import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { stackPerFile } from './support/stack.mjs';

const { user } = stackPerFile();

test('when etcd goes away the header says disconnected, and connected again when it is back', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  await etcd.put('/e2e/alive', 'yes');
  await act.open(page, app, '/');
  await check.connectionSays(page, /^connected · etcd 3\.4/);

  await etcd.kill();
  await check.connectionSays(page, /^disconnected/, 10_000);

  await etcd.restart();
  // etcdeck reconnects with capped exponential backoff; allow for it.
  await check.connectionSays(page, /^connected · etcd 3\.4/, 30_000);
  // And it serves data again.
  await act.open(page, app, { prefix: '/e2e/', key: '/e2e/alive' });
  await check.showsKey(page, '/e2e/alive');
  await check.valueContains(page, ['yes']);
}));
