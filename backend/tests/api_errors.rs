//! Every error a browser or a script gets from `/api/` is an `ApiError`,
//! over real HTTP against the real server and a real etcd: a method a path
//! does not take is a 405 that names the methods it takes (and keeps the
//! `Allow` header), a path that is not an endpoint is a 404 whatever the
//! method, and axum's own refusals (a WebSocket upgrade that is not one)
//! carry a code and a sentence too. Paths outside `/api/` are left alone.

mod support;

use etcdeck_shared::{ApiError, ErrorCode};
use reqwest::header::{ALLOW, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// Sends `method path` (with the session cookie when there is one) and
/// returns the status, the `Allow` header and the `ApiError` body.
async fn ask(server: &Server, method: Method, path: &str) -> (StatusCode, String, ApiError) {
    let mut request = reqwest::Client::new().request(method.clone(), server.url(path));
    if let Some(cookie) = server.cookie() {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let allow = response
        .headers()
        .get(ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{method} {path}: content type {content_type:?}"
    );
    let body = response
        .json::<ApiError>()
        .await
        .unwrap_or_else(|err| panic!("{method} {path}: not an ApiError: {err}"));
    (status, allow, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_methods_and_unknown_paths_answer_api_errors() {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");

    // A write endpoint asked with the wrong method: 405, `Allow: POST`, and
    // a sentence naming both methods.
    for method in [Method::GET, Method::DELETE] {
        let (status, allow, error) = ask(&server, method.clone(), "/api/v1/put").await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}: {error:?}"
        );
        assert_eq!(allow, "POST", "{method}");
        assert_eq!(error.code, ErrorCode::MethodNotAllowed);
        assert!(
            error.message.contains("POST") && error.message.contains(method.as_str()),
            "{}",
            error.message
        );
    }

    // A read endpoint asked to be written.
    let (status, allow, error) = ask(&server, Method::PUT, "/api/v1/level").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{error:?}");
    assert!(allow.split(',').any(|m| m.trim() == "GET"), "{allow}");
    assert_eq!(error.code, ErrorCode::MethodNotAllowed);
    assert!(
        error.message.contains("GET") && error.message.contains("PUT"),
        "{}",
        error.message
    );

    // An unknown API path is a 404 for any method, never a 405.
    for method in [Method::POST, Method::GET, Method::DELETE, Method::PUT] {
        let (status, _, error) = ask(&server, method.clone(), "/api/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}: {error:?}");
        assert_eq!(error.code, ErrorCode::NotFound, "{method}");
        assert!(error.message.contains("/api/v1/nope"), "{}", error.message);
    }

    for path in ["/api", "/api/", "/api/v2/level"] {
        let (status, _, error) = ask(&server, Method::GET, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {error:?}");
        assert_eq!(error.code, ErrorCode::NotFound, "{path}");
    }

    // The WebSocket endpoint asked without an upgrade: axum's refusal comes
    // as an ApiError too.
    let (status, _, error) = ask(&server, Method::GET, "/api/v1/ws").await;
    assert!(status.is_client_error(), "{status}: {error:?}");
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(!error.message.is_empty());

    // The endpoints still answer their own method.
    let level = reqwest::Client::new()
        .get(server.url("/api/v1/level?prefix=%2F"))
        .header(reqwest::header::COOKIE, server.cookie().expect("cookie"))
        .send()
        .await
        .expect("level");
    assert_eq!(level.status(), StatusCode::OK);

    // Paths outside the API are the frontend's (here: the notice that it
    // was not built), untouched.
    let page = reqwest::Client::new()
        .post(server.url("/some/page"))
        .send()
        .await
        .expect("page");
    let content_type = page
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");

    server.stop().await;
}
