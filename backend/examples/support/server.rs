//! Logging the benchmarks in to etcdeck as a browser does, so that they
//! measure the same requests a logged-in page makes.

use std::net::SocketAddr;

use etcdeck_shared::edit::{LoginRequest, path};

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
#[allow(dead_code)]
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
