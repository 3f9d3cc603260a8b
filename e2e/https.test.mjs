// HTTPS, as a person meets it: etcdeck started with `--tls-cert` /
// `--tls-key` (a certificate made with openssl for this test, which Chromium
// trusts by its public key only), logging in through the login page, the
// session cookie `__Host-` and `Secure`, HSTS on the page, then browsing
// while the tree follows etcd live over `wss://`. And plain HTTP on a
// network address: etcdeck warns on stderr and the login page says the
// connection is not encrypted.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import * as act from './support/act.mjs';
import { startBrowser } from './support/browser.mjs';
import * as check from './support/check.mjs';
import { startEtcd } from './support/etcd.mjs';
import { requireBuilds, startEtcdeck } from './support/etcdeck.mjs';
import { journey } from './support/stack.mjs';
import { removeDir, tempDir } from './support/system.mjs';
import { waitFor } from './support/wait.mjs';

const run = promisify(execFile);
const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/**
 * A self-signed certificate for 127.0.0.1 and its key (PEM files in `dir`),
 * and the base64 SHA-256 of its public key, which
 * `--ignore-certificate-errors-spki-list` takes.
 */
async function makeCertificate(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=etcdeck e2e',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  const spki = new X509Certificate(await readFile(cert)).publicKey.export({ type: 'spki', format: 'der' });
  return { cert, key, spki: createHash('sha256').update(spki).digest('base64') };
}

/** An IPv4 address of this machine that is not loopback, or null. */
function networkAddress() {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return null;
}

const stack = { etcd: null, app: null, browser: null, page: null };
let certDir;
let certificate;
before(async () => {
  requireBuilds();
  certDir = await tempDir('certs');
  certificate = await makeCertificate(certDir);
  stack.etcd = await startEtcd();
  stack.app = await startEtcdeck(stack.etcd, undefined, { tls: certificate });
  stack.browser = await startBrowser({
    args: [`--ignore-certificate-errors-spki-list=${certificate.spki}`],
  });
  stack.page = stack.browser.page;
}, { timeout: 90_000 });
after(async () => {
  await Promise.allSettled([stack.browser?.stop(), stack.app?.stop()]);
  await stack.etcd?.stop();
  await removeDir(certDir);
}, { timeout: 30_000 });
const user = (body) => journey(() => stack, body);

test('over HTTPS: log in through the page, get a __Host- Secure cookie and HSTS, browse while the tree follows etcd over wss', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  assert.match(app.url, /^https:\/\/127\.0\.0\.1:/);
  await etcd.put('/e2e/tls/first', 'one');
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));

  const answer = await page.goto(`${app.url}/`);
  assert.equal(answer.headers()['strict-transport-security'], 'max-age=31536000');
  assert.match(answer.headers()['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
  await byTestId(page, 'login-form').waitFor();
  assert.equal(await byTestId(page, 'login-unencrypted').count(), 0, 'no warning over HTTPS');

  await byTestId(page, 'login-user').fill(app.credentials.user);
  await byTestId(page, 'login-password').fill(app.credentials.password);
  await byTestId(page, 'login-submit').click();
  await check.connectionSays(page, /^connected/);

  const cookies = await page.context().cookies(app.url);
  const session = cookies.find((c) => c.name === '__Host-etcdeck_session');
  assert.ok(session, `a __Host- session cookie among ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(session.secure, true);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/');
  assert.equal(cookies.some((c) => c.name === 'etcdeck_session'), false, 'no plain-name cookie');

  await act.openDirectory(page, '/');
  await act.openDirectory(page, 'e2e');
  await act.openDirectory(page, 'tls');
  await check.atLevel(page, '/e2e/tls/');
  await check.seesRows(page, ['first']);
  // A key written meanwhile appears by itself: the live WebSocket works.
  await etcd.put('/e2e/tls/second', 'two');
  await check.seesRows(page, ['first', 'second']);
  assert.ok(sockets.length > 0 && sockets.every((url) => url.startsWith('wss://')), `sockets ${JSON.stringify(sockets)}`);
  await act.selectKey(page, 'second');
  await check.showsKey(page, '/e2e/tls/second');
  await check.valueContains(page, ['two']);
}));

test('over plain HTTP on a network address, etcdeck warns on stderr and the login page says the connection is not encrypted', { timeout: 60_000 }, async (t) => {
  const host = networkAddress();
  if (!host) {
    t.skip('this machine has no network address besides loopback');
    return;
  }
  const httpsApp = stack.app;
  const plain = await startEtcdeck(stack.etcd, undefined, { listen: '0.0.0.0', host });
  stack.app = plain;
  try {
    await journey(() => stack, async (page, { app }) => {
      assert.match(app.output(), /cross the network in clear/);
      await page.goto(`${app.url}/login`);
      const notice = byTestId(page, 'login-unencrypted');
      await notice.waitFor();
      assert.match(await notice.innerText(), /This connection is not encrypted/);
      await waitFor(async () => (await byTestId(page, 'login-form').count()) === 1, {
        what: 'the login form beside the notice',
      });
    })(t);
  } finally {
    stack.app = httpsApp;
    await plain.stop();
  }
});
