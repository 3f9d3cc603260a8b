//! The largest-prefixes view (`GET /api/v1/sizes?prefix=P`): which tree
//! prefixes below `P` hold the most bytes, from the keyspace model's sizes
//! index, counted only inside what the person may read.

use serde::{Deserialize, Serialize};

use crate::model::ModelState;
use crate::{Bytes, Revision};

/// Where the view is read.
pub const SIZES_PATH: &str = "/api/v1/sizes";

/// How many prefixes the view lists at one level.
pub const LARGEST_PREFIXES: usize = 20;

/// Keys and bytes (keys plus values) of a part of the keyspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeOf {
    pub keys: u64,
    pub bytes: u64,
}

/// One prefix of the view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixSize {
    /// The whole prefix, ending in the separator (drill down by asking for it).
    pub prefix: Bytes,
    pub size: SizeOf,
}

/// The answer of the view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sizes {
    /// The model is off or not ready: sizes are not known, and etcd is not
    /// scanned for them (that would read every key per view).
    Unavailable { state: ModelState },
    Ready {
        prefix: Bytes,
        /// The model's revision the sizes are of.
        revision: Revision,
        /// Everything the person may read (the base of each share).
        whole: SizeOf,
        /// Everything under `prefix` the person may read.
        here: SizeOf,
        /// Keys directly under `prefix`, in no deeper prefix.
        direct: SizeOf,
        /// Up to [`LARGEST_PREFIXES`] prefixes one level below `prefix`,
        /// largest first by bytes.
        largest: Vec<PrefixSize>,
        /// How many prefixes lie one level below `prefix` in all.
        prefixes: u64,
        /// The sizes count only the ranges the person's roles may read.
        limited: bool,
    },
}

impl SizeOf {
    /// `self` as a share of `whole`, in percent (0 when `whole` is empty).
    pub fn share_of(&self, whole: &SizeOf) -> f64 {
        if whole.bytes == 0 {
            0.0
        } else {
            self.bytes as f64 * 100.0 / whole.bytes as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn the_view_on_the_wire() {
        let view = Sizes::Ready {
            prefix: Bytes::from("/app/"),
            revision: Revision(9),
            whole: SizeOf {
                keys: 10,
                bytes: 400,
            },
            here: SizeOf {
                keys: 4,
                bytes: 100,
            },
            direct: SizeOf { keys: 1, bytes: 10 },
            largest: vec![PrefixSize {
                prefix: Bytes::from("/app/db/"),
                size: SizeOf { keys: 3, bytes: 90 },
            }],
            prefixes: 1,
            limited: true,
        };
        expect![[r#"{"kind":"ready","prefix":"L2FwcC8=","revision":9,"whole":{"keys":10,"bytes":400},"here":{"keys":4,"bytes":100},"direct":{"keys":1,"bytes":10},"largest":[{"prefix":"L2FwcC9kYi8=","size":{"keys":3,"bytes":90}}],"prefixes":1,"limited":true}"#]]
        .assert_eq(&serde_json::to_string(&view).unwrap());
        expect![[r#"{"kind":"unavailable","state":{"state":"off"}}"#]].assert_eq(
            &serde_json::to_string(&Sizes::Unavailable {
                state: ModelState::Off,
            })
            .unwrap(),
        );
        assert_eq!(
            SizeOf { keys: 1, bytes: 25 }.share_of(&SizeOf {
                keys: 2,
                bytes: 100
            }),
            25.0
        );
    }
}
