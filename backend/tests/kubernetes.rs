//! Kubernetes values against a real etcd with auth: objects in the API
//! server's protobuf envelope (built with `k8s-pb`'s types) and a gzip'd
//! value, put under `/registry/` with etcdctl, are answered decoded by
//! `GET /api/v1/decoded`; every write through etcdeck that would change a
//! key there (put, delete, prefix delete, copy into it, rename out of it,
//! revoking a lease a key there is on) is refused with the sentence, even
//! for root, and etcd's keys are unchanged; and the "copy as etcdctl
//! commands" script, run by bash with the real etcdctl, recreates text and
//! binary keys byte for byte.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;

use etcdeck_shared::edit::{
    CopyRequest, DeletePrefixRequest, DeleteRequest, LeaseChoice, LeaseRequest, PutRequest,
    Written, path as edit_path,
};
use etcdeck_shared::etcdctl::{KeyToCopy, commands};
use etcdeck_shared::kubernetes::{Content, DECODED_PATH, Decoded, REFUSAL};
use etcdeck_shared::{Bytes, LeaseId, Revision};
use k8s_pb::api::coordination::v1::{Lease, LeaseSpec};
use k8s_pb::api::core::v1::ConfigMap;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message as _;
use support::live::root_server;
use xtask::harness::{ClusterOptions, EtcdCluster};

const CONFIG_MAP_KEY: &str = "/registry/configmaps/default/web-config";
const LEASE_KEY: &str = "/registry/leases/kube-node-lease/node-1";
const WIDGET_KEY: &str = "/registry/example.com/widgets/default/w1";
const GZIP_KEY: &str = "/app/compressed";

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

fn meta(namespace: &str, name: &str) -> Option<ObjectMeta> {
    Some(ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..Default::default()
    })
}

fn fixtures(etcd: &EtcdCluster) {
    let config_map = ConfigMap {
        metadata: meta("default", "web-config"),
        data: BTreeMap::from([("mode".to_owned(), "production".to_owned())]),
        ..Default::default()
    };
    let lease = Lease {
        metadata: meta("kube-node-lease", "node-1"),
        spec: Some(LeaseSpec {
            holder_identity: Some("node-1".into()),
            lease_duration_seconds: Some(40),
            ..Default::default()
        }),
    };
    let puts = [
        (
            CONFIG_MAP_KEY,
            envelope("v1", "ConfigMap", config_map.encode_to_vec()),
        ),
        (
            LEASE_KEY,
            envelope("coordination.k8s.io/v1", "Lease", lease.encode_to_vec()),
        ),
        (
            WIDGET_KEY,
            envelope("example.com/v1", "Widget", vec![1, 2, 3]),
        ),
    ];
    for (key, value) in puts {
        etcd.etcdctl_with_stdin(&["put", key], &value).expect("put");
    }
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(b"{\"hello\": \"compressed\"}")
        .expect("in memory");
    etcd.etcdctl_with_stdin(&["put", GZIP_KEY], &gzip.finish().expect("in memory"))
        .expect("put");
}

fn decoded_path(key: &str) -> String {
    format!("{DECODED_PATH}?key={}", Bytes::from(key).to_url())
}

/// The raw value of `key` as etcd holds it.
fn stored(etcd: &EtcdCluster, key: &[u8]) -> Option<Vec<u8>> {
    let out = etcd
        .etcdctl(&["get", "-w", "json", &String::from_utf8_lossy(key)])
        .expect("get");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    json["kvs"][0]["value"].as_str().map(|v| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .expect("base64")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_values_are_decoded_and_never_written() {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    fixtures(&etcd);
    let server = root_server(&etcd).await;

    // Decoded through the API.
    let config_map: Decoded = server
        .get_json(&decoded_path(CONFIG_MAP_KEY))
        .await
        .expect("decoded");
    let Content::Kubernetes(object) = config_map.content else {
        panic!("not decoded: {config_map:?}");
    };
    assert_eq!(
        (
            object.api_version.as_str(),
            object.kind.as_str(),
            object.namespace.as_deref(),
            object.name.as_deref()
        ),
        ("v1", "ConfigMap", Some("default"), Some("web-config"))
    );
    assert_eq!(
        object.yaml.as_deref(),
        Some(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: default\ndata:\n  mode: production\n"
        )
    );
    let lease: Decoded = server
        .get_json(&decoded_path(LEASE_KEY))
        .await
        .expect("decoded");
    assert!(
        matches!(&lease.content, Content::Kubernetes(o) if o.kind == "Lease"
            && o.yaml.as_deref().is_some_and(|y| y.contains("holderIdentity: node-1"))),
        "{lease:?}"
    );
    let widget: Decoded = server
        .get_json(&decoded_path(WIDGET_KEY))
        .await
        .expect("decoded");
    let Content::Kubernetes(widget) = widget.content else {
        panic!("not an envelope: {widget:?}");
    };
    assert_eq!((widget.kind.as_str(), widget.yaml), ("Widget", None));
    assert_eq!(widget.raw, Some(Bytes(vec![1, 2, 3])));
    let gzip: Decoded = server
        .get_json(&decoded_path(GZIP_KEY))
        .await
        .expect("decoded");
    assert_eq!(
        gzip.content,
        Content::Bytes {
            bytes: Bytes::from("{\"hello\": \"compressed\"}")
        }
    );
    assert_eq!(gzip.gzip.map(|g| g.decompressed), Some(23));

    // Every write path is refused, even for root, with the sentence.
    let before = stored(&etcd, CONFIG_MAP_KEY.as_bytes());
    let revision = config_map.mod_revision;
    let refused = |result: Result<Written, (u16, serde_json::Value)>, what: &str| {
        let (code, body) = result.expect_err(what);
        assert_eq!(code, 403, "{what}: {body}");
        assert_eq!(body["message"], REFUSAL, "{what}: {body}");
    };
    refused(
        server
            .post_json(
                edit_path::PUT,
                &PutRequest {
                    key: Bytes::from(CONFIG_MAP_KEY),
                    value: Bytes::from("overwritten"),
                    expect_mod_revision: revision,
                    lease: LeaseChoice::Keep,
                },
            )
            .await,
        "put",
    );
    refused(
        server
            .post_json(
                edit_path::DELETE,
                &DeleteRequest {
                    key: Bytes::from(CONFIG_MAP_KEY),
                    expect_mod_revision: revision,
                },
            )
            .await,
        "delete",
    );
    for prefix in ["/registry/", "/registry/configmaps/", "/reg", "/"] {
        refused(
            server
                .post_json(
                    edit_path::DELETE_PREFIX,
                    &DeletePrefixRequest {
                        prefix: Bytes::from(prefix),
                        revision,
                        count: 3,
                        confirm: prefix.to_owned(),
                    },
                )
                .await,
            "delete prefix",
        );
    }
    let copy = |from: &str, to: &str, rename: bool| CopyRequest {
        from: Bytes::from(from),
        to: Bytes::from(to),
        prefix: false,
        rename,
        revision: Revision(i64::MAX / 2),
    };
    refused(
        server
            .post_json(
                edit_path::COPY,
                &copy(GZIP_KEY, "/registry/configmaps/default/x", false),
            )
            .await,
        "copy into the registry",
    );
    refused(
        server
            .post_json(edit_path::COPY, &copy(CONFIG_MAP_KEY, "/app/moved", true))
            .await,
        "rename out of the registry",
    );
    // Copying out of it only reads it.
    let copied: Written = server
        .post_json(edit_path::COPY, &copy(CONFIG_MAP_KEY, "/app/copied", false))
        .await
        .expect("copy out of the registry");
    assert_eq!(copied.keys, 1);
    assert_eq!(stored(&etcd, b"/app/copied"), before);

    // A lease that a Kubernetes key is on is not revoked through etcdeck.
    let granted = etcd.etcdctl(&["lease", "grant", "600"]).expect("grant");
    let id = granted
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_owned();
    etcd.etcdctl(&[
        "put",
        "--lease",
        &id,
        "/registry/events/default/e1",
        "event",
    ])
    .expect("put on lease");
    refused(
        server
            .post_json(
                edit_path::LEASE_REVOKE,
                &LeaseRequest {
                    id: LeaseId(i64::from_str_radix(&id, 16).expect("hex id")),
                },
            )
            .await,
        "lease revoke",
    );
    assert!(stored(&etcd, b"/registry/events/default/e1").is_some());

    assert_eq!(stored(&etcd, CONFIG_MAP_KEY.as_bytes()), before);
    assert!(stored(&etcd, b"/registry/configmaps/default/x").is_none());
    // Writes elsewhere still work.
    let _: Written = server
        .post_json(
            edit_path::PUT,
            &PutRequest {
                key: Bytes::from("/app/other"),
                value: Bytes::from("fine"),
                expect_mod_revision: Revision(0),
                lease: LeaseChoice::Keep,
            },
        )
        .await
        .expect("a write outside the registry");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_etcdctl_script_recreates_keys_byte_for_byte() {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    let keys: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"/copy/text".to_vec(), b"plain 'quoted' $HOME `x`".to_vec()),
        (b"/copy/lines".to_vec(), b"a\nb\n".to_vec()),
        (b"/copy/empty".to_vec(), Vec::new()),
        (b"/copy/-dash".to_vec(), b"-v".to_vec()),
        (b"/copy/bin".to_vec(), vec![0, 1, 2, 0xff, 0xfe, b'\n', 0]),
        (
            vec![b'/', b'c', b'o', b'p', b'y', b'/', 0xfe, b'\'', b'\\'],
            b"v".to_vec(),
        ),
    ];
    let items: Vec<KeyToCopy> = keys
        .iter()
        .map(|(k, v)| KeyToCopy {
            key: Bytes(k.clone()),
            value: Some(Bytes(v.clone())),
            lease: None,
        })
        .collect();
    let script = commands(&items, &etcd.endpoints(), Some("root"));
    // The user's password is asked by etcdctl; the test gives it in the variable.
    let script = script.replace(
        "ETCD_USER='root'",
        &format!("ETCD_USER='root:{}'", xtask::harness::ROOT_PASSWORD),
    );
    let output = std::process::Command::new("bash")
        .arg("-euc")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        output.status.success(),
        "the script failed: {}\n{script}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (key, value) in &keys {
        assert_eq!(
            stored_exact(&etcd, key).as_ref(),
            Some(value),
            "{}",
            Bytes(key.clone()).display()
        );
    }
}

/// The value of `key` (any bytes) through etcd's JSON output of a range.
fn stored_exact(etcd: &EtcdCluster, key: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let out = etcd
        .etcdctl(&["get", "--prefix", "/copy/", "-w", "json"])
        .expect("get");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let engine = base64::engine::general_purpose::STANDARD;
    json["kvs"].as_array()?.iter().find_map(|kv| {
        let k = engine.decode(kv["key"].as_str()?).ok()?;
        (k == key).then(|| {
            engine
                .decode(kv["value"].as_str().unwrap_or(""))
                .unwrap_or_default()
        })
    })
}
