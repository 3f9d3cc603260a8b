//! Values hidden because their key looks secret, and the reveal that shows
//! one.
//!
//! etcdeck masks the value of every key that matches one of its mask
//! patterns (`--mask`, glob over the key) in everything it sends to a
//! browser: the value is replaced by nothing and the answer carries
//! [`Masked`] instead, with the pattern that matched and the value's size.
//! Only `POST /api/v1/reveal` ([`RevealRequest`]) by a session whose etcd
//! user has etcd's root role answers a masked value, and every reveal is in
//! the audit log. Masking is etcdeck's own display rule on top of etcd's
//! RBAC, which still decides who may read a key at all.

use serde::{Deserialize, Serialize};

use crate::{Bytes, Revision};

/// `POST` [`RevealRequest`] → [`KeyValue`](crate::KeyValue) with its value.
pub const REVEAL_PATH: &str = "/api/v1/reveal";

/// The sentence of the 403 a reveal by anyone but etcd's root gets.
pub const REVEAL_ROOT_ONLY: &str = "only etcd's root may reveal masked values";

/// Why a value was left out of an answer: its key matches a mask pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Masked {
    /// The mask pattern the key matches, as configured (e.g. `*password*`).
    pub pattern: String,
    /// The size of the value that was left out, in bytes.
    pub size: u64,
}

/// `POST /api/v1/reveal`: show the value of one key, as of `revision` or
/// now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealRequest {
    pub key: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Revision>,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::KeyValue;

    #[test]
    fn masked_key_value_wire_format() {
        let kv = KeyValue {
            key: Bytes::from("/app/db/password"),
            value: Bytes::default(),
            create_revision: Revision(2),
            mod_revision: Revision(3),
            version: 1,
            lease: None,
            revision: Revision(9),
            masked: Some(Masked {
                pattern: "*password*".into(),
                size: 7,
            }),
        };
        let json = serde_json::to_string(&kv).unwrap();
        expect![[r#"{"key":"L2FwcC9kYi9wYXNzd29yZA==","value":"","create_revision":2,"mod_revision":3,"version":1,"lease":null,"revision":9,"masked":{"pattern":"*password*","size":7}}"#]]
            .assert_eq(&json);
        let back: KeyValue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, kv);
    }

    #[test]
    fn answers_without_the_field_are_not_masked() {
        let old = r#"{"key":"aw==","value":"dg==","create_revision":2,"mod_revision":3,"version":1,"lease":null,"revision":9}"#;
        let kv: KeyValue = serde_json::from_str(old).unwrap();
        assert_eq!(kv.masked, None);
        let request: RevealRequest = serde_json::from_str(r#"{"key":"aw=="}"#).unwrap();
        assert_eq!(request.revision, None);
    }
}
