//! Tests of bulk writes through etcd's JSON gateway, against a real etcd with auth.

use anyhow::Result;
use xtask::gateway::{Gateway, Put};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

#[test]
fn bulk_puts_keep_bytes_and_leases() -> Result<()> {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth())?;
    let gateway = Gateway::connect(&etcd.endpoint(0), Some(("root", ROOT_PASSWORD)))?;
    let lease = gateway.grant_lease(300)?;
    let mut puts: Vec<Put> = (0..250)
        .map(|i| Put::new(format!("/wide/item-{i:03}"), format!("{i}")))
        .collect();
    puts.push(Put::new(b"/raw/caf\xe9".to_vec(), vec![0u8, 255, 10]));
    puts.push(Put::new("services/a/1", "{}").with_lease(lease));
    gateway.put_all(&puts)?;

    let keys = etcd.etcdctl(&["get", "/wide/", "--prefix", "--keys-only"])?;
    assert_eq!(keys.lines().filter(|l| !l.is_empty()).count(), 250);
    let raw = etcd.etcdctl(&["get", "/raw/", "--prefix", "--hex"])?;
    assert_eq!(
        raw.trim(),
        "\\x2f\\x72\\x61\\x77\\x2f\\x63\\x61\\x66\\xe9\n\\x00\\xff\\x0a"
    );
    let leased = etcd.etcdctl(&["get", "services/a/1", "--write-out=fields"])?;
    assert!(leased.contains(&format!("\"Lease\" : {lease}")), "{leased}");

    assert!(gateway.exists(b"/wide/item-249")?);
    assert!(!gateway.exists(b"/wide/item-250")?);
    assert!(Gateway::connect(&etcd.endpoint(0), Some(("root", "wrong"))).is_err());
    Ok(())
}
