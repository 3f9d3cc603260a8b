// The real etcdeck server (release binary + built frontend) for one test
// file, signed in to etcd as root with a password file; it can be killed and
// started again on the same port. Missing builds fail loudly: the tests are
// meant to run after `cargo xtask test` built them.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';

import { freePort, removeDir, repoRoot, startProcess, tempDir } from './system.mjs';
import { waitFor } from './wait.mjs';

export const etcdeckBin = process.env.ETCDECK_BIN ?? path.join(repoRoot, 'target', 'release', 'etcdeck');
export const etcdeckDist = process.env.ETCDECK_DIST ?? path.join(repoRoot, 'dist');

/** Throws a clear message when the server binary or the frontend is not built. */
export function requireBuilds() {
  const missing = [];
  if (!existsSync(etcdeckBin)) missing.push(`the etcdeck binary (${etcdeckBin})`);
  if (!existsSync(path.join(etcdeckDist, 'index.html'))) {
    missing.push(`the built frontend (${path.join(etcdeckDist, 'index.html')})`);
  }
  if (missing.length) {
    throw new Error(
      `missing ${missing.join(' and ')}: run \`cargo xtask test\`, which builds them ` +
        '(or set ETCDECK_BIN / ETCDECK_DIST)',
    );
  }
}

/**
 * Starts etcdeck against `etcd` (a handle from `startEtcd`) and waits until
 * `GET /healthz` answers 200. It signs in as etcd's root unless `as` names
 * another user (`{ user, password }`); `args` are more flags (say
 * `--queue-prefix NAME`). `bin` is the binary to run (default `ETCDECK_BIN`),
 * `cwd` its working directory, and `dist` the frontend it serves with `--dist`
 * (default `ETCDECK_DIST`; `null` for none: the binary serves the frontend
 * built into it, and `ETCDECK_DIST` is kept out of its environment). `tls`
 * (`{ cert, key }`: PEM file paths, the certificate also trusted for the
 * health check) serves HTTPS; `listen` binds another address than 127.0.0.1
 * (say `0.0.0.0`) and `host` is the address the URL names then. The handle
 * can also kill it and start it again on the same address, as a crash and a
 * restart would.
 */
export async function startEtcdeck(
  etcd,
  as = { user: etcd.user, password: etcd.password },
  { args = [], bin = etcdeckBin, cwd, dist = etcdeckDist, tls = null, listen = '127.0.0.1', host = listen } = {},
) {
  requireBuilds();
  const dir = await tempDir('etcdeck');
  const passwordFile = path.join(dir, 'password');
  await writeFile(passwordFile, as.password, { mode: 0o600 });
  const port = await freePort();
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  const tlsArgs = tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : [];
  let proc;
  // Output of earlier runs, so a restart's error message still shows them.
  let earlier = '';

  const launch = () => {
    if (proc) earlier += `${proc.output()}\n[etcdeck restarted]\n`;
    const env = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' };
    if (dist === null) delete env.ETCDECK_DIST;
    proc = startProcess('etcdeck', bin, [
      '--endpoints', etcd.endpoint,
      '--user', as.user,
      '--password-file', passwordFile,
      '--listen', `${listen}:${port}`,
      ...(dist === null ? [] : ['--dist', dist]),
      ...tlsArgs,
      ...args,
    ], { env, ...(cwd ? { cwd } : {}) });
  };
  const waitHealthy = () =>
    waitFor(
      async () => {
        if (proc.hasExited()) throw new Error('etcdeck exited');
        if (tls) return (await httpsStatus(`${url}/healthz`, tls.cert)) === 200;
        const res = await fetch(`${url}/healthz`);
        return res.status === 200;
      },
      { what: `etcdeck's ${url}/healthz to answer 200`, timeout: 20_000, every: 200 },
    );

  const handle = {
    url,
    /** The etcd user a browser logs in to this etcdeck as. */
    credentials: as,
    /** etcdeck's stdout and stderr so far, for error messages. */
    output: () => (earlier + (proc?.output() ?? '')).slice(-64 * 1024),
    /** Kills etcdeck abruptly (SIGKILL): its sockets drop without a goodbye. */
    async kill() {
      await proc.kill('SIGKILL');
    },
    /** Starts etcdeck again on the same address and waits until it is healthy. */
    async restart() {
      if (!proc.hasExited()) throw new Error('etcdeck is still running');
      launch();
      await waitHealthy();
    },
    async stop() {
      await proc?.kill('SIGKILL');
      await removeDir(dir);
    },
  };

  try {
    launch();
    await waitHealthy();
  } catch (err) {
    const log = handle.output();
    await handle.stop();
    err.message += `\n--- etcdeck output ---\n${log}`;
    throw err;
  }
  return handle;
}

/** The status of `GET url` over HTTPS, trusting only the certificate in `caFile`. */
async function httpsStatus(url, caFile) {
  const { readFile } = await import('node:fs/promises');
  const ca = await readFile(caFile);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
  });
}
