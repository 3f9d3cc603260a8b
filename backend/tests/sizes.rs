//! Sizes from the keyspace model. On generated trees (binary keys, `\xff`
//! bytes), a level answered from the model's store equals the skip-scan's
//! answer over an independent source, page by page, and its bytes equal a
//! brute-force sum. Against a real etcd with auth: a store filled from a
//! full read answers the levels etcdeck's HTTP API gives at the same
//! revision, its sizes and largest prefixes equal sums over the full read,
//! and a user whose role reads only `/app/` (found as that user's own etcd
//! session) is shown sizes covering only `/app/`. With the model off, the
//! sizes view says so.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use etcd_client::{Client, ConnectOptions, GetOptions};
use etcdeck::config::Credentials;
use etcdeck::etcd::EtcdSession;
use etcdeck::model::access::Readable;
use etcdeck::model::sizes::Size;
use etcdeck::model::{Entry, Store, level};
use etcdeck::tree::{self, End, KeySource, RangeKeys, RangeRead};
use etcdeck_shared::model::ModelState;
use etcdeck_shared::sizes::{SIZES_PATH, Sizes};
use etcdeck_shared::{Bytes, Child, Level};
use proptest::prelude::*;
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// An independent source for the skip-scan: a sorted set, every read at
/// revision 5, counts by walking the range.
struct SetSource(BTreeSet<Vec<u8>>);

impl SetSource {
    fn in_range<'a>(&'a self, start: &[u8], end: &End) -> impl Iterator<Item = &'a Vec<u8>> {
        let end = end.clone();
        self.0
            .range(start.to_vec()..)
            .take_while(move |k| end.as_ref().is_none_or(|e| k.as_slice() < e.as_slice()))
    }
}

impl KeySource for SetSource {
    type Error = ();

    async fn range_keys(&self, read: RangeRead) -> Result<RangeKeys, ()> {
        let all: Vec<Vec<u8>> = self.in_range(&read.start, &read.end).cloned().collect();
        Ok(RangeKeys {
            more: all.len() > read.limit,
            keys: all.into_iter().take(read.limit).collect(),
            revision: 5,
        })
    }

    async fn count_ranges(&self, ranges: Vec<(Vec<u8>, End)>, _: i64) -> Result<Vec<u64>, ()> {
        Ok(ranges
            .iter()
            .map(|(s, e)| self.in_range(s, e).count() as u64)
            .collect())
    }
}

fn entry(value_size: u32) -> Entry {
    Entry {
        create_revision: 2,
        mod_revision: 3,
        version: 1,
        lease: 0,
        value_size,
        value: None,
    }
}

fn without_bytes(mut level: Level) -> Level {
    for child in &mut level.children {
        child.bytes = None;
    }
    level
}

/// The bytes of a child by brute force: its own key and every key below it.
fn brute_bytes(keys: &BTreeMap<Vec<u8>, u32>, prefix: &[u8], child: &Child) -> u64 {
    let own = child.key(&Bytes::from(prefix)).0;
    let mut dir = own.clone();
    dir.push(b'/');
    keys.iter()
        .filter(|(k, _)| **k == own || k.starts_with(&dir))
        .map(|(k, v)| k.len() as u64 + u64::from(*v))
        .sum()
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![b'a', b'b', b'/', 0x00, 0x01, 0x7f, 0xfe, 0xff]),
        1..7,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_level_from_the_store_equals_the_skip_scan_page_by_page(
        keys in prop::collection::btree_map(key_strategy(), 0u32..50, 0..40),
        pick in any::<prop::sample::Index>(),
        limit in 1usize..6,
    ) {
        let mut store = Store::new();
        for (key, size) in &keys {
            store.put(key, entry(*size));
        }
        store.set_revision(5);
        let source = SetSource(keys.keys().cloned().collect());
        // A tree prefix of some key (or the whole keyspace).
        let mut prefixes: Vec<Vec<u8>> = vec![Vec::new()];
        for key in keys.keys() {
            for (i, b) in key.iter().enumerate() {
                if *b == b'/' {
                    prefixes.push(key[..=i].to_vec());
                }
            }
        }
        let prefix = pick.get(&prefixes).clone();
        let mut after: Option<Bytes> = None;
        let mut pages = 0;
        loop {
            let ours = level::level(&store, &Readable::all(), &prefix, b"/", after.as_ref().map(|a| a.as_slice()), limit)
                .expect("the whole keyspace is readable")
                .expect("the store answers");
            let scan = futures::executor::block_on(tree::list_level_at(
                &source, &prefix, b"/", after.as_ref().map(|a| a.as_slice()), limit, Some(5),
            ))
            .expect("the set answers");
            for child in &ours.children {
                prop_assert_eq!(child.bytes, Some(brute_bytes(&keys, &prefix, child)));
            }
            let next = ours.next.clone();
            prop_assert_eq!(without_bytes(ours), scan);
            pages += 1;
            prop_assert!(pages < 100, "the pages end");
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
}

/// Every key with its value size, read as root at one revision, into a
/// store (the model's builder is not part of this test).
async fn full_read(client: &Client) -> (Store, BTreeMap<Vec<u8>, u32>) {
    let mut client = client.clone();
    let response = client
        .get(vec![0u8], Some(GetOptions::new().with_range(vec![0u8])))
        .await
        .expect("full read");
    let mut store = Store::new();
    let mut keys = BTreeMap::new();
    for kv in response.kvs() {
        keys.insert(kv.key().to_vec(), kv.value().len() as u32);
        store.put(
            kv.key(),
            Entry {
                create_revision: kv.create_revision(),
                mod_revision: kv.mod_revision(),
                version: kv.version(),
                lease: kv.lease(),
                value_size: kv.value().len() as u32,
                value: Some(Arc::from(kv.value())),
            },
        );
    }
    store.set_revision(response.header().expect("header").revision());
    (store, keys)
}

fn sum_under(keys: &BTreeMap<Vec<u8>, u32>, prefix: &[u8]) -> Size {
    let mut size = Size::default();
    for (key, value) in keys.iter().filter(|(k, _)| k.starts_with(prefix)) {
        size.add(Size::of(key, *value));
    }
    size
}

#[tokio::test]
async fn sizes_and_levels_from_a_store_match_etcd_and_a_limited_user_sees_only_app() {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user("alice", "alice-password", &["/app/"], &[])
        .expect("add alice");
    let client = Client::connect(
        etcd.endpoints(),
        Some(ConnectOptions::new().with_user("root", ROOT_PASSWORD)),
    )
    .await
    .expect("connect");
    let mut writer = client.clone();
    let mut written = 0;
    for (key, value) in [
        (&b"/app/a"[..], &b"1"[..]),
        (b"/app/db/x", b"a longer value"),
        (b"/app/db/y/z", b"zz"),
        (b"/app/\xff/bin", b"\x00\xff"),
        (b"/app", b"the key beside the prefix"),
        (b"/secret/token", b"a secret value that is large"),
        (b"/secret/deep/k", b"s"),
        (b"/z\xff", b"v"),
        (b"top", b"t"),
    ] {
        writer.put(key, value, None).await.expect("put");
        written += 1;
    }
    let (store, keys) = full_read(&client).await;
    assert_eq!(store.len(), written);

    // The levels etcdeck's skip-scan answers over HTTP at the store's
    // revision are the store's, less the bytes; the bytes are sums.
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start etcdeck");
    for prefix in [&b""[..], b"/", b"/app/", b"/app/db/", b"/secret/"] {
        let url = format!(
            "{}?prefix={}&limit=1000&revision={}",
            etcdeck_shared::path::LEVEL,
            Bytes::from(prefix).to_url(),
            store.revision()
        );
        let over_etcd: Level = server.get_json(&url).await.expect("level");
        let ours = level::level(&store, &Readable::all(), prefix, b"/", None, 1000)
            .expect("root reads everything")
            .expect("the store answers");
        for child in &ours.children {
            assert_eq!(child.bytes, Some(brute_bytes(&keys, prefix, child)));
        }
        assert_eq!(without_bytes(ours), over_etcd, "level {prefix:?}");
    }

    // The largest prefixes of `/` as root: `/secret/` (56 bytes) then
    // `/app/` (55), each
    // the sum of its keys; `/app` and `/z\xff` lie directly under `/`.
    let top = level::largest(&store, &Readable::all(), b"/", 20).expect("a tree prefix");
    let names: Vec<Bytes> = top.largest.iter().map(|p| p.prefix.clone()).collect();
    assert_eq!(names, vec![Bytes::from("/secret/"), Bytes::from("/app/")]);
    for row in &top.largest {
        let sum = sum_under(&keys, row.prefix.as_slice());
        assert_eq!((row.size.keys, row.size.bytes), (sum.keys, sum.bytes));
    }
    let under_slash = sum_under(&keys, b"/");
    assert_eq!(
        (top.here.keys, top.here.bytes),
        (under_slash.keys, under_slash.bytes)
    );
    assert_eq!(top.direct.keys, 2);

    // alice's readable ranges, asked as alice's own etcd session: her role
    // reads `/app/` only, so her sizes cover only `/app/`.
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let own = EtcdSession::start(
        config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))).etcd,
        etcdeck::metrics::Metrics::new(),
        shutdown,
    )
    .await
    .expect("etcdeck's session");
    let alice = own
        .login(Credentials {
            user: "alice".into(),
            password: etcdeck::config::Password::new("alice-password"),
        })
        .await
        .expect("alice logs in");
    let permissions = alice
        .own_permissions("alice")
        .await
        .expect("alice reads her own user and role")
        .expect("alice is not root");
    let readable = Readable::from_permissions(&permissions);
    assert_eq!(own.own_permissions("root").await.expect("root's"), None);

    let app = sum_under(&keys, b"/app/");
    assert_eq!(readable.size_under(&store, b""), app);
    assert_eq!(readable.size_under(&store, b"/secret/"), Size::default());
    let hers = level::largest(&store, &readable, b"/", 20).expect("a tree prefix");
    assert_eq!(
        hers.largest
            .iter()
            .map(|p| p.prefix.clone())
            .collect::<Vec<_>>(),
        vec![Bytes::from("/app/")]
    );
    assert_eq!((hers.here.keys, hers.here.bytes), (app.keys, app.bytes));
    assert_eq!(hers.direct.keys, 0, "`/app` itself is not hers to read");
    // A level she may not read in whole is not answered from the model (etcd
    // decides, as her); one she may is, with the same sizes as root's.
    assert!(level::level(&store, &readable, b"/", b"/", None, 100).is_none());
    let app_level = level::level(&store, &readable, b"/app/", b"/", None, 100)
        .expect("she reads /app/")
        .expect("the store answers");
    assert_eq!(app_level.children.len(), 3);

    // With the model off, the view says so instead of scanning etcd.
    let view: Sizes = server
        .get_json(&format!("{SIZES_PATH}?prefix=%2F"))
        .await
        .expect("sizes view");
    assert_eq!(
        view,
        Sizes::Unavailable {
            state: ModelState::Off
        }
    );
    let refused = server
        .get_json::<Sizes>(&format!("{SIZES_PATH}?prefix=%2Fap"))
        .await;
    assert_eq!(refused.map_err(|(code, _)| code), Err(400));
    server.stop().await;
}
