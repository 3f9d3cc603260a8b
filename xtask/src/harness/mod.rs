//! Real etcd clusters on loopback, for integration tests, fault tests, benchmarks and the
//! `cargo xtask run` demo.
//!
//! [`EtcdCluster::start`] spawns one or three `/usr/bin/etcd` members on free loopback ports,
//! waits until every member answers `GET /health` with `{"health":"true"}`, and (with
//! [`ClusterOptions::auth`]) creates the `root` user with [`ROOT_PASSWORD`] and enables
//! authentication. Everything is blocking `std::process`, so any test (sync or async) can use it.
//!
//! [`EtcdCluster::etcdctl`] runs the real `etcdctl` against the cluster as `root`; it is how
//! tests seed data and how they drive real peers (`lock`, `elect`, `lease keep-alive`) that no
//! one in this project wrote.
//!
//! Dropping the cluster SIGKILLs every member and removes its temporary directory. Member logs
//! go to `<data dir>/mN.log`, and every start-up failure quotes the end of the log.
//!
//! ```no_run
//! use xtask::harness::{ClusterOptions, EtcdCluster};
//! let etcd = EtcdCluster::start(ClusterOptions::single().with_auth())?;
//! etcd.etcdctl(&["put", "/app/a", "1"])?;
//! let endpoints = etcd.endpoints(); // ["http://127.0.0.1:PORT"]
//! # anyhow::Ok(())
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use tempfile::TempDir;

mod etcdctl;

/// The password of the `root` user in clusters started with [`ClusterOptions::auth`], unless
/// [`ClusterOptions::root_password`] says otherwise. A fixed test password: never use it for
/// anything but throw-away clusters.
pub const ROOT_PASSWORD: &str = "etcdeck-test-root";

/// The etcd server binary (Debian `etcd-server`, 3.4.23).
pub const ETCD_BIN: &str = "/usr/bin/etcd";

/// The etcdctl binary (Debian `etcd-client`, 3.4.23).
pub const ETCDCTL_BIN: &str = "/usr/bin/etcdctl";

/// How long a start or restart may take before it is reported as a failure. A 3-member
/// cluster usually elects a leader in about a second; a loaded CI machine is slower.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// How often start-up and leader checks look again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How many bytes of a member's log an error quotes.
const LOG_TAIL_BYTES: u64 = 4000;

/// What kind of cluster [`EtcdCluster::start`] starts.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of members: 1 or 3 (any number >= 1 works).
    pub members: usize,
    /// Create `root` (with the `root` role) and enable authentication.
    pub auth: bool,
    /// `--auth-token-ttl`: seconds of disuse after which a simple token expires (etcd default 300).
    pub auth_token_ttl_secs: Option<u32>,
    /// A persistent directory (member `N` keeps its data in `DIR/mN`, its log in `DIR/mN.log`).
    /// When it already holds a cluster, that cluster is started again with its data.
    /// `None`: a temporary directory removed on drop.
    pub data_dir: Option<PathBuf>,
    /// Fixed client ports, one per member (use them with a persistent `data_dir`).
    /// `None`: free loopback ports, distinct from every other cluster of this process.
    pub client_ports: Option<Vec<u16>>,
    /// Fixed peer ports, one per member. `None`: free loopback ports.
    pub peer_ports: Option<Vec<u16>>,
    /// The root password; `None` means [`ROOT_PASSWORD`].
    pub root_password: Option<String>,
    /// Extra `etcd` flags for every member (e.g. `--quota-backend-bytes=...` for benchmarks).
    pub extra_args: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            members: 1,
            auth: false,
            auth_token_ttl_secs: None,
            data_dir: None,
            client_ports: None,
            peer_ports: None,
            root_password: None,
            extra_args: Vec::new(),
        }
    }
}

impl ClusterOptions {
    /// One member, no auth, temporary data.
    pub fn single() -> Self {
        Self::default()
    }

    /// Three members, no auth, temporary data.
    pub fn three() -> Self {
        Self {
            members: 3,
            ..Self::default()
        }
    }

    /// The same options with authentication enabled (`root` / [`ROOT_PASSWORD`]).
    pub fn with_auth(mut self) -> Self {
        self.auth = true;
        self
    }

    /// The same options with `--auth-token-ttl SECS` (implies [`Self::with_auth`]).
    pub fn with_token_ttl(mut self, secs: u32) -> Self {
        self.auth = true;
        self.auth_token_ttl_secs = Some(secs);
        self
    }
}

/// One etcd process of the cluster.
#[derive(Debug)]
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
}

impl Member {
    fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
}

/// A running etcd cluster of real `etcd` processes. See the [module docs](self).
#[derive(Debug)]
pub struct EtcdCluster {
    members: Vec<Member>,
    root_dir: PathBuf,
    initial_cluster: String,
    cluster_token: String,
    auth: bool,
    root_password: String,
    member_args: Vec<String>,
    // Declared last so it is removed after `Drop::drop` has stopped the members.
    _temp_dir: Option<TempDir>,
}

impl EtcdCluster {
    /// Starts the cluster and waits until every member is healthy; with `opts.auth`, also
    /// creates `root` and enables authentication (idempotently for a reused `data_dir`).
    ///
    /// With automatically chosen ports, a start that loses a port race to another process is
    /// retried on new ports.
    pub fn start(opts: ClusterOptions) -> Result<Self> {
        ensure!(opts.members >= 1, "a cluster needs at least one member");
        for (what, ports) in [("client", &opts.client_ports), ("peer", &opts.peer_ports)] {
            if let Some(ports) = ports {
                ensure!(
                    ports.len() == opts.members,
                    "{} {what} ports given for {} members",
                    ports.len(),
                    opts.members
                );
            }
        }
        ensure!(
            Path::new(ETCD_BIN).exists(),
            "{ETCD_BIN} is missing: install Debian `etcd-server` (cargo xtask test/run do)"
        );
        let fixed_ports = opts.client_ports.is_some() || opts.peer_ports.is_some();
        let attempts = if fixed_ports { 1 } else { 3 };
        let mut attempt = 1;
        loop {
            match Self::try_start(&opts) {
                Ok(cluster) => return Ok(cluster),
                Err(err)
                    if attempt < attempts
                        && format!("{err:#}").contains("address already in use") =>
                {
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn try_start(opts: &ClusterOptions) -> Result<Self> {
        let (temp_dir, root_dir) = match &opts.data_dir {
            Some(dir) => {
                fs::create_dir_all(dir)
                    .with_context(|| format!("creating data directory {}", dir.display()))?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("etcdeck-etcd-")
                    .tempdir()
                    .context("creating a temporary etcd data directory")?;
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
        };
        let mut members = Vec::with_capacity(opts.members);
        for i in 0..opts.members {
            let name = format!("m{}", i + 1);
            let client_port = match &opts.client_ports {
                Some(ports) => ports[i],
                None => free_port()?,
            };
            let peer_port = match &opts.peer_ports {
                Some(ports) => ports[i],
                None => free_port()?,
            };
            members.push(Member {
                data_dir: root_dir.join(&name),
                log_path: root_dir.join(format!("{name}.log")),
                name,
                client_port,
                peer_port,
                child: None,
            });
        }
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let mut member_args = Vec::new();
        if opts.auth {
            member_args.push("--auth-token=simple".to_owned());
            if let Some(ttl) = opts.auth_token_ttl_secs {
                member_args.push(format!("--auth-token-ttl={ttl}"));
            }
        }
        member_args.extend(opts.extra_args.iter().cloned());
        let mut cluster = Self {
            members,
            root_dir,
            initial_cluster,
            cluster_token: unique_token(),
            auth: opts.auth,
            root_password: opts
                .root_password
                .clone()
                .unwrap_or_else(|| ROOT_PASSWORD.to_owned()),
            member_args,
            _temp_dir: temp_dir,
        };
        for i in 0..cluster.members.len() {
            cluster.spawn_member(i)?;
        }
        let all: Vec<usize> = (0..cluster.members.len()).collect();
        cluster.wait_healthy(&all)?;
        if cluster.auth {
            cluster.enable_auth()?;
        }
        Ok(cluster)
    }

    /// Creates `root` with the `root` role and enables auth, unless auth is already enabled
    /// (a reused data directory). etcd 3.4 needs the `root` role granted explicitly.
    fn enable_auth(&self) -> Result<()> {
        // Without credentials a read succeeds exactly when auth is still off.
        match self.run_etcdctl(None, &["get", "--limit=1", "etcdeck-probe"], None) {
            Ok(_) => {}
            Err(err) if format!("{err:#}").contains("user name is empty") => return Ok(()),
            Err(err) => return Err(err.context("probing whether auth is enabled")),
        }
        let tolerate_existing = |result: Result<String>| match result {
            Err(err) if format!("{err:#}").contains("already exists") => Ok(()),
            other => other.map(drop),
        };
        let password = format!("{}\n", self.root_password);
        tolerate_existing(self.run_etcdctl(
            None,
            &["user", "add", "root", "--interactive=false"],
            Some(password.as_bytes()),
        ))?;
        tolerate_existing(self.run_etcdctl(None, &["role", "add", "root"], None))?;
        self.run_etcdctl(None, &["user", "grant-role", "root", "root"], None)?;
        self.run_etcdctl(None, &["auth", "enable"], None)?;
        Ok(())
    }

    fn spawn_member(&mut self, i: usize) -> Result<()> {
        let member = &self.members[i];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log_path)
            .with_context(|| format!("opening {}", member.log_path.display()))?;
        let mut cmd = Command::new(ETCD_BIN);
        remove_env_with_prefix(&mut cmd, "ETCD_");
        cmd.arg(format!("--name={}", member.name))
            .arg(format!("--data-dir={}", member.data_dir.display()))
            .arg(format!("--listen-client-urls={}", member.client_url()))
            .arg(format!("--advertise-client-urls={}", member.client_url()))
            .arg(format!("--listen-peer-urls={}", member.peer_url()))
            .arg(format!(
                "--initial-advertise-peer-urls={}",
                member.peer_url()
            ))
            .arg(format!("--initial-cluster={}", self.initial_cluster))
            .arg(format!("--initial-cluster-token={}", self.cluster_token))
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .args(&self.member_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating the log file handle")?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {ETCD_BIN} for member {}", member.name))?;
        self.members[i].child = Some(child);
        Ok(())
    }

    /// Waits until each of `which` answers `/health` with true; fails early if one exits.
    fn wait_healthy(&mut self, which: &[usize]) -> Result<()> {
        let started = Instant::now();
        let mut pending: Vec<usize> = which.to_vec();
        loop {
            let mut still_pending = Vec::new();
            for &i in &pending {
                if let Some(status) = self.exit_status(i)? {
                    bail!(
                        "etcd member {} exited during start-up ({status}); end of {}:\n{}",
                        self.members[i].name,
                        self.members[i].log_path.display(),
                        log_tail(&self.members[i].log_path)
                    );
                }
                if !member_healthy(self.members[i].client_port) {
                    still_pending.push(i);
                }
            }
            pending = still_pending;
            if pending.is_empty() {
                return Ok(());
            }
            if started.elapsed() > START_DEADLINE {
                let mut msg = format!(
                    "etcd members not healthy after {}s:",
                    START_DEADLINE.as_secs()
                );
                for &i in &pending {
                    let m = &self.members[i];
                    let _ = write!(
                        msg,
                        "\n--- {} ({}), end of {}:\n{}",
                        m.name,
                        m.client_url(),
                        m.log_path.display(),
                        log_tail(&m.log_path)
                    );
                }
                bail!(msg);
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// The exit status of member `i` if its process has ended (it is reaped then).
    fn exit_status(&mut self, i: usize) -> Result<Option<ExitStatus>> {
        match self.members[i].child.as_mut() {
            None => Ok(None),
            Some(child) => Ok(child.try_wait()?),
        }
    }

    /// Client URLs (`http://127.0.0.1:PORT`) of all members, running or not, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::client_url).collect()
    }

    /// Client URL of member `i` (0-based).
    pub fn endpoint(&self, member: usize) -> String {
        self.members[member].client_url()
    }

    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Whether member `i` has a live process.
    pub fn is_running(&self, member: usize) -> bool {
        self.members[member].child.is_some()
    }

    /// Where member `i` logs.
    pub fn log_path(&self, member: usize) -> &Path {
        &self.members[member].log_path
    }

    /// The directory holding every member's data and log.
    pub fn data_dir(&self) -> &Path {
        &self.root_dir
    }

    /// Whether authentication is enabled.
    pub fn auth_enabled(&self) -> bool {
        self.auth
    }

    /// The root password (meaningful when auth is enabled).
    pub fn root_password(&self) -> &str {
        &self.root_password
    }

    /// SIGKILLs member `i` and reaps it. (A leader stopped with SIGTERM can take about 10 s to
    /// hand over leadership; fault tests want the abrupt failure anyway.)
    pub fn kill(&mut self, member: usize) -> Result<()> {
        ensure!(member < self.members.len(), "no member {member}");
        let m = &mut self.members[member];
        let mut child = m
            .child
            .take()
            .ok_or_else(|| anyhow!("member {} is not running", m.name))?;
        // The process may have died on its own already; reaping it is all that is left then.
        let _ = child.kill();
        child
            .wait()
            .with_context(|| format!("reaping member {}", m.name))?;
        Ok(())
    }

    /// Stops member `i` with SIGTERM (etcd shuts down cleanly), falling back to SIGKILL after
    /// `grace`.
    pub fn terminate(&mut self, member: usize, grace: Duration) -> Result<()> {
        ensure!(member < self.members.len(), "no member {member}");
        let Some(child) = self.members[member].child.as_mut() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < grace {
            if child.try_wait()?.is_some() {
                self.members[member].child = None;
                return Ok(());
            }
            thread::sleep(POLL_INTERVAL);
        }
        self.kill(member)
    }

    /// Stops member `i` with SIGSTOP: the process keeps its sockets and the kernel still
    /// accepts connections for it, but nothing answers, as with a member that hangs (a full
    /// disk, a stuck fsync, a machine swapping). [`Self::resume`] continues it; a paused member
    /// is still killed on drop.
    pub fn pause(&mut self, member: usize) -> Result<()> {
        self.signal(member, "-STOP")
    }

    /// Continues a member stopped by [`Self::pause`] (SIGCONT).
    pub fn resume(&mut self, member: usize) -> Result<()> {
        self.signal(member, "-CONT")
    }

    fn signal(&mut self, member: usize, signal: &str) -> Result<()> {
        ensure!(member < self.members.len(), "no member {member}");
        let m = &self.members[member];
        let child = m
            .child
            .as_ref()
            .ok_or_else(|| anyhow!("member {} is not running", m.name))?;
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .with_context(|| format!("kill {signal} member {}", m.name))?;
        ensure!(
            status.success(),
            "kill {signal} member {} failed: {status}",
            m.name
        );
        Ok(())
    }

    /// Stops every member cleanly (see [`Self::terminate`]), e.g. at the end of the demo.
    pub fn stop(&mut self) -> Result<()> {
        for i in 0..self.members.len() {
            self.terminate(i, Duration::from_secs(15))?;
        }
        Ok(())
    }

    /// Starts member `i` again with the same ports and data and waits until it is healthy.
    pub fn restart(&mut self, member: usize) -> Result<()> {
        ensure!(member < self.members.len(), "no member {member}");
        if self.members[member].child.is_some() {
            self.kill(member)?;
        }
        self.spawn_member(member)?;
        self.wait_healthy(&[member])
    }

    /// Index of the current leader. Waits (up to the start-up deadline) until every running
    /// member reports the same leader and that leader is running, so right after
    /// [`Self::kill`]ing the leader this returns the newly elected one.
    pub fn leader(&self) -> Result<usize> {
        let started = Instant::now();
        loop {
            let last = match self.leader_now() {
                Ok(Some(i)) => return Ok(i),
                Ok(None) => "the members do not agree on a running leader yet".to_owned(),
                Err(err) => format!("{err:#}"),
            };
            if started.elapsed() > START_DEADLINE {
                bail!("no leader after {}s: {last}", START_DEADLINE.as_secs());
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn leader_now(&self) -> Result<Option<usize>> {
        let out = self.etcdctl(&["endpoint", "status", "--write-out=json"])?;
        let statuses: serde_json::Value =
            serde_json::from_str(&out).context("parsing `etcdctl endpoint status` output")?;
        let statuses = statuses
            .as_array()
            .ok_or_else(|| anyhow!("unexpected endpoint status output: {out}"))?;
        let mut leader_ids = BTreeSet::new();
        let mut member_of_id = Vec::new();
        for status in statuses {
            let endpoint = status["Endpoint"].as_str().unwrap_or_default();
            let member_id = status["Status"]["header"]["member_id"].as_u64();
            let leader_id = status["Status"]["leader"].as_u64();
            let index = self.members.iter().position(|m| m.client_url() == endpoint);
            if let (Some(index), Some(member_id), Some(leader_id)) = (index, member_id, leader_id) {
                leader_ids.insert(leader_id);
                member_of_id.push((member_id, index));
            }
        }
        let running = self.members.iter().filter(|m| m.child.is_some()).count();
        if member_of_id.len() != running || leader_ids.len() != 1 {
            return Ok(None);
        }
        let leader_id = leader_ids.into_iter().next().unwrap_or_default();
        Ok(member_of_id
            .iter()
            .find(|(id, _)| *id == leader_id)
            .map(|&(_, index)| index))
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Ports handed out by [`free_port`] in this process, never handed out twice: tests run in
/// threads and each starts its own cluster.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback port that was free a moment ago and that no other cluster of this process got.
/// Another process can still take it before etcd binds it; [`EtcdCluster::start`] retries then.
pub fn free_port() -> Result<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0")
            .context("binding a loopback port to find a free one")?;
        let port = listener.local_addr()?.port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
    bail!("could not find a free loopback port")
}

/// Whether the member on `client_port` answers `GET /health` with `"health":"true"` (it has a
/// leader and can serve a read).
fn member_healthy(client_port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], client_port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
    let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains("\"health\":\"true\"")
}

/// The last few KB of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    use std::io::Seek;
    if file.seek(std::io::SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err()
    {
        return format!("(cannot read {})", path.display());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A cluster token unique to this start, so members of different clusters never talk.
fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "etcdeck-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// etcd and etcdctl read every `ETCD_*` / `ETCDCTL_*` variable as a flag: keep the caller's
/// environment (say, a real cluster's `ETCDCTL_ENDPOINTS`) out of the test cluster.
fn remove_env_with_prefix(cmd: &mut Command, prefix: &str) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with(prefix) {
            cmd.env_remove(key);
        }
    }
}
