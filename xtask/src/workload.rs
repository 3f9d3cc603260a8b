//! The demo's coordination workload, so that every coordination view moves:
//!
//! - **services**: instances of `billing`, `checkout` and `search` register
//!   under `services/<name>/<instance>` on their own 10 s lease and keep it
//!   alive; now and then one stops renewing (it disappears when its lease
//!   expires) and a new instance registers a little later;
//! - **locks**: three workers take turns on `/locks/batch-job` through the
//!   real `etcdctl lock NAME sleep N`: one holds it, the others wait;
//! - **election**: three real `etcdctl elect /election/scheduler NAME`
//!   candidates; every 30 s the leader resigns (SIGTERM) and rejoins at the
//!   back, so leadership fails over;
//! - **queue**: a producer adds `queue/emails/<unix-nanos>` items at a rate
//!   that swings over a few minutes, a consumer takes the oldest at a steady
//!   rate, so the depth rises and falls.
//!
//! Everything runs on background threads and stops with [`Workload::stop`].

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::json;

use crate::demo::stop_child;
use crate::gateway::{Gateway, Put};
use crate::harness::ETCDCTL_BIN;

/// How to run `etcdctl` against the demo etcd as root.
#[derive(Clone, Debug)]
pub struct Etcdctl {
    pub endpoint: String,
    pub user: String,
    pub password: String,
}

impl Etcdctl {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ETCDCTL_BIN);
        // The password travels in the environment, not on the command line.
        cmd.env("ETCDCTL_API", "3")
            .env("ETCDCTL_USER", &self.user)
            .env("ETCDCTL_PASSWORD", &self.password)
            .arg(format!("--endpoints={}", self.endpoint))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }
}

/// The running workload.
#[derive(Debug)]
pub struct Workload {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// etcdctl processes currently running, stopped with the workload.
    children: Arc<Mutex<Vec<Child>>>,
}

impl Workload {
    /// Starts every part; `connect` makes a gateway client per thread.
    pub fn start(etcdctl: Etcdctl, connect: impl Fn() -> Result<Gateway>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let children = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        let services = connect()?;
        let queue = connect()?;
        {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || run_services(&services, &stop)));
        }
        {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || run_queue(&queue, &stop)));
        }
        for worker in 0..3 {
            let (stop, children, etcdctl) = (stop.clone(), children.clone(), etcdctl.clone());
            threads.push(std::thread::spawn(move || {
                run_lock_worker(worker, &etcdctl, &children, &stop)
            }));
        }
        {
            let (stop, children) = (stop.clone(), children.clone());
            threads.push(std::thread::spawn(move || {
                run_election(&etcdctl, &children, &stop)
            }));
        }
        Ok(Self {
            stop,
            threads,
            children,
        })
    }

    /// Stops every thread and etcdctl process.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
        for child in lock(&self.children).iter_mut() {
            stop_child(child);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sleeps `total`, waking early when stopping; returns whether to go on.
fn nap(total: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + total;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
    }
    !stop.load(Ordering::Relaxed)
}

fn report(part: &str, result: Result<()>) {
    if let Err(err) = result {
        eprintln!("xtask: demo {part}: {err:#}");
    }
}

/// A registered service instance and its lease.
struct Instance {
    key: String,
    lease: i64,
    /// Stops renewing at this tick (and so dies when its lease runs out).
    dies_at: Option<u64>,
}

fn run_services(gateway: &Gateway, stop: &AtomicBool) {
    const TTL: i64 = 10;
    let mut instances: Vec<Instance> = Vec::new();
    let mut next_id = 1;
    let mut tick: u64 = 0;
    let register = |service: &str, id: u32| -> Result<Instance> {
        let lease = gateway.grant_lease(TTL)?;
        let key = format!("services/{service}/instance-{id}");
        let value = json!({
            "address": format!("10.0.{}.{}:8080", service.len(), 10 + id),
            "version": "1.4.2",
            "zone": if id.is_multiple_of(2) { "eu-west-1b" } else { "eu-west-1a" },
        });
        gateway.put_all(&[Put::new(key.clone(), value.to_string()).with_lease(lease)])?;
        Ok(Instance {
            key,
            lease,
            dies_at: None,
        })
    };
    for service in ["billing", "checkout", "search"] {
        for _ in 0..2 {
            match register(service, next_id) {
                Ok(instance) => instances.push(instance),
                Err(err) => report("services", Err(err)),
            }
            next_id += 1;
        }
    }
    // Ticks of 3 s: renew the living; every 15 ticks one instance stops
    // renewing, and 5 ticks later a new one registers in its place.
    while nap(Duration::from_secs(3), stop) {
        tick += 1;
        for instance in instances
            .iter()
            .filter(|i| i.dies_at.is_none_or(|d| tick < d))
        {
            report("services", gateway.keep_alive(instance.lease));
        }
        if tick.is_multiple_of(15) && !instances.is_empty() {
            let victim = (tick / 15) as usize % instances.len();
            instances[victim].dies_at = Some(tick);
        }
        let replaced: Vec<String> = instances
            .iter()
            .filter(|i| i.dies_at.is_some_and(|d| tick == d + 5))
            .map(|i| i.key.clone())
            .collect();
        instances.retain(|i| !replaced.contains(&i.key));
        for key in replaced {
            let service = key.split('/').nth(1).unwrap_or("billing").to_owned();
            match register(&service, next_id) {
                Ok(instance) => instances.push(instance),
                Err(err) => report("services", Err(err)),
            }
            next_id += 1;
        }
    }
}

fn run_queue(gateway: &Gateway, stop: &AtomicBool) {
    const TICK: Duration = Duration::from_millis(500);
    let started = Instant::now();
    let mut owed = 0.0_f64;
    while nap(TICK, stop) {
        // Between 0.5 and 5.5 items a second, over a four-minute swing;
        // the consumer takes 3 a second.
        let phase = started.elapsed().as_secs_f64() / 240.0 * std::f64::consts::TAU;
        owed += (3.0 + 2.5 * phase.sin()) * TICK.as_secs_f64();
        let mut items = Vec::new();
        while owed >= 1.0 {
            owed -= 1.0;
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
                + items.len() as u128;
            items.push(Put::new(
                format!("queue/emails/{nanos:019}"),
                json!({ "to": "customer@example.com", "template": "receipt" }).to_string(),
            ));
        }
        report("queue", gateway.put_all(&items));
        // 3 a second: one or two per half-second tick.
        let take = if (started.elapsed().as_millis() / 500).is_multiple_of(2) {
            1
        } else {
            2
        };
        for _ in 0..take {
            report(
                "queue",
                gateway
                    .first_key("queue/emails/")
                    .and_then(|first| match first {
                        Some(key) => gateway.delete(&key),
                        None => Ok(()),
                    }),
            );
        }
    }
}

fn run_lock_worker(
    worker: u32,
    etcdctl: &Etcdctl,
    children: &Mutex<Vec<Child>>,
    stop: &AtomicBool,
) {
    // Start apart, so the order of waiters is visible.
    if !nap(Duration::from_secs(u64::from(worker) * 2), stop) {
        return;
    }
    loop {
        let hold = (4 + worker * 2).to_string();
        match etcdctl
            .command(&["lock", "/locks/batch-job", "sleep", &hold])
            .spawn()
        {
            Ok(child) => {
                let pid = child.id();
                lock(children).push(child);
                // Wait for it to finish (it holds the lock, then releases it).
                while !stop.load(Ordering::Relaxed) {
                    let mut guard = lock(children);
                    let Some(index) = guard.iter().position(|c| c.id() == pid) else {
                        break;
                    };
                    if let Ok(Some(_)) = guard[index].try_wait() {
                        // Already exited: `wait` only collects its status.
                        let _ = guard.remove(index).wait();
                        break;
                    }
                    drop(guard);
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            Err(err) => report("lock worker", Err(err.into())),
        }
        if !nap(Duration::from_secs(2), stop) {
            return;
        }
    }
}

fn run_election(etcdctl: &Etcdctl, children: &Mutex<Vec<Child>>, stop: &AtomicBool) {
    let spawn = |name: &str| -> Option<u32> {
        match etcdctl
            .command(&["elect", "/election/scheduler", name])
            .spawn()
        {
            Ok(child) => {
                let pid = child.id();
                lock(children).push(child);
                Some(pid)
            }
            Err(err) => {
                report("election", Err(err.into()));
                None
            }
        }
    };
    // Candidates in the order they joined: the first leads.
    let mut candidates: Vec<(String, u32)> = Vec::new();
    for name in ["scheduler-a", "scheduler-b", "scheduler-c"] {
        if let Some(pid) = spawn(name) {
            candidates.push((name.to_owned(), pid));
        }
        if !nap(Duration::from_secs(1), stop) {
            return;
        }
    }
    while nap(Duration::from_secs(30), stop) {
        if candidates.is_empty() {
            continue;
        }
        let (name, pid) = candidates.remove(0);
        // SIGTERM: etcdctl resigns, so the next candidate leads at once.
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        {
            let mut guard = lock(children);
            if let Some(index) = guard.iter().position(|c| c.id() == pid) {
                let mut child = guard.remove(index);
                let _ = child.wait();
            }
        }
        if let Some(pid) = spawn(&name) {
            candidates.push((name, pid));
        }
    }
}
