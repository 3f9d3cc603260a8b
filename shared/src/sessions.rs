//! Bodies of the sessions view: the browser sessions a person may see
//! ([`SessionList`]) and ending one ([`EndSessionRequest`]).
//!
//! A session is named on the wire by its [`SessionSummary::handle`], a
//! digest of its cookie value: knowing a handle lets a person end that
//! session (when etcdeck allows it) but never act as it, so listing
//! sessions never hands out another browser's cookie.

use serde::{Deserialize, Serialize};

use crate::edit::SessionKind;

/// Paths of the sessions view, next to [`crate::path`].
pub mod path {
    /// `GET` → [`SessionList`](super::SessionList): the caller's own
    /// sessions, or everyone's for etcd's root.
    pub const SESSIONS: &str = "/api/v1/sessions";
    /// `POST` [`EndSessionRequest`](super::EndSessionRequest) → 204: ends a
    /// session (Origin and CSRF token checked like a write).
    pub const END_SESSION: &str = "/api/v1/sessions/end";
}

/// `GET /api/v1/sessions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// Most recently used first.
    pub sessions: Vec<SessionSummary>,
    /// The caller is etcd's root and sees every user's sessions.
    pub all_users: bool,
    /// The backend's clock (milliseconds since the Unix epoch) when it
    /// answered, so "last used" reads the same whatever the browser's clock.
    pub now_ms: u64,
}

/// One session as people see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Names the session in [`EndSessionRequest`]; not its cookie.
    pub handle: String,
    pub kind: SessionKind,
    /// The etcd user it acts as (`None` without etcd auth).
    pub user: Option<String>,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// When it was last used, in milliseconds since the Unix epoch.
    pub last_used_ms: u64,
    /// When it ends however much it is used (`None`: no absolute limit,
    /// as for wall screens).
    pub expires_ms: Option<u64>,
    /// The client's address at login, when known.
    pub address: Option<String>,
    /// The browser in a few words, like "Chrome 120 on Linux".
    pub browser: String,
    /// The session this request came from.
    pub this_session: bool,
}

/// `POST /api/v1/sessions/end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndSessionRequest {
    pub handle: String,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn session_list_wire_format() {
        let list = SessionList {
            sessions: vec![SessionSummary {
                handle: "h1".into(),
                kind: SessionKind::Login,
                user: Some("app".into()),
                started_ms: 1_000,
                last_used_ms: 2_000,
                expires_ms: Some(43_201_000),
                address: Some("192.0.2.7".into()),
                browser: "Chrome 120 on Linux".into(),
                this_session: true,
            }],
            all_users: false,
            now_ms: 3_000,
        };
        let json = serde_json::to_string(&list).unwrap();
        expect![[r#"{"sessions":[{"handle":"h1","kind":"login","user":"app","started_ms":1000,"last_used_ms":2000,"expires_ms":43201000,"address":"192.0.2.7","browser":"Chrome 120 on Linux","this_session":true}],"all_users":false,"now_ms":3000}"#]]
        .assert_eq(&json);
        assert_eq!(serde_json::from_str::<SessionList>(&json).unwrap(), list);
    }

    #[test]
    fn end_request_wire_format() {
        let end = EndSessionRequest {
            handle: "h1".into(),
        };
        let json = serde_json::to_string(&end).unwrap();
        expect![[r#"{"handle":"h1"}"#]].assert_eq(&json);
    }
}
