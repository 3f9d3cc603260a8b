//! Where the browse page starts for a user who may not read the top level:
//! the last prefix each etcd user listed (remembered in the browser's
//! `localStorage`, per user), the landing rule ([`landing`]), the sentence
//! that names the user when there is nothing to go back to, and how a typed
//! prefix becomes bytes ([`typed_prefix`]).
//!
//! The rule and the encoding are pure; the storage is behind
//! [`PrefixStore`] so they are tested without a browser, and
//! [`LocalStorage`] is the browser's own. A remembered prefix is a
//! convenience: when the storage is refused or full, nothing is remembered
//! and nothing fails.

use etcdeck_shared::Bytes;
use etcdeck_shared::api::ErrorCode;
use wasm_bindgen::{JsCast, JsValue};

use crate::listing::Listing;
use crate::route::{BrowseLocation, bytes_from_display};

/// Names of the remembered prefixes in the storage, one per etcd user.
const STORAGE_NAME: &str = "etcdeck.last-prefix";

/// A string store the remembered prefixes live in.
pub trait PrefixStore {
    fn get(&self, name: &str) -> Option<String>;
    fn set(&self, name: &str, value: &str);
}

/// The browser's `localStorage`, reached through `js_sys` so the page needs
/// no further `web-sys` bindings. Every failure (storage disabled, private
/// mode, quota) reads as "nothing remembered".
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalStorage;

impl LocalStorage {
    fn storage() -> Option<JsValue> {
        let window = web_sys::window()?;
        let storage = js_sys::Reflect::get(&window, &JsValue::from_str("localStorage")).ok()?;
        (!storage.is_null() && !storage.is_undefined()).then_some(storage)
    }

    fn call(method: &str, args: &[&str]) -> Option<JsValue> {
        let storage = Self::storage()?;
        let function: js_sys::Function = js_sys::Reflect::get(&storage, &JsValue::from_str(method))
            .ok()?
            .dyn_into()
            .ok()?;
        let args: js_sys::Array = args.iter().map(|a| JsValue::from_str(a)).collect();
        function.apply(&storage, &args).ok()
    }
}

impl PrefixStore for LocalStorage {
    fn get(&self, name: &str) -> Option<String> {
        Self::call("getItem", &[name])?.as_string()
    }

    fn set(&self, name: &str, value: &str) {
        // A refused write only means the prefix is not remembered.
        let _ = Self::call("setItem", &[name, value]);
    }
}

/// The storage name of `user`'s remembered prefix (`None`: etcd without
/// authentication, one name for everyone).
fn storage_name(user: Option<&str>) -> String {
    match user {
        Some(user) => format!("{STORAGE_NAME}:{user}"),
        None => STORAGE_NAME.to_owned(),
    }
}

/// The last prefix `user` listed, if one is remembered. Stored in the URL
/// form of [`Bytes`], so binary prefixes come back byte for byte.
pub fn remembered(store: &impl PrefixStore, user: Option<&str>) -> Option<Bytes> {
    let stored = store.get(&storage_name(user))?;
    let prefix = Bytes::from_url(&stored);
    (!prefix.is_empty()).then_some(prefix)
}

/// Remembers that `user` listed `prefix`. The top level is not remembered:
/// it is where every visit starts anyway.
pub fn remember(store: &impl PrefixStore, user: Option<&str>, prefix: &Bytes) {
    if !prefix.is_empty() {
        store.set(&storage_name(user), &prefix.to_url());
    }
}

/// What the browse page does with the level it was opened at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Landing {
    /// Show the level (or its error) as usual.
    List,
    /// The top level was refused: go to the user's last prefix instead.
    GoTo(Bytes),
    /// The top level was refused and nothing is remembered: ask for a
    /// prefix, naming the user.
    AskForPrefix,
}

/// The landing rule: only the plain start page (`/`, top level, no key)
/// whose first page etcd refused moves on; any other level shows its error
/// as it is, so a remembered prefix that is refused too cannot loop.
/// `remembered` is only asked when it matters.
pub fn landing(
    here: &BrowseLocation,
    listing: &Listing,
    remembered: impl FnOnce() -> Option<Bytes>,
) -> Landing {
    let refused = listing.prefix == here.prefix
        && !listing.started
        && listing
            .error
            .as_ref()
            .is_some_and(|e| e.code() == Some(ErrorCode::PermissionDenied));
    if !refused || !here.prefix.is_empty() {
        return Landing::List;
    }
    match here.key {
        Some(_) => Landing::AskForPrefix,
        None => remembered().map_or(Landing::AskForPrefix, Landing::GoTo),
    }
}

/// The sentence for a user who may not read the top level.
pub fn top_level_refused(user: Option<&str>) -> String {
    let who = match user {
        Some(user) => format!("etcd user '{user}'"),
        None => "This session".to_owned(),
    };
    format!("{who} may not read the top level; type a prefix you may read, e.g. /app/")
}

/// The level a person typed: their text read back as bytes (`\xNN` escapes
/// as [`bytes_from_display`] reads them), ending with the separator, since
/// levels are directories. Empty text is the top level.
pub fn typed_prefix(text: &str, separator: &Bytes) -> Bytes {
    let mut prefix = bytes_from_display(text);
    if !prefix.is_empty() && !prefix.0.ends_with(&separator.0) {
        prefix.0.extend_from_slice(&separator.0);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use etcdeck_shared::api::ApiError;

    use super::*;
    use crate::api::ApiFailure;
    use crate::unit_test;

    #[derive(Default)]
    struct Memory(RefCell<HashMap<String, String>>);

    impl PrefixStore for Memory {
        fn get(&self, name: &str) -> Option<String> {
            self.0.borrow().get(name).cloned()
        }
        fn set(&self, name: &str, value: &str) {
            self.0
                .borrow_mut()
                .insert(name.to_owned(), value.to_owned());
        }
    }

    #[unit_test]
    fn the_last_prefix_is_remembered_per_user_and_byte_for_byte() {
        let store = Memory::default();
        assert_eq!(remembered(&store, Some("viewer")), None);
        let binary = Bytes::new(vec![b'/', 0xff, b' ', b'+', b'/']);
        remember(&store, Some("viewer"), &Bytes::from("/app/"));
        remember(&store, Some("other"), &binary);
        assert_eq!(
            remembered(&store, Some("viewer")),
            Some(Bytes::from("/app/"))
        );
        assert_eq!(remembered(&store, Some("other")), Some(binary));
        assert_eq!(remembered(&store, None), None, "no user is its own name");
        // The top level is never remembered over a real prefix.
        remember(&store, Some("viewer"), &Bytes::default());
        assert_eq!(
            remembered(&store, Some("viewer")),
            Some(Bytes::from("/app/"))
        );
        remember(&store, Some("viewer"), &Bytes::from("/app/db/"));
        assert_eq!(
            remembered(&store, Some("viewer")),
            Some(Bytes::from("/app/db/"))
        );
    }

    fn refused_at(prefix: &str) -> Listing {
        let mut listing = Listing::default();
        listing.restart(Bytes::from(prefix));
        listing.loading = false;
        listing.error = Some(ApiFailure::Api {
            status: 403,
            error: ApiError {
                code: ErrorCode::PermissionDenied,
                message: "etcd user 'viewer' may not read the top level".into(),
                revision: None,
            },
        });
        listing
    }

    #[unit_test]
    fn a_refused_start_page_goes_to_the_last_prefix_or_asks() {
        let start = BrowseLocation::default();
        let listing = refused_at("");
        assert_eq!(
            landing(&start, &listing, || Some(Bytes::from("/app/"))),
            Landing::GoTo(Bytes::from("/app/"))
        );
        assert_eq!(landing(&start, &listing, || None), Landing::AskForPrefix);
        // A key in the link stays: ask rather than lose it.
        let with_key = start.with_key(Bytes::from("/app/x"));
        assert_eq!(
            landing(&with_key, &listing, || Some(Bytes::from("/app/"))),
            Landing::AskForPrefix
        );
    }

    #[unit_test]
    fn other_levels_and_other_failures_list_as_usual() {
        let never = || -> Option<Bytes> { panic!("not asked") };
        // A refused remembered prefix shows its error: no loop.
        let app = BrowseLocation::from_query("prefix=/app/");
        assert_eq!(landing(&app, &refused_at("/app/"), never), Landing::List);
        // Not refused: a network failure, or the level listed fine.
        let start = BrowseLocation::default();
        let mut offline = Listing::default();
        offline.restart(Bytes::default());
        offline.error = Some(ApiFailure::Network("Failed to fetch".into()));
        assert_eq!(landing(&start, &offline, never), Landing::List);
        let mut fine = Listing::default();
        fine.restart(Bytes::default());
        assert_eq!(landing(&start, &fine, never), Landing::List);
        // The listing still shows the last level: wait for the new one.
        assert_eq!(landing(&start, &refused_at("/b/"), never), Landing::List);
    }

    #[unit_test]
    fn the_sentence_names_the_user() {
        assert_eq!(
            top_level_refused(Some("viewer")),
            "etcd user 'viewer' may not read the top level; type a prefix you may read, e.g. /app/"
        );
        assert!(top_level_refused(None).starts_with("This session may not read"));
    }

    #[unit_test]
    fn typed_prefixes_are_levels_and_keep_their_bytes() {
        let sep = Bytes::from("/");
        assert_eq!(typed_prefix("/app/", &sep), Bytes::from("/app/"));
        assert_eq!(typed_prefix("/app", &sep), Bytes::from("/app/"));
        assert_eq!(typed_prefix("", &sep), Bytes::default());
        assert_eq!(
            typed_prefix("/b\\xff", &sep),
            Bytes::new(vec![b'/', b'b', 0xff, b'/'])
        );
        assert_eq!(typed_prefix("a", &Bytes::from("::")), Bytes::from("a::"));
    }

    #[cfg(target_arch = "wasm32")]
    #[unit_test]
    fn the_browsers_storage_keeps_a_prefix() {
        let user = "landing-test-user";
        let prefix = Bytes::new(vec![b'/', b'l', 0x00, b'/']);
        remember(&LocalStorage, Some(user), &prefix);
        assert_eq!(remembered(&LocalStorage, Some(user)), Some(prefix));
    }
}
