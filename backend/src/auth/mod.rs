//! Who a request acts as: the browser sessions (`store.rs`): login, wall
//! token and open sessions, each with its etcd client, CSRF token, idle
//! expiry and absolute lifetime, the metadata the sessions view shows, and
//! ending one by its public handle; `browser.rs` words a `User-Agent` for
//! that view; and how fast logins may fail (`throttle.rs`). This module
//! knows nothing of HTTP; the session cookie and the extractors that turn
//! a request into a session live in the API (`api/extract.rs`), which
//! depends on this module and never the other way.

mod browser;
mod store;
mod throttle;

pub use store::{BrowserSession, EndError, EndedSession, LoginError, Lookup, Seen, Sessions};
pub use throttle::{Attempt, Throttle, Throttled};
