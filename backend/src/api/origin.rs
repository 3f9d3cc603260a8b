//! Cross-site checks: a page from another site must not open a WebSocket
//! or make a write with this browser's session.
//!
//! Browsers always send `Origin` on a WebSocket upgrade and on a `POST`; it
//! must name this etcdeck's own host. A request without `Origin` is not from
//! a browser page, so there is nothing cross-site to guard against (writes
//! still need the session cookie and its CSRF token).

use axum::http::{HeaderMap, header};

use super::Failure;

pub fn same_site(headers: &HeaderMap) -> Result<(), Failure> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser: nothing cross-site to guard against.
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    if origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        tracing::warn!(?origin, host, "refused a cross-origin request");
        Err(Failure::Forbidden(
            "etcdeck only accepts WebSockets and writes from pages it served itself".into(),
        ))
    }
}
