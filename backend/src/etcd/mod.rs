//! The etcd session: the only module that names `etcd_client` types.
//!
//! [`EtcdSession`] owns one authenticated etcd client for the whole backend,
//! shared by every request. It connects at start-up, tells a fatal
//! configuration problem (wrong password, unreadable certificate) apart from
//! an etcd that is merely unreachable, and in the second case keeps retrying
//! with capped exponential backoff in the background while the UI shows
//! "disconnected". Once connected, a health loop keeps [`Connection`] current;
//! the client itself reconnects to any of the endpoints, and expired auth tokens
//! on reads are renewed by etcd-client's automatic token refresh.
//!
//! Conversions from etcd types to wire types live in [`convert`].

mod convert;
mod coord;
mod error;
mod history;
mod probe;
mod source;
mod tls_check;
mod watches;
mod writes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions};
use etcdeck_shared::{Bytes, Connection, KeyValue, Revision};
use tokio::sync::{Mutex, RwLock, watch};

use crate::config::{Credentials, EtcdConfig};

pub use coord::{LeaseInfo, RangeKv, RangeKvs};
pub use error::{EtcdError, StartError};
pub use history::{HistoryError, KeyHistory};
pub use probe::MayWrite;
pub use watches::{RangeWatch, WatchEnd, WatchMessage};
pub use writes::{
    CopyOutcome, CopyPlan, Guarded, MAX_TXN_OPS, SourceKv, Sources, is_lease_not_found,
};

/// How long one attempt to connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long any one request to etcd may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff between connection attempts: doubles from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));
/// How often a connected session checks that etcd still answers.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// What reading one key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRead {
    Found(KeyValue),
    /// The key does not exist as of `revision`.
    Missing {
        revision: Revision,
    },
}

/// The backend's one session with etcd. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EtcdSession {
    inner: Arc<Inner>,
}

struct Inner {
    config: EtcdConfig,
    client: RwLock<Option<Client>>,
    connection: watch::Sender<Connection>,
    /// When the auth token was last renewed; held while renewing, so that
    /// many watches failing at once renew it once.
    token_renewed: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("endpoints", &self.config.endpoints)
            .finish_non_exhaustive()
    }
}

impl EtcdSession {
    /// Connects to etcd. Fails only on what retrying cannot fix: bad TLS
    /// files, or credentials etcd rejects. An unreachable etcd gives a
    /// session that reports itself disconnected and keeps trying.
    pub async fn start(
        config: EtcdConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, StartError> {
        let options = connect_options(&config)?;
        let session = EtcdSession::unconnected(config);
        match session.try_connect(&options).await {
            Ok(()) => {}
            Err(err) if err.is_fatal_at_start() => {
                return Err(StartError::Rejected(err.to_string()));
            }
            Err(err) => {
                tracing::warn!(error = %err, "etcd is not reachable yet; retrying in the background");
                session.set_disconnected(&err, BACKOFF.0);
            }
        }
        tokio::spawn(session.clone().maintain(options, shutdown));
        Ok(session)
    }

    /// A session for one person's login: unlike [`EtcdSession::start`] it
    /// must connect and authenticate now, so that a wrong password or an
    /// unreachable etcd is the answer to the login. It then keeps itself
    /// current like the server's session, until `shutdown` turns `true` or
    /// its sender is dropped.
    pub async fn login(
        config: EtcdConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, EtcdError> {
        let options = connect_options(&config).map_err(|err| EtcdError::Config(err.to_string()))?;
        let session = EtcdSession::unconnected(config);
        session.try_connect(&options).await?;
        tokio::spawn(session.clone().maintain(options, shutdown));
        Ok(session)
    }

    /// Whether etcd has authentication enabled, asked without credentials:
    /// etcd with auth on refuses an anonymous read.
    pub async fn auth_enabled(&self) -> Result<bool, EtcdError> {
        let mut anonymous = self.inner.config.clone();
        anonymous.credentials = None;
        let options =
            connect_options(&anonymous).map_err(|err| EtcdError::Config(err.to_string()))?;
        let connect = Client::connect(&anonymous.endpoints, Some(options));
        let mut client = with_timeout(CONNECT_TIMEOUT, connect).await?;
        let probe = client.get(
            vec![0],
            Some(GetOptions::new().with_count_only().with_limit(1)),
        );
        match with_timeout(CONNECT_TIMEOUT, probe).await {
            Ok(_) => Ok(false),
            Err(EtcdError::PermissionDenied(_) | EtcdError::AuthFailed(_)) => Ok(true),
            Err(EtcdError::InvalidRequest(message) | EtcdError::Other(message))
                if message.contains("user name is empty") || message.contains("token") =>
            {
                Ok(true)
            }
            Err(err) => Err(err),
        }
    }

    /// A session that has not connected yet.
    fn unconnected(config: EtcdConfig) -> Self {
        let (connection, _) = watch::channel(Connection::Disconnected {
            reason: "connecting".into(),
            retry_in_secs: 0,
        });
        EtcdSession {
            inner: Arc::new(Inner {
                config,
                client: RwLock::new(None),
                connection,
                token_renewed: Mutex::new(None),
            }),
        }
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

    /// The connection state as last seen.
    pub fn connection(&self) -> Connection {
        self.inner.connection.borrow().clone()
    }

    /// Asks etcd now whether it answers, and records the answer.
    pub async fn check(&self) -> Connection {
        let result = match self.client().await {
            Ok(mut client) => with_timeout(CONNECT_TIMEOUT, client.status()).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(status) => self.set_connected(status.version().to_owned()),
            Err(err) => self.set_disconnected(&err, HEALTH_INTERVAL),
        }
        self.connection()
    }

    /// One key with its lease, or the revision at which it does not exist.
    pub async fn get_key(&self, key: &Bytes) -> Result<KeyRead, EtcdError> {
        let mut client = self.client().await?;
        let response = with_timeout(REQUEST_TIMEOUT, client.get(key.0.clone(), None)).await?;
        let revision = response.header().map_or(0, |h| h.revision());
        let Some(kv) = response.kvs().first() else {
            return Ok(KeyRead::Missing {
                revision: Revision(revision),
            });
        };
        let lease = match kv.lease() {
            0 => None,
            id => Some(
                match with_timeout(REQUEST_TIMEOUT, client.lease_time_to_live(id, None)).await {
                    Ok(ttl) => convert::lease(id, &ttl),
                    // The key is still worth showing when its lease cannot be read.
                    Err(err) => {
                        tracing::debug!(error = %err, lease = id, "lease time-to-live unavailable");
                        convert::unknown_lease(id)
                    }
                },
            ),
        };
        Ok(KeyRead::Found(convert::key_value(kv, lease, revision)))
    }

    async fn client(&self) -> Result<Client, EtcdError> {
        self.inner.client.read().await.clone().ok_or_else(|| {
            match &*self.inner.connection.borrow() {
                Connection::Disconnected { reason, .. } => EtcdError::Unavailable(reason.clone()),
                Connection::Connected { .. } => EtcdError::Unavailable("not connected".into()),
            }
        })
    }

    /// One attempt to connect. A failure over TLS is checked by a handshake
    /// of our own, so a certificate problem is said as such (and is fatal
    /// at start) instead of as an opaque transport error.
    async fn try_connect(&self, options: &ConnectOptions) -> Result<(), EtcdError> {
        match self.connect_once(options).await {
            Err(EtcdError::Unavailable(reason)) => {
                let config = &self.inner.config;
                match tls_check::diagnose(&config.endpoints, config.tls.as_ref()).await {
                    Some(problem) => {
                        tracing::debug!(%reason, "connecting to etcd failed over TLS");
                        Err(EtcdError::Config(problem))
                    }
                    None => Err(EtcdError::Unavailable(reason)),
                }
            }
            other => other,
        }
    }

    async fn connect_once(&self, options: &ConnectOptions) -> Result<(), EtcdError> {
        let connect = Client::connect(&self.inner.config.endpoints, Some(options.clone()));
        let mut client = with_timeout(CONNECT_TIMEOUT, connect).await?;
        let status = with_timeout(CONNECT_TIMEOUT, client.status()).await?;
        *self.inner.client.write().await = Some(client);
        self.set_connected(status.version().to_owned());
        tracing::info!(endpoints = ?self.inner.config.endpoints, version = status.version(), "connected to etcd");
        Ok(())
    }

    /// Connects with backoff until connected, then checks health; runs until
    /// shutdown.
    async fn maintain(self, options: ConnectOptions, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = BACKOFF.0;
        loop {
            let connected = self.inner.client.read().await.is_some();
            let wait = if connected {
                HEALTH_INTERVAL
            } else {
                match self.try_connect(&options).await {
                    Ok(()) => {
                        backoff = BACKOFF.0;
                        HEALTH_INTERVAL
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in = ?backoff, "cannot connect to etcd");
                        self.set_disconnected(&err, backoff);
                        let wait = backoff;
                        backoff = (backoff * 2).min(BACKOFF.1);
                        wait
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            if connected {
                self.check().await;
            }
        }
    }

    fn set_connected(&self, etcd_version: String) {
        let now = Connection::Connected { etcd_version };
        self.inner.connection.send_if_modified(|old| {
            let changed = *old != now;
            if changed && matches!(old, Connection::Disconnected { .. }) {
                tracing::info!("etcd answers again");
            }
            *old = now;
            changed
        });
    }

    fn set_disconnected(&self, err: &EtcdError, retry_in: Duration) {
        let now = Connection::Disconnected {
            reason: err.to_string(),
            retry_in_secs: retry_in.as_secs().max(1),
        };
        self.inner.connection.send_if_modified(|old| {
            if matches!(old, Connection::Connected { .. }) {
                tracing::warn!(error = %err, "lost etcd");
            }
            let changed = *old != now;
            *old = now;
            changed
        });
    }
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
