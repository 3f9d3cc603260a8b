//! Search over keys and values against a real, auth-enabled etcd: a string
//! inside one value among 100,000 keys, a binary needle, regexes, paging in
//! key order, the model's answer equal to etcd's, a changed key matched
//! again, and a user limited to `/app/` who learns nothing of `/secret/`.
//!
//! The model's builder is not part of these tests: the model here is built
//! from one full read as etcdeck's own user (as the builder does), and the
//! model path is driven through `etcdeck::api::search::answer`, the
//! function the HTTP handler calls.

mod support;

use etcd_client::{Client, ConnectOptions, Txn, TxnOp};
use etcdeck::api::search::answer;
use etcdeck::config::{Credentials, EtcdConfig, Password};
use etcdeck::etcd::EtcdSession;
use etcdeck::metrics::Metrics;
use etcdeck::model::{Entry, Model, Store};
use etcdeck_shared::search::{
    MatchIn, SEARCH_PATH, SearchAnswer, SearchHit, SearchIn, SearchMode, SearchRequest,
    SearchSource,
};
use etcdeck_shared::{ApiError, Bytes, ErrorCode};
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const ALICE: (&str, &str) = ("alice", "alice-password");

fn etcd() -> EtcdCluster {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user(ALICE.0, ALICE.1, &["/app/"], &["/app/"])
        .expect("add alice");
    etcd
}

async fn root_client(etcd: &EtcdCluster) -> Client {
    let options = ConnectOptions::new().with_user("root", ROOT_PASSWORD);
    Client::connect(etcd.endpoints(), Some(options))
        .await
        .expect("connect as root")
}

async fn put_all(client: &mut Client, kvs: Vec<(Vec<u8>, Vec<u8>)>) {
    for chunk in kvs.chunks(128) {
        let ops = chunk
            .iter()
            .map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None))
            .collect::<Vec<_>>();
        client
            .txn(Txn::new().and_then(ops))
            .await
            .expect("seed txn");
    }
}

/// An etcd session as `user`, as a login makes one.
async fn session(etcd: &EtcdCluster, user: (&str, &str)) -> EtcdSession {
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let config = EtcdConfig {
        endpoints: etcd.endpoints(),
        credentials: Some(Credentials {
            user: user.0.to_owned(),
            password: Password::new(user.1),
        }),
        tls: None,
    };
    // The prober runs until `_stop` is dropped with the test.
    std::mem::forget(_stop);
    EtcdSession::start(config, Metrics::new(), stopped)
        .await
        .expect("etcd session")
}

/// The model as its builder makes it: every key with its value, read page
/// by page at one revision as etcdeck's own user.
async fn model_of(root: &EtcdSession) -> Model {
    let mut store = Store::new();
    let mut start = vec![0];
    let mut revision = None;
    loop {
        let page = root
            .search_page(&start, &[0], 5_000, revision, false)
            .await
            .expect("full read");
        revision.get_or_insert(page.revision);
        for kv in &page.kvs {
            store.put(
                &kv.key,
                Entry {
                    create_revision: kv.create_revision,
                    mod_revision: kv.mod_revision,
                    version: kv.version,
                    lease: kv.lease,
                    value_size: kv.value.len() as u32,
                    value: Some(kv.value.as_slice().into()),
                },
            );
        }
        match page.kvs.last() {
            Some(last) if page.more => {
                start = last.key.clone();
                start.push(0);
            }
            _ => break,
        }
    }
    store.set_revision(revision.unwrap_or_default());
    Model::ready_with(store)
}

/// Every page of `request`, following the cursors as the page does.
async fn all_pages(model: &Model, etcd: &EtcdSession, request: &SearchRequest) -> Vec<SearchHit> {
    let mut request = request.clone();
    let mut hits = Vec::new();
    loop {
        let page = answer(model, etcd, &request).await.expect("search");
        hits.extend(page.hits);
        match page.next {
            Some(next) => {
                request.after = Some(next);
                if page.source == SearchSource::Etcd {
                    request.revision = Some(page.revision);
                }
            }
            None => return hits,
        }
    }
}

fn request(q: &[u8], within: SearchIn) -> SearchRequest {
    SearchRequest {
        q: Bytes::new(q.to_vec()),
        within,
        ..SearchRequest::default()
    }
}

fn keys(hits: &[SearchHit]) -> Vec<String> {
    hits.iter().map(|h| h.key.display()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_value_among_100_000_keys_binary_needles_regexes_and_pages_agree_on_both_paths() {
    let etcd = etcd();
    let mut client = root_client(&etcd).await;
    const N: usize = 100_000;
    let mut kvs: Vec<(Vec<u8>, Vec<u8>)> = (0..N)
        .map(|i| {
            (
                format!("/app/k{i:06}").into_bytes(),
                format!("plain value number {i}").into_bytes(),
            )
        })
        .collect();
    let needle_value = b"{\"note\": \"the Needle-In-A-Haystack is here\"}".to_vec();
    let needle_size = needle_value.len() as u64;
    kvs[61_234].1 = needle_value;
    kvs.push((b"/app/bin".to_vec(), b"\x00\x01\xfe\xff tail".to_vec()));
    put_all(&mut client, kvs).await;

    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");

    // Through HTTP, with the model off: etcd is scanned page by page.
    let mut hits = Vec::new();
    let mut query = "q=needle-in-a-haystack&in=values".to_owned();
    let mut first = true;
    loop {
        let page: SearchAnswer = server
            .get_json(&format!("{SEARCH_PATH}?{query}"))
            .await
            .expect("search");
        assert_eq!(page.source, SearchSource::Etcd);
        if first {
            assert_eq!(page.total, Some(N as u64 + 1));
            first = false;
        }
        hits.extend(page.hits);
        let Some(next) = page.next else { break };
        query = format!(
            "q=needle-in-a-haystack&in=values&after={}&revision={}",
            next.to_url(),
            page.revision
        );
    }
    assert_eq!(keys(&hits), ["/app/k061234"]);
    let hit = &hits[0];
    assert_eq!(hit.matched_in, MatchIn::Value);
    assert_eq!(
        &hit.snippet.as_slice()[hit.match_start as usize..hit.match_end as usize],
        b"Needle-In-A-Haystack"
    );
    assert_eq!(hit.value_size, needle_size);

    // A masked key's value is never searched: the key is found by its name
    // only, so neither a snippet nor a hit tells anything of its value.
    client
        .put("/zz-masked/db/password", "hunter2-masked", None)
        .await
        .expect("put");
    let page: SearchAnswer = server
        .get_json(&format!(
            "{SEARCH_PATH}?q=hunter2&in=both&prefix=/zz-masked/"
        ))
        .await
        .expect("search");
    assert!(page.hits.is_empty(), "{page:?}");
    let page: SearchAnswer = server
        .get_json(&format!(
            "{SEARCH_PATH}?q=password&in=both&prefix=/zz-masked/"
        ))
        .await
        .expect("search");
    assert_eq!(keys(&page.hits), ["/zz-masked/db/password"]);
    assert_eq!(page.hits[0].matched_in, MatchIn::Key);
    client
        .delete("/zz-masked/db/password", None)
        .await
        .expect("delete");

    // A bad regex is a 400 with a sentence.
    let (status, err): (u16, ApiError) = server
        .get_json::<SearchAnswer>(&format!("{SEARCH_PATH}?q=(unclosed&mode=regex"))
        .await
        .expect_err("bad regex");
    assert_eq!((status, err.code), (400, ErrorCode::BadRequest));
    assert!(
        err.message.contains("regular expression"),
        "{}",
        err.message
    );

    let root = session(&etcd, ("root", ROOT_PASSWORD)).await;
    let model = model_of(&root).await;
    let off = Model::disabled();
    let cases: Vec<(SearchRequest, Vec<&str>)> = vec![
        (
            request(b"needle-in-a-haystack", SearchIn::Values),
            vec!["/app/k061234"],
        ),
        (
            SearchRequest {
                case_sensitive: true,
                ..request(b"needle-in-a-haystack", SearchIn::Values)
            },
            vec![],
        ),
        (request(b"\xfe\xff", SearchIn::Both), vec!["/app/bin"]),
        (
            SearchRequest {
                mode: SearchMode::Regex,
                ..request(br"^/app/k00001[0-2]$", SearchIn::Keys)
            },
            vec!["/app/k000010", "/app/k000011", "/app/k000012"],
        ),
        (
            SearchRequest {
                mode: SearchMode::Regex,
                ..request(br"number 9999[0-9]$", SearchIn::Values)
            },
            (99_990..100_000)
                .map(|i| &*Box::leak(format!("/app/k{i:06}").into_boxed_str()))
                .collect(),
        ),
        (
            SearchRequest {
                limit: Some(3),
                ..request(b"/APP/K00000", SearchIn::Keys)
            },
            (0..10)
                .map(|i| &*Box::leak(format!("/app/k{i:06}").into_boxed_str()))
                .collect(),
        ),
    ];
    for (request, expected) in cases {
        let from_model = all_pages(&model, &root, &request).await;
        let from_etcd = all_pages(&off, &root, &request).await;
        assert_eq!(keys(&from_model), expected, "{request:?}");
        assert_eq!(from_model, from_etcd, "{request:?}");
    }

    // A page of the model's answer says where it came from and what it searched.
    let page = answer(&model, &root, &request(b"/app/k0000", SearchIn::Keys))
        .await
        .expect("search");
    assert_eq!(page.source, SearchSource::Model);
    // How many keys etcdeck's own user holds is not the person's to know.
    assert_eq!(page.total, None);
    assert!(page.revision > 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_limited_to_app_learns_nothing_of_secret_and_a_changed_key_is_matched_again() {
    let etcd = etcd();
    let mut client = root_client(&etcd).await;
    put_all(
        &mut client,
        vec![
            (b"/app/a".to_vec(), b"hello".to_vec()),
            (b"/app/also-shared".to_vec(), b"shared-word".to_vec()),
            (b"/app/changes".to_vec(), b"shared-word for now".to_vec()),
            (b"/secret/key-with-classified-name".to_vec(), b"x".to_vec()),
            (b"/secret/v".to_vec(), b"a classified value".to_vec()),
            (b"/secret/w".to_vec(), b"shared-word".to_vec()),
        ],
    )
    .await;
    let root = session(&etcd, ("root", ROOT_PASSWORD)).await;
    let alice = session(&etcd, ALICE).await;
    let model = model_of(&root).await;
    // Changed after the model read it: the model still holds the old value.
    client
        .put("/app/changes", "nothing to see", None)
        .await
        .expect("put");

    // Root sees the secret through the model; alice gets nothing, not even a key name.
    let classified = request(b"classified", SearchIn::Both);
    assert_eq!(
        keys(&all_pages(&model, &root, &classified).await),
        ["/secret/key-with-classified-name", "/secret/v"]
    );
    let page = answer(&model, &alice, &classified).await.expect("search");
    assert!(page.hits.is_empty(), "{page:?}");
    assert_eq!(page.next, None);

    // A word under both prefixes: alice sees hers only; the changed key is
    // matched again on what etcd holds now and dropped.
    let shared = request(b"shared-word", SearchIn::Values);
    assert_eq!(
        keys(&all_pages(&model, &alice, &shared).await),
        ["/app/also-shared"]
    );
    let under_app = SearchRequest {
        prefix: Bytes::from("/app/"),
        ..shared.clone()
    };
    assert_eq!(
        all_pages(&model, &alice, &under_app).await,
        all_pages(&Model::disabled(), &alice, &under_app).await
    );

    // Without the model, etcd itself refuses alice the whole keyspace.
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");
    let login = server
        .log_in(ALICE.0, ALICE.1)
        .await
        .expect("alice logs in");
    server.use_session(Some(login));
    let (status, err) = server
        .get_json::<SearchAnswer>(&format!("{SEARCH_PATH}?q=classified"))
        .await
        .expect_err("refused");
    assert_eq!((status, err.code), (403, ErrorCode::PermissionDenied));
    assert!(!err.message.contains("classified-name"), "{}", err.message);
    let page: SearchAnswer = server
        .get_json(&format!("{SEARCH_PATH}?q=classified&prefix=/app/"))
        .await
        .expect("search under /app/");
    assert!(page.hits.is_empty() && page.next.is_none(), "{page:?}");
    server.stop().await;
}
