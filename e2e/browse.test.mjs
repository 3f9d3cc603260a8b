// Browsing keys: walking the tree to a key, reading its value in the view
// modes, and deep links. One etcd + etcdeck + browser for the whole file.

import { test } from 'node:test';

import * as act from './support/act.mjs';
import * as check from './support/check.mjs';
import { stackPerFile } from './support/stack.mjs';
import { browseHref } from './support/url.mjs';

const { user } = stackPerFile();

test('a key written by etcdctl is found by clicking through the tree and its value is shown', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  await etcd.put('/e2e/team/config', '{"replicas":3,"image":"web:1.2"}');
  await etcd.put('/e2e/team/owner', 'platform');
  await etcd.put('/e2e/other/x', 'y');

  await act.open(page, app, '/');
  await check.connectionSays(page, /^connected/);
  // Keys start with "/": the root's only child is the empty name, shown as "/".
  await act.openDirectory(page, '/');
  await check.atLevel(page, '/');
  await act.openDirectory(page, 'e2e');
  await check.atLevel(page, '/e2e/');
  await check.seesRows(page, ['team', 'other']);
  await act.openDirectory(page, 'team');
  await check.atLevel(page, '/e2e/team/');
  await check.seesRows(page, ['config', 'owner']);
  await act.selectKey(page, 'config');

  await check.showsKey(page, '/e2e/team/config');
  await check.viewModeIs(page, 'JSON');
  await check.valueContains(page, ['"replicas"', '3', '"image"', '"web:1.2"']);
  await check.addressIs(page, { prefix: '/e2e/team/', key: '/e2e/team/config' }, { raw: true });

  // The address is a deep link: a reload shows the same level and key.
  await act.reload(page);
  await check.atLevel(page, '/e2e/team/');
  await check.showsKey(page, '/e2e/team/config');
  await check.valueContains(page, ['"replicas"', '3']);

  // Back undoes one step at a time: first the selection, then the level.
  await act.goBack(page);
  await check.addressIs(page, { prefix: '/e2e/team/', key: null }, { raw: true });
  await check.showsNoKey(page);
  await act.goBack(page);
  await check.addressIs(page, { prefix: '/e2e/', key: null }, { raw: true });
  await check.atLevel(page, '/e2e/');
  await check.seesRows(page, ['team', 'other']);
}));

test('a binary value is shown as hex', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x7f, 0x80]);
  await etcd.put('/e2e/blobs/magic', bytes);
  if (!(await etcd.get('/e2e/blobs/magic')).equals(bytes)) {
    throw new Error('set-up: etcdctl did not store the bytes as given');
  }

  await act.open(page, app, { prefix: '/e2e/blobs/' });
  await act.selectKey(page, 'magic');
  await check.showsKey(page, '/e2e/blobs/magic');
  await act.chooseViewMode(page, 'Hex');
  await check.viewModeIs(page, 'Hex');
  await check.valueContains(page, ['de ad be ef 00 ff 7f 80']);
}));

test('a deep link opens the key directly', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  // A name with a space, a plus and non-ASCII letters: all percent-encoded.
  const prefix = '/e2e/deep link/';
  const key = `${prefix}grüße+1`;
  await etcd.put(key, 'hello from a deep link');

  const link = browseHref({ prefix, key });
  await act.open(page, app, link);
  await check.showsKey(page, key);
  await check.valueContains(page, ['hello from a deep link']);
  await check.atLevel(page, prefix);
  await check.seesRows(page, ['grüße+1']);
  await check.addressIs(page, { prefix, key });

  // The app writes links in the same form: selecting the key from its
  // level's link gives back exactly the deep link.
  await act.open(page, app, { prefix });
  await check.showsNoKey(page);
  await act.selectKey(page, 'grüße+1');
  await check.showsKey(page, key);
  // Every byte percent-encoded except unreserved characters and "/".
  await check.addressIs(
    page,
    { prefix: '/e2e/deep%20link/', key: '/e2e/deep%20link/gr%C3%BC%C3%9Fe%2B1' },
    { raw: true },
  );
}));
