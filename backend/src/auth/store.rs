//! The browser sessions: who each session cookie stands for, its etcd
//! client, its CSRF token and when it was last used.
//!
//! - A **login** session holds its own [`EtcdSession`], authenticated with
//!   the user's etcd name and password; the password lives only inside that
//!   client (for renewing tokens) and is gone when the session ends.
//! - A **token** session (a wall screen) and an **open** session (etcd
//!   without auth) read through etcdeck's own session.
//!
//! Sessions end on logout, after `session_idle` without use, at their
//! absolute lifetime `session_max` (login and open sessions; a wall screen's
//! would only come back from its cookie at once), when someone ends them
//! from the sessions view, when the same browser logs in again, or when
//! etcd stops accepting a login's password (the user was deleted or its
//! password changed). Ended sessions leave the store at once, so their etcd
//! clients and passwords leave memory; why each ended is remembered for a
//! while (a tombstone) so that its browser's next request is told.
//!
//! Each session has a public handle, a digest of its cookie value, by which
//! the sessions view names it: a handle lets a permitted person end that
//! session but never act as it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use etcdeck_shared::edit::{SessionInfo, SessionKind};
use etcdeck_shared::sessions::{SessionList, SessionSummary};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::browser;
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
/// How long the store remembers why a session ended, for its browser's
/// next request.
const TOMBSTONE_KEPT: Duration = Duration::from_secs(60 * 60);

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
    /// Names the session in the sessions view: a digest of its cookie
    /// value, never the value itself.
    pub handle: String,
    /// The client's address at login, when known.
    pub address: Option<IpAddr>,
    /// The browser's `User-Agent` at login, bounded.
    pub user_agent: String,
    csrf: String,
    can_write: bool,
    read_only_reason: Option<String>,
    started: Instant,
    /// `started` on the wall clock, in milliseconds since the Unix epoch.
    started_ms: u64,
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

    /// How long ago the session started.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the absolute lifetime `max` applies to this session: a wall
    /// screen's session is made again from its cookie at its next request,
    /// so ending it would only black the screen out for a moment; it ends
    /// when its access token changes instead.
    fn has_lifetime(&self) -> bool {
        self.kind != SessionKind::Token
    }

    /// Why the session must end now, if it must.
    fn end_reason(&self, config: &ServerConfig) -> Option<EndReason> {
        if self.etcd.is_revoked() && self.kind == SessionKind::Login {
            Some(EndReason::Revoked(self.user.clone().unwrap_or_default()))
        } else if self.has_lifetime() && self.age() >= config.session_max {
            Some(EndReason::TooOld)
        } else if self.idle_for() > config.session_idle {
            Some(EndReason::Idle)
        } else {
            None
        }
    }

    /// The session as the sessions view shows it.
    fn summary(&self, now_ms: u64, max: Duration, this_session: bool) -> SessionSummary {
        let idle_ms = u64::try_from(self.idle_for().as_millis()).unwrap_or(u64::MAX);
        SessionSummary {
            handle: self.handle.clone(),
            kind: self.kind,
            user: self.user.clone(),
            started_ms: self.started_ms,
            last_used_ms: now_ms.saturating_sub(idle_ms).max(self.started_ms),
            expires_ms: self.has_lifetime().then(|| {
                self.started_ms
                    .saturating_add(u64::try_from(max.as_millis()).unwrap_or(u64::MAX))
            }),
            address: self.address.map(|a| a.to_string()),
            browser: browser::short(&self.user_agent),
            this_session,
        }
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

/// Where a login comes from, as the HTTP side saw it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The client's address, when known.
    pub address: Option<IpAddr>,
    /// The browser's `User-Agent` (bounded here).
    pub user_agent: String,
    /// The session cookie the browser already held: a login in a browser
    /// that has a session ends that session.
    pub replaces: Option<String>,
}

/// Why a cookie does not stand for a session, said as the sentence the
/// browser shows.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Lookup {
    #[error("your session has ended (you logged out, or etcdeck restarted); log in again")]
    Unknown,
    /// It did, but was unused for too long.
    #[error("your session ended after {idle_minutes} minutes without use; log in again")]
    Expired { idle_minutes: u64 },
    /// It reached its absolute lifetime (`"12-hour"`).
    #[error("your session reached its {limit} limit; log in again")]
    TooOld { limit: String },
    /// etcd no longer accepts the password it logged in with.
    #[error(
        "etcd no longer accepts the password of user {user} (the user was deleted or its password changed); log in again"
    )]
    Revoked { user: String },
    /// Someone ended it from the sessions view.
    #[error("your session was ended from the Sessions page by {by}; log in again")]
    EndedBy { by: String },
}

/// Why a session ended, kept for its browser's next request.
#[derive(Clone, Debug, PartialEq, Eq)]
enum EndReason {
    Idle,
    TooOld,
    /// etcd refused the password of this etcd user.
    Revoked(String),
    EndedBy(String),
}

/// Why a session cannot be ended by the one asking.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndError {
    #[error("there is no such session (it may have ended already); reload the list")]
    NotFound,
    #[error("{0}")]
    Refused(String),
}

/// A session ended from the sessions view, for the audit log.
#[derive(Debug)]
pub struct EndedSession {
    pub kind: SessionKind,
    pub user: Option<String>,
    pub address: Option<IpAddr>,
    pub browser: String,
    /// The session that asked was this one.
    pub was_caller: bool,
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
    /// Why recently ended sessions ended, by cookie value, and when.
    tombstones: Mutex<HashMap<String, (Instant, EndReason)>>,
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
                tombstones: Mutex::new(HashMap::new()),
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
                return Ok(self.insert_token_session(id.to_owned(), Seen::default()));
            }
            drop(by_id);
            return Err(self.why_ended(id));
        };
        if let Some(reason) = session.end_reason(&self.inner.config) {
            // The tombstone goes in before the session leaves the map, so
            // that no request in between finds neither and is told nothing.
            self.remember(id, reason.clone());
            by_id.remove(id);
            drop(by_id);
            session.end();
            return Err(self.lookup(reason));
        }
        session.touch();
        Ok(session)
    }

    /// The live session a cookie value stands for, without marking it used
    /// (for status polling, which is not activity).
    pub fn peek(&self, id: &str) -> Option<Arc<BrowserSession>> {
        let session = lock(&self.inner.by_id).get(id).cloned()?;
        session
            .end_reason(&self.inner.config)
            .is_none()
            .then_some(session)
    }

    /// Ends the session `id`, if there is one.
    pub fn end(&self, id: &str) -> Option<Arc<BrowserSession>> {
        let session = lock(&self.inner.by_id).remove(id)?;
        session.end();
        Some(session)
    }

    /// The sessions `caller_id`'s session may see, most recently used first:
    /// a login sees its etcd user's logins, etcd's root every session, and
    /// a wall screen or open session only itself (it stands for no one in
    /// particular, so it is shown no one's addresses).
    pub fn list(&self, caller_id: &str) -> Option<SessionList> {
        let by_id = lock(&self.inner.by_id);
        let caller = by_id.get(caller_id)?.clone();
        let now_ms = unix_ms(SystemTime::now());
        let max = self.inner.config.session_max;
        let mut shown: Vec<(Duration, SessionSummary)> = by_id
            .values()
            .filter(|other| may_see(&caller, other))
            // Ended but not swept yet: its next request ends it.
            .filter(|other| other.end_reason(&self.inner.config).is_none())
            .map(|other| {
                (
                    other.idle_for(),
                    other.summary(now_ms, max, Arc::ptr_eq(&caller, other)),
                )
            })
            .collect();
        drop(by_id);
        shown.sort_by_key(|(idle, summary)| (*idle, summary.handle.clone()));
        Some(SessionList {
            sessions: shown.into_iter().map(|(_, summary)| summary).collect(),
            all_users: is_root_login(&caller),
            now_ms,
        })
    }

    /// Ends the session named by `handle` for the session `caller_id`:
    /// anyone may end a session they see, except a wall screen's (it would
    /// come back from its cookie at once); a wall screen or open session may
    /// end only itself. The ended session's WebSockets close at once.
    pub fn end_by_handle(&self, caller_id: &str, handle: &str) -> Result<EndedSession, EndError> {
        let mut by_id = lock(&self.inner.by_id);
        let caller = by_id.get(caller_id).cloned().ok_or(EndError::NotFound)?;
        let (id, target) = by_id
            .iter()
            .find(|(_, s)| constant_time_eq(s.handle.as_bytes(), handle.as_bytes()))
            .map(|(id, s)| (id.clone(), s.clone()))
            .ok_or(EndError::NotFound)?;
        let was_caller = Arc::ptr_eq(&caller, &target);
        if !was_caller {
            if target.kind == SessionKind::Token {
                return Err(EndError::Refused(
                    "a wall screen's session is made again from its cookie at its next request; change the wall-screen access token to end it".into(),
                ));
            }
            if caller.kind != SessionKind::Login {
                return Err(EndError::Refused(
                    "a wall screen or an open session may end only itself".into(),
                ));
            }
            if !may_see(&caller, &target) {
                return Err(EndError::Refused(
                    "only etcd's root may end another user's session".into(),
                ));
            }
        }
        by_id.remove(&id);
        drop(by_id);
        target.end();
        if !was_caller {
            let by = caller.user.clone().unwrap_or_else(|| "someone".into());
            self.remember(&id, EndReason::EndedBy(by));
        }
        Ok(EndedSession {
            kind: target.kind,
            user: target.user.clone(),
            address: target.address,
            browser: browser::short(&target.user_agent),
            was_caller,
        })
    }

    /// Why the session `id`, which the store no longer holds, ended.
    fn why_ended(&self, id: &str) -> Lookup {
        let reason = lock(&self.inner.tombstones)
            .get(id)
            .map(|(_, reason)| reason.clone());
        reason.map_or(Lookup::Unknown, |reason| self.lookup(reason))
    }

    fn lookup(&self, reason: EndReason) -> Lookup {
        match reason {
            EndReason::Idle => self.expired(),
            EndReason::TooOld => self.too_old(),
            EndReason::Revoked(user) => Lookup::Revoked { user },
            EndReason::EndedBy(by) => Lookup::EndedBy { by },
        }
    }

    fn expired(&self) -> Lookup {
        Lookup::Expired {
            idle_minutes: self.inner.config.session_idle.as_secs() / 60,
        }
    }

    fn too_old(&self) -> Lookup {
        Lookup::TooOld {
            limit: lifetime_words(self.inner.config.session_max),
        }
    }

    fn remember(&self, id: &str, reason: EndReason) {
        let mut tombstones = lock(&self.inner.tombstones);
        if tombstones.len() >= MAX_SESSIONS {
            tombstones.retain(|_, (at, _)| at.elapsed() < TOMBSTONE_KEPT / 4);
            if tombstones.len() >= MAX_SESSIONS {
                tombstones.clear();
            }
        }
        tombstones.insert(id.to_owned(), (Instant::now(), reason));
    }

    /// Logs in as an etcd user: etcd checks the password now. The new
    /// session has a fresh random cookie value, and the browser's previous
    /// session (`seen.replaces`) ends.
    pub async fn login_password(
        &self,
        user: &str,
        password: &str,
        seen: Seen,
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
            seen,
            can_write,
            reason,
        ))
    }

    /// Logs a wall screen in with the configured access token.
    /// Every screen shares one session; the browser's previous session, if
    /// another, ends.
    pub fn login_token(
        &self,
        token: &str,
        seen: Seen,
    ) -> Result<(String, Arc<BrowserSession>), LoginError> {
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
        self.end_replaced(seen.replaces.as_deref(), &id);
        if let Some(session) = lock(&self.inner.by_id).get(&id) {
            return Ok((id, session.clone()));
        }
        let session = self.insert_token_session(id.clone(), seen);
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

    fn insert_token_session(&self, id: String, seen: Seen) -> Arc<BrowserSession> {
        let server = self.inner.server.clone();
        self.insert_as(
            id,
            NewSession {
                kind: SessionKind::Token,
                user: server.user().map(str::to_owned),
                etcd: server,
                is_root: false,
            },
            seen,
            false,
            Some("a wall screen's access token only reads".to_owned()),
        )
    }

    /// A session for a browser when etcd has auth disabled.
    pub fn open(&self, seen: Seen) -> (String, Arc<BrowserSession>) {
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
            seen,
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
        seen: Seen,
        can_write: bool,
        read_only_reason: Option<String>,
    ) -> (String, Arc<BrowserSession>) {
        let id = random_token();
        self.end_replaced(seen.replaces.as_deref(), &id);
        let session = self.insert_as(id.clone(), new, seen, can_write, read_only_reason);
        (id, session)
    }

    /// A login in a browser that already has a session ends that session
    /// (its other tabs then ask to log in, and see the new one).
    fn end_replaced(&self, replaces: Option<&str>, new_id: &str) {
        if let Some(old) = replaces
            && old != new_id
            && let Some(session) = self.end(old)
        {
            tracing::info!(
                user = session.user.as_deref().unwrap_or("-"),
                "a new login in the same browser ended its previous session"
            );
        }
    }

    fn insert_as(
        &self,
        id: String,
        new: NewSession,
        seen: Seen,
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
            handle: handle_of(&id),
            address: seen.address,
            user_agent: browser::bounded(&seen.user_agent),
            csrf: random_token(),
            can_write,
            read_only_reason,
            started: Instant::now(),
            started_ms: unix_ms(SystemTime::now()),
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
        by_id.insert(id.clone(), session.clone());
        drop(by_id);
        self.inner.server.metrics().session_started(session.kind);
        self.watch_session(id, &session);
        session
    }

    /// Ends `session` the moment it reaches its lifetime or etcd refuses
    /// its password, so that its WebSockets close then rather than at its
    /// next request. Returns as soon as the session ends for any reason.
    fn watch_session(&self, id: String, session: &Arc<BrowserSession>) {
        let lifetime = session
            .has_lifetime()
            .then(|| self.inner.config.session_max.saturating_sub(session.age()));
        let watches_etcd = session.kind == SessionKind::Login;
        if lifetime.is_none() && !watches_etcd {
            return;
        }
        let sessions = self.clone();
        // The task keeps only a weak reference: the session (and its etcd
        // client with the password) leaves memory as soon as it ends.
        let weak = Arc::downgrade(session);
        let etcd = session.etcd.clone();
        let mut ended = session.ended.subscribe();
        tokio::spawn(async move {
            let ended = async move {
                let _ = ended.wait_for(|e| *e).await;
            };
            let too_old = async {
                match lifetime {
                    Some(left) => tokio::time::sleep(left).await,
                    None => std::future::pending().await,
                }
            };
            let revoked = async {
                if watches_etcd {
                    etcd.revoked().await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let reason = tokio::select! {
                () = too_old => EndReason::TooOld,
                () = revoked => EndReason::Revoked(etcd.user().unwrap_or_default().to_owned()),
                () = ended => return,
            };
            drop(etcd);
            let Some(session) = weak.upgrade() else {
                return;
            };
            let removed = {
                let mut by_id = lock(&sessions.inner.by_id);
                match by_id.get(&id) {
                    Some(held) if Arc::ptr_eq(held, &session) => {
                        sessions.remember(&id, reason.clone());
                        by_id.remove(&id)
                    }
                    _ => None,
                }
            };
            if removed.is_some() {
                tracing::info!(
                    user = session.user.as_deref().unwrap_or("-"),
                    reason = ?reason,
                    "session ended"
                );
                session.end();
            }
        });
    }

    /// Ends every session unused for longer than the idle limit (or past
    /// its lifetime), and forgets old tombstones.
    fn sweep(&self) {
        let config = &self.inner.config;
        let mut ended = Vec::new();
        lock(&self.inner.by_id).retain(|id, session| match session.end_reason(config) {
            Some(reason) => {
                self.remember(id, reason);
                ended.push(session.clone());
                false
            }
            None => true,
        });
        for session in ended {
            session.end();
        }
        lock(&self.inner.tombstones).retain(|_, (at, _)| at.elapsed() < TOMBSTONE_KEPT);
    }

    /// How many sessions of each kind exist now: logins, wall screens, open.
    pub fn count_by_kind(&self) -> (usize, usize, usize) {
        lock(&self.inner.by_id)
            .values()
            .fold((0, 0, 0), |(login, token, open), s| match s.kind {
                SessionKind::Login => (login + 1, token, open),
                SessionKind::Token => (login, token + 1, open),
                SessionKind::Open => (login, token, open + 1),
            })
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

/// The public handle of the session whose cookie value is `id`: a digest,
/// so a handle never gives the cookie away.
fn handle_of(id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"etcdeck session handle\0")
        .chain_update(id.as_bytes())
        .finalize();
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `at` in milliseconds since the Unix epoch.
fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A lifetime as the refusal says it: "12-hour", "30-minute", "5-second".
fn lifetime_words(limit: Duration) -> String {
    let secs = limit.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}-hour", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}-minute", secs / 60)
    } else {
        format!("{}-second", secs.max(1))
    }
}

/// Whether `caller` may see `other` in the sessions list.
fn may_see(caller: &Arc<BrowserSession>, other: &Arc<BrowserSession>) -> bool {
    if Arc::ptr_eq(caller, other) || is_root_login(caller) {
        return true;
    }
    caller.kind == SessionKind::Login
        && other.kind == SessionKind::Login
        && caller.user == other.user
}

fn is_root_login(session: &BrowserSession) -> bool {
    session.kind == SessionKind::Login && session.is_root
}

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
    fn handles_are_digests_not_cookies() {
        let id = random_token();
        let handle = handle_of(&id);
        assert_eq!(handle, handle_of(&id));
        assert_ne!(handle, id);
        assert!(!id.contains(&handle));
        assert_ne!(handle, handle_of(&random_token()));
        assert_eq!(handle.len(), 22);
    }

    #[test]
    fn lifetimes_in_words() {
        assert_eq!(lifetime_words(Duration::from_secs(12 * 3600)), "12-hour");
        assert_eq!(lifetime_words(Duration::from_secs(90 * 60)), "90-minute");
        assert_eq!(lifetime_words(Duration::from_secs(2)), "2-second");
        assert_eq!(lifetime_words(Duration::from_millis(300)), "1-second");
    }

    #[test]
    fn lookups_say_why_in_a_sentence() {
        assert_eq!(
            Lookup::TooOld {
                limit: "12-hour".into()
            }
            .to_string(),
            "your session reached its 12-hour limit; log in again"
        );
        assert_eq!(
            Lookup::Revoked { user: "app".into() }.to_string(),
            "etcd no longer accepts the password of user app (the user was deleted or its password changed); log in again"
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
