//! The header's words for the etcd connection: connected, degraded with the
//! members that do not answer named, disconnected with the reason.

use etcdeck_frontend::components::header::{Health, describe};
use etcdeck_shared::{Connection, UnreachableMember};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn connected(unreachable: Vec<UnreachableMember>) -> Connection {
    Connection::Connected {
        etcd_version: "3.4.23".into(),
        unreachable,
    }
}

#[wasm_bindgen_test]
fn every_member_answering_is_connected() {
    let (health, text, reason) = describe(&connected(Vec::new()), 0);
    assert_eq!(health, Health::Ok);
    assert_eq!(text, "connected · etcd 3.4.23");
    assert!(reason.is_empty());
}

#[wasm_bindgen_test]
fn a_member_down_is_degraded_not_disconnected_and_named() {
    let down = UnreachableMember {
        endpoint: "http://127.0.0.1:2381".into(),
        name: Some("m2".into()),
        error: "etcd is unreachable: tcp connect error".into(),
    };
    let (health, text, reason) = describe(&connected(vec![down]), 0);
    assert_eq!(health, Health::Degraded);
    assert!(text.starts_with("degraded"), "{text}");
    assert!(text.contains("1 member down"), "{text}");
    assert!(reason.contains("m2 (http://127.0.0.1:2381)"), "{reason}");
}

#[wasm_bindgen_test]
fn no_member_answering_is_disconnected_with_the_reason() {
    let connection = Connection::Disconnected {
        reason: "etcd has no leader".into(),
        retry_in_secs: 3,
    };
    let (health, text, reason) = describe(&connection, 1);
    assert_eq!(health, Health::Down);
    assert_eq!(text, "disconnected — retrying in 2s");
    assert_eq!(reason, "etcd has no leader");
}
