//! Cross-site checks: a page from another site must not open a WebSocket
//! or make a write with this browser's session.
//!
//! Browsers always send `Origin` on a WebSocket upgrade and on a `POST`; it
//! must name this etcdeck's own host, or one of the `--allowed-origin`s (a
//! reverse proxy's public address). A request without `Origin` is not from a
//! browser page, so there is nothing cross-site to guard against (writes
//! still need the session cookie and its CSRF token).

use axum::http::{HeaderMap, header};

use super::Failure;
use crate::config::ServerConfig;

pub fn same_site(headers: &HeaderMap, config: &ServerConfig) -> Result<(), Failure> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser: nothing cross-site to guard against.
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_text = origin.to_str().ok().map(|o| o.trim_end_matches('/'));
    let origin_host = origin_text
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    let own_host = origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host));
    let allowed = origin_text.is_some_and(|o| {
        config
            .allowed_origins
            .iter()
            .any(|a| a.eq_ignore_ascii_case(o))
    });
    if own_host || allowed {
        Ok(())
    } else {
        tracing::warn!(?origin, host, "refused a cross-origin request");
        Err(Failure::Forbidden(
            "etcdeck only accepts WebSockets and writes from pages it served itself (or an --allowed-origin)".into(),
        ))
    }
}

/// Whether the page that sent the request was served over HTTPS (so the
/// session cookie can be marked `Secure`).
pub fn from_https(headers: &HeaderMap) -> bool {
    let origin_https = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o.starts_with("https://"));
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|p| p.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    origin_https || forwarded_https
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn config(allowed: &[&str]) -> ServerConfig {
        ServerConfig {
            tls: None,
            read_only: false,
            wall_token: None,
            allow_unauthenticated_writes: false,
            allowed_origins: allowed.iter().map(|s| s.to_string()).collect(),
            trusted_proxies: Vec::new(),
            session_idle: std::time::Duration::from_secs(60),
            quota_backend_bytes: None,
            session_max: std::time::Duration::from_secs(3600),
            separator: b"/".to_vec(),
            dist: None,
            login_throttle: Default::default(),
            masks: crate::config::Masks::off(),
        }
    }

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn own_host_and_allowed_origins_only() {
        let none = config(&[]);
        assert!(same_site(&headers(None, "a:8080"), &none).is_ok());
        assert!(same_site(&headers(Some("http://a:8080"), "a:8080"), &none).is_ok());
        assert!(same_site(&headers(Some("http://evil:8080"), "a:8080"), &none).is_err());
        assert!(same_site(&headers(Some("null"), "a:8080"), &none).is_err());
        let proxy = config(&["https://deck.example.com"]);
        assert!(
            same_site(
                &headers(Some("https://deck.example.com"), "10.0.0.1:8080"),
                &proxy
            )
            .is_ok()
        );
        assert!(
            same_site(
                &headers(Some("http://deck.example.com"), "10.0.0.1:8080"),
                &proxy
            )
            .is_err()
        );
    }
}
