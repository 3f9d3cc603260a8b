//! The etcd session: the only module that names `etcd_client` types.
//!
//! An [`EtcdSession`] is one etcd user's way to etcd: etcdeck's own (made at
//! start-up from `--user`) or one person's login. It holds one
//! authenticated client per endpoint, connected when first needed, and
//! sends every request through [`EtcdSession::call`], which tries the
//! endpoints in the order [`endpoints::Endpoints`] gives (members that
//! answer first) and moves on to the next within the request's deadline
//! when one cannot be reached. Which members answer is known from a prober
//! shared by every session of the cluster, so a member that died or hangs
//! is left out before a request meets it. Expired auth tokens on ordinary
//! requests are renewed by etcd-client's automatic token refresh; watches
//! renew them through [`EtcdSession::refresh_token`].
//!
//! Start-up tells a fatal configuration problem (wrong password, bad TLS
//! settings) apart from an etcd that is merely unreachable, which is
//! retried: the prober keeps asking, and the next request connects.
//!
//! Conversions from etcd types to wire types live in [`convert`].

mod auth_admin;
mod convert;
mod coord;
mod endpoints;
mod error;
mod history;
mod maintenance;
mod metrics_scrape;
mod probe;
mod search;
mod source;
mod tls_check;
mod transfer;
mod watches;
mod writes;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions};
use etcdeck_shared::{Bytes, Connection, KeyValue, Revision};
use futures::future::join_all;
use tokio::sync::{Mutex, watch};

use crate::config::{Credentials, EtcdConfig};
use crate::metrics::{EtcdCall, Metrics};
use endpoints::{Endpoints, went_down};
use metrics_scrape::Scraper;

pub use coord::{LeaseInfo, RangeKv, RangeKvs};
pub use endpoints::{ClusterReadings, EndpointState, MemberEntry, StatusReading};
pub use error::{EtcdError, StartError};
pub use history::{HistoryError, KeyHistory};
pub use maintenance::{Defragment, MaintenanceError, Snapshot, hex as member_hex, parse_member};
pub use metrics_scrape::{MemberMetrics, MetricsReading, SCRAPE_EVERY};
pub use probe::MayWrite;
pub use search::{SearchKv, SearchPage};
pub use transfer::{BatchWrite, Page, PageKv};
pub use watches::{RangeWatch, WatchEnd, WatchMessage};
pub use writes::{
    CopyOutcome, CopyPlan, Guarded, MAX_TXN_OPS, SourceKv, Sources, is_lease_not_found,
};

/// How long one attempt to connect to one endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long any one request to etcd may take, over every endpoint it tries.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What reading one key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRead {
    Found(KeyValue),
    /// The key does not exist as of `revision`.
    Missing {
        revision: Revision,
    },
}

/// When a request that failed on one endpoint may be sent to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    /// Reads, and writes whose repetition is harmless or recognised (a
    /// guarded write that finds its own value): after any failure to reach
    /// the endpoint, answer lost or not.
    Always,
    /// Writes that must not happen twice (a lease grant, a copy): only when
    /// the request certainly did not reach etcd (the connection could not
    /// be made).
    IfNotSent,
}

/// Which clients a request uses.
#[derive(Clone, Copy, Debug)]
enum Via<'a> {
    /// The session's own, authenticated as its etcd user.
    Session,
    /// Clients made for this request with these options (no credentials).
    Fresh(&'a ConnectOptions),
}

/// A request's answer, and how it was had.
#[derive(Debug)]
struct Answered<T> {
    value: T,
    /// The endpoint that answered.
    endpoint: usize,
    /// An earlier attempt may have reached etcd without its answer coming
    /// back: a write may have been applied before this attempt.
    after_lost_answer: bool,
}

/// One etcd user's session with etcd. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EtcdSession {
    inner: Arc<Inner>,
}

struct Inner {
    config: EtcdConfig,
    options: ConnectOptions,
    endpoints: Endpoints,
    /// The members' `/metrics` readings, shared like `endpoints`.
    scraper: Scraper,
    /// This session's authenticated client per endpoint, connected when
    /// first needed and dropped when the endpoint failed, so that the next
    /// use connects (and authenticates) afresh.
    clients: Vec<Mutex<Option<Client>>>,
    /// The endpoint that answered last: tried first among equals, so a
    /// session keeps to one member while it answers.
    preferred: AtomicUsize,
    /// When the auth token was last renewed; held while renewing, so that
    /// many watches failing at once renew it once.
    token_renewed: Mutex<Option<Instant>>,
    /// Turns `true` once etcd refused this session's password after it had
    /// been accepted ([`EtcdError::PasswordRevoked`]).
    revoked: watch::Sender<bool>,
    /// Where every request is counted (shared by every session).
    metrics: Metrics,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("endpoints", &self.config.endpoints)
            .finish_non_exhaustive()
    }
}

impl EtcdSession {
    /// etcdeck's own session, and the prober of the cluster's endpoints,
    /// which runs until `shutdown`. Fails only on what retrying cannot fix:
    /// bad TLS files, or credentials etcd rejects. An unreachable etcd gives
    /// a session that reports itself disconnected until a member answers.
    pub async fn start(
        config: EtcdConfig,
        metrics: Metrics,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, StartError> {
        let options = connect_options(&config)?;
        let mut anonymous = config.clone();
        anonymous.credentials = None;
        let endpoints = Endpoints::new(config.endpoints.clone(), connect_options(&anonymous)?);
        let scraper = Scraper::new(config.endpoints.clone(), config.tls.as_ref());
        let session =
            EtcdSession::new(config, options, endpoints.clone(), metrics, scraper.clone());
        endpoints.probe_all().await;
        tokio::spawn(scraper.run(shutdown.clone()));
        tokio::spawn(endpoints.run(shutdown));
        match session.connect_any().await {
            Ok(()) => {}
            Err(err) if err.is_fatal_at_start() => {
                return Err(StartError::Rejected(err.to_string()));
            }
            Err(err) => {
                tracing::warn!(error = %err, "etcd is not reachable yet; retrying in the background");
            }
        }
        Ok(session)
    }

    /// A session for one person's login, sharing this session's knowledge
    /// of which endpoints answer. It must authenticate now, so that a wrong
    /// password or an unreachable etcd is the answer to the login.
    pub async fn login(&self, credentials: Credentials) -> Result<Self, EtcdError> {
        let mut config = self.inner.config.clone();
        config.credentials = Some(credentials);
        let options = connect_options(&config).map_err(|err| EtcdError::Config(err.to_string()))?;
        let session = EtcdSession::new(
            config,
            options,
            self.inner.endpoints.clone(),
            self.inner.metrics.clone(),
            self.inner.scraper.clone(),
        );
        session.connect_any().await?;
        Ok(session)
    }

    fn new(
        config: EtcdConfig,
        options: ConnectOptions,
        endpoints: Endpoints,
        metrics: Metrics,
        scraper: Scraper,
    ) -> Self {
        let clients = endpoints.urls().iter().map(|_| Mutex::new(None)).collect();
        EtcdSession {
            inner: Arc::new(Inner {
                config,
                options,
                endpoints,
                scraper,
                clients,
                preferred: AtomicUsize::new(0),
                token_renewed: Mutex::new(None),
                revoked: watch::channel(false).0,
                metrics,
            }),
        }
    }

    /// Whether etcd has authentication enabled, asked without credentials:
    /// etcd with auth on refuses an anonymous read.
    pub async fn auth_enabled(&self) -> Result<bool, EtcdError> {
        let anonymous = self.inner.endpoints.anonymous_options().clone();
        let probe = self
            .attempts(
                Via::Fresh(&anonymous),
                Retry::Always,
                CONNECT_TIMEOUT,
                |mut client| async move {
                    let options = GetOptions::new().with_count_only().with_limit(1);
                    client.get(vec![0], Some(options)).await
                },
            )
            .await;
        match probe {
            Ok(_) => Ok(false),
            Err(EtcdError::PermissionDenied(_) | EtcdError::AuthFailed(_)) => Ok(true),
            Err(err) if err.is_anonymous_refusal() => Ok(true),
            Err(err) => Err(err),
        }
    }

    /// Whether this session's etcd user has etcd's `root` role, asked of
    /// etcd (`UserGet` on one's own user needs no admin permission). A
    /// session without credentials is not root.
    pub async fn is_root(&self) -> Result<bool, EtcdError> {
        let Some(user) = self.user() else {
            return Ok(false);
        };
        let user = &user.to_owned();
        let answer = self
            .call(Retry::Always, |mut client| async move {
                client.user_get(user.clone()).await
            })
            .await?;
        Ok(answer.roles().iter().any(|role| role == "root"))
    }

    /// What the endpoint prober knows of every endpoint and member now:
    /// asks etcd nothing (the prober's once-a-second `Status`, its member
    /// list every 30 s and the members' `/metrics` every 10 s are shared by
    /// every reader).
    pub fn cluster_readings(&self) -> ClusterReadings {
        let mut readings = self.inner.endpoints.readings();
        readings.metrics = self.inner.scraper.readings();
        readings
    }

    /// Where this session's requests are counted (shared by every session
    /// of the server).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn endpoints(&self) -> &[String] {
        &self.inner.config.endpoints
    }

    pub fn user(&self) -> Option<&str> {
        self.inner
            .config
            .credentials
            .as_ref()
            .map(|c| c.user.as_str())
    }

    /// The connection state as last seen: connected (perhaps with members
    /// that do not answer), or disconnected with the reason.
    pub fn connection(&self) -> Connection {
        self.inner.endpoints.connection()
    }

    /// etcd's revision as the cluster's prober sees it, about once a second
    /// (every answer is sent, changed or not), at no cost of its own.
    pub fn revisions(&self) -> watch::Receiver<Option<i64>> {
        self.inner.endpoints.revisions()
    }

    /// Asks the endpoints now whether they answer (those known to be down
    /// are left to the prober), and answers the state that follows.
    pub async fn check(&self) -> Connection {
        self.inner.endpoints.probe_live().await
    }

    /// One key with its lease, or the revision at which it does not exist.
    pub async fn get_key(&self, key: &Bytes) -> Result<KeyRead, EtcdError> {
        self.get_key_at(key, None).await
    }

    /// One key with its lease at `revision` (`None`: now). A compacted
    /// revision is [`EtcdError::Compacted`].
    pub async fn get_key_at(
        &self,
        key: &Bytes,
        revision: Option<Revision>,
    ) -> Result<KeyRead, EtcdError> {
        let options = revision.map(|at| GetOptions::new().with_revision(at.0));
        let response = self.get(key.0.clone(), options).await?;
        let read_at = match revision {
            Some(at) => at.0,
            None => response.header().map_or(0, |h| h.revision()),
        };
        let Some(kv) = response.kvs().first() else {
            return Ok(KeyRead::Missing {
                revision: Revision(read_at),
            });
        };
        Ok(KeyRead::Found(self.with_lease(kv, read_at).await))
    }

    /// `kv` as read at `revision`, with its lease's TTL read now when it
    /// has one: the one place a key is read with its lease.
    async fn with_lease(&self, kv: &etcd_client::KeyValue, revision: i64) -> KeyValue {
        let lease = match kv.lease() {
            0 => None,
            id => Some(
                match self
                    .call(Retry::Always, |mut client| async move {
                        client.lease_time_to_live(id, None).await
                    })
                    .await
                {
                    Ok(ttl) => convert::lease(id, &ttl),
                    // The key is still worth showing when its lease cannot be read.
                    Err(err) => {
                        tracing::debug!(error = %err, lease = id, "lease time-to-live unavailable");
                        convert::unknown_lease(id)
                    }
                },
            ),
        };
        convert::key_value(kv, lease, revision)
    }

    /// A range read (`Get`), from whichever member answers.
    async fn get(
        &self,
        key: Vec<u8>,
        options: Option<GetOptions>,
    ) -> Result<etcd_client::GetResponse, EtcdError> {
        let (key, options) = (&key, &options);
        self.call(Retry::Always, |mut client| async move {
            client.get(key.clone(), options.clone()).await
        })
        .await
    }

    /// Runs `op` on a client of an endpoint that answers, trying the next
    /// endpoint when one cannot be reached, until [`REQUEST_TIMEOUT`].
    async fn call<T: Called, F: Future<Output = Result<T, etcd_client::Error>>>(
        &self,
        retry: Retry,
        op: impl Fn(Client) -> F,
    ) -> Result<T, EtcdError> {
        self.call_reporting(retry, REQUEST_TIMEOUT, op)
            .await
            .map(|answered| answered.value)
    }

    /// [`Self::call`] within `limit`, saying which endpoint answered and
    /// whether an earlier attempt's answer was lost.
    async fn call_reporting<T: Called, F: Future<Output = Result<T, etcd_client::Error>>>(
        &self,
        retry: Retry,
        limit: Duration,
        op: impl Fn(Client) -> F,
    ) -> Result<Answered<T>, EtcdError> {
        self.attempts(Via::Session, retry, limit, op).await
    }

    async fn attempts<T: Called, F: Future<Output = Result<T, etcd_client::Error>>>(
        &self,
        via: Via<'_>,
        retry: Retry,
        limit: Duration,
        op: impl Fn(Client) -> F,
    ) -> Result<Answered<T>, EtcdError> {
        let started = Instant::now();
        let answer = self.attempts_uncounted(via, retry, limit, op).await;
        let error = answer.as_ref().err().map(EtcdError::code);
        self.inner
            .metrics
            .etcd_call(T::CALL, started.elapsed(), error);
        answer
    }

    async fn attempts_uncounted<T, F: Future<Output = Result<T, etcd_client::Error>>>(
        &self,
        via: Via<'_>,
        retry: Retry,
        limit: Duration,
        op: impl Fn(Client) -> F,
    ) -> Result<Answered<T>, EtcdError> {
        let deadline = Instant::now() + limit;
        let endpoints = &self.inner.endpoints;
        let mut after_lost_answer = false;
        let mut last = None;
        for endpoint in endpoints.order(self.inner.preferred.load(Ordering::Relaxed)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let client = match via {
                Via::Session => self.client(endpoint, left).await,
                Via::Fresh(options) => connect(endpoints.url(endpoint), options, left).await,
            };
            let client = match client {
                Ok(client) => client,
                Err(err) if err.is_unreachable() => {
                    self.failed(endpoint, &err).await;
                    last = Some(err);
                    continue;
                }
                Err(err) => return Err(self.revoked_via(via, err)),
            };
            let mut health = endpoints.watch(endpoint);
            // A write that must not be repeated waits for its answer: the
            // endpoint counting as down says nothing of whether it applied.
            let down = async {
                match retry {
                    Retry::Always => went_down(&mut health).await,
                    Retry::IfNotSent => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                answer = tokio::time::timeout(left, op(client)) => match answer {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(err)) => Err(EtcdError::from(err)),
                    Err(_) => Err(EtcdError::Unavailable(format!(
                        "{} did not answer within {} s",
                        endpoints.url(endpoint),
                        limit.as_secs_f64().ceil()
                    ))),
                },
                error = down => Err(EtcdError::Unavailable(format!(
                    "{} stopped answering: {error}",
                    endpoints.url(endpoint)
                ))),
            };
            match outcome {
                Ok(value) => {
                    endpoints.mark_up(endpoint);
                    self.inner.preferred.store(endpoint, Ordering::Relaxed);
                    return Ok(Answered {
                        value,
                        endpoint,
                        after_lost_answer,
                    });
                }
                Err(err) if err.is_unreachable() => {
                    let not_sent = err.is_connect_failure();
                    self.failed(endpoint, &err).await;
                    if retry == Retry::IfNotSent && !not_sent {
                        return Err(err);
                    }
                    after_lost_answer |= !not_sent;
                    last = Some(err);
                }
                Err(err) => return Err(self.revoked_via(via, err)),
            }
        }
        Err(last.unwrap_or_else(|| {
            EtcdError::Unavailable(format!(
                "no etcd endpoint answered within {} s",
                limit.as_secs()
            ))
        }))
    }

    /// `endpoint` could not be reached: requests leave it until the prober
    /// sees it answer, and this session connects to it afresh next time.
    async fn failed(&self, endpoint: usize, err: &EtcdError) {
        tracing::debug!(endpoint = self.inner.endpoints.url(endpoint), error = %err, "etcd request failed over");
        self.inner.endpoints.mark_down(endpoint, err);
        *self.inner.clients[endpoint].lock().await = None;
    }

    /// This session's client for `endpoint`, connecting (and
    /// authenticating) first if it has none.
    async fn client(&self, endpoint: usize, limit: Duration) -> Result<Client, EtcdError> {
        let mut slot = self.inner.clients[endpoint].lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let url = self.inner.endpoints.url(endpoint);
        let started = Instant::now();
        let connected = connect(url, &self.inner.options, limit).await;
        let error = connected.as_ref().err().map(EtcdError::code);
        (self.inner.metrics).etcd_call(EtcdCall::Connect, started.elapsed(), error);
        let client = connected?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Connects to some endpoint that answers. A failure over TLS is checked
    /// by a handshake of our own, so a certificate problem is said as such
    /// (and is fatal at start) instead of as an opaque transport error.
    async fn connect_any(&self) -> Result<(), EtcdError> {
        let mut last = None;
        let order = self
            .inner
            .endpoints
            .order(self.inner.preferred.load(Ordering::Relaxed));
        for endpoint in order {
            match self.client(endpoint, CONNECT_TIMEOUT).await {
                Ok(_) => {
                    self.inner.preferred.store(endpoint, Ordering::Relaxed);
                    return Ok(());
                }
                Err(err) if err.is_unreachable() => {
                    self.inner.endpoints.mark_down(endpoint, &err);
                    last = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        let reason = last.map_or_else(|| "no endpoints".to_owned(), |err| err.to_string());
        let config = &self.inner.config;
        match tls_check::diagnose(&config.endpoints, config.tls.as_ref()).await {
            Some(problem) => {
                tracing::debug!(%reason, "connecting to etcd failed over TLS");
                Err(EtcdError::Config(problem))
            }
            None => Err(EtcdError::Unavailable(reason)),
        }
    }

    /// Authenticates again on every endpoint this session is connected to,
    /// replacing the token its requests carry. Callers that fail together
    /// renew once: a renewal that finished after this call began already
    /// gave them a fresh token. An endpoint whose renewal fails is
    /// connected afresh (and so authenticated) when next used.
    pub async fn refresh_token(&self) -> Result<(), EtcdError> {
        let asked = Instant::now();
        let mut renewed = self.inner.token_renewed.lock().await;
        if renewed.is_some_and(|at| at >= asked) {
            return Ok(());
        }
        let mut connected = Vec::new();
        for (endpoint, slot) in self.inner.clients.iter().enumerate() {
            if let Some(client) = slot.lock().await.clone() {
                connected.push((endpoint, client));
            }
        }
        let results = join_all(connected.into_iter().map(|(endpoint, client)| async move {
            (
                endpoint,
                with_timeout(CONNECT_TIMEOUT, client.refresh_token()).await,
            )
        }))
        .await;
        // Only a refused password is final; an endpoint that did not
        // answer is connected afresh, and so authenticated, when next used.
        let mut refused = None;
        for (endpoint, result) in results {
            match result {
                Ok(()) => {}
                Err(err) => {
                    *self.inner.clients[endpoint].lock().await = None;
                    if matches!(err, EtcdError::AuthFailed(_)) {
                        refused = Some(err);
                    }
                }
            }
        }
        *renewed = Some(Instant::now());
        refused.map_or(Ok(()), |err| Err(self.revoked_if(err)))
    }

    /// `err`, or [`EtcdError::PasswordRevoked`] when it is etcd refusing the
    /// password of this session, which it accepted before: a login's session
    /// was authenticated when it was made, so a wrong password at login never
    /// gets here. (etcdeck's own session, when it started while etcd was
    /// unreachable, may meet a wrong `--user` password here first; that is
    /// said the same way.) Marks the session revoked then.
    fn revoked_if(&self, err: EtcdError) -> EtcdError {
        match (&err, self.user()) {
            (EtcdError::AuthFailed(_), Some(user)) => {
                self.inner.revoked.send_replace(true);
                EtcdError::PasswordRevoked(user.to_owned())
            }
            _ => err,
        }
    }

    /// [`Self::revoked_if`] for requests made with this session's own
    /// credentials; an anonymous probe's refusal says nothing of them.
    fn revoked_via(&self, via: Via<'_>, err: EtcdError) -> EtcdError {
        match via {
            Via::Session => self.revoked_if(err),
            Via::Fresh(_) => err,
        }
    }

    /// Whether etcd refused this session's password after accepting it.
    pub fn is_revoked(&self) -> bool {
        *self.inner.revoked.borrow()
    }

    /// Resolves when etcd refuses this session's password after accepting
    /// it (never for a session whose password stays valid).
    pub async fn revoked(&self) {
        let mut revoked = self.inner.revoked.subscribe();
        let _ = revoked.wait_for(|r| *r).await;
    }
}

/// What kind of etcd request answers with `Self`, for the metrics: every
/// request goes through [`EtcdSession::call`], whose answer type names the
/// request, so no call site has to say it again.
trait Called {
    const CALL: EtcdCall;
}

macro_rules! called {
    ($($answer:ty => $call:ident,)*) => {
        $(impl Called for $answer {
            const CALL: EtcdCall = EtcdCall::$call;
        })*
    };
}

called! {
    etcd_client::GetResponse => Range,
    etcd_client::PutResponse => Put,
    etcd_client::DeleteResponse => Delete,
    etcd_client::TxnResponse => Txn,
    etcd_client::CompactionResponse => Compact,
    etcd_client::LeaseGrantResponse => LeaseGrant,
    etcd_client::LeaseRevokeResponse => LeaseRevoke,
    (etcd_client::LeaseKeeper, etcd_client::LeaseKeepAliveStream) => LeaseKeepAlive,
    etcd_client::LeaseTimeToLiveResponse => LeaseTimeToLive,
    etcd_client::LeaseLeasesResponse => LeaseList,
    (etcd_client::WatchStream, Option<etcd_client::WatchResponse>) => WatchOpen,
    etcd_client::StatusResponse => Status,
    etcd_client::MemberListResponse => MemberList,
    etcd_client::AlarmResponse => Alarm,
    etcd_client::DefragmentResponse => Defragment,
    etcd_client::MoveLeaderResponse => MoveLeader,
    etcd_client::SnapshotStreaming => Snapshot,
    etcd_client::UserGetResponse => UserGet,
    etcd_client::UserListResponse => UserList,
    etcd_client::RoleListResponse => RoleList,
    etcd_client::RoleGetResponse => RoleGet,
    etcd_client::UserAddResponse => AuthChange,
    etcd_client::UserDeleteResponse => AuthChange,
    etcd_client::UserGrantRoleResponse => AuthChange,
    etcd_client::UserRevokeRoleResponse => AuthChange,
    etcd_client::RoleAddResponse => AuthChange,
    etcd_client::RoleDeleteResponse => AuthChange,
    etcd_client::RoleGrantPermissionResponse => AuthChange,
    etcd_client::RoleRevokePermissionResponse => AuthChange,
}

/// A client of one endpoint; with credentials in `options`, authenticated
/// on that endpoint now.
async fn connect(
    url: &str,
    options: &ConnectOptions,
    limit: Duration,
) -> Result<Client, EtcdError> {
    let connect = Client::connect([url], Some(options.clone()));
    with_timeout(limit.min(CONNECT_TIMEOUT), connect).await
}

fn connect_options(config: &EtcdConfig) -> Result<ConnectOptions, StartError> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
        .with_auto_token_refresh(true);
    if let Some(Credentials { user, password }) = &config.credentials {
        options = options.with_user(user.clone(), password.expose().to_owned());
    }
    if let Some(tls) = &config.tls {
        let mut tls_options = TlsOptions::new();
        if let Some(ca) = &tls.ca {
            tls_options = tls_options.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &tls.identity {
            tls_options = tls_options.identity(Identity::from_pem(cert, key));
        }
        options = options.with_tls(tls_options);
    }
    Ok(options)
}

async fn with_timeout<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(EtcdError::from),
        Err(_) => Err(EtcdError::Unavailable(format!(
            "etcd did not answer within {} s",
            limit.as_secs()
        ))),
    }
}

/// Keys-only reads for [`crate::tree`].
impl EtcdSession {
    fn range_options(
        end: &crate::tree::End,
        limit: Option<usize>,
        revision: Option<i64>,
    ) -> GetOptions {
        let mut options = GetOptions::new()
            .with_keys_only()
            .with_range(end.clone().unwrap_or_else(|| vec![0]));
        if let Some(limit) = limit {
            options = options.with_limit(limit as i64);
        }
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        options
    }
}
