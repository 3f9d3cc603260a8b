//! The demo workload against a real etcd with auth: after a few seconds
//! there are services on leases, a contended lock with a holder and waiters
//! (real `etcdctl lock`), election candidates (real `etcdctl elect`) and
//! queue items; stopping it leaves no etcdctl process behind.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use xtask::gateway::Gateway;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};
use xtask::workload::{Etcdctl, Workload};

fn keys(etcd: &EtcdCluster, prefix: &str) -> Result<Vec<String>> {
    Ok(etcd
        .etcdctl(&["get", prefix, "--prefix", "--keys-only"])?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

#[test]
fn the_demo_workload_moves_every_coordination_view() -> Result<()> {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth())?;
    let endpoint = etcd.endpoint(0);
    let connect_to = endpoint.clone();
    let workload = Workload::start(
        Etcdctl {
            endpoint,
            user: "root".into(),
            password: ROOT_PASSWORD.into(),
        },
        move || Gateway::connect(&connect_to, Some(("root", ROOT_PASSWORD))),
    )?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let services = keys(&etcd, "services/")?;
        let lockers = keys(&etcd, "/locks/batch-job/")?;
        let candidates = keys(&etcd, "/election/scheduler/")?;
        let queue = keys(&etcd, "queue/emails/")?;
        if services.len() == 6 && lockers.len() >= 2 && candidates.len() == 3 && !queue.is_empty() {
            break true;
        }
        if Instant::now() > deadline {
            eprintln!(
                "services {services:?}\nlockers {lockers:?}\ncandidates {candidates:?}\nqueue {}",
                queue.len()
            );
            break false;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    workload.stop();
    ensure!(
        ready,
        "the workload did not get every part moving within 20 s"
    );
    // The lock and election keys go with their etcdctl sessions.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(keys(&etcd, "/locks/batch-job/")?.is_empty()
        && keys(&etcd, "/election/scheduler/")?.is_empty())
    {
        ensure!(
            Instant::now() < deadline,
            "lock or election keys outlived the stopped workload"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}
