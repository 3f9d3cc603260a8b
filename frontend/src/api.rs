//! The one module that talks to the backend: every HTTP request the app
//! makes goes through here, and the live WebSocket lives in [`live`], so
//! URLs, query encoding and error decoding are written once.
//!
//! Keys travel in query strings in their URL form ([`Bytes::to_url`]); bodies
//! are the wire types of `etcdeck_shared`.

pub mod edit;
pub mod live;
pub mod may_write;
pub mod operations;
pub mod search;
pub mod session;
pub mod users;

use std::fmt;

use etcdeck_shared::coord::{Elections, Leases, Locks, Queues, Services};
use etcdeck_shared::edit::{CSRF_HEADER, Conflict};
use etcdeck_shared::{ApiError, Bytes, ErrorCode, KeyValue, Level, Status, path};
use gloo_net::http::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

thread_local! {
    /// The page's cluster base, read once: the page path never changes
    /// cluster without a full load.
    static BASE: String = base_of(&web_sys::window()
        .and_then(|window| window.location().pathname().ok())
        .unwrap_or_default());
}

/// The current cluster's base: `/c/NAME` when the page was loaded under it,
/// else empty (the first cluster is also served unprefixed). It is the
/// router's base and the prefix of every API and WebSocket URL.
pub fn base() -> String {
    BASE.with(Clone::clone)
}

/// `url` (an absolute API path) within the current cluster.
pub fn within(url: &str) -> String {
    format!("{}{url}", base())
}

/// `pathname` without the current cluster's base, for comparing it with the
/// app's fixed paths.
pub fn unbased(pathname: &str) -> String {
    let base = base();
    match pathname.strip_prefix(base.as_str()) {
        Some("") if !base.is_empty() => "/".to_owned(),
        Some(rest) if !base.is_empty() && rest.starts_with('/') => rest.to_owned(),
        _ => pathname.to_owned(),
    }
}

/// The cluster base of a page path: `/c/NAME` when it starts with it.
fn base_of(pathname: &str) -> String {
    let Some(rest) = pathname.strip_prefix(path::CLUSTER_PREFIX) else {
        return String::new();
    };
    let name = rest.split('/').next().unwrap_or_default();
    if name.is_empty() {
        String::new()
    } else {
        format!("{}{name}", path::CLUSTER_PREFIX)
    }
}

/// Why a request failed, in a form the UI can always show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiFailure {
    /// The backend answered with an error body.
    Api { status: u16, error: ApiError },
    /// The backend could not be reached at all (it is down, or the network
    /// is): the browser gives no detail beyond this.
    Network(String),
    /// The backend answered something that is not what the API promises
    /// (e.g. a proxy's HTML error page).
    BadResponse { status: u16, detail: String },
    /// A guarded write found the key changed since it was read: nothing was
    /// written; this is the key now.
    Conflict(Box<Conflict>),
}

impl ApiFailure {
    /// The API error code, when the backend sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiFailure::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(ErrorCode::NotFound)
    }

    /// The etcd revision the failed answer was read at, when the backend
    /// says (a missing key is missing as of this revision).
    pub fn revision(&self) -> Option<etcdeck_shared::Revision> {
        match self {
            ApiFailure::Api { error, .. } => error.revision,
            _ => None,
        }
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiFailure::Api { error, .. } => f.write_str(&error.message),
            ApiFailure::Conflict(conflict) => f.write_str(&conflict.message),
            ApiFailure::Network(detail) => {
                write!(f, "cannot reach the etcdeck backend ({detail})")
            }
            ApiFailure::BadResponse { status, detail } => {
                write!(
                    f,
                    "unexpected answer from the backend (HTTP {status}): {detail}"
                )
            }
        }
    }
}

/// `GET /api/v1/status`.
pub async fn status() -> Result<Status, ApiFailure> {
    get_json(path::STATUS.to_owned()).await
}

/// `GET /api/v1/level`: one page of the children of `prefix`, starting after
/// the cursor `after` (the previous page's `next`).
pub async fn level(
    prefix: &Bytes,
    after: Option<&Bytes>,
    limit: usize,
) -> Result<Level, ApiFailure> {
    get_json(level_url(prefix, after, limit)).await
}

/// `GET /api/v1/key`: one key with value and metadata; a missing key is an
/// [`ApiFailure`] with [`ErrorCode::NotFound`].
pub async fn key(key: &Bytes) -> Result<KeyValue, ApiFailure> {
    get_json(key_url(key)).await
}

/// `GET /api/v1/decoded`: the key's value as the backend decodes it (a
/// Kubernetes object, or gzip decompressed), as read at `revision`.
pub async fn decoded(
    key: &Bytes,
    revision: etcdeck_shared::Revision,
) -> Result<etcdeck_shared::kubernetes::Decoded, ApiFailure> {
    get_json(format!(
        "{}?key={}&revision={}",
        etcdeck_shared::kubernetes::DECODED_PATH,
        key.to_url(),
        revision.0
    ))
    .await
}

/// `GET /api/v1/leases`: every lease with its TTLs and attached keys.
pub async fn leases() -> Result<Leases, ApiFailure> {
    get_json(path::LEASES.to_owned()).await
}

/// `GET /api/v1/locks`: mutex and RWMutex prefixes, holders and waiters.
pub async fn locks() -> Result<Locks, ApiFailure> {
    get_json(path::LOCKS.to_owned()).await
}

/// `GET /api/v1/elections`: election prefixes, leaders and candidates.
pub async fn elections() -> Result<Elections, ApiFailure> {
    get_json(path::ELECTIONS.to_owned()).await
}

/// `GET /api/v1/queues`: queue prefixes with depth, age, rates and history.
pub async fn queues() -> Result<Queues, ApiFailure> {
    get_json(path::QUEUES.to_owned()).await
}

/// `GET /api/v1/cluster`: members, health, alarms and histories.
pub async fn cluster() -> Result<etcdeck_shared::cluster::ClusterView, ApiFailure> {
    get_json(etcdeck_shared::cluster::CLUSTER_PATH.to_owned()).await
}

/// `GET /api/v1/services`: registered service instances under the
/// configured prefixes.
pub async fn services() -> Result<Services, ApiFailure> {
    get_json(path::SERVICES.to_owned()).await
}

pub(crate) fn level_url(prefix: &Bytes, after: Option<&Bytes>, limit: usize) -> String {
    let mut url = format!("{}?prefix={}&limit={limit}", path::LEVEL, prefix.to_url());
    if let Some(after) = after {
        url.push_str("&after=");
        url.push_str(&after.to_url());
    }
    url
}

pub(crate) fn key_url(key: &Bytes) -> String {
    format!("{}?key={}", path::KEY, key.to_url())
}

/// Whether a failure says the session is missing or expired.
pub fn is_login_required(failure: &ApiFailure) -> bool {
    matches!(failure, ApiFailure::Api { status: 401, .. })
        || failure.code() == Some(ErrorCode::LoginRequired)
}

/// Called with every failed request (but the login itself): a 401 while the
/// session was active means it ended ([`crate::session::login_required`]).
pub fn notice_failure(failure: &ApiFailure) {
    if is_login_required(failure) {
        crate::session::login_required();
    }
}

/// `GET url` as JSON. A 401 here means the session ended (see
/// [`notice_failure`]).
pub async fn get_json<T: DeserializeOwned>(url: String) -> Result<T, ApiFailure> {
    let answer = async {
        let response = Request::get(&within(&url))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|err| ApiFailure::Network(network_detail(&err)))?;
        decode(response).await
    }
    .await;
    if let Err(failure) = &answer {
        notice_failure(failure);
    }
    answer
}

/// `POST url` with a JSON body and the session's CSRF token, as every write
/// is sent. A 401 here means the session ended.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<T, ApiFailure> {
    let answer = post_json_once(url, body).await;
    if let Err(failure) = &answer {
        notice_failure(failure);
    }
    answer
}

async fn post_json_once<B: Serialize, T: DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<T, ApiFailure> {
    let mut request = Request::post(&within(url)).header("Accept", "application/json");
    if let Some(csrf) = crate::session::csrf() {
        request = request.header(CSRF_HEADER, &csrf);
    }
    let response = request
        .json(body)
        .map_err(|err| ApiFailure::Network(err.to_string()))?
        .send()
        .await
        .map_err(|err| ApiFailure::Network(network_detail(&err)))?;
    decode(response).await
}

pub async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiFailure> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|err| ApiFailure::Network(network_detail(&err)))?;
    if response.ok() {
        return serde_json::from_str(&text).map_err(|err| ApiFailure::BadResponse {
            status,
            detail: format!("malformed body: {err}"),
        });
    }
    if status == 409
        && let Ok(conflict) = serde_json::from_str::<Conflict>(&text)
    {
        return Err(ApiFailure::Conflict(Box::new(conflict)));
    }
    match serde_json::from_str::<ApiError>(&text) {
        Ok(error) => Err(ApiFailure::Api { status, error }),
        Err(_) => Err(ApiFailure::BadResponse {
            status,
            detail: snippet(&text),
        }),
    }
}

fn network_detail(err: &gloo_net::Error) -> String {
    match err {
        // The browser reports every fetch failure as the same TypeError
        // ("Failed to fetch"); say what it most likely means.
        gloo_net::Error::JsError(js) => format!("{}: is it running?", js.message),
        other => other.to_string(),
    }
}

/// The start of a non-API error body, on one line, for the message.
fn snippet(text: &str) -> String {
    if text.trim_start().starts_with('<') {
        // Markup in a sentence is noise; an HTML page here means something
        // other than the etcdeck API answered (a proxy, another server).
        return "an HTML page instead of the API's JSON (is a proxy or another server answering?)"
            .to_owned();
    }
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = line.chars().take(160).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    if cut.is_empty() {
        "empty body".to_owned()
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    #[unit_test]
    fn only_a_401_or_login_required_ends_a_session() {
        let error = |status, code| ApiFailure::Api {
            status,
            error: ApiError {
                code,
                message: "m".into(),
                revision: None,
            },
        };
        assert!(is_login_required(&error(401, ErrorCode::LoginRequired)));
        assert!(!is_login_required(&error(403, ErrorCode::PermissionDenied)));
        assert!(!is_login_required(&error(403, ErrorCode::ReadOnly)));
        assert!(!is_login_required(&ApiFailure::Network("down".into())));
    }

    #[unit_test]
    fn urls_carry_keys_in_url_form() {
        let prefix = Bytes::new(vec![b'/', b'a', b' ', 0xff, b'/']);
        assert_eq!(
            level_url(&prefix, None, 500),
            "/api/v1/level?prefix=/a%20%FF/&limit=500"
        );
        assert_eq!(
            level_url(&Bytes::default(), Some(&Bytes::from("x+y")), 1000),
            "/api/v1/level?prefix=&limit=1000&after=x%2By"
        );
        assert_eq!(key_url(&Bytes::from("/k")), "/api/v1/key?key=/k");
    }

    #[unit_test]
    fn a_cluster_base_is_the_first_two_segments_under_c() {
        assert_eq!(base_of("/c/prod/browse/a"), "/c/prod");
        assert_eq!(base_of("/c/prod"), "/c/prod");
        assert_eq!(base_of("/c/"), "");
        assert_eq!(base_of("/browse"), "");
        assert_eq!(base_of("/"), "");
    }

    #[test]
    fn failures_read_as_sentences() {
        let denied = ApiFailure::Api {
            status: 403,
            error: ApiError {
                code: ErrorCode::PermissionDenied,
                message: "etcd user 'viewer' may not read /secret/".into(),
                revision: None,
            },
        };
        assert_eq!(
            denied.to_string(),
            "etcd user 'viewer' may not read /secret/"
        );
        assert_eq!(snippet("Bad\n\tgateway"), "Bad gateway");
        assert!(snippet("<html><b>Bad gateway</b></html>").starts_with("an HTML page"));
        assert_eq!(snippet(""), "empty body");
    }
}
