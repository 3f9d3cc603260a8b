//! Unit tests of the coordination views' pure logic.

use etcdeck_shared::Revision;

use crate::unit_test;

use super::*;

#[unit_test]
fn a_hold_time_says_whether_it_is_an_estimate() {
    let (word, tooltip) = since_words(true, Some(0), "held", "seen holding");
    assert_eq!(word, "held");
    assert!(tooltip.expect("known").starts_with("held since "));
    let (word, tooltip) = since_words(false, Some(0), "held", "seen holding");
    assert_eq!(word, "seen holding");
    assert!(tooltip.expect("known").contains("an estimate"));
    assert_eq!(since_words(false, None, "held", "seen holding").1, None);
}

#[unit_test]
fn key_links_list_the_parent_level() {
    assert_eq!(
        key_href(&Bytes::from("/locks/job/694d")),
        "/?prefix=/locks/job/&key=/locks/job/694d"
    );
    assert_eq!(key_href(&Bytes::from("plain")), "/?key=plain");
}

#[unit_test]
fn queue_items_are_told_from_look_alikes() {
    let kv = |key: &str, lease: Option<i64>| WatchKv {
        key: Bytes::from(key),
        value: Bytes::default(),
        create_revision: Revision(1),
        mod_revision: Revision(1),
        version: 1,
        lease: lease.map(LeaseId),
        masked: None,
    };
    assert!(is_queue_item(&kv("jobs/1763712000000000000", None)));
    assert!(is_queue_item(&kv("q/00003/0000000000000042", None)));
    assert!(!is_queue_item(&kv("jobs/1763712000000000000", Some(7))));
    assert!(!is_queue_item(&kv("1763712000000000000", None)));
    assert!(!is_queue_item(&kv("jobs/176371200000000000x", None)));
    assert!(!is_queue_item(&kv("jobs/42", None)));
    assert!(!is_queue_item(&kv("00003/0000000000000042", None)));
}

#[unit_test]
fn children_of_adds_one_slash() {
    assert_eq!(children_of(&Bytes::from("job")), Bytes::from("job/"));
    assert_eq!(children_of(&Bytes::from("job/")), Bytes::from("job/"));
}
