// The release binary is the whole product: copied alone into an empty
// directory and started there, without `--dist`, it serves the frontend built
// into it (the one in `dist/` now, byte for byte), precompressed and with
// caching headers, and a person can log in and browse.

import assert from 'node:assert/strict';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';

import * as check from './support/check.mjs';
import { etcdeckBin, etcdeckDist, requireBuilds } from './support/etcdeck.mjs';
import { journey, startStack } from './support/stack.mjs';
import { removeDir, tempDir } from './support/system.mjs';
import { waitFor } from './support/wait.mjs';

let stack;
let alone;

before(async () => {
  requireBuilds();
  alone = await tempDir('standalone');
  const bin = path.join(alone, 'etcdeck');
  await copyFile(etcdeckBin, bin);
  assert.deepEqual(await readdir(alone), ['etcdeck'], 'the directory holds the binary alone');
  stack = await startStack({ etcdeck: { bin, cwd: alone, dist: null } });
}, { timeout: 90_000 });

after(async () => {
  await stack?.stop();
  await removeDir(alone);
}, { timeout: 30_000 });

const user = (body) => journey(() => stack, body);
const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/**
 * `GET path` with exactly these request headers, the body as sent (node's
 * `http` decompresses nothing, unlike `fetch`).
 */
function rawGet(base, pathname, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${pathname}`, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** The files trunk wrote, by the names `index.html` refers to them with. */
async function builtFiles() {
  const names = await readdir(etcdeckDist);
  const one = (prefix, suffix) => {
    const found = names.filter((n) => n.startsWith(prefix) && n.endsWith(suffix));
    assert.equal(found.length, 1, `one ${prefix}*${suffix} in ${etcdeckDist}: ${found}`);
    return `/${found[0]}`;
  };
  // The app's own glue, and the loader that starts it (no inline script).
  return {
    wasm: one('etcdeck-frontend', '_bg.wasm'),
    js: one('etcdeck-frontend', '.js'),
    boot: one('boot-', '.js'),
    css: one('', '.css'),
  };
}

test('the binary alone in an empty directory serves the app: log in, see the tree', { timeout: 90_000 }, user(async (page, { etcd, app }) => {
  await etcd.put('/standalone/hello', 'world');
  const wasmEncodings = [];
  page.on('response', (res) => {
    if (res.url().endsWith('_bg.wasm')) wasmEncodings.push(res.headerValue('content-encoding'));
  });

  await page.goto(`${app.url}/`);
  await byTestId(page, 'login-form').waitFor();
  // The loading state of index.html hides itself once the app is mounted.
  await waitFor(async () => !(await byTestId(page, 'app-loading').isVisible()), {
    what: 'the loading state to hide once the app is there',
  });
  await byTestId(page, 'login-user').fill(app.credentials.user);
  await byTestId(page, 'login-password').fill(app.credentials.password);
  await byTestId(page, 'login-submit').click();
  // Keys start with "/": the root's only child is the empty name, shown as "/".
  await check.seesRows(page, ['/']);
  const encodings = await Promise.all(wasmEncodings);
  assert.equal(encodings.length, 1, `the wasm was fetched once: ${encodings}`);
  assert.ok(['br', 'gzip'].includes(encodings[0]), `Chromium got a compressed wasm: ${encodings[0]}`);
}));

test('the embedded frontend is the current dist/, precompressed and cached by name', { timeout: 30_000 }, user(async (_page, { app }) => {
  const built = await builtFiles();

  // `/` is trunk's index.html byte for byte: the binary is not older than dist/.
  const index = await rawGet(app.url, '/');
  assert.equal(index.status, 200);
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.ok(index.body.equals(await readFile(path.join(etcdeckDist, 'index.html'))), 'index.html is trunk\'s');
  for (const name of Object.values(built)) {
    assert.ok(index.body.toString().includes(name), `index.html names ${name}`);
  }

  const wasm = await readFile(path.join(etcdeckDist, built.wasm));
  const br = await rawGet(app.url, built.wasm, { 'accept-encoding': 'br' });
  assert.equal(br.status, 200);
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers['content-type'], 'application/wasm');
  assert.ok(zlib.brotliDecompressSync(br.body).equals(wasm), 'the brotli copy is the wasm');
  const gzip = await rawGet(app.url, built.wasm, { 'accept-encoding': 'gzip' });
  assert.equal(gzip.headers['content-encoding'], 'gzip');
  assert.ok(zlib.gunzipSync(gzip.body).equals(wasm), 'the gzip copy is the wasm');
  const plain = await rawGet(app.url, built.wasm);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.ok(plain.body.equals(wasm));
  // Chromium lists gzip first; the smaller brotli copy is sent all the same.
  const chromium = await rawGet(app.url, built.wasm, { 'accept-encoding': 'gzip, deflate, br, zstd' });
  assert.equal(chromium.headers['content-encoding'], 'br');
  assert.ok(br.body.length < gzip.body.length && gzip.body.length < wasm.length,
    `br ${br.body.length} < gzip ${gzip.body.length} < raw ${wasm.length}`);

  for (const [name, res] of [['wasm br', br], ['wasm gzip', gzip], ['wasm', plain]]) {
    assert.match(res.headers['cache-control'], /\bimmutable\b/, name);
    assert.match(res.headers['cache-control'], /max-age=31536000/, name);
    assert.match(res.headers.vary ?? '', /accept-encoding/i, name);
  }
  for (const name of [built.js, built.boot, built.css]) {
    const res = await rawGet(app.url, name, { 'accept-encoding': 'br' });
    assert.equal(res.status, 200, name);
    assert.match(res.headers['cache-control'], /\bimmutable\b/, name);
  }

  // An unchanged file is a 304 on its entity tag.
  const again = await rawGet(app.url, built.wasm, { 'accept-encoding': 'br', 'if-none-match': br.headers.etag });
  assert.equal(again.status, 304);

  // Deep links are the app's page, never kept without asking again.
  for (const link of ['/events?prefix=%2Fapp%2F', '/leases', '/?prefix=%2Fstandalone%2F&key=%2Fstandalone%2Fhello']) {
    const res = await rawGet(app.url, link, { 'accept-encoding': 'br' });
    assert.equal(res.status, 200, link);
    assert.match(res.headers['content-type'], /^text\/html/, link);
    assert.equal(res.headers['cache-control'], 'no-cache', link);
  }

  // Unknown API paths are routed before the frontend: an ApiError, not the page.
  const api = await rawGet(app.url, '/api/v1/no-such-thing');
  assert.equal(api.status, 404);
  assert.match(api.headers['content-type'], /application\/json/);
  assert.ok(JSON.parse(api.body.toString()).message, 'an ApiError body');

  console.log(`served wasm ${built.wasm}: raw ${wasm.length} B, gzip ${gzip.body.length} B, br ${br.body.length} B`);
}));
