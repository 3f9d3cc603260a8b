//! The browser's etcdeck session as the app knows it: the CSRF token that
//! every write carries. The session itself is an HttpOnly cookie the page
//! never sees.

use std::cell::RefCell;

thread_local! {
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The token to send with writes, once the session is known.
pub fn csrf() -> Option<String> {
    CSRF.with(|c| c.borrow().clone())
}

/// Records the session's token (`None` after logout).
pub fn set_csrf(token: Option<String>) {
    CSRF.with(|c| *c.borrow_mut() = token);
}

/// Whether this browser's session may write (writes are still checked by the
/// backend, and by etcd). Controls that write are hidden or disabled when
/// it is `false`.
pub fn can_write() -> leptos::prelude::Signal<bool> {
    leptos::prelude::Signal::stored(true)
}
