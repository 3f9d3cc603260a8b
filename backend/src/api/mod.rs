//! The HTTP side: the JSON API under `/api/v1`, `/healthz`, and the built
//! frontend. The only module that names axum.
//!
//! Errors of every layer become an [`ApiError`](etcdeck_shared::ApiError)
//! body with an HTTP status in exactly one place, `error.rs`
//! ([`Failure::into_response`], and for axum's own answers under `/api/`,
//! such as a 405 or a timeout, `error::as_api_error`); details go to the
//! log, and the body says what happened in words a user can act on.
//! `extract.rs` holds the session cookie and the `Reader` / `Writer`
//! extractors; the write side is split by concern (`edit.rs`, `prefix.rs`,
//! `copy.rs`, `history.rs`, `audit.rs`); `kubernetes.rs` decodes values and
//! holds the one check that keeps writes out of `/registry/`.

mod assets;
mod audit;
mod client;
mod cluster;
mod compare;
mod copy;
mod edit;
mod error;
mod export;
mod extract;
mod history;
mod import;
mod kubernetes;
mod mask;
mod may_write;
mod operations;
mod origin;
mod prefix;
mod query;
mod reveal;
pub mod search;
mod session;
mod sessions;
mod sizes;
pub mod tls;
mod users;
mod ws;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use etcdeck_shared::coord::{Elections, Leases, Locks, Queues, Services};
use etcdeck_shared::edit::SESSION_COOKIE;
use etcdeck_shared::edit::path as edit_path;
use etcdeck_shared::sessions::path as sessions_path;
use etcdeck_shared::{
    ClusterSummary, Clusters, Connection, DEFAULT_LEVEL_PAGE, KeyValue, Level, LiveStats,
    MAX_LEVEL_PAGE, Status, path,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::ServerConfig;
use crate::coord::Coord;
use crate::etcd::{EtcdSession, KeyRead};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::tree;

pub use error::Failure;
use extract::Reader;
use origin::same_site;
use query::Query;
pub use sizes::ReadableCache;

/// How long one API request may take before it is answered with 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The policy of every answer: scripts, styles, images and connections
/// (the API and the WebSocket) from this origin only; WebAssembly may be
/// compiled (`wasm-unsafe-eval`, which allows no JavaScript `eval`); no
/// inline script or style (the frontend's loader is a file, and the app
/// sets styles through the CSSOM, which the policy does not govern); no
/// framing, `<base>`, plugins or form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
    script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
    object-src 'none'";

/// Over HTTPS: browsers that saw it once refuse plain HTTP to this host for
/// a year, so no later visit can be downgraded.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub session: EtcdSession,
    pub config: Arc<ServerConfig>,
    pub hub: Hub,
    pub coord: Coord,
    /// The cluster view's histories.
    pub cluster: crate::cluster::Cluster,
    /// Becomes `true` when the server is stopping (long-lived WebSockets end).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The WebSocket tasks, so a stopping server can wait for them.
    pub sockets: tokio_util::task::TaskTracker,
    /// Every write through etcdeck.
    pub audit: crate::audit::Audit,
    /// The browsers' sessions.
    pub sessions: crate::auth::Sessions,
    /// How fast logins may fail, per address and per user name.
    pub throttle: crate::auth::Throttle,
    /// etcdeck's own metrics (`GET /metrics`).
    pub metrics: Metrics,
    /// The live model of the keyspace.
    pub model: crate::model::Model,
    /// Each browser session's readable ranges, briefly (sizes from the model).
    pub readable: ReadableCache,
}

/// etcdeck's own metrics for Prometheus. Answered without a session, like
/// `/healthz`: it holds counts only, no key, value, user name or address.
pub const METRICS_PATH: &str = "/metrics";

/// Every cluster's state, by name, the first one first: for the routes
/// that answer for all of them (`/healthz`, `/metrics`, the cluster list).
#[derive(Clone, Debug)]
struct AllClusters(Arc<Vec<(String, AppState)>>);

/// The whole HTTP application: each cluster's routes under
/// `/c/NAME`, the first one's also without a prefix, and the routes that
/// answer for every cluster. `clusters` must not be empty.
pub fn router(clusters: Vec<(String, AppState)>) -> Router {
    let https = clusters.iter().any(|(_, state)| state.config.tls.is_some());
    let mut app = Router::new()
        .route(path::HEALTHZ, get(healthz))
        .route(METRICS_PATH, get(metrics_text))
        .route(path::CLUSTERS, get(list_clusters))
        .with_state(AllClusters(Arc::new(clusters.clone())));
    for (i, (name, state)) in clusters.into_iter().enumerate() {
        let routes = cluster_router(state);
        if i == 0 {
            app = app
                .merge(routes.clone())
                .nest(&format!("{}{name}", path::CLUSTER_PREFIX), routes);
        } else {
            // A login here must not open another cluster: this cluster's
            // session cookie has its own name.
            let cookie: Arc<str> = format!("{SESSION_COOKIE}_{name}").into();
            let routes = routes.layer(axum::middleware::from_fn_with_state(
                cookie,
                extract::cluster_cookie,
            ));
            app = app.nest(&format!("{}{name}", path::CLUSTER_PREFIX), routes);
        }
    }
    outer_layers(app, https)
}

/// One cluster's API, WebSocket and pages.
fn cluster_router(state: AppState) -> Router {
    let api = Router::new()
        .route(path::STATUS, get(status))
        .route(edit_path::SESSION, get(session::session))
        .route(edit_path::LOGIN, post(session::login))
        .route(edit_path::LOGOUT, post(session::logout))
        .route(sessions_path::SESSIONS, get(sessions::list))
        .route(sessions_path::END_SESSION, post(sessions::end))
        .route(path::LEVEL, get(level))
        .route(etcdeck_shared::sizes::SIZES_PATH, get(sizes::sizes))
        .route(path::KEY, get(key))
        .route(
            etcdeck_shared::kubernetes::DECODED_PATH,
            get(kubernetes::decoded),
        )
        .route(path::LEASES, get(leases))
        .route(path::LOCKS, get(locks))
        .route(path::ELECTIONS, get(elections))
        .route(path::QUEUES, get(queues))
        .route(path::SERVICES, get(services))
        .route(etcdeck_shared::search::SEARCH_PATH, get(search::search))
        .route(etcdeck_shared::cluster::CLUSTER_PATH, get(cluster::view))
        .route(
            edit_path::MAY_WRITE,
            get(may_write::one).post(may_write::many),
        )
        .merge(edit::routes())
        .merge(users::routes())
        .merge(operations::routes())
        .route(etcdeck_shared::mask::REVEAL_PATH, post(reveal::reveal))
        // A catch-all matches no empty rest, so `/api` and `/api/` are
        // named as well.
        .route("/api", any(unknown_api))
        .route("/api/", any(unknown_api))
        .route("/api/{*rest}", any(unknown_api))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let metrics = state.metrics.clone();
    Router::new()
        .route(path::WS, get(ws::upgrade))
        .route(path::LIVE, get(live))
        .merge(api)
        .fallback_service(frontend(state.config.dist.as_deref()))
        // Inside the routes, where the pattern each request matched is known.
        .layer(axum::middleware::from_fn_with_state(metrics, count_request))
        .with_state(state)
}

/// What wraps every answer, of every cluster.
fn outer_layers(app: Router, https: bool) -> Router {
    // Around the whole router, not each route: only there does a 405 carry
    // its `Allow` header, which the `ApiError` sentence names.
    let app = Router::new()
        .fallback_service(app)
        .layer(axum::middleware::map_response(error::as_api_error))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ));
    let app = if https {
        app.layer(axum::middleware::from_fn(extract::host_cookie))
            .layer(SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
            ))
    } else {
        app
    };
    // The span names the path only: a query may carry a CSRF token (the
    // snapshot download link) or key names, neither of which belongs in logs.
    app.layer(
        TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::debug_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
            )
        }),
    )
}

/// The built frontend (`assets.rs`): any path that is not a file is the
/// app's own route, so it gets `index.html` (deep links).
fn frontend(dist: Option<&Path>) -> Router {
    assets::router(dist)
}

/// `GET /healthz`: 200 when etcd answers now (some members may be down:
/// the body names them), 503 otherwise. With several clusters the body is
/// the first cluster's and `clusters` names each one's; the answer is 200
/// while any cluster answers, since etcdeck still serves that one.
async fn healthz(State(all): State<AllClusters>) -> Response {
    let checks = futures::future::join_all(all.0.iter().map(|(_, s)| s.session.check())).await;
    let up = |c: &Connection| matches!(c, Connection::Connected { .. });
    let code = if checks.iter().any(up) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let Some(first) = checks.first() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    if checks.len() == 1 {
        return (code, Json(first.clone())).into_response();
    }
    let mut body = serde_json::to_value(first).unwrap_or_default();
    let clusters: Vec<ClusterSummary> = all
        .0
        .iter()
        .zip(&checks)
        .map(|((name, _), connection)| ClusterSummary {
            name: name.clone(),
            connection: connection.clone(),
        })
        .collect();
    if let (Some(object), Ok(list)) = (body.as_object_mut(), serde_json::to_value(clusters)) {
        object.insert("clusters".to_owned(), list);
    }
    (code, Json(body)).into_response()
}

/// `GET /api/v1/clusters`: every cluster's name and etcdeck's own
/// connection to it, for the header's switcher. Answered without a
/// session: it names no key and no user.
async fn list_clusters(State(all): State<AllClusters>) -> Response {
    let clusters = all
        .0
        .iter()
        .map(|(name, state)| ClusterSummary {
            name: name.clone(),
            connection: state.session.connection(),
        })
        .collect();
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Clusters { clusters }),
    )
        .into_response()
}

/// Counts every request by the route pattern it matched (never its raw
/// path, which names keys) and the status of its answer.
async fn count_request(
    State(metrics): State<Metrics>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.http_request(
        route.as_ref().map(MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `GET /metrics`: the Prometheus text format, its gauges of sessions,
/// subscriptions and upstream watches counted now by their owners.
async fn metrics_text(State(all): State<AllClusters>) -> Response {
    for (_, state) in all.0.iter() {
        let (login_sessions, wall_sessions, open_sessions) = state.sessions.count_by_kind();
        let live = state.hub.stats();
        state.metrics.set_now(crate::metrics::Now {
            login_sessions,
            wall_sessions,
            open_sessions,
            subscriptions: live.subscribers,
            upstream_watches: live.upstream_watches,
        });
    }
    // Every cluster's handle encodes the one registry they share.
    let Some((_, first)) = all.0.first() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match first.metrics.encode() {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "encoding the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /api/v1/status`: answered without a session (the login page shows
/// it too); `user` is the session's etcd user when there is one.
async fn status(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Json<Status> {
    let session = extract::session_cookie(&headers).and_then(|id| state.sessions.peek(&id));
    let etcd = session.as_ref().map_or(&state.session, |s| &s.etcd);
    Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        connection: etcd.connection(),
        endpoints: state.session.endpoints().to_vec(),
        user: session.as_ref().and_then(|s| s.user.clone()),
        read_only: state.config.read_only,
        separator: state.config.separator.clone().into(),
    })
}

/// `GET /api/v1/level?prefix=P&after=C&limit=N&revision=R`.
async fn level(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<Level>, Failure> {
    let query = Query::parse(raw.as_deref())?;
    let prefix = query.bytes("prefix").unwrap_or_default();
    let after = query.bytes("after");
    let limit = match query.text("limit") {
        None => DEFAULT_LEVEL_PAGE,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| {
                Failure::BadRequest(format!("limit must be a whole number, not '{text}'"))
            })?
            .clamp(1, MAX_LEVEL_PAGE),
    };
    let at = history::revision_param(&query)?;
    let warm = sizes::level_from_model(
        &state,
        &reader,
        prefix.as_slice(),
        after.as_ref().map(|a| a.as_slice()),
        limit,
        at.map(|r| r.0),
    )
    .await?;
    if let Some(level) = warm {
        return Ok(Json(level));
    }
    let level = tree::list_level_at(
        &reader.etcd,
        prefix.as_slice(),
        &state.config.separator,
        after.as_ref().map(|a| a.as_slice()),
        limit,
        at.map(|r| r.0),
    )
    .await
    .map_err(|err| error::level_failure(err, at))?;
    Ok(Json(level))
}

/// `GET /api/v1/key?key=K&revision=R`.
async fn key(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<KeyValue>, Failure> {
    Ok(Json(read_key(&state, &reader, raw.as_deref()).await?))
}

/// The key a `?key=K&revision=R` query names, read as the session's own etcd
/// user and masked: the one read behind `GET /api/v1/key` and the decoded view.
pub(super) async fn read_key(
    state: &AppState,
    reader: &Reader,
    raw: Option<&str>,
) -> Result<KeyValue, Failure> {
    let query = Query::parse(raw)?;
    let key = query
        .bytes("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Failure::BadRequest("the key parameter is missing or empty".into()))?;
    let at = history::revision_param(&query)?;
    let read = reader
        .etcd
        .get_key_at(&key, at)
        .await
        .map_err(|err| error::at_revision_failure(err, at))?;
    match read {
        KeyRead::Found(kv) => Ok(mask::masked(kv, &state.config.masks)),
        KeyRead::Missing { revision } => Err(Failure::KeyMissing {
            message: format!("the key {} does not exist", key.display()),
            revision,
        }),
    }
}

/// `GET /api/v1/live`: how many upstream watches and subscribers the hub has.
async fn live(State(state): State<AppState>) -> Json<LiveStats> {
    let stats = state.hub.stats();
    Json(LiveStats {
        upstream_watches: stats.upstream_watches as u64,
        subscribers: stats.subscribers as u64,
    })
}

/// `GET /api/v1/leases`.
async fn leases(State(state): State<AppState>, reader: Reader) -> Result<Json<Leases>, Failure> {
    Ok(Json(
        state.coord.leases(&reader.etcd, reader.sharing()).await?,
    ))
}

/// `GET /api/v1/locks`.
async fn locks(State(state): State<AppState>, reader: Reader) -> Result<Json<Locks>, Failure> {
    let locks = state.coord.locks(&reader.etcd, reader.sharing()).await?;
    Ok(Json(mask::masked(locks, &state.config.masks)))
}

/// `GET /api/v1/elections`.
async fn elections(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Json<Elections>, Failure> {
    let elections = state
        .coord
        .elections(&reader.etcd, reader.sharing())
        .await?;
    Ok(Json(mask::masked(elections, &state.config.masks)))
}

/// `GET /api/v1/queues`.
async fn queues(State(state): State<AppState>, reader: Reader) -> Result<Json<Queues>, Failure> {
    Ok(Json(
        state.coord.queues(&reader.etcd, reader.sharing()).await?,
    ))
}

/// `GET /api/v1/services`.
async fn services(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Json<Services>, Failure> {
    let services = state.coord.services(&reader.etcd, reader.sharing()).await?;
    Ok(Json(mask::masked(services, &state.config.masks)))
}

/// Any method on a path under `/api/` that is not an endpoint: 404, so a
/// script learns the path is wrong rather than the method.
async fn unknown_api(uri: axum::http::Uri) -> Failure {
    Failure::NotFound(format!(
        "{} is not an endpoint of this etcdeck's API",
        uri.path()
    ))
}
