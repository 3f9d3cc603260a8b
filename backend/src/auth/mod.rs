//! Who a request acts as: the browser sessions (`store.rs`): login, wall
//! token and open sessions, each with its etcd client, CSRF token and idle
//! expiry; and how fast logins may fail (`throttle.rs`). This module
//! knows nothing of HTTP; the session cookie and the extractors that turn
//! a request into a session live in the API (`api/extract.rs`), which
//! depends on this module and never the other way.

mod store;
mod throttle;

pub use store::{BrowserSession, LoginError, Lookup, Sessions};
pub use throttle::{Attempt, Throttle, Throttled};
