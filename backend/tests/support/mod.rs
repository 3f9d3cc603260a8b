//! Starting the real etcdeck server (the same [`etcdeck::run`] the binary
//! calls) on a port-0 listener, and talking to it over HTTP.

#![allow(dead_code)]

pub mod certs;
pub mod live;
pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use etcdeck::RunError;
use etcdeck::config::{Config, Credentials, EtcdConfig, Password, ServerConfig};
use etcdeck_shared::{ApiError, Bytes, Connection, KeyValue, Level, Status, path};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where a WebSocket client connects: etcdeck's address and the session
/// cookie to send with the upgrade.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub cookie: Option<String>,
}

pub struct Server {
    pub addr: SocketAddr,
    http: reqwest::Client,
    /// The etcd user the harness logs in as (the one etcdeck was started
    /// with), as a browser would.
    login: Option<(String, String)>,
    /// The session cookie (`name=value`) and CSRF token once logged in.
    session: std::sync::Mutex<Option<(String, String)>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), RunError>>>,
}

pub fn config(endpoints: Vec<String>, user: Option<(&str, &str)>) -> Config {
    Config {
        etcd: EtcdConfig {
            endpoints,
            credentials: user.map(|(user, password)| Credentials {
                user: user.to_owned(),
                password: Password::new(password),
            }),
            tls: None,
        },
        server: ServerConfig {
            dist: Some(PathBuf::from("/nonexistent-dist")),
            ..ServerConfig::default()
        },
        coord: Default::default(),
        audit: Default::default(),
        name: etcdeck::config::DEFAULT_CLUSTER.to_owned(),
        others: Vec::new(),
    }
}

impl Server {
    /// Starts etcdeck; `Err` is what `run` returned when it refused to start.
    /// Starts etcdeck and logs in as the etcd user it was started with, as
    /// a browser would.
    pub async fn start(config: Config) -> Result<Server, RunError> {
        Server::start_as(config, true).await
    }

    /// Starts etcdeck and does not log in.
    pub async fn start_anonymous(config: Config) -> Result<Server, RunError> {
        Server::start_as(config, false).await
    }

    async fn start_as(config: Config, log_in: bool) -> Result<Server, RunError> {
        let login = config
            .etcd
            .credentials
            .as_ref()
            .filter(|_| log_in)
            .map(|c| (c.user.clone(), c.password.expose().to_owned()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let mut task = tokio::spawn(etcdeck::run(listener, config, async {
            let _ = stopped.await;
        }));
        // `run` either fails at start-up or serves until stopped: wait until
        // it answers HTTP, or returns.
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if task.is_finished() {
                return Err((&mut task)
                    .await
                    .expect("join")
                    .expect_err("run returned Ok early"));
            }
            if http
                .get(format!("http://{addr}{}", path::STATUS))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            assert!(Instant::now() < deadline, "etcdeck did not start serving");
            // Polling the listener: start-up takes milliseconds, so look often.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let server = Server {
            addr,
            http,
            login,
            session: std::sync::Mutex::new(None),
            stop: Some(stop),
            task: Some(task),
        };
        server.ensure_session().await;
        Ok(server)
    }

    /// Logs in as the configured user if not logged in yet (a failed
    /// attempt, e.g. while etcd is down, is tried again on the next request).
    pub async fn ensure_session(&self) {
        if self.session.lock().expect("session lock").is_some() {
            return;
        }
        let Some((user, password)) = &self.login else {
            return;
        };
        if let Some(session) = self.log_in(user, password).await {
            *self.session.lock().expect("session lock") = Some(session);
        }
    }

    /// `POST /api/v1/login` as `user`: the cookie and CSRF token, or `None`
    /// when refused.
    pub async fn log_in(&self, user: &str, password: &str) -> Option<(String, String)> {
        let body = etcdeck_shared::edit::LoginRequest::Password {
            user: user.to_owned(),
            password: password.to_owned(),
        };
        let response = self
            .http
            .post(self.url(etcdeck_shared::edit::path::LOGIN))
            .json(&body)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let cookie = response
            .headers()
            .get(reqwest::header::SET_COOKIE)?
            .to_str()
            .ok()?
            .split(';')
            .next()?
            .to_owned();
        let info: etcdeck_shared::edit::SessionInfo = response.json().await.ok()?;
        Some((cookie, info.csrf))
    }

    /// Acts as another session from now on (e.g. one from [`Server::log_in`]).
    pub fn use_session(&self, session: Option<(String, String)>) {
        *self.session.lock().expect("session lock") = session;
    }

    /// The session cookie, once logged in.
    pub fn cookie(&self) -> Option<String> {
        self.session
            .lock()
            .expect("session lock")
            .as_ref()
            .map(|(c, _)| c.clone())
    }

    /// Where a WebSocket client connects, with this session's cookie.
    pub fn live(&self) -> Target {
        Target {
            addr: self.addr,
            cookie: self.cookie(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.ensure_session().await;
        self.with_session(self.http.get(self.url(path)))
            .send()
            .await
            .expect("request")
    }

    /// `POST path` with a JSON body, the session cookie and the CSRF token,
    /// as the etcdeck page sends a write.
    pub async fn post(&self, path: &str, body: &impl serde::Serialize) -> reqwest::Response {
        self.try_post(path, body).await.expect("request")
    }

    /// [`Server::post`], with a failure to send or receive as an error.
    pub async fn try_post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.ensure_session().await;
        let mut request = self.with_session(self.http.post(self.url(path))).json(body);
        let csrf = self
            .session
            .lock()
            .expect("session lock")
            .as_ref()
            .map(|(_, c)| c.clone());
        if let Some(csrf) = csrf {
            request = request.header(etcdeck_shared::edit::CSRF_HEADER, csrf);
        }
        request.send().await
    }

    /// `POST path` with a raw body (an import file), the session cookie and
    /// the CSRF token.
    pub async fn post_body(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        self.ensure_session().await;
        let mut request = self.with_session(self.http.post(self.url(path))).body(body);
        let csrf = self
            .session
            .lock()
            .expect("session lock")
            .as_ref()
            .map(|(_, c)| c.clone());
        if let Some(csrf) = csrf {
            request = request.header(etcdeck_shared::edit::CSRF_HEADER, csrf);
        }
        request.send().await.expect("request")
    }

    /// [`Server::post`] decoded as `T`, or the status and JSON body of a
    /// refusal (an `ApiError`, or a `Conflict` for 409 on one key).
    pub async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, (u16, serde_json::Value)> {
        let response = self.post(path, body).await;
        let code = response.status().as_u16();
        if response.status().is_success() {
            Ok(response.json().await.expect("json body"))
        } else {
            Err((code, response.json().await.expect("json error body")))
        }
    }

    fn with_session(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie() {
            Some(cookie) => request.header(reqwest::header::COOKIE, cookie),
            None => request,
        }
    }

    pub async fn level(
        &self,
        prefix: &[u8],
        after: Option<&Bytes>,
        limit: usize,
    ) -> Result<Level, (u16, ApiError)> {
        let mut url = format!(
            "{}?prefix={}&limit={limit}",
            path::LEVEL,
            Bytes::from(prefix).to_url()
        );
        if let Some(after) = after {
            url.push_str(&format!("&after={}", after.to_url()));
        }
        decode(self.get(&url).await).await
    }

    pub async fn key(&self, key: &[u8]) -> Result<KeyValue, (u16, ApiError)> {
        decode(
            self.get(&format!("{}?key={}", path::KEY, Bytes::from(key).to_url()))
                .await,
        )
        .await
    }

    /// `GET path` decoded as `T`, or the status and `ApiError` of a refusal.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, (u16, ApiError)> {
        decode(self.get(path).await).await
    }

    pub async fn status(&self) -> Status {
        self.get(path::STATUS)
            .await
            .json()
            .await
            .expect("status json")
    }

    pub async fn healthz(&self) -> (u16, Connection) {
        let response = self.get(path::HEALTHZ).await;
        let code = response.status().as_u16();
        (code, response.json().await.expect("healthz json"))
    }

    /// Every child of a level, following `next` cursors.
    pub async fn whole_level(&self, prefix: &[u8], page: usize) -> Vec<etcdeck_shared::Child> {
        let mut children = Vec::new();
        let mut after = None;
        loop {
            let level = self
                .level(prefix, after.as_ref(), page)
                .await
                .expect("level");
            assert!(level.children.len() <= page);
            children.extend(level.children);
            match level.next {
                Some(next) => after = Some(next),
                None => return children,
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task).await;
            assert!(result.is_ok(), "etcdeck did not shut down");
        }
    }
}

async fn decode<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, (u16, ApiError)> {
    let code = response.status().as_u16();
    if response.status().is_success() {
        Ok(response.json().await.expect("json body"))
    } else {
        Err((code, response.json().await.expect("ApiError body")))
    }
}

/// How often the waits below look again. It is the resolution of a wait,
/// not a guess at how long anything takes: every wait ends as soon as its
/// condition holds, and fails with a message when it does not in time.
pub const POLL: Duration = Duration::from_millis(100);

/// Polls `probe` until it answers `Ok`, and returns that answer; after
/// `limit` panics naming `what` and the last `Err` (what was there instead).
pub async fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}; last seen: {seen}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_for(limit, what, async || {
        if check().await {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    })
    .await;
}
