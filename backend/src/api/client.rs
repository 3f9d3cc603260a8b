//! Where a request comes from: the client's IP address, for login
//! throttling, the sessions list and the audit log.
//!
//! It is the TCP peer's address, except when the peer is one of the
//! `--trusted-proxy` addresses: then the proxy's `X-Forwarded-For` names
//! the client, read from the right (each proxy appends the address it saw)
//! and skipping the trusted proxies themselves. Anyone else's
//! `X-Forwarded-For` is ignored, so a client cannot pick its own address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::AppState;

/// The client's address as etcdeck believes it; `None` when the server was
/// started without connection information (never in `etcdeck::run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address as people read it, `unknown` without one.
    pub fn shown(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(peer.map(|peer| {
            client_ip(peer, &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy,
/// else the rightmost `X-Forwarded-For` address that is not a trusted
/// proxy (or the leftmost one when every address is).
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&canonical(peer)) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) as the
/// IPv4 address people configure.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn an_untrusted_peer_cannot_name_its_address() {
        let headers = forwarded("10.9.9.9");
        assert_eq!(client_ip(ip("192.0.2.7"), &headers, &[]), ip("192.0.2.7"));
        assert_eq!(
            client_ip(ip("192.0.2.7"), &headers, &[ip("192.0.2.1")]),
            ip("192.0.2.7")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_from_the_right() {
        let trusted = [ip("192.0.2.1"), ip("192.0.2.2")];
        // The client wrote a false first entry; the proxies appended the
        // real one and each other.
        let headers = forwarded("6.6.6.6, 203.0.113.5, 192.0.2.2");
        assert_eq!(
            client_ip(ip("192.0.2.1"), &headers, &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(ip("::ffff:192.0.2.1"), &headers, &trusted),
            ip("203.0.113.5")
        );
        // A trusted proxy without the header is the client as far as
        // anyone can tell.
        assert_eq!(
            client_ip(ip("192.0.2.1"), &HeaderMap::new(), &trusted),
            ip("192.0.2.1")
        );
    }
}
