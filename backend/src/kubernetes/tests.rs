//! Real Kubernetes protobuf values, built with `k8s-pb`'s own types and
//! wrapped in the envelope the API server writes, decode to the YAML
//! `kubectl` would show.

use std::collections::BTreeMap;
use std::io::Write as _;

use etcdeck_shared::kubernetes::{Content, KubeObject};
use k8s_pb::api::coordination::v1::{Lease, LeaseSpec};
use k8s_pb::api::core::v1::{ConfigMap, Container, ContainerPort, Pod, PodSpec};
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message as _;

use super::decode;

/// `k8s\0` and a `runtime.Unknown` holding `raw`, as the API server stores it.
pub(crate) fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
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

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        uid: Some("6f1c8c3e-0000-4000-8000-000000000001".into()),
        creation_timestamp: Some(Time {
            seconds: Some(1_709_210_096),
            nanos: Some(0),
        }),
        labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
        ..Default::default()
    }
}

pub(crate) fn config_map() -> Vec<u8> {
    let object = ConfigMap {
        metadata: Some(meta("default", "web-config")),
        data: BTreeMap::from([
            ("mode".to_owned(), "production".to_owned()),
            (
                "nginx.conf".to_owned(),
                "server {\n  listen 80;\n}\n".to_owned(),
            ),
        ]),
        binary_data: BTreeMap::from([("blob".to_owned(), vec![0, 1, 2, 255])]),
        ..Default::default()
    };
    envelope("v1", "ConfigMap", object.encode_to_vec())
}

pub(crate) fn pod() -> Vec<u8> {
    let object = Pod {
        metadata: Some(meta("default", "web-0")),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: Some("nginx".into()),
                image: Some("nginx:1.27".into()),
                ports: vec![ContainerPort {
                    container_port: Some(80),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }],
                resources: Some(k8s_pb::api::core::v1::ResourceRequirements {
                    limits: BTreeMap::from([(
                        "cpu".to_owned(),
                        Quantity {
                            string: Some("500m".into()),
                        },
                    )]),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            node_name: Some("node-1".into()),
            ..Default::default()
        }),
        status: None,
    };
    envelope("v1", "Pod", object.encode_to_vec())
}

pub(crate) fn lease() -> Vec<u8> {
    let object = Lease {
        metadata: Some(ObjectMeta {
            name: Some("node-1".into()),
            namespace: Some("kube-node-lease".into()),
            ..Default::default()
        }),
        spec: Some(LeaseSpec {
            holder_identity: Some("node-1".into()),
            lease_duration_seconds: Some(40),
            renew_time: Some(MicroTime {
                seconds: Some(1_709_210_096),
                nanos: Some(123_456_000),
            }),
            ..Default::default()
        }),
    };
    envelope("coordination.k8s.io/v1", "Lease", object.encode_to_vec())
}

/// An object of a kind `k8s-pb` does not define (any bytes will do).
pub(crate) fn widget() -> Vec<u8> {
    envelope(
        "example.com/v1",
        "Widget",
        vec![0x0a, 0x03, b'a', b'b', b'c'],
    )
}

fn object(value: &[u8]) -> KubeObject {
    match decode(value) {
        (None, Content::Kubernetes(object)) => object,
        other => panic!("not an uncompressed Kubernetes object: {other:?}"),
    }
}

#[test]
fn a_config_map_decodes_to_yaml() {
    let object = object(&config_map());
    assert_eq!(object.kind, "ConfigMap");
    assert_eq!(object.api_version, "v1");
    assert_eq!(object.namespace.as_deref(), Some("default"));
    assert_eq!(object.name.as_deref(), Some("web-config"));
    assert_eq!(object.note, None);
    assert_eq!(
        object.yaml.as_deref(),
        Some(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: default
  uid: 6f1c8c3e-0000-4000-8000-000000000001
  creationTimestamp: \"2024-02-29T12:34:56Z\"
  labels:
    app: web
data:
  mode: production
  nginx.conf: |
    server {
      listen 80;
    }
binaryData:
  blob: AAEC/w==
"
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(object.json.as_deref().expect("json")).expect("valid JSON");
    assert_eq!(json["data"]["mode"], "production");
    assert_eq!(json["kind"], "ConfigMap");
}

#[test]
fn a_pod_decodes_to_yaml() {
    let object = object(&pod());
    assert_eq!(
        (object.kind.as_str(), object.name.as_deref()),
        ("Pod", Some("web-0"))
    );
    assert_eq!(
        object.yaml.as_deref(),
        Some(
            "apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: default
  uid: 6f1c8c3e-0000-4000-8000-000000000001
  creationTimestamp: \"2024-02-29T12:34:56Z\"
  labels:
    app: web
spec:
  containers:
  - name: nginx
    image: \"nginx:1.27\"
    ports:
    - containerPort: 80
      protocol: TCP
    resources:
      limits:
        cpu: 500m
  nodeName: node-1
"
        )
    );
}

#[test]
fn a_lease_decodes_to_yaml() {
    let object = object(&lease());
    assert_eq!(object.api_version, "coordination.k8s.io/v1");
    assert_eq!(object.namespace.as_deref(), Some("kube-node-lease"));
    assert_eq!(
        object.yaml.as_deref(),
        Some(
            "apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: node-1
  namespace: kube-node-lease
spec:
  holderIdentity: node-1
  leaseDurationSeconds: 40
  renewTime: \"2024-02-29T12:34:56.123456Z\"
"
        )
    );
}

#[test]
fn an_unknown_kind_shows_its_type_and_raw_bytes() {
    let object = object(&widget());
    assert_eq!(object.api_version, "example.com/v1");
    assert_eq!(object.kind, "Widget");
    assert_eq!(object.yaml, None);
    assert_eq!(
        object.raw.map(|b| b.0),
        Some(vec![0x0a, 0x03, b'a', b'b', b'c'])
    );
    assert_eq!(
        object.note.as_deref(),
        Some(
            "etcdeck does not know the kind Widget of example.com/v1: shown are its type and raw bytes"
        )
    );
}

#[test]
fn a_known_kind_whose_bytes_do_not_decode_is_shown_raw() {
    let object = object(&envelope("v1", "Pod", vec![0xff, 0xff, 0xff]));
    assert_eq!(object.kind, "Pod");
    assert!(object.raw.is_some());
    assert!(
        object
            .note
            .expect("a note")
            .starts_with("the object does not decode as Pod")
    );
}

#[test]
fn gzip_values_are_decompressed_and_said_so() {
    let gzip = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).expect("in memory");
        encoder.finish().expect("in memory")
    };
    let (sizes, content) = decode(&gzip(b"hello, compressed world"));
    let sizes = sizes.expect("said to be gzip");
    assert_eq!(sizes.decompressed, 23);
    assert_eq!(
        content,
        Content::Bytes {
            bytes: etcdeck_shared::Bytes(b"hello, compressed world".to_vec())
        }
    );
    // A compressed Kubernetes object is decoded too.
    let (sizes, content) = decode(&gzip(&lease()));
    assert!(sizes.is_some());
    assert!(matches!(content, Content::Kubernetes(o) if o.kind == "Lease"));
    // Broken gzip and other values are shown as they are.
    assert!(matches!(
        decode(&[0x1f, 0x8b, 0, 0]),
        (None, Content::Plain { why: Some(_) })
    ));
    assert_eq!(decode(b"plain"), (None, Content::Plain { why: None }));
    assert!(matches!(
        decode(b"k8s\0\xff"),
        (None, Content::Plain { why: Some(_) })
    ));
}
