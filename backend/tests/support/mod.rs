//! Starting the real etcdeck server (the same [`etcdeck::run`] the binary
//! calls) on a port-0 listener, and talking to it over HTTP.

#![allow(dead_code)]

pub mod certs;
pub mod live;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use etcdeck::RunError;
use etcdeck::config::{Config, Credentials, EtcdConfig, Password, ServerConfig};
use etcdeck_shared::{ApiError, Bytes, Connection, KeyValue, Level, Status, path};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Server {
    pub addr: SocketAddr,
    http: reqwest::Client,
    /// The session cookie (`name=value`) once logged in.
    pub cookie: Option<String>,
    /// The session's CSRF token, sent with every write.
    pub csrf: Option<String>,
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
            read_only: false,
            separator: b"/".to_vec(),
            dist: PathBuf::from("/nonexistent-dist"),
        },
        coord: Default::default(),
    }
}

impl Server {
    /// Starts etcdeck; `Err` is what `run` returned when it refused to start.
    pub async fn start(config: Config) -> Result<Server, RunError> {
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
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Server {
            addr,
            http,
            cookie: None,
            csrf: None,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.with_session(self.http.get(self.url(path)))
            .send()
            .await
            .expect("request")
    }

    /// `POST path` with a JSON body, the session cookie and the CSRF token,
    /// as the etcdeck page sends a write.
    pub async fn post(&self, path: &str, body: &impl serde::Serialize) -> reqwest::Response {
        let mut request = self.with_session(self.http.post(self.url(path))).json(body);
        if let Some(csrf) = &self.csrf {
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
        match &self.cookie {
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

/// Polls `check` until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
