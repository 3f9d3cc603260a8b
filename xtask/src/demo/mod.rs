//! `cargo xtask run`: build etcdeck and run it, against a local demo etcd (seeded with data
//! worth looking at) or against a real cluster named with `--endpoints`.
//!
//! The demo etcd is a single member with auth on fixed ports ([`DEMO_CLIENT_PORT`],
//! [`DEMO_PEER_PORT`]), its data kept under `.etcdeck/demo/etcd` and reused by the next run.
//! Passwords are generated on the first run and written to `.etcdeck/demo/USER.password`
//! (mode 0600). Seeding is idempotent: the static tree is written once, the lease-attached keys
//! and the real lock/election peers on every run. While it runs, a small writer keeps
//! `/app/live/` changing so that live views have something to show.

#![allow(clippy::print_stdout)]

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;

use crate::gateway::{Gateway, Put};
use crate::harness::{ClusterOptions, EtcdCluster};
use crate::process::{describe, project_root};
use crate::setup;
use crate::workload::{Etcdctl, Workload};
use seed::static_tree;

mod seed;

/// Client port of the demo etcd.
pub const DEMO_CLIENT_PORT: u16 = 23790;
/// Peer port of the demo etcd.
pub const DEMO_PEER_PORT: u16 = 23800;
/// Where etcdeck listens unless `--listen` or `ETCDECK_LISTEN` says otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Demo users other than root: name, what they may do, read prefixes, read-write prefixes.
/// The file stem of the demo's wall-screen token (`wall-token.password`).
const WALL_TOKEN: &str = "wall-token";

const DEMO_USERS: &[(&str, &str, &[&str], &[&str])] = &[
    ("viewer", "reads /app/", &["/app/"], &[]),
    ("editor", "reads and writes /app/", &[], &["/app/"]),
];

/// Runs `cargo xtask run [ARGS...]`: set up, build, then etcdeck until Ctrl-C.
pub fn run(args: Vec<String>) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .context("installing the Ctrl-C handler")?;

    setup::ensure_all()?;
    setup::build_release()?;

    let root = project_root();
    let mut etcdeck = Command::new(root.join("target").join("release").join("etcdeck"));
    etcdeck.current_dir(&root);
    let listen = listen_address(&args);
    let mut demo = None;
    // Any flag that names the clusters means the caller's own, not the demo's.
    if ["--endpoints", "--cluster", "--config"]
        .iter()
        .any(|flag| has_flag(&args, flag))
    {
        etcdeck.args(&args);
    } else {
        let started = Demo::start()?;
        etcdeck
            .args(["--endpoints", &started.cluster.endpoint(0)])
            .args(["--user", "root", "--password-file"])
            .arg(started.password_file("root"))
            // The demo's credentials come from the file, not from the caller's environment.
            .env_remove("ETCDECK_PASSWORD")
            .env_remove("ETCDCTL_PASSWORD")
            .env_remove("ETCDCTL_USER")
            .env_remove("ETCDCTL_ENDPOINTS")
            .env_remove("ETCDECK_CLUSTERS")
            .env_remove("ETCDECK_CONFIG");
        if !has_flag(&args, "--listen") && std::env::var_os("ETCDECK_LISTEN").is_none() {
            etcdeck.args(["--listen", DEFAULT_LISTEN]);
        }
        if !has_flag(&args, "--wall-token-file") {
            etcdeck
                .arg("--wall-token-file")
                .arg(started.password_file(WALL_TOKEN));
        }
        // The demo keeps its audit log next to its etcd data, across runs.
        if !has_flag(&args, "--audit-log") && std::env::var_os("ETCDECK_AUDIT_LOG").is_none() {
            etcdeck
                .arg("--audit-log")
                .arg(root.join(".etcdeck").join("audit.jsonl"));
        }
        // The demo's queue (locks, elections and services are found by themselves).
        if !has_flag(&args, "--queue-prefix") {
            etcdeck.args(["--queue-prefix", "queue/emails"]);
        }
        etcdeck.args(&args);
        demo = Some(started);
    }
    // No `--dist`: the release binary serves the frontend built into it, which
    // `build_release` has just rebuilt from the current `dist/`.

    println!("$ {}", describe(&etcdeck));
    let mut server = etcdeck
        .stdin(Stdio::null())
        .spawn()
        .context("starting target/release/etcdeck")?;
    let outcome = serve(&mut server, &listen, demo.as_ref(), &rx);
    println!("xtask: stopping");
    stop_child(&mut server);
    if let Some(mut demo) = demo {
        demo.stop()?;
    }
    outcome
}

/// Waits until etcdeck is healthy, prints where it is, then waits for Ctrl-C or its exit.
fn serve(
    server: &mut Child,
    listen: &str,
    demo: Option<&Demo>,
    ctrl_c: &mpsc::Receiver<()>,
) -> Result<()> {
    let started = Instant::now();
    let mut announced = false;
    loop {
        if let Some(status) = server.try_wait()? {
            bail!("etcdeck exited ({status})");
        }
        if !announced {
            match http_status(listen, "/healthz") {
                Some(200) => {
                    announce(listen, demo);
                    announced = true;
                }
                status if started.elapsed() > Duration::from_secs(60) => {
                    println!(
                        "xtask: etcdeck is not healthy after 60 s (GET /healthz: {status:?}); still waiting"
                    );
                    announce(listen, demo);
                    announced = true;
                }
                _ => {}
            }
        }
        let wait = if announced {
            Duration::from_millis(500)
        } else {
            Duration::from_millis(100)
        };
        match ctrl_c.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

fn announce(listen: &str, demo: Option<&Demo>) {
    println!();
    println!("etcdeck is running: http://{}/", browsable(listen));
    if let Some(demo) = demo {
        let dir = demo.dir.strip_prefix(project_root()).unwrap_or(&demo.dir);
        println!(
            "  demo etcd: {} (data in {})",
            demo.cluster.endpoint(0),
            dir.join("etcd").display()
        );
        println!(
            "  log in with an etcd user of the demo (each acts with its own etcd permissions):"
        );
        let users = std::iter::once(("root", "everything"))
            .chain(DEMO_USERS.iter().map(|(name, what, _, _)| (*name, *what)));
        for (name, what) in users {
            let password = password_for(&demo.dir, name, false).unwrap_or_else(|_| "?".into());
            println!("    {name:<8} password {password:<26} {what}");
        }
        println!("  (passwords are kept in {}/USER.password)", dir.display());
        if let Ok(token) = password_for(&demo.dir, WALL_TOKEN, false) {
            println!(
                "  wall screen, read-only, no login: http://{}/login#token={token}",
                browsable(listen)
            );
        }
    }
    println!("Press Ctrl-C to stop.");
}

/// The address to show users: a wildcard listen address is reached through loopback.
fn browsable(listen: &str) -> String {
    listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:")
}

/// Whether `flag` appears in `args` as `--flag VALUE` or `--flag=VALUE`.
fn has_flag(args: &[String], flag: &str) -> bool {
    args.iter()
        .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

/// The value of `--listen` in `args`, else `ETCDECK_LISTEN`, else the default.
fn listen_address(args: &[String]) -> String {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--listen" {
            if let Some(value) = iter.next() {
                return value.clone();
            }
        } else if let Some(value) = arg.strip_prefix("--listen=") {
            return value.to_owned();
        }
    }
    std::env::var("ETCDECK_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned())
}

/// The status code of `GET http://ADDR/PATH`, or `None` when nothing answers.
fn http_status(addr: &str, path: &str) -> Option<u16> {
    let target = browsable(addr).to_socket_addrs().ok()?.next()?;
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let head = String::from_utf8_lossy(&head[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// Stops a child with SIGTERM, then SIGKILL if it has not exited within 10 s.
/// Stops `child` with SIGTERM (so an etcdctl peer ends its session and its
/// keys go at once), and SIGKILL if it has not exited 10 s later.
pub(crate) fn stop_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The running demo etcd and its background peers.
#[derive(Debug)]
struct Demo {
    dir: PathBuf,
    cluster: EtcdCluster,
    peers: Vec<Child>,
    activity: Option<Activity>,
    workload: Option<Workload>,
}

impl Demo {
    /// Starts (or restarts) the demo etcd, creates its users and seeds it.
    fn start() -> Result<Self> {
        let dir = project_root().join(".etcdeck").join("demo");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let etcd_dir = dir.join("etcd");
        let fresh = !etcd_dir.join("m1").exists();
        let root_password = password_for(&dir, "root", fresh)?;
        // The wall screens' read-only access token (not an etcd user).
        password_for(&dir, WALL_TOKEN, true)?;
        println!(
            "xtask: starting the demo etcd on 127.0.0.1:{DEMO_CLIENT_PORT} ({})",
            if fresh { "new" } else { "reusing its data" }
        );
        let cluster = EtcdCluster::start(ClusterOptions {
            auth: true,
            data_dir: Some(etcd_dir),
            client_ports: Some(vec![DEMO_CLIENT_PORT]),
            peer_ports: Some(vec![DEMO_PEER_PORT]),
            root_password: Some(root_password.clone()),
            ..ClusterOptions::single()
        })
        .context("starting the demo etcd (is another `cargo xtask run` still running?)")?;
        let mut demo = Self {
            dir,
            cluster,
            peers: Vec::new(),
            activity: None,
            workload: None,
        };
        demo.ensure_users(fresh)?;
        demo.seed(&root_password)?;
        Ok(demo)
    }

    fn password_file(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.password"))
    }

    fn ensure_users(&self, fresh: bool) -> Result<()> {
        let existing = self.cluster.etcdctl(&["user", "list"])?;
        for (name, _, read, readwrite) in DEMO_USERS {
            if existing.lines().any(|line| line.trim() == *name) {
                continue;
            }
            let password = password_for(&self.dir, name, true)?;
            self.cluster.add_user(name, &password, read, readwrite)?;
            if !fresh {
                println!("xtask: added demo user {name}");
            }
        }
        Ok(())
    }

    /// Writes the demo data: the static tree once, lease-attached keys and peers every run.
    fn seed(&mut self, root_password: &str) -> Result<()> {
        let gateway = Gateway::connect(&self.cluster.endpoint(0), Some(("root", root_password)))?;
        let static_keys = static_tree();
        let sentinel = static_keys
            .last()
            .map(|put| put.key.clone())
            .unwrap_or_default();
        if gateway.exists(&sentinel)? {
            println!("xtask: demo data already present");
        } else {
            println!("xtask: seeding {} demo keys", static_keys.len());
            gateway.put_all(&static_keys)?;
        }

        // Service registrations on a lease kept alive by a real `etcdctl lease keep-alive`:
        // the TTL stays visible and counts down between renewals. (The workload registers
        // more services, which come and go.)
        let lease = gateway.grant_lease(120)?;
        let mut registrations = Vec::new();
        for (service, instances) in [("inventory", 2)] {
            for n in 1..=instances {
                let value = json!({
                    "address": format!("10.0.{}.{}:8080", service.len(), 10 + n),
                    "version": "1.4.2",
                    "zone": if n % 2 == 0 { "eu-west-1b" } else { "eu-west-1a" },
                });
                registrations.push(
                    Put::new(
                        format!("services/{service}/instance-{n}"),
                        value.to_string(),
                    )
                    .with_lease(lease),
                );
            }
        }
        gateway.put_all(&registrations)?;
        self.spawn_peer(&["lease", "keep-alive", &format!("{lease:x}")])?;

        // A session that nobody renews: it disappears about a minute after start-up.
        let short = gateway.grant_lease(60)?;
        gateway.put_all(&[Put::new(
            "/app/auth/prod/sessions/demo-login",
            json!({ "user": "alice", "expires_in": "60s" }).to_string(),
        )
        .with_lease(short)])?;

        // A real mutex held for as long as the demo runs; the workload adds a contended
        // lock, an election with failover, a queue and services that come and go.
        self.spawn_peer(&["lock", "/locks/nightly-report"])?;
        let endpoint = self.cluster.endpoint(0);
        let password = root_password.to_owned();
        self.workload = Some(Workload::start(
            Etcdctl {
                endpoint: endpoint.clone(),
                user: "root".into(),
                password: password.clone(),
            },
            move || Gateway::connect(&endpoint, Some(("root", &password))),
        )?);

        self.activity = Some(Activity::start(gateway));
        Ok(())
    }

    fn spawn_peer(&mut self, args: &[&str]) -> Result<()> {
        let child = self
            .cluster
            .etcdctl_command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting etcdctl {}", args.join(" ")))?;
        self.peers.push(child);
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        if let Some(activity) = self.activity.take() {
            activity.stop();
        }
        if let Some(workload) = self.workload.take() {
            workload.stop();
        }
        for peer in &mut self.peers {
            stop_child(peer);
        }
        self.cluster.stop()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        for peer in &mut self.peers {
            let _ = peer.kill();
            let _ = peer.wait();
        }
    }
}

/// A writer that keeps the demo moving, so the live events view and the
/// tree have something to show: a heartbeat every 2 s, a deploy record every
/// 10 s (the oldest of more than five removed), and every 30 s a session key
/// on a 5 s lease that nobody renews, which etcd then deletes by itself.
#[derive(Debug)]
struct Activity {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Activity {
    const TICK: Duration = Duration::from_secs(2);

    fn start(gateway: Gateway) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut tick: u64 = 0;
            while !stopping.load(Ordering::Relaxed) {
                tick += 1;
                if let Err(err) = Self::step(&gateway, tick) {
                    eprintln!("xtask: demo activity: {err:#}");
                }
                let until = Instant::now() + Self::TICK;
                while Instant::now() < until && !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        Self { stop, thread }
    }

    fn step(gateway: &Gateway, tick: u64) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        gateway.put_all(&[Put::new(
            "/app/live/heartbeat",
            json!({ "tick": tick, "unix_time": now }).to_string(),
        )])?;
        if tick.is_multiple_of(5) {
            let deploy = tick / 5;
            let service = ["billing", "checkout", "search"][deploy as usize % 3];
            gateway.put_all(&[Put::new(
                format!("/app/live/deploys/{deploy:06}"),
                json!({ "service": service,
                        "version": format!("1.4.{deploy}"), "unix_time": now })
                .to_string(),
            )])?;
            if deploy > 5 {
                gateway.delete(format!("/app/live/deploys/{:06}", deploy - 5).as_bytes())?;
            }
        }
        if tick.is_multiple_of(15) {
            let lease = gateway.grant_lease(5)?;
            gateway.put_all(&[Put::new(
                format!("/app/live/sessions/login-{tick}"),
                json!({ "user": "bob", "expires_in": "5s" }).to_string(),
            )
            .with_lease(lease)])?;
        }
        Ok(())
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// The password of demo user `user`: read from its file, or (when `may_create`) generated and
/// written with mode 0600.
fn password_for(dir: &Path, user: &str, may_create: bool) -> Result<String> {
    let path = dir.join(format!("{user}.password"));
    match fs::read_to_string(&path) {
        Ok(password) => return Ok(password.trim().to_owned()),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(anyhow!(err).context(format!("reading {}", path.display())));
        }
        Err(_) => {}
    }
    if !may_create {
        bail!(
            "{} is missing but the demo etcd already has users; delete {} to start the demo afresh",
            path.display(),
            dir.display()
        );
    }
    let mut random = [0u8; 12];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .context("reading /dev/urandom")?;
    let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{password}")?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_comes_from_args_first() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            listen_address(&args(&["--listen", "0.0.0.0:9000"])),
            "0.0.0.0:9000"
        );
        assert_eq!(
            listen_address(&args(&["--listen=127.0.0.1:1"])),
            "127.0.0.1:1"
        );
        assert!(has_flag(&args(&["--endpoints=http://x"]), "--endpoints"));
        assert!(!has_flag(&args(&["--endpointsx"]), "--endpoints"));
        assert_eq!(browsable("0.0.0.0:9000"), "127.0.0.1:9000");
    }

    #[test]
    fn static_tree_has_the_advertised_shapes() {
        let tree = static_tree();
        assert!(tree.len() > 2000 + 300, "{}", tree.len());
        assert!(tree.iter().any(|p| std::str::from_utf8(&p.key).is_err()));
        assert!(tree.iter().any(|p| std::str::from_utf8(&p.value).is_err()));
        assert!(tree.iter().any(|p| !p.key.starts_with(b"/")));
        let sentinel = tree.last().map(|p| p.key.clone()).unwrap_or_default();
        assert_eq!(sentinel, b"/app/catalog/items/item-01999".to_vec());
    }
}
