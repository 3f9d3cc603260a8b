//! Tests of the real-etcd harness itself: auth set-up, restricted users, binary values,
//! background peers, and killing and restarting members of a 3-member cluster.

use std::io::{BufRead, BufReader};

use anyhow::{Context, Result, ensure};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

#[test]
fn single_member_with_auth_serves_root_and_restricts_other_users() -> Result<()> {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth())?;
    assert_eq!(etcd.endpoints().len(), 1);
    assert!(etcd.endpoints()[0].starts_with("http://127.0.0.1:"));

    etcd.etcdctl(&["put", "/app/a", "1"])?;
    etcd.etcdctl(&["put", "/other/b", "2"])?;
    assert_eq!(
        etcd.etcdctl(&["get", "/app/a", "--print-value-only"])?
            .trim(),
        "1"
    );

    // Without credentials nothing is readable: auth really is on.
    let anonymous = etcd.etcdctl_as("", "", &["get", "/app/a"]);
    assert!(
        anonymous.is_err(),
        "anonymous read succeeded: {anonymous:?}"
    );
    // Root credentials work when given explicitly too.
    etcd.etcdctl_as("root", ROOT_PASSWORD, &["get", "/app/a"])?;

    etcd.add_user("viewer", "viewer-pw", &["/app/"], &[])?;
    let read = etcd.etcdctl_as(
        "viewer",
        "viewer-pw",
        &["get", "/app/a", "--print-value-only"],
    )?;
    assert_eq!(read.trim(), "1");
    let outside = etcd
        .etcdctl_as("viewer", "viewer-pw", &["get", "/other/b"])
        .expect_err("viewer read outside its prefix");
    assert!(
        format!("{outside:#}").contains("permission denied"),
        "{outside:#}"
    );
    let write = etcd
        .etcdctl_as("viewer", "viewer-pw", &["put", "/app/a", "2"])
        .expect_err("read-only viewer wrote");
    assert!(
        format!("{write:#}").contains("permission denied"),
        "{write:#}"
    );

    etcd.add_user("editor", "editor-pw", &[], &["/app/"])?;
    etcd.etcdctl_as("editor", "editor-pw", &["put", "/app/a", "3"])?;
    assert_eq!(
        etcd.etcdctl(&["get", "/app/a", "--print-value-only"])?
            .trim(),
        "3"
    );
    Ok(())
}

#[test]
fn binary_values_go_through_stdin_and_peers_run_in_the_background() -> Result<()> {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth())?;
    let value = [0u8, 159, 146, 150, 255, b'\n'];
    etcd.etcdctl_with_stdin(&["put", "/bin/v"], &value)?;
    let hex = etcd.etcdctl(&["get", "/bin/v", "--print-value-only", "--hex"])?;
    assert_eq!(hex.trim(), r"\x00\x9f\x92\x96\xff\x0a");

    // A real `etcdctl lock` holder: its key appears under the lock prefix.
    let mut holder = etcd.spawn_etcdctl(&["lock", "/locks/job"])?;
    let stdout = holder.stdout.take().context("lock holder stdout")?;
    let mut first_line = String::new();
    BufReader::new(stdout).read_line(&mut first_line)?;
    ensure!(
        first_line.starts_with("/locks/job/"),
        "lock said {first_line:?}"
    );
    let keys = etcd.etcdctl(&["get", "/locks/job/", "--prefix", "--keys-only"])?;
    assert_eq!(keys.trim(), first_line.trim());
    holder.kill()?;
    holder.wait()?;
    Ok(())
}

#[test]
fn three_members_survive_killing_and_restarting_one() -> Result<()> {
    let mut etcd = EtcdCluster::start(ClusterOptions::three().with_auth())?;
    assert_eq!(etcd.endpoints().len(), 3);
    etcd.etcdctl(&["put", "k", "before"])?;

    let leader = etcd.leader()?;
    etcd.kill(leader)?;
    assert!(!etcd.is_running(leader));
    let new_leader = etcd.leader()?;
    assert_ne!(new_leader, leader);
    etcd.etcdctl(&["put", "k", "during"])?;

    etcd.restart(leader)?;
    assert!(etcd.is_running(leader));
    // The restarted member catches up: read from it alone, serializably.
    let endpoint = etcd.endpoint(leader);
    let mut read = etcd.etcdctl_command(&["get", "k", "--print-value-only", "--consistency=s"]);
    read.arg(format!("--endpoints={endpoint}"));
    let out = read.output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "during");
    Ok(())
}

#[test]
fn clusters_in_parallel_get_distinct_ports() -> Result<()> {
    let a = EtcdCluster::start(ClusterOptions::single())?;
    let b = EtcdCluster::start(ClusterOptions::single())?;
    assert_ne!(a.endpoints(), b.endpoints());
    a.etcdctl(&["put", "only-in-a", "1"])?;
    assert_eq!(b.etcdctl(&["get", "only-in-a"])?.trim(), "");
    Ok(())
}
