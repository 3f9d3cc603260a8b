//! The browser sessions: who each session cookie stands for, its etcd
//! client, its CSRF token and when it was last used.
//!
//! - A **login** session holds its own [`EtcdSession`], authenticated with
//!   the user's etcd name and password; the password lives only inside that
//!   client (for renewing tokens) and is gone when the session ends.
//! - A **token** session (a wall screen) and an **open** session (etcd
//!   without auth) read through etcdeck's own session.
//!
//! Sessions end on logout or after `session_idle` without use; a sweeper
//! drops ended ones so that their etcd clients and passwords leave memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use etcdeck_shared::edit::{SessionInfo, SessionKind};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::{Credentials, Password, ServerConfig};
use crate::etcd::{EtcdError, EtcdSession};

/// Most sessions kept at once; past it the least recently used one ends.
const MAX_SESSIONS: usize = 10_000;
/// How long an answer to "is etcd auth enabled?" is trusted.
const AUTH_PROBE_FRESH: Duration = Duration::from_secs(10);
/// How long after etcd did not answer that question it is asked again.
const AUTH_PROBE_RETRY: Duration = Duration::from_secs(2);
/// How often ended sessions are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// One browser's session.
#[derive(Debug)]
pub struct BrowserSession {
    pub kind: SessionKind,
    /// The etcd user it acts as (`None` without etcd auth).
    pub user: Option<String>,
    pub etcd: EtcdSession,
    /// The etcd user has etcd's `root` role (asked at login): it may see
    /// everyone's sessions and reveal masked values.
    pub is_root: bool,
    csrf: String,
    can_write: bool,
    read_only_reason: Option<String>,
    last_used: Mutex<Instant>,
    /// Turns `true` when the session ends; open WebSockets close then.
    ended: watch::Sender<bool>,
}

impl BrowserSession {
    pub fn info(&self, idle: Duration) -> SessionInfo {
        SessionInfo {
            kind: self.kind,
            user: self.user.clone(),
            can_write: self.can_write,
            read_only_reason: self.read_only_reason.clone(),
            csrf: self.csrf.clone(),
            idle_timeout_secs: idle.as_secs(),
            is_root: self.is_root,
        }
    }

    pub fn can_write(&self) -> Result<(), String> {
        if self.can_write {
            Ok(())
        } else {
            Err(self
                .read_only_reason
                .clone()
                .unwrap_or_else(|| "this session may not write".into()))
        }
    }

    /// Whether `token` is this session's CSRF token (compared in constant
    /// time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), token.as_bytes())
    }

    /// Marks the session used now.
    pub fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    /// Resolves when the session ends (logout, idle expiry, eviction).
    pub async fn ended(&self) {
        let mut ended = self.ended.subscribe();
        let _ = ended.wait_for(|e| *e).await;
    }

    fn end(&self) {
        self.ended.send_replace(true);
    }
}

/// Who a new session acts as.
struct NewSession {
    kind: SessionKind,
    user: Option<String>,
    etcd: EtcdSession,
    is_root: bool,
}

/// Why a cookie does not stand for a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Unknown,
    /// It did, but was unused for too long.
    Expired,
}

/// Every browser session. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sessions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// etcdeck's own session (wall screens, etcd without auth); logins
    /// are made from it, sharing its view of which members answer.
    server: EtcdSession,
    config: Arc<ServerConfig>,
    by_id: Mutex<HashMap<String, Arc<BrowserSession>>>,
    /// When etcd was last asked whether auth is on, and its answer.
    auth_probe: tokio::sync::Mutex<Option<(Instant, Option<bool>)>>,
}

/// What a login attempt met.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("etcd rejected this user name or password")]
    Rejected,
    #[error("this access token is not valid")]
    BadToken,
    #[error("no wall-screen access token is configured (start etcdeck with --wall-token-file)")]
    NoToken,
    #[error(
        "etcd has authentication disabled: there is nothing to log in to, etcdeck is open to everyone who reaches it"
    )]
    AuthDisabled,
    #[error(transparent)]
    Etcd(EtcdError),
}

impl Sessions {
    /// The store, with a sweeper that runs until `shutdown`.
    pub fn start(
        server: EtcdSession,
        config: Arc<ServerConfig>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let sessions = Sessions {
            inner: Arc::new(Inner {
                server,
                config,
                by_id: Mutex::new(HashMap::new()),
                auth_probe: tokio::sync::Mutex::new(None),
            }),
        };
        let sweeper = sessions.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SWEEP_EVERY) => sweeper.sweep(),
                    _ = shutdown.changed() => return,
                }
            }
        });
        sessions
    }

    pub fn idle_limit(&self) -> Duration {
        self.inner.config.session_idle
    }

    /// The session a cookie value stands for, marked used.
    pub fn get(&self, id: &str) -> Result<Arc<BrowserSession>, Lookup> {
        let mut by_id = lock(&self.inner.by_id);
        let Some(session) = by_id.get(id).cloned() else {
            // A wall screen's cookie outlives etcdeck restarts: it is
            // derived from the token, which the browser does not keep.
            if self
                .wall_cookie()
                .is_some_and(|w| constant_time_eq(w.as_bytes(), id.as_bytes()))
            {
                drop(by_id);
                return Ok(self.insert_token_session(id.to_owned()));
            }
            return Err(Lookup::Unknown);
        };
        if session.idle_for() > self.inner.config.session_idle {
            by_id.remove(id);
            session.end();
            return Err(Lookup::Expired);
        }
        session.touch();
        Ok(session)
    }

    /// The live session a cookie value stands for, without marking it used
    /// (for status polling, which is not activity).
    pub fn peek(&self, id: &str) -> Option<Arc<BrowserSession>> {
        let session = lock(&self.inner.by_id).get(id).cloned()?;
        (session.idle_for() <= self.inner.config.session_idle).then_some(session)
    }

    /// Ends the session `id`, if there is one.
    pub fn end(&self, id: &str) -> Option<Arc<BrowserSession>> {
        let session = lock(&self.inner.by_id).remove(id)?;
        session.end();
        Some(session)
    }

    /// Logs in as an etcd user: etcd checks the password now.
    pub async fn login_password(
        &self,
        user: &str,
        password: &str,
    ) -> Result<(String, Arc<BrowserSession>), LoginError> {
        let credentials = Credentials {
            user: user.to_owned(),
            password: Password::new(password),
        };
        let etcd = match self.inner.server.login(credentials).await {
            Ok(etcd) => etcd,
            Err(EtcdError::AuthFailed(_)) => return Err(LoginError::Rejected),
            Err(EtcdError::AuthNotEnabled(_)) => return Err(LoginError::AuthDisabled),
            Err(err) => return Err(LoginError::Etcd(err)),
        };
        let (can_write, reason) = if self.inner.config.read_only {
            (false, Some(READ_ONLY_FLAG.to_owned()))
        } else {
            (true, None)
        };
        // Only etcd's root may see everyone's sessions and reveal masked
        // values; a login that cannot tell is treated as not root.
        let is_root = match etcd.is_root().await {
            Ok(is_root) => is_root,
            Err(err) => {
                tracing::warn!(user, error = %err, "cannot tell whether this user has the root role");
                false
            }
        };
        Ok(self.insert(
            NewSession {
                kind: SessionKind::Login,
                user: Some(user.to_owned()),
                etcd,
                is_root,
            },
            can_write,
            reason,
        ))
    }

    /// Logs a wall screen in with the configured access token.
    pub fn login_token(&self, token: &str) -> Result<(String, Arc<BrowserSession>), LoginError> {
        let expected = self
            .inner
            .config
            .wall_token
            .as_ref()
            .ok_or(LoginError::NoToken)?;
        if !constant_time_eq(expected.expose().as_bytes(), token.trim().as_bytes()) {
            return Err(LoginError::BadToken);
        }
        let id = self.wall_cookie().ok_or(LoginError::NoToken)?;
        if let Some(session) = lock(&self.inner.by_id).get(&id) {
            return Ok((id, session.clone()));
        }
        let session = self.insert_token_session(id.clone());
        Ok((id, session))
    }

    /// The cookie value of wall-screen sessions: a digest of the token, so
    /// every screen shares one session that etcdeck recognises again after a
    /// restart, and changing the token ends it.
    fn wall_cookie(&self) -> Option<String> {
        let token = self.inner.config.wall_token.as_ref()?;
        let digest = Sha256::new()
            .chain_update(b"etcdeck wall screen session\0")
            .chain_update(token.expose().as_bytes())
            .finalize();
        Some(format!("w.{}", URL_SAFE_NO_PAD.encode(digest)))
    }

    fn insert_token_session(&self, id: String) -> Arc<BrowserSession> {
        let server = self.inner.server.clone();
        self.insert_as(
            id,
            NewSession {
                kind: SessionKind::Token,
                user: server.user().map(str::to_owned),
                etcd: server,
                is_root: false,
            },
            false,
            Some("a wall screen's access token only reads".to_owned()),
        )
    }

    /// A session for a browser when etcd has auth disabled.
    pub fn open(&self) -> (String, Arc<BrowserSession>) {
        let config = &self.inner.config;
        let (can_write, reason) = if config.read_only {
            (false, Some(READ_ONLY_FLAG.to_owned()))
        } else if config.allow_unauthenticated_writes {
            (true, None)
        } else {
            (
                false,
                Some(
                    "etcd has authentication disabled, so etcdeck is read-only; start etcdeck with --allow-unauthenticated-writes to allow writes"
                        .to_owned(),
                ),
            )
        };
        let server = self.inner.server.clone();
        self.insert(
            NewSession {
                kind: SessionKind::Open,
                user: server.user().map(str::to_owned),
                etcd: server,
                is_root: false,
            },
            can_write,
            reason,
        )
    }

    /// etcdeck's own session.
    pub fn server(&self) -> &EtcdSession {
        &self.inner.server
    }

    /// Whether etcd has auth disabled (no one needs to log in); asked of etcd
    /// at most every [`AUTH_PROBE_FRESH`] (an etcd that did not answer is
    /// asked again after [`AUTH_PROBE_RETRY`], so requests without a session
    /// never wait on a dead etcd one after another). `None` when etcd cannot
    /// be asked.
    pub async fn etcd_is_open(&self) -> Option<bool> {
        let mut probe = self.inner.auth_probe.lock().await;
        if let Some((at, answer)) = *probe {
            let fresh = match answer {
                Some(_) => AUTH_PROBE_FRESH,
                None => AUTH_PROBE_RETRY,
            };
            if at.elapsed() < fresh {
                return answer.map(|enabled| !enabled);
            }
        }
        let answer = match self.inner.server.auth_enabled().await {
            Ok(enabled) => Some(enabled),
            Err(err) => {
                tracing::debug!(error = %err, "cannot tell whether etcd has auth enabled");
                None
            }
        };
        *probe = Some((Instant::now(), answer));
        answer.map(|enabled| !enabled)
    }

    fn insert(
        &self,
        new: NewSession,
        can_write: bool,
        read_only_reason: Option<String>,
    ) -> (String, Arc<BrowserSession>) {
        let id = random_token();
        let session = self.insert_as(id.clone(), new, can_write, read_only_reason);
        (id, session)
    }

    fn insert_as(
        &self,
        id: String,
        new: NewSession,
        can_write: bool,
        read_only_reason: Option<String>,
    ) -> Arc<BrowserSession> {
        let NewSession {
            kind,
            user,
            etcd,
            is_root,
        } = new;
        let (ended, _) = watch::channel(false);
        let session = Arc::new(BrowserSession {
            kind,
            user,
            etcd,
            is_root,
            csrf: random_token(),
            can_write,
            read_only_reason,
            last_used: Mutex::new(Instant::now()),
            ended,
        });
        let mut by_id = lock(&self.inner.by_id);
        if by_id.len() >= MAX_SESSIONS {
            let oldest = by_id
                .iter()
                .max_by_key(|(_, s)| s.idle_for())
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest
                && let Some(evicted) = by_id.remove(&oldest)
            {
                evicted.end();
            }
        }
        by_id.insert(id, session.clone());
        session
    }

    /// Ends every session unused for longer than the idle limit.
    fn sweep(&self) {
        let idle = self.inner.config.session_idle;
        lock(&self.inner.by_id).retain(|_, session| {
            let keep = session.idle_for() <= idle;
            if !keep {
                session.end();
            }
            keep
        });
    }

    /// How many sessions exist now.
    pub fn len(&self) -> usize {
        lock(&self.inner.by_id).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

const READ_ONLY_FLAG: &str = "etcdeck was started with --read-only: it refuses every write";

/// 32 random bytes, URL-safe base64: a session id or CSRF token.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The operating system's generator only fails on a broken system; a
    // predictable token must never be used then.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing held under these locks can be left half-done by a panic.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
