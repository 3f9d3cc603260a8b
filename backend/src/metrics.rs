//! etcdeck's own metrics for Prometheus (`GET /metrics`): one registry for
//! the whole process and the cheap handle ([`Metrics`]) that the parts that
//! count hold a clone of.
//!
//! Every label set is bounded: a route as axum matched it (never the raw
//! path), a status code, a session kind, a reason, a kind of etcd call, an
//! error class. No key, value, etcd user name or client address is ever a
//! label, so the output holds nothing secret and its size does not grow with
//! the keyspace or the number of people.
//!
//! Counters and histograms are moved where things happen, by one-line calls
//! in the hub, the WebSocket, the etcd session and the HTTP middleware.
//! Gauges of what exists now (sessions, subscriptions, upstream watches) are
//! set from their owners' own counts just before each scrape
//! ([`Metrics::set_now`]), so they can never drift from the truth.
//!
//! This module names no other module of the backend: everyone may use it.

use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use etcdeck_shared::edit::SessionKind;
use etcdeck_shared::ws::GapReason;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of the answer (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Histogram buckets in seconds: 0.5 ms doubling up to about 8 s, which
/// spans a loopback etcd read and a request that waited out a failover.
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_5, 2.0, 15))
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// A kind of etcd request, named by what etcd is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtcdCall {
    /// A new connection to a member, authenticated when the session has
    /// credentials (a login's first, and each one after a member failed).
    Connect,
    Range,
    Put,
    Delete,
    Txn,
    Compact,
    LeaseGrant,
    LeaseRevoke,
    LeaseKeepAlive,
    LeaseTimeToLive,
    LeaseList,
    WatchOpen,
    Status,
    MemberList,
    Alarm,
    Defragment,
    MoveLeader,
    Snapshot,
    UserGet,
    UserList,
    RoleList,
    RoleGet,
    /// Any change to etcd's users and roles (add, delete, grant, revoke).
    AuthChange,
}

impl EtcdCall {
    fn as_str(self) -> &'static str {
        match self {
            EtcdCall::Connect => "connect",
            EtcdCall::Range => "range",
            EtcdCall::Put => "put",
            EtcdCall::Delete => "delete",
            EtcdCall::Txn => "txn",
            EtcdCall::Compact => "compact",
            EtcdCall::LeaseGrant => "lease_grant",
            EtcdCall::LeaseRevoke => "lease_revoke",
            EtcdCall::LeaseKeepAlive => "lease_keep_alive",
            EtcdCall::LeaseTimeToLive => "lease_time_to_live",
            EtcdCall::LeaseList => "lease_list",
            EtcdCall::WatchOpen => "watch_open",
            EtcdCall::Status => "status",
            EtcdCall::MemberList => "member_list",
            EtcdCall::Alarm => "alarm",
            EtcdCall::Defragment => "defragment",
            EtcdCall::MoveLeader => "move_leader",
            EtcdCall::Snapshot => "snapshot",
            EtcdCall::UserGet => "user_get",
            EtcdCall::UserList => "user_list",
            EtcdCall::RoleList => "role_list",
            EtcdCall::RoleGet => "role_get",
            EtcdCall::AuthChange => "auth_change",
        }
    }
}

impl EncodeLabelValue for EtcdCall {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Why an upstream etcd watch had to be opened again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rewatch {
    /// etcd cancelled it for an auth reason (an expired token, say).
    Auth,
    /// Its resume revision was compacted: every subscriber resyncs.
    Compacted,
    /// The stream broke or no member answered.
    Unavailable,
}

impl EncodeLabelValue for Rewatch {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        let text = match self {
            Rewatch::Auth => "auth",
            Rewatch::Compacted => "compacted",
            Rewatch::Unavailable => "unavailable",
        };
        fmt::Write::write_str(encoder, text)
    }
}

/// A browser session's kind as a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Login,
    WallToken,
    Open,
}

impl From<SessionKind> for Kind {
    fn from(kind: SessionKind) -> Self {
        match kind {
            SessionKind::Login => Kind::Login,
            SessionKind::Token => Kind::WallToken,
            SessionKind::Open => Kind::Open,
        }
    }
}

impl EncodeLabelValue for Kind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        let text = match self {
            Kind::Login => "login",
            Kind::WallToken => "wall_token",
            Kind::Open => "open",
        };
        fmt::Write::write_str(encoder, text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    /// The route's pattern (`/api/v1/key`), `frontend` for the built
    /// frontend and deep links.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SessionLabels {
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GapLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RewatchLabels {
    reason: Rewatch,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    call: EtcdCall,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallErrorLabels {
    call: EtcdCall,
    /// The error's class (`EtcdError::code`), never its text.
    code: &'static str,
}

/// What exists now, counted by its owners just before a scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Now {
    pub login_sessions: usize,
    pub wall_sessions: usize,
    pub open_sessions: usize,
    /// Subscribers attached to the hub (browsers' and etcdeck's own queue
    /// trackers).
    pub subscriptions: usize,
    pub upstream_watches: usize,
}

/// The process's metrics. Cheap to clone: every clone counts into the same
/// registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    /// The whole process's registry (every cluster's, when there are
    /// several), set once every cluster's families are registered in it.
    registry: Arc<OnceLock<Registry>>,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    sessions: Family<SessionLabels, Gauge>,
    sessions_started: Family<SessionLabels, Counter>,
    websockets: Gauge,
    websockets_opened: Counter,
    subscriptions: Gauge,
    subscriptions_started: Counter,
    upstream_watches: Gauge,
    upstream_watches_opened: Counter,
    gaps: Family<GapLabels, Counter>,
    rewatches: Family<RewatchLabels, Counter>,
    event_delay: Histogram,
    etcd_calls: Family<CallLabels, Counter>,
    etcd_duration: Histograms<CallLabels>,
    etcd_errors: Family<CallErrorLabels, Counter>,
    // The keyspace model's state (keys, bytes and lag of the live model of
    // the keyspace) is registered here when that model lands: its gauges
    // are set in `set_now` from the model's own counts, like the ones above,
    // with the prefix as no label (prefixes are key names).
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every family registered (and empty).
    pub fn new() -> Self {
        let shared = Arc::new(OnceLock::new());
        let mut registry = Registry::with_prefix("etcdeck");
        let metrics = Metrics::register_in(&mut registry, shared.clone());
        let _ = shared.set(registry);
        metrics
    }

    /// One handle per cluster, each counting into its own families under a
    /// `cluster` label of one registry: any handle's [`Metrics::encode`]
    /// gives every cluster's (set each one's gauges with
    /// [`Metrics::set_now`] first). Cluster names are few and chosen by
    /// whoever starts etcdeck, so the label stays bounded.
    pub fn per_cluster(names: &[String]) -> Vec<Self> {
        let shared = Arc::new(OnceLock::new());
        let mut root = Registry::with_prefix("etcdeck");
        let all = names
            .iter()
            .map(|name| {
                let sub = root.sub_registry_with_label((
                    std::borrow::Cow::Borrowed("cluster"),
                    std::borrow::Cow::Owned(name.clone()),
                ));
                Metrics::register_in(sub, shared.clone())
            })
            .collect();
        let _ = shared.set(root);
        all
    }

    fn register_in(registry: &mut Registry, shared: Arc<OnceLock<Registry>>) -> Self {
        let http_requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            http_requests.clone(),
        );
        let http_duration: Histograms<RouteLabels> =
            Family::new_with_constructor(seconds_buckets as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from an HTTP request's arrival to its answer's head, by route pattern",
            http_duration.clone(),
        );
        let sessions = Family::default();
        registry.register(
            "sessions",
            "Browser sessions that exist now, by kind",
            sessions.clone(),
        );
        let sessions_started = Family::default();
        registry.register(
            "sessions_started",
            "Browser sessions made, by kind",
            sessions_started.clone(),
        );
        let websockets = Gauge::default();
        registry.register("websockets", "WebSockets open now", websockets.clone());
        let websockets_opened = Counter::default();
        registry.register(
            "websockets_opened",
            "WebSockets opened",
            websockets_opened.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "subscriptions",
            "Subscriptions attached to the watch hub now (browsers' and the queue trackers')",
            subscriptions.clone(),
        );
        let subscriptions_started = Counter::default();
        registry.register(
            "subscriptions_started",
            "Subscriptions made through the watch hub",
            subscriptions_started.clone(),
        );
        let upstream_watches = Gauge::default();
        registry.register(
            "upstream_watches",
            "etcd watches the hub holds open now (one per etcd user and range)",
            upstream_watches.clone(),
        );
        let upstream_watches_opened = Counter::default();
        registry.register(
            "upstream_watches_started",
            "Upstream watches the hub started (shared and private)",
            upstream_watches_opened.clone(),
        );
        let gaps = Family::default();
        registry.register(
            "gaps",
            "Gaps told to subscribers, each followed by a resync from a snapshot, by reason",
            gaps.clone(),
        );
        let rewatches = Family::default();
        registry.register(
            "upstream_rewatches",
            "Upstream watches that ended, by reason (each is opened again unless etcd denies the range)",
            rewatches.clone(),
        );
        let event_delay = Histogram::new(exponential_buckets(0.000_5, 2.0, 15));
        registry.register(
            "event_delay_seconds",
            "Time from the hub receiving a revision from etcd to its WebSocket write \
             (revisions replayed to a resuming tab count with their age)",
            event_delay.clone(),
        );
        let etcd_calls = Family::default();
        registry.register(
            "etcd_calls",
            "Requests to etcd, by kind (one per request, over every member it tried)",
            etcd_calls.clone(),
        );
        let etcd_duration: Histograms<CallLabels> =
            Family::new_with_constructor(seconds_buckets as fn() -> Histogram);
        registry.register(
            "etcd_call_duration_seconds",
            "Time a request to etcd took, failed or not, by kind",
            etcd_duration.clone(),
        );
        let etcd_errors = Family::default();
        registry.register(
            "etcd_call_errors",
            "Requests to etcd that failed, by kind and error class",
            etcd_errors.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry: shared,
                http_requests,
                http_duration,
                sessions,
                sessions_started,
                websockets,
                websockets_opened,
                subscriptions,
                subscriptions_started,
                upstream_watches,
                upstream_watches_opened,
                gaps,
                rewatches,
                event_delay,
                etcd_calls,
                etcd_duration,
                etcd_errors,
            }),
        }
    }

    /// The whole registry in the Prometheus text format.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        if let Some(registry) = self.inner.registry.get() {
            prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?;
        }
        Ok(out)
    }

    /// Sets the gauges of what exists now (called before each scrape).
    pub fn set_now(&self, now: Now) {
        let inner = &self.inner;
        for (kind, count) in [
            (SessionKind::Login, now.login_sessions),
            (SessionKind::Token, now.wall_sessions),
            (SessionKind::Open, now.open_sessions),
        ] {
            inner
                .sessions
                .get_or_create(&SessionLabels { kind: kind.into() })
                .set(gauge(count));
        }
        inner.subscriptions.set(gauge(now.subscriptions));
        inner.upstream_watches.set(gauge(now.upstream_watches));
    }

    /// One HTTP request answered. `route` is the pattern axum matched
    /// (`None` for the built frontend).
    pub fn http_request(&self, route: Option<&str>, status: u16, took: Duration) {
        let route = route.unwrap_or("frontend").to_owned();
        self.inner
            .http_duration
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(took.as_secs_f64());
        self.inner
            .http_requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    /// A browser session was made.
    pub fn session_started(&self, kind: SessionKind) {
        self.inner
            .sessions_started
            .get_or_create(&SessionLabels { kind: kind.into() })
            .inc();
    }

    /// A WebSocket opened; it counts as open until the guard is dropped.
    #[must_use = "the socket counts as open while the guard lives"]
    pub fn websocket_opened(&self) -> OpenSocket {
        self.inner.websockets_opened.inc();
        self.inner.websockets.inc();
        OpenSocket {
            gauge: self.inner.websockets.clone(),
        }
    }

    /// A subscription was made through the hub.
    pub fn subscription_started(&self) {
        self.inner.subscriptions_started.inc();
    }

    /// The hub started an upstream etcd watch.
    pub fn upstream_started(&self) {
        self.inner.upstream_watches_opened.inc();
    }

    /// A subscriber was told of a gap and resyncs.
    pub fn gap(&self, reason: &GapReason) {
        let reason = match reason {
            GapReason::Lagged => "lagged",
            GapReason::Compacted { .. } => "compacted",
        };
        self.inner.gaps.get_or_create(&GapLabels { reason }).inc();
    }

    /// An upstream watch ended and is opened again.
    pub fn rewatch(&self, reason: impl Into<Rewatch>) {
        let reason = reason.into();
        self.inner
            .rewatches
            .get_or_create(&RewatchLabels { reason })
            .inc();
    }

    /// A revision the hub received at `received` was written to a WebSocket.
    pub fn event_written(&self, received: Instant) {
        self.inner
            .event_delay
            .observe(received.elapsed().as_secs_f64());
    }

    /// One request to etcd ended after `took`, failed with an error of
    /// class `error` or not.
    pub fn etcd_call(&self, call: EtcdCall, took: Duration, error: Option<&'static str>) {
        let labels = CallLabels { call };
        self.inner.etcd_calls.get_or_create(&labels).inc();
        self.inner
            .etcd_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if let Some(code) = error {
            self.inner
                .etcd_errors
                .get_or_create(&CallErrorLabels { call, code })
                .inc();
        }
    }
}

/// Counts a WebSocket as open while it lives.
#[derive(Debug)]
pub struct OpenSocket {
    gauge: Gauge<i64, AtomicI64>,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family is in the output from the start, named as the
    /// dashboard expects, and counts show up under their labels.
    #[test]
    fn families_and_labels_encode() {
        let metrics = Metrics::new();
        metrics.http_request(Some("/api/v1/key"), 200, Duration::from_millis(3));
        metrics.etcd_call(
            EtcdCall::Range,
            Duration::from_millis(1),
            Some("unavailable"),
        );
        metrics.gap(&GapReason::Lagged);
        metrics.rewatch(Rewatch::Auth);
        metrics.session_started(SessionKind::Token);
        let socket = metrics.websocket_opened();
        metrics.set_now(Now {
            login_sessions: 2,
            ..Now::default()
        });
        let text = metrics.encode().unwrap();
        for line in [
            r#"etcdeck_http_requests_total{route="/api/v1/key",status="200"} 1"#,
            r#"etcdeck_etcd_calls_total{call="range"} 1"#,
            r#"etcdeck_etcd_call_errors_total{call="range",code="unavailable"} 1"#,
            r#"etcdeck_gaps_total{reason="lagged"} 1"#,
            r#"etcdeck_upstream_rewatches_total{reason="auth"} 1"#,
            r#"etcdeck_sessions_started_total{kind="wall_token"} 1"#,
            r#"etcdeck_sessions{kind="login"} 2"#,
            "etcdeck_websockets 1",
            "# TYPE etcdeck_event_delay_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
        }
        drop(socket);
        let text = metrics.encode().unwrap();
        assert!(text.lines().any(|l| l == "etcdeck_websockets 0"), "{text}");
    }
}
