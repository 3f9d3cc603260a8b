// A real single-member etcd 3.4 for one test file: free loopback ports, a
// temporary data directory and authentication enabled (user `root`). The
// returned handle acts on it with etcdctl (as root) and can kill it and
// start it again on the same ports and data, as an outage would.

import { randomBytes } from 'node:crypto';

import { freePort, removeDir, run, startProcess, tempDir } from './system.mjs';
import { waitFor } from './wait.mjs';

const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const ETCDCTL = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

/** Starts etcd, enables auth, and returns a handle to it. */
export async function startEtcd() {
  const dataDir = await tempDir('etcd');
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const user = 'root';
  const password = randomBytes(12).toString('hex');
  let proc;

  const launch = () => {
    proc = startProcess('etcd', ETCD, [
      '--name', 'e2e',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `e2e=${peer}`,
      '--initial-cluster-state', 'new',
      '--log-level', 'warn',
      '--logger', 'zap',
    ]);
  };

  const etcdctl = (args, { input, auth = true } = {}) =>
    run(
      ETCDCTL,
      ['--endpoints', endpoint, '--dial-timeout', '2s', '--command-timeout', '5s',
        ...(auth ? ['--user', `${user}:${password}`] : []), ...args],
      { input, env: { ...process.env, ETCDCTL_API: '3' } },
    );

  const waitHealthy = async (auth) => {
    await waitFor(
      async () => {
        if (proc.hasExited()) {
          throw new Error(`etcd exited early:\n${proc.output()}`);
        }
        await etcdctl(['endpoint', 'health'], { auth });
        return true;
      },
      { what: `etcd at ${endpoint} to be healthy`, timeout: 20_000, every: 200 },
    );
  };

  const handle = {
    endpoint,
    user,
    password,
    dataDir,
    /** etcd's own log, for error messages. */
    output: () => proc?.output() ?? '',

    // act
    /** Writes a key; `value` is a string or a Buffer (sent on stdin, byte for byte). */
    async put(key, value) {
      await etcdctl(['put', key], { input: Buffer.from(value) });
    },
    /**
     * Adds a user who may only read keys under `prefix` (a role of the same
     * name with a prefix read permission).
     */
    async addReader(name, userPassword, prefix) {
      await etcdctl(['role', 'add', name]);
      await etcdctl(['role', 'grant-permission', name, 'read', prefix, '--prefix=true']);
      await etcdctl(['user', 'add', name, `--new-user-password=${userPassword}`]);
      await etcdctl(['user', 'grant-role', name, name]);
    },
    /** Deletes a key. */
    async del(key) {
      await etcdctl(['del', key]);
    },
    /** Compacts etcd's history up to its current revision; returns that revision. */
    async compact() {
      const { stdout } = await etcdctl(['get', 'compact-probe', '-w', 'json']);
      const revision = JSON.parse(stdout.toString()).header.revision;
      await etcdctl(['compact', String(revision), '--physical']);
      return Number(revision);
    },
    /** Kills etcd abruptly (SIGKILL), as a crash or a lost machine would. */
    async kill() {
      await proc.kill('SIGKILL');
    },
    /** Starts etcd again with the same ports and data directory. */
    async restart() {
      if (!proc.hasExited()) throw new Error('etcd is still running');
      launch();
      await waitHealthy(true);
    },

    // find
    /** A key's value as a Buffer, or null if it does not exist. */
    async get(key) {
      const { stdout } = await etcdctl(['get', key, '-w', 'json']);
      const kvs = JSON.parse(stdout.toString()).kvs ?? [];
      return kvs.length ? Buffer.from(kvs[0].value ?? '', 'base64') : null;
    },

    /** Kills etcd and removes its data. Safe to call twice. */
    async stop() {
      await proc?.kill('SIGKILL');
      await removeDir(dataDir);
    },
  };

  try {
    launch();
    await waitHealthy(false);
    await etcdctl(['user', 'add', user, `--new-user-password=${password}`], { auth: false });
    await etcdctl(['role', 'add', 'root'], { auth: false });
    await etcdctl(['user', 'grant-role', user, 'root'], { auth: false });
    await etcdctl(['auth', 'enable'], { auth: false });
    // Prove auth is on: anonymous reads are refused, root's are not.
    await etcdctl(['get', 'probe'], { auth: true });
    await etcdctl(['get', 'probe'], { auth: false }).then(
      () => {
        throw new Error('etcd still answers anonymous reads after `auth enable`');
      },
      () => {},
    );
  } catch (err) {
    const log = handle.output();
    await handle.stop();
    err.message += `\n--- etcd output ---\n${log}`;
    throw err;
  }
  return handle;
}
