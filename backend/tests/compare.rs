//! Comparing two prefixes against a real, auth-enabled etcd through
//! etcdeck's HTTP API: 10,000 keys on each side with 37 differences (only
//! left, only right, different values) are found exactly, in key order,
//! over several pages at the revisions of the first; and "copy left to
//! right" writes the chosen keys through the guarded import, leaving a key
//! that changed after the comparison alone.

mod support;

use etcd_client::{Client, Txn, TxnOp};
use etcdeck_shared::Bytes;
use etcdeck_shared::transfer::{Comparison, CopyAcross, Difference, ImportResult, LeaseMode, path};
use support::Server;
use support::live::{root_client, root_server, start_etcd};
use xtask::harness::ClusterOptions;

const N: usize = 10_000;

fn suffix(i: usize) -> String {
    format!("k{i:05}")
}

async fn put_all(client: &mut Client, kvs: Vec<(String, Vec<u8>)>) {
    for chunk in kvs.chunks(128) {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None))
            .collect();
        client.txn(Txn::new().and_then(ops)).await.expect("txn");
    }
}

async fn page(server: &Server, query: &str) -> Comparison {
    server
        .get_json(&format!("{}?{query}", path::COMPARE))
        .await
        .expect("compare")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_seven_differences_in_ten_thousand_keys_exactly_and_in_order() {
    let etcd = start_etcd(ClusterOptions::single().with_auth());
    let mut client = root_client(&etcd.endpoints()).await;
    // 37 differences: 12 only on the left, 10 only on the right, 15 with
    // another value (one of them binary).
    let only_left: Vec<usize> = (0..12).map(|i| 17 + i * 811).collect();
    let only_right: Vec<usize> = (0..10).map(|i| 401 + i * 977).collect();
    let different: Vec<usize> = (0..15).map(|i| 5 + i * 661).collect();
    let mut expected: Vec<(String, Difference)> = Vec::new();
    let mut left = Vec::new();
    let mut right = Vec::new();
    for i in 0..N {
        let value = format!("value {i}").into_bytes();
        if only_right.contains(&i) {
            expected.push((suffix(i), Difference::OnlyRight));
        } else {
            left.push((format!("/left/{}", suffix(i)), value.clone()));
        }
        if only_left.contains(&i) {
            expected.push((suffix(i), Difference::OnlyLeft));
        } else if different.contains(&i) {
            expected.push((suffix(i), Difference::Different));
            let other = if i == 5 {
                vec![0xff, 0x00, 0x01]
            } else {
                format!("changed {i}").into_bytes()
            };
            right.push((format!("/right/{}", suffix(i)), other));
        } else if !only_right.contains(&i) {
            right.push((format!("/right/{}", suffix(i)), value));
        }
        if only_right.contains(&i) {
            right.push((format!("/right/{}", suffix(i)), value_of(i)));
        }
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(expected.len(), 37);
    assert_eq!(left.len(), N - 10);
    assert_eq!(right.len(), N - 12);
    put_all(&mut client, left).await;
    put_all(&mut client, right).await;
    let server = root_server(&etcd).await;

    // Pages of 10: four pages, each at the first page's revisions.
    let first = page(&server, "left=/left/&right=/right/&limit=10").await;
    let mut found: Vec<(String, Difference)> = Vec::new();
    let mut equal = 0;
    let mut current = first.clone();
    loop {
        assert_eq!(current.left_revision, first.left_revision);
        for item in &current.items {
            found.push((
                String::from_utf8(item.suffix.0.clone()).expect("utf-8 suffix"),
                item.difference,
            ));
        }
        equal += current.equal;
        let Some(next) = current.next.clone() else {
            break;
        };
        // Writes after the first page do not change the comparison.
        client
            .put("/left/k00000", "later", None)
            .await
            .expect("put");
        current = page(
            &server,
            &format!(
                "left=/left/&right=/right/&limit=10&left_revision={}&right_revision={}&after={}",
                first.left_revision.0,
                first.right_revision.0,
                next.to_url()
            ),
        )
        .await;
    }
    assert_eq!(found, expected, "exactly the 37, in key order");
    assert_eq!(equal, (N - 37) as u64);
    let binary = first
        .items
        .iter()
        .find(|i| i.suffix == Bytes::from("k00005"))
        .expect("k00005 on the first page");
    assert_eq!(binary.right, Some(Bytes::new(vec![0xff, 0x00, 0x01])));
    assert_eq!(binary.left, Some(Bytes::from("value 5")));

    // Copy three different keys and one only-left key to the right; one of
    // them changes on the right after the comparison and is left alone.
    client
        .put(format!("/right/{}", suffix(different[2])), "theirs", None)
        .await
        .expect("their put");
    let chosen = vec![
        Bytes::from(suffix(different[1]).as_str()),
        Bytes::from(suffix(different[2]).as_str()),
        Bytes::from(suffix(different[3]).as_str()),
        Bytes::from(suffix(only_left[0]).as_str()),
    ];
    let result: ImportResult = server
        .post_json(
            path::COMPARE_COPY,
            &CopyAcross {
                left: "/left/".into(),
                right: "/right/".into(),
                left_revision: first.left_revision,
                right_revision: first.right_revision,
                suffixes: chosen,
                leases: LeaseMode::Drop,
            },
        )
        .await
        .expect("copy across");
    assert!(result.complete, "{result:?}");
    assert_eq!(result.counts.change, 2);
    assert_eq!(result.counts.create, 1);
    assert_eq!(result.counts.conflict, 1);
    assert_eq!(result.transactions, 1);
    for (i, want) in [
        (different[1], format!("value {}", different[1])),
        (different[2], "theirs".to_owned()),
        (different[3], format!("value {}", different[3])),
        (only_left[0], format!("value {}", only_left[0])),
    ] {
        let got = client
            .get(format!("/right/{}", suffix(i)), None)
            .await
            .expect("get");
        assert_eq!(got.kvs()[0].value(), want.as_bytes(), "{}", suffix(i));
    }

    // A second cluster cannot be named yet, and says so.
    let refused = server
        .get(&format!(
            "{}?left=/left/&right=/right/&right_cluster=other",
            path::COMPARE
        ))
        .await;
    assert_eq!(refused.status(), 400);
}

fn value_of(i: usize) -> Vec<u8> {
    format!("value {i}").into_bytes()
}
