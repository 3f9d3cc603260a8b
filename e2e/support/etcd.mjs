// A real etcd 3.4 for one test file, of one member or (`members: 3`) a
// cluster on loopback: free loopback ports, a temporary data directory per
// member and authentication enabled (user `root`). The returned handle acts
// on it with etcdctl (as root, through every member's endpoint) and can kill
// it, or one member, and start it again on the same ports and data, as an
// outage would. It also
// starts real coordination peers that no one here wrote: `etcdctl lock`,
// `etcdctl elect` and `etcdctl lease keep-alive` run in the background.

import { randomBytes } from 'node:crypto';

import { freePort, removeDir, run, startProcess, tempDir } from './system.mjs';
import { waitFor } from './wait.mjs';

const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const ETCDCTL = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

/**
 * Starts etcd (`members` of them, each with the more flags `args`, say
 * `--quota-backend-bytes=N`), enables auth, and returns a handle to it.
 */
export async function startEtcd({ members: count = 1, args: memberArgs = [] } = {}) {
  const baseDir = await tempDir('etcd');
  const members = [];
  for (let i = 0; i < count; i += 1) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({
      name: count === 1 ? 'e2e' : `e2e-${i + 1}`,
      dataDir: count === 1 ? baseDir : `${baseDir}/m${i + 1}`,
      endpoint: `http://127.0.0.1:${clientPort}`,
      peer: `http://127.0.0.1:${peerPort}`,
      proc: null,
    });
  }
  const endpoints = members.map((m) => m.endpoint);
  const endpoint = endpoints.join(',');
  const dataDir = baseDir;
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const user = 'root';
  const password = randomBytes(12).toString('hex');
  // The last queue item's nanosecond name, so names stay unique and rising.
  let lastNanos = 0n;

  const launchMember = (m) => {
    m.proc = startProcess(m.name, ETCD, [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.endpoint,
      '--advertise-client-urls', m.endpoint,
      '--listen-peer-urls', m.peer,
      '--initial-advertise-peer-urls', m.peer,
      '--initial-cluster', initialCluster,
      '--initial-cluster-token', `e2e-${baseDir}`,
      '--initial-cluster-state', 'new',
      '--log-level', 'warn',
      '--logger', 'zap',
      ...memberArgs,
    ]);
  };
  const launch = () => members.forEach(launchMember);

  const etcdctl = (args, { input, auth = true } = {}) =>
    run(
      ETCDCTL,
      ['--endpoints', endpoint, '--dial-timeout', '2s', '--command-timeout', '5s',
        ...(auth ? ['--user', `${user}:${password}`] : []), ...args],
      { input, env: { ...process.env, ETCDCTL_API: '3' } },
    );

  /** Background etcdctl processes (lock, elect, keep-alive), killed by `stop`. */
  const peers = new Set();
  /**
   * Starts `etcdctl ARGS` in the background as root. The handle tells what
   * it printed so far and can stop it gracefully (SIGINT, what etcdctl
   * listens for: it unlocks or resigns and ends its session) or kill it
   * (SIGKILL: the session's lease lives on until its TTL runs out, as when a
   * machine dies).
   */
  const background = (name, args) => {
    const proc = startProcess(`etcdctl ${name}`, ETCDCTL, [
      '--endpoints', endpoint, '--dial-timeout', '2s', '--user', `${user}:${password}`, ...args,
    ], { env: { ...process.env, ETCDCTL_API: '3' } });
    peers.add(proc);
    proc.exited.then(() => peers.delete(proc));
    return {
      output: () => proc.output(),
      hasExited: () => proc.hasExited(),
      /** Waits until its output contains `text` (say, the lock key it got). */
      async prints(text, timeout = 15_000) {
        await waitFor(() => proc.output().includes(text), {
          what: `etcdctl ${name} to print ${JSON.stringify(text)}`,
          timeout,
          saw: () => JSON.stringify(proc.output()),
        });
      },
      stop: () => proc.kill('SIGINT'),
      kill: () => proc.kill('SIGKILL'),
    };
  };

  const waitHealthy = async (auth, only = members) => {
    await waitFor(
      async () => {
        const exited = only.find((m) => m.proc.hasExited());
        if (exited) {
          throw new Error(`etcd ${exited.name} exited early:\n${exited.proc.output()}`);
        }
        await run(
          ETCDCTL,
          ['--endpoints', only.map((m) => m.endpoint).join(','), '--dial-timeout', '2s',
            '--command-timeout', '5s', ...(auth ? ['--user', `${user}:${password}`] : []),
            'endpoint', 'health'],
          { env: { ...process.env, ETCDCTL_API: '3' } },
        );
        return true;
      },
      { what: `etcd at ${only.map((m) => m.endpoint)} to be healthy`, timeout: 20_000, every: 200 },
    );
  };

  const handle = {
    /** Every member's client URL, comma-separated (as `--endpoints` takes them). */
    endpoint,
    endpoints,
    user,
    password,
    dataDir,
    /** etcd's own log (every member's), for error messages. */
    output: () => members.map((m) => m.proc?.output() ?? '').join('\n'),

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
    /**
     * Adds a user who may read and write keys under `prefix` and only read
     * those under each of `readOnly` (a role of the same name).
     */
    async addEditor(name, userPassword, prefix, readOnly = []) {
      await etcdctl(['role', 'add', name]);
      await etcdctl(['role', 'grant-permission', name, 'readwrite', prefix, '--prefix=true']);
      for (const other of readOnly) {
        await etcdctl(['role', 'grant-permission', name, 'read', other, '--prefix=true']);
      }
      await etcdctl(['user', 'add', name, `--new-user-password=${userPassword}`]);
      await etcdctl(['user', 'grant-role', name, name]);
    },
    /** Deletes a key. */
    async del(key) {
      await etcdctl(['del', key]);
    },
    /**
     * `etcdctl lock NAME` in the background with a session of `ttl` seconds:
     * a real Mutex contender (key `NAME/<lease hex>`). It prints its key once
     * it holds the lock; use `heldKey()` to wait for that.
     */
    lock(name, { ttl = 3 } = {}) {
      const p = background('lock', ['lock', name, `--ttl=${ttl}`]);
      return {
        ...p,
        /** Waits until it holds the lock; returns its key. */
        async heldKey(timeout = 15_000) {
          await p.prints(`${name}/`, timeout);
          return p.output().split('\n').find((l) => l.startsWith(`${name}/`)).trim();
        },
      };
    },
    /**
     * `etcdctl elect NAME PROPOSAL` in the background: a real Election
     * candidate (etcd 3.4's etcdctl has no `--ttl` here: its session lease
     * has 60 s). It prints its key and proposal once it leads; `leads()`
     * waits for that and returns the key.
     */
    elect(name, proposal) {
      const p = background('elect', ['elect', name, proposal]);
      return {
        ...p,
        async leads(timeout = 15_000) {
          await p.prints(`${name}/`, timeout);
          return p.output().split('\n').find((l) => l.startsWith(`${name}/`)).trim();
        },
      };
    },
    /**
     * Grants a lease of `ttl` seconds; returns its id in hex without leading
     * zeros, as session keys and etcdeck write it (etcdctl pads it to 16).
     */
    async leaseGrant(ttl) {
      const { stdout } = await etcdctl(['lease', 'grant', String(ttl)]);
      const match = /lease ([0-9a-f]+) granted/.exec(stdout.toString());
      if (!match) throw new Error(`unexpected etcdctl lease grant output: ${stdout}`);
      return match[1].replace(/^0+(?=.)/, '');
    },
    /** Writes a key attached to the lease `lease` (hex id). */
    async putWithLease(key, value, lease) {
      await etcdctl(['put', key, `--lease=${lease}`], { input: Buffer.from(value) });
    },
    /** Revokes a lease: its keys are deleted at once. */
    async leaseRevoke(lease) {
      await etcdctl(['lease', 'revoke', lease]);
    },
    /** `etcdctl lease keep-alive ID` in the background. */
    leaseKeepAlive(lease) {
      return background('keep-alive', ['lease', 'keep-alive', lease]);
    },
    /**
     * Adds an item to the queue `name` as etcd's `recipes.Queue` does: the key
     * `name/<Unix nanoseconds, 19 digits>`, no lease. Returns the key.
     */
    async enqueue(name, value) {
      lastNanos = BigInt(Date.now()) * 1_000_000n > lastNanos
        ? BigInt(Date.now()) * 1_000_000n
        : lastNanos + 1n;
      const key = `${name}/${lastNanos}`;
      await etcdctl(['put', key], { input: Buffer.from(value) });
      return key;
    },
    /**
     * Takes the oldest item of the queue `name` as `recipes.Queue` does (the
     * key with the lowest create revision, deleted); returns its key or null.
     */
    async dequeue(name) {
      const { stdout } = await etcdctl([
        'get', `${name}/`, '--prefix', '--keys-only', '--sort-by=CREATE', '--order=ASCEND',
        '--limit=1', '-w', 'json',
      ]);
      const kvs = JSON.parse(stdout.toString()).kvs ?? [];
      if (!kvs.length) return null;
      const key = Buffer.from(kvs[0].key, 'base64').toString();
      await etcdctl(['del', key]);
      return key;
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
      await Promise.all(members.map((m) => m.proc.kill('SIGKILL')));
    },
    /** Starts etcd again with the same ports and data directory. */
    async restart() {
      if (members.some((m) => !m.proc.hasExited())) throw new Error('etcd is still running');
      launch();
      await waitHealthy(true);
    },
    /** Kills member `i` (0-based) abruptly; the others keep quorum. */
    async killMember(i) {
      await members[i].proc.kill('SIGKILL');
    },
    /**
     * Stops member `i` with SIGSTOP: it keeps its sockets and the kernel
     * still accepts connections for it, but nothing answers, as a member
     * that hangs. `resumeMember` continues it.
     */
    pauseMember(i) {
      if (!members[i].proc.child.kill('SIGSTOP')) throw new Error(`could not stop ${members[i].name}`);
    },
    /** Continues member `i` after `pauseMember` (SIGCONT) and waits until it is healthy. */
    async resumeMember(i) {
      if (!members[i].proc.child.kill('SIGCONT')) throw new Error(`could not continue ${members[i].name}`);
      await waitHealthy(true, [members[i]]);
    },
    /**
     * The index of the member that the running members `among` (indexes,
     * every member by default) agree is the leader; null while they do not.
     * Member ids are 64-bit: they are compared as the digits etcdctl prints,
     * never as JavaScript numbers.
     */
    async leaderMember(among = members.map((_, i) => i)) {
      const urls = among.map((i) => members[i].endpoint);
      const { stdout } = await run(
        ETCDCTL,
        ['--endpoints', urls.join(','), '--dial-timeout', '2s', '--command-timeout', '5s',
          '--user', `${user}:${password}`, 'endpoint', 'status', '-w', 'json'],
        { env: { ...process.env, ETCDCTL_API: '3' } },
      );
      const seen = [...stdout.toString().matchAll(
        /"Endpoint":"([^"]+)".*?"member_id":(\d+).*?"leader":(\d+)/g,
      )].map(([, url, id, leader]) => ({ url, id, leader }));
      const leaders = new Set(seen.map((s) => s.leader));
      if (seen.length !== urls.length || leaders.size !== 1) return null;
      const [leaderId] = leaders;
      const leader = seen.find((s) => s.id === leaderId);
      return leader ? members.findIndex((m) => m.endpoint === leader.url) : null;
    },
    /** Starts member `i` again with its ports and data. */
    async restartMember(i) {
      if (!members[i].proc.hasExited()) throw new Error(`etcd ${members[i].name} is still running`);
      launchMember(members[i]);
      await waitHealthy(true, [members[i]]);
    },

    // find
    /** A key's value as a Buffer, or null if it does not exist. */
    async get(key) {
      const { stdout } = await etcdctl(['get', key, '-w', 'json']);
      const kvs = JSON.parse(stdout.toString()).kvs ?? [];
      return kvs.length ? Buffer.from(kvs[0].value ?? '', 'base64') : null;
    },

    /** etcd's current revision (the header of a read, which moves it not). */
    async revision() {
      const { stdout } = await etcdctl(['get', 'revision-probe', '-w', 'json']);
      return Number(JSON.parse(stdout.toString()).header.revision);
    },

    /** The keys under `prefix`, oldest (lowest create revision) first. */
    async keys(prefix) {
      const { stdout } = await etcdctl([
        'get', prefix, '--prefix', '--keys-only', '--sort-by=CREATE', '--order=ASCEND', '-w', 'json',
      ]);
      return (JSON.parse(stdout.toString()).kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString());
    },

    /** Kills etcd (and the background etcdctl peers) and removes its data. Safe to call twice. */
    async stop() {
      await Promise.all([...peers].map((p) => p.kill('SIGKILL')));
      await Promise.all(members.map((m) => m.proc?.kill('SIGKILL')));
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
