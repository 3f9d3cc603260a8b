// Kubernetes values: a ConfigMap in the API server's protobuf envelope
// under /registry/ shows its kind per row in the tree and, opened, its kind,
// namespace, name and YAML decoded by the backend; its write controls are
// disabled with the reason, on the key and on its level, whose keys copy as
// etcdctl commands; a gzip'd value shows decompressed, saying so.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import * as act from './support/act.mjs';
import { stackPerFile } from './support/stack.mjs';
import { waitFor } from './support/wait.mjs';

const { user } = stackPerFile();

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** A protobuf varint. */
function varint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited protobuf field. */
function field(tag, bytes) {
  const body = typeof bytes === 'string' ? [...Buffer.from(bytes)] : bytes;
  return [(tag << 3) | 2, ...varint(body.length), ...body];
}

/** `k8s\0` + runtime.Unknown{typeMeta{apiVersion, kind}, raw}, as the API server stores objects. */
function envelope(apiVersion, kind, raw) {
  const typeMeta = [...field(1, apiVersion), ...field(2, kind)];
  return Buffer.from([...Buffer.from('k8s\0'), ...field(1, typeMeta), ...field(2, raw), ...field(3, ''), ...field(4, '')]);
}

// ConfigMap{metadata{name: web-config, namespace: default}, data{mode: production}}.
const CONFIG_MAP = envelope('v1', 'ConfigMap', [
  ...field(1, [...field(1, 'web-config'), ...field(3, 'default')]),
  ...field(2, [...field(1, 'mode'), ...field(2, 'production')]),
]);
const KEY = '/registry/configmaps/default/web-config';

test('a ConfigMap under /registry/ and a gzip value', { timeout: 60_000 }, user(async (_page, { etcd }) => {
  await etcd.put(KEY, CONFIG_MAP);
  await etcd.put('/app/compressed', gzipSync(Buffer.from('hello from gzip')));
}));

test('the tree shows the kind per row, the key view the decoded object, read-only', { timeout: 90_000 }, user(async (page, { app }) => {
  await act.logIn(page, app);
  await page.goto(`${app.url}/?prefix=/registry/configmaps/default/`);
  const row = page.locator('[data-testid="tree-row"][data-name="web-config"]');
  await waitFor(async () => (await row.count()) > 0 && (await row.locator('[data-testid="kube-kind"]').innerText().catch(() => '')) === 'ConfigMap', {
    what: 'the ConfigMap row with its kind',
    saw: async () => (await byTestId(page, 'tree-row').allInnerTexts()).join(' | '),
  });

  // The level is read-only too, and its keys copy as etcdctl commands
  // (binary values through base64).
  const deletePrefix = byTestId(page, 'delete-prefix');
  await waitFor(async () => (await deletePrefix.isDisabled()) && /Kubernetes API server/.test((await deletePrefix.getAttribute('title')) ?? ''), {
    what: 'delete prefix disabled with the reason',
    saw: async () => `title ${await deletePrefix.getAttribute('title')}`,
  });
  await byTestId(page, 'level-etcdctl').click();
  const script = byTestId(page, 'level-etcdctl-script');
  await script.waitFor({ state: 'visible' });
  const commands = await script.inputValue();
  assert.match(commands, /ENDPOINTS=/);
  assert.ok(
    commands.includes(`printf '%s' '${CONFIG_MAP.toString('base64')}' | base64 -d | etcdctl --endpoints="$ENDPOINTS" --user="$ETCD_USER" put -- '${KEY}'`),
    commands,
  );

  await page.goto(`${app.url}/?prefix=/registry/configmaps/default/&key=${KEY}`);
  const text = byTestId(page, 'decoded-text');
  await waitFor(async () => (await text.innerText().catch(() => '')).includes('mode: production'), {
    what: 'the decoded YAML',
    saw: async () => await byTestId(page, 'key-view').innerText().catch(() => '(no key view)'),
  });
  const yaml = await text.innerText();
  assert.match(yaml, /^apiVersion: v1\nkind: ConfigMap\nmetadata:\n {2}name: web-config\n {2}namespace: default\n/);
  assert.equal(await byTestId(page, 'kube-object-kind').innerText(), 'ConfigMap');
  assert.equal(await byTestId(page, 'kube-object-namespace').innerText(), 'default');
  assert.equal(await byTestId(page, 'kube-object-name').innerText(), 'web-config');
  await page.locator('[data-testid="decoded-format"][data-format="JSON"]').click();
  await waitFor(async () => (await text.innerText()).includes('"kind": "ConfigMap"'), { what: 'the JSON form' });

  // Read-only, said before trying.
  const edit = byTestId(page, 'edit');
  await waitFor(async () => (await edit.isDisabled()) && /Kubernetes API server/.test((await edit.getAttribute('title')) ?? ''), {
    what: 'edit disabled with the reason',
    saw: async () => `title ${await edit.getAttribute('title')}`,
  });
  assert.match(await byTestId(page, 'write-hint').innerText(), /does not write under \/registry\//);

  await page.goto(`${app.url}/?prefix=/app/&key=/app/compressed`);
  await waitFor(async () => /gzip-compressed/.test(await byTestId(page, 'decoded-gzip').innerText().catch(() => '')), {
    what: 'the gzip note',
  });
  await waitFor(async () => (await byTestId(page, 'decoded').innerText()).includes('hello from gzip'), {
    what: 'the decompressed value',
  });
}));
