//! The scan against an in-memory sorted map, compared with a brute-force
//! listing. Real-etcd behaviour is covered by `tests/browse.rs`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::*;

#[derive(Default)]
struct MemSource {
    keys: BTreeSet<Vec<u8>>,
    reads: Mutex<Vec<(usize, u64)>>,
}

impl MemSource {
    fn new<I: IntoIterator<Item = K>, K: AsRef<[u8]>>(keys: I) -> Self {
        MemSource {
            keys: keys.into_iter().map(|k| k.as_ref().to_vec()).collect(),
            reads: Mutex::new(Vec::new()),
        }
    }

    fn in_range<'a>(&'a self, start: &[u8], end: &End) -> impl Iterator<Item = &'a Vec<u8>> {
        let end = end.clone();
        self.keys
            .range(start.to_vec()..)
            .take_while(move |k| below(k, &end))
    }

    /// Keys visited by etcd: every read counts its whole range.
    fn cost(&self) -> u64 {
        self.reads.lock().unwrap().iter().map(|r| r.1).sum()
    }

    fn round_trips(&self) -> usize {
        self.reads.lock().unwrap().len()
    }
}

impl KeySource for MemSource {
    type Error = ();

    async fn range_keys(&self, read: RangeRead) -> Result<RangeKeys, ()> {
        // etcd refuses an empty key ("key is not provided").
        assert!(!read.start.is_empty(), "a read with an empty start key");
        let all: Vec<Vec<u8>> = self.in_range(&read.start, &read.end).cloned().collect();
        if std::env::var("TRACE_PROBES").is_ok() {
            eprintln!(
                "probe {:?}..{:?} limit {} -> {}",
                Bytes::from(read.start.as_slice()),
                read.end.as_ref().map(|e| Bytes::from(e.as_slice())),
                read.limit,
                all.len()
            );
        }
        self.reads.lock().unwrap().push((1, all.len() as u64));
        Ok(RangeKeys {
            more: all.len() > read.limit,
            keys: all.into_iter().take(read.limit).collect(),
            revision: 7,
        })
    }

    async fn count_ranges(&self, ranges: Vec<(Vec<u8>, End)>, _: i64) -> Result<Vec<u64>, ()> {
        assert!(
            ranges.iter().all(|(start, _)| !start.is_empty()),
            "a count with an empty start key"
        );
        let counts: Vec<u64> = ranges
            .iter()
            .map(|(s, e)| self.in_range(s, e).count() as u64)
            .collect();
        self.reads
            .lock()
            .unwrap()
            .push((ranges.len(), counts.iter().sum()));
        Ok(counts)
    }
}

/// The level computed the slow, obvious way.
fn brute_force(
    keys: &BTreeSet<Vec<u8>>,
    prefix: &[u8],
    sep: &[u8],
) -> Vec<(Vec<u8>, bool, bool, Option<u64>)> {
    let mut out: Vec<(Vec<u8>, bool, bool, Option<u64>)> = Vec::new();
    let mut seen = HashMap::new();
    for key in keys.iter().filter(|k| k.starts_with(prefix)) {
        let rest = &key[prefix.len()..];
        let (name, is_key) = match find(rest, sep) {
            Some(at) => (rest[..at].to_vec(), false),
            None => (rest.to_vec(), true),
        };
        let i = *seen.entry(name.clone()).or_insert_with(|| {
            out.push((name.clone(), false, false, None));
            out.len() - 1
        });
        if is_key {
            out[i].1 = true;
        } else {
            out[i].2 = true;
            *out[i].3.get_or_insert(0) += 1;
        }
    }
    out
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn list_all(
    source: &MemSource,
    prefix: &[u8],
    sep: &[u8],
    page: usize,
) -> Vec<(Vec<u8>, bool, bool, Option<u64>)> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let level = block_on(list_level(source, prefix, sep, after.as_deref(), page)).unwrap();
        assert!(level.children.len() <= page);
        for c in level.children {
            out.push((c.name.0, c.is_key, c.has_children, c.count));
        }
        match level.next {
            Some(next) => after = Some(next.0),
            None => return out,
        }
    }
}

fn check(keys: &[&[u8]], prefix: &[u8], sep: &[u8]) {
    let source = MemSource::new(keys);
    let expected = brute_force(&source.keys, prefix, sep);
    for page in [1, 2, 3, 1000] {
        assert_eq!(
            list_all(&source, prefix, sep, page),
            expected,
            "page size {page}"
        );
    }
}

#[test]
fn mixed_levels_match_brute_force() {
    let keys: Vec<&[u8]> = vec![
        b"/app/a",
        b"/app/svc",
        b"/app/svc-1",
        b"/app/svc/x",
        b"/app/svc/y/z",
        b"/app/",
        b"/app//empty",
        b"/app/z/1",
        b"/apples",
        b"/b",
        b"services/web/1",
        b"top",
        b"\xff\xff/x",
        b"\xff",
        b"/app/\xff\xfe",
    ];
    for prefix in [
        &b""[..],
        b"/",
        b"/app/",
        b"/app/svc/",
        b"services/",
        b"\xff\xff/",
        b"nothing/",
    ] {
        check(&keys, prefix, b"/");
    }
    check(&keys, b"", b"::");
}

#[test]
fn generated_trees_match_brute_force() {
    // A deterministic pseudo-random mix of depths, shared name prefixes
    // and binary bytes.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: &[u8] = b"ab-/\x00\xff0";
    let mut keys = Vec::new();
    for _ in 0..400 {
        let len = 1 + (next() % 9) as usize;
        let key: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        keys.push(key);
    }
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    for prefix in [&b""[..], b"a", b"a/", b"/", b"b-/", b"\xff/"] {
        check(&refs, prefix, b"/");
    }
}

#[test]
fn cursor_outside_the_level_is_refused() {
    let source = MemSource::new([b"/a/1"]);
    let err = block_on(list_level(&source, b"/a/", b"/", Some(b"/b/"), 10)).unwrap_err();
    assert_eq!(err, LevelError::BadCursor);
}

#[test]
fn wide_subtrees_are_skipped_not_read() {
    // 40 directories of 500 keys each: a skip-scan whose probes ended at
    // the level end would visit ~40 * 10_000 keys.
    let mut keys = Vec::new();
    for svc in 0..40 {
        for i in 0..500 {
            keys.push(format!("/app/svc-{svc:02}/env-{}/cfg-{i:05}", i % 4));
        }
    }
    let source = MemSource::new(&keys);
    let level = block_on(list_level(&source, b"/app/", b"/", None, 1000)).unwrap();
    assert_eq!(level.children.len(), 40);
    assert!(level.children.iter().all(|c| c.count == Some(500)));
    // Reads visit each subtree a small number of times: once for the scan
    // (plus some siblings at decade boundaries) and once for the count.
    let total = keys.len() as u64;
    assert!(
        source.cost() < 4 * total,
        "visited {} keys for {total}",
        source.cost()
    );
    assert!(
        source.round_trips() < 40 * 5,
        "{} round trips",
        source.round_trips()
    );
}

#[test]
fn many_leaves_are_read_in_batches() {
    let keys: Vec<String> = (0..20_000).map(|i| format!("/big/item-{i:06}")).collect();
    let source = MemSource::new(&keys);
    let mut after = None;
    let mut seen = 0;
    loop {
        let level = block_on(list_level(&source, b"/big/", b"/", after.as_deref(), 1000)).unwrap();
        seen += level.children.len();
        match level.next {
            Some(next) => after = Some(next.0),
            None => break,
        }
    }
    assert_eq!(seen, 20_000);
    assert!(
        source.round_trips() < 20_000 / 20,
        "{} round trips",
        source.round_trips()
    );
}

#[test]
fn range_ends() {
    assert_eq!(range_end(b"jobs/"), b"jobs0");
    assert_eq!(range_end(b"a\xff"), b"b");
    assert_eq!(range_end(b"\xff\xff"), [0]);
    assert_eq!(range_end(b""), [0]);
    assert_eq!(prefix_end(b"\xff"), None);
}
