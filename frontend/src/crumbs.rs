//! Breadcrumbs: splitting a level prefix into the levels above it.
//!
//! A prefix is a sequence of segments each followed by the separator
//! (`/app/db/` is `""`, `app`, `db`). Segments may be empty (`//x/`) or
//! binary, so crumbs carry bytes and each crumb's target prefix, and the label
//! is left to the view (which shows an empty name as a muted `/`).

use etcdeck_shared::Bytes;

/// One step of the breadcrumb trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crumb {
    /// The segment's name; empty for the root crumb and for empty segments.
    pub name: Bytes,
    /// The level prefix this crumb navigates to.
    pub prefix: Bytes,
    /// Whether this is the root crumb (prefix `""`).
    pub is_root: bool,
}

/// The crumbs for `prefix`: always the root first, then one per complete
/// segment. A trailing part that does not end in the separator (a prefix
/// that is not a tree level, e.g. from a hand-made URL) becomes a last crumb
/// too, so nothing of the prefix is hidden.
pub fn crumbs(prefix: &Bytes, separator: &Bytes) -> Vec<Crumb> {
    let mut out = vec![Crumb {
        name: Bytes::default(),
        prefix: Bytes::default(),
        is_root: true,
    }];
    let bytes = prefix.as_slice();
    let sep = separator.as_slice();
    if sep.is_empty() {
        if !bytes.is_empty() {
            out.push(Crumb {
                name: prefix.clone(),
                prefix: prefix.clone(),
                is_root: false,
            });
        }
        return out;
    }
    let mut start = 0;
    while start < bytes.len() {
        match find(&bytes[start..], sep) {
            Some(at) => {
                let end = start + at + sep.len();
                out.push(Crumb {
                    name: Bytes::from(&bytes[start..start + at]),
                    prefix: Bytes::from(&bytes[..end]),
                    is_root: false,
                });
                start = end;
            }
            None => {
                out.push(Crumb {
                    name: Bytes::from(&bytes[start..]),
                    prefix: prefix.clone(),
                    is_root: false,
                });
                break;
            }
        }
    }
    out
}

/// The level above `prefix`: the prefix of the second-to-last crumb, or
/// `None` at the root.
pub fn parent(prefix: &Bytes, separator: &Bytes) -> Option<Bytes> {
    let trail = crumbs(prefix, separator);
    (trail.len() >= 2).then(|| trail[trail.len() - 2].prefix.clone())
}

/// The level a key is listed in: the key up to and including its last
/// separator (`""`, the root, when it has none).
pub fn level_of(key: &Bytes, separator: &Bytes) -> Bytes {
    let (k, sep) = (key.as_slice(), separator.as_slice());
    if sep.is_empty() || k.len() < sep.len() {
        return Bytes::default();
    }
    let end = (0..=k.len() - sep.len())
        .rev()
        .find(|&i| &k[i..i + sep.len()] == sep)
        .map_or(0, |i| i + sep.len());
    Bytes::from(&k[..end])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    fn names(trail: &[Crumb]) -> Vec<String> {
        trail.iter().map(|c| c.name.display()).collect()
    }

    fn prefixes(trail: &[Crumb]) -> Vec<String> {
        trail.iter().map(|c| c.prefix.display()).collect()
    }

    #[unit_test]
    fn root_only() {
        let trail = crumbs(&Bytes::default(), &Bytes::from("/"));
        assert_eq!(trail.len(), 1);
        assert!(trail[0].is_root);
    }

    #[unit_test]
    fn leading_separator_gives_an_empty_segment() {
        let trail = crumbs(&Bytes::from("/app/db/"), &Bytes::from("/"));
        assert_eq!(names(&trail), ["", "", "app", "db"]);
        assert_eq!(prefixes(&trail), ["", "/", "/app/", "/app/db/"]);
        assert!(!trail[1].is_root);
    }

    #[unit_test]
    fn doubled_separators_and_binary_segments() {
        let prefix = Bytes::new(vec![b'a', b'/', b'/', 0xff, b'/']);
        let trail = crumbs(&prefix, &Bytes::from("/"));
        assert_eq!(names(&trail), ["", "a", "", "\\xff"]);
        assert_eq!(trail[3].prefix, prefix);
    }

    #[unit_test]
    fn unterminated_tail_and_multibyte_separator() {
        let trail = crumbs(&Bytes::from("a::b::c"), &Bytes::from("::"));
        assert_eq!(names(&trail), ["", "a", "b", "c"]);
        assert_eq!(prefixes(&trail), ["", "a::", "a::b::", "a::b::c"]);
    }

    #[unit_test]
    fn parent_walks_up_one_level() {
        let sep = Bytes::from("/");
        assert_eq!(
            parent(&Bytes::from("/app/db/"), &sep),
            Some(Bytes::from("/app/"))
        );
        assert_eq!(parent(&Bytes::from("/"), &sep), Some(Bytes::default()));
        assert_eq!(parent(&Bytes::default(), &sep), None);
    }

    #[unit_test]
    fn a_key_is_listed_in_the_level_of_its_last_separator() {
        let sep = Bytes::from("/");
        assert_eq!(
            level_of(&Bytes::from("/e2e/live/a"), &sep),
            Bytes::from("/e2e/live/")
        );
        assert_eq!(
            level_of(&Bytes::from("/e2e/live/"), &sep),
            Bytes::from("/e2e/live/")
        );
        assert_eq!(level_of(&Bytes::from("plain"), &sep), Bytes::default());
        assert_eq!(
            level_of(&Bytes::from("a::b::c"), &Bytes::from("::")),
            Bytes::from("a::b::")
        );
    }
}
