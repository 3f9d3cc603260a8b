//! What the benchmarks share: starting etcdeck in-process against a demo
//! etcd as root (read-only), and logging in to it as a browser does, so that
//! they measure the same requests a logged-in page makes.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use etcdeck::config::{Config, CoordConfig, Credentials, EtcdConfig, Password, ServerConfig};
use etcdeck_shared::edit::{LoginRequest, path};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// etcdeck serving on a port-0 listener, and an HTTP client logged in to it.
pub struct Running {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), etcdeck::RunError>>,
}

impl Running {
    /// Starts etcdeck on `endpoints` as root, read-only, with `coord`; waits
    /// until it answers and logs in.
    pub async fn start(endpoints: Vec<String>, root_password: &str, coord: CoordConfig) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let config = Config {
            etcd: EtcdConfig {
                endpoints,
                credentials: Some(Credentials {
                    user: "root".into(),
                    password: Password::new(root_password),
                }),
                tls: None,
            },
            server: ServerConfig {
                read_only: true,
                dist: Some("/nonexistent".into()),
                ..ServerConfig::default()
            },
            coord,
            audit: Default::default(),
            name: etcdeck::config::DEFAULT_CLUSTER.to_owned(),
            others: Vec::new(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(etcdeck::run(listener, config, async {
            let _ = stopped.await;
        }));
        while reqwest::get(format!("http://{addr}{}", etcdeck_shared::path::HEALTHZ))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let http = client(addr, "root", root_password).await;
        Running {
            addr,
            http,
            stop,
            task,
        }
    }

    /// Stops etcdeck and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Logs in as `user`; the session cookie (`name=value`).
pub async fn session_cookie(addr: SocketAddr, user: &str, password: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}{}", path::LOGIN))
        .json(&LoginRequest::Password {
            user: user.to_owned(),
            password: password.to_owned(),
        })
        .send()
        .await
        .expect("login request");
    assert!(
        response.status().is_success(),
        "login refused: {}",
        response.status()
    );
    response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned()
}

/// An HTTP client that sends the session cookie with every request.
pub async fn client(addr: SocketAddr, user: &str, password: &str) -> reqwest::Client {
    let cookie = session_cookie(addr, user, password).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        cookie.parse().expect("cookie header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}
