//! etcdeck serving HTTPS (`--tls-cert` / `--tls-key`) with certificates the
//! test generates (rcgen: a CA, a server certificate for `127.0.0.1` signed
//! by it, and a self-signed one), against a real etcd with auth on:
//!
//! - a login over HTTPS gets the session cookie as `__Host-etcdeck_session`
//!   with `Secure`, every answer carries HSTS and the CSP, the plain cookie
//!   name means nothing there, and the live WebSocket works over `wss://`;
//! - handshakes that stall or fail hold up no other client;
//! - the binary reads the certificate and key again on SIGHUP, and a bad
//!   file then keeps the certificate it served;
//! - a certificate that cannot be used stops the start with one sentence;
//! - plain HTTP on `0.0.0.0` starts with a warning on stderr, on loopback
//!   without one.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcdeck::config::ServeTls;
use etcdeck_shared::edit::{CSRF_HEADER, LoginRequest, SessionInfo, path as edit_path};
use etcdeck_shared::ws::{ClientMessage, ServerMessage, SubId, WatchRange};
use etcdeck_shared::{Bytes, path};
use futures::{SinkExt, StreamExt};
use support::certs::Certs;
use support::{config, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD, free_port};

const LIMIT: Duration = Duration::from_secs(20);

fn etcd() -> EtcdCluster {
    EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd")
}

/// The certificate and key etcdeck serves, in a directory of their own so
/// the test can replace them.
struct Served {
    dir: tempfile::TempDir,
}

impl Served {
    fn new(certs: &Certs, cert: &str, key: &str) -> Served {
        let dir = tempfile::Builder::new()
            .prefix("etcdeck-served-")
            .tempdir()
            .expect("temporary directory");
        let served = Served { dir };
        served.put(certs, cert, key);
        served
    }

    /// Replaces the served files with two of `certs`' files.
    fn put(&self, certs: &Certs, cert: &str, key: &str) {
        std::fs::write(self.cert(), certs.pem(cert)).expect("write certificate");
        std::fs::write(self.key(), certs.pem(key)).expect("write key");
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    fn tls(&self) -> ServeTls {
        ServeTls {
            cert: self.cert(),
            key: self.key(),
        }
    }
}

/// A TLS client that trusts only the certificates in `ca_pem`.
fn tls_connector(ca_pem: &[u8]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS handshake with etcdeck, trusting only `ca_pem`.
async fn handshake(addr: SocketAddr, ca_pem: &[u8]) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(addr.ip().into());
    tokio::time::timeout(LIMIT, tls_connector(ca_pem).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// etcdeck started in-process with [`etcdeck::run`] over HTTPS, and an
/// HTTP client that trusts the test CA (and keeps no connections, so each
/// request makes its own handshake).
struct HttpsServer {
    addr: SocketAddr,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), etcdeck::RunError>>,
}

impl HttpsServer {
    async fn start(etcd: &EtcdCluster, served: &Served, ca_pem: &[u8]) -> HttpsServer {
        let mut config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
        config.server.tls = Some(served.tls());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(etcdeck::run(listener, config, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).expect("CA"))
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTPS client");
        let server = HttpsServer {
            addr,
            http,
            stop: Some(stop),
            task,
        };
        wait_for(LIMIT, "etcdeck to answer over HTTPS", async || {
            assert!(!server.task.is_finished(), "etcdeck stopped at start-up");
            server
                .http
                .get(server.url(path::STATUS))
                .send()
                .await
                .map(|_| ())
                .map_err(|err| err.to_string())
        })
        .await;
        server
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stopped = tokio::time::timeout(LIMIT, &mut self.task).await;
        assert!(
            matches!(stopped, Ok(Ok(Ok(())))),
            "etcdeck did not stop cleanly: {stopped:?}"
        );
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_over_https_gets_a_host_only_secure_cookie_hsts_and_a_live_wss_socket() {
    let etcd = etcd();
    let certs = Certs::generate();
    let ca = certs.pem("ca.pem");
    let served = Served::new(&certs, "server.pem", "server-key.pem");
    let server = HttpsServer::start(&etcd, &served, &ca).await;

    // Every answer says: HTTPS only from now on, and the strict policy.
    let status = server
        .http
        .get(server.url(path::STATUS))
        .send()
        .await
        .expect("status");
    assert_eq!(status.status(), 200);
    assert_eq!(
        header(&status, "strict-transport-security"),
        "max-age=31536000"
    );
    assert_eq!(
        header(&status, "content-security-policy"),
        etcdeck::api::CONTENT_SECURITY_POLICY
    );
    let page = server.http.get(server.url("/")).send().await.expect("page");
    assert_eq!(
        header(&page, "strict-transport-security"),
        "max-age=31536000"
    );
    assert!(
        header(&page, "content-security-policy").contains("script-src 'self' 'wasm-unsafe-eval'")
    );
    // The other security headers, on the page and on the API alike.
    for answer in [&status, &page] {
        assert_eq!(header(answer, "x-content-type-options"), "nosniff");
        assert_eq!(header(answer, "x-frame-options"), "DENY");
        assert_eq!(header(answer, "referrer-policy"), "no-referrer");
    }
    assert_eq!(header(&status, "cache-control"), "no-store");

    // The login's cookie is `__Host-` and `Secure`, for the whole site, no domain.
    let login = server
        .http
        .post(server.url(edit_path::LOGIN))
        .json(&LoginRequest::Password {
            user: "root".into(),
            password: ROOT_PASSWORD.into(),
        })
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let set_cookie = header(&login, "set-cookie").to_owned();
    assert_eq!(
        header(&login, "strict-transport-security"),
        "max-age=31536000"
    );
    let info: SessionInfo = login.json().await.expect("session info");
    assert!(
        set_cookie.starts_with("__Host-etcdeck_session="),
        "{set_cookie}"
    );
    for attribute in ["Secure", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(
            set_cookie.split("; ").any(|a| a == attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(
        !set_cookie.to_ascii_lowercase().contains("domain"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    let id = cookie.split_once('=').expect("=").1.to_owned();

    let level = |cookie: String| {
        let request = server
            .http
            .get(server.url(&format!("{}?prefix=/", path::LEVEL)))
            .header(reqwest::header::COOKIE, cookie);
        async move { request.send().await.expect("level").status().as_u16() }
    };
    assert_eq!(level(cookie.clone()).await, 200);
    // Over HTTPS the plain name is not the session cookie: one planted by a
    // plain-HTTP page of this host would not be taken.
    assert_eq!(level(format!("etcdeck_session={id}")).await, 401);

    // The live WebSocket over wss: a change made with etcdctl arrives.
    let tls = handshake(server.addr, &ca).await.expect("TLS handshake");
    let mut request = format!("wss://{}{}", server.addr, path::WS)
        .into_client_request()
        .expect("WebSocket request");
    request
        .headers_mut()
        .insert("cookie", cookie.parse().expect("cookie header"));
    request.headers_mut().insert(
        "origin",
        format!("https://{}", server.addr)
            .parse()
            .expect("origin header"),
    );
    let (mut ws, answer) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("WebSocket over wss");
    assert_eq!(
        answer
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
    let subscribe = ClientMessage::Subscribe {
        id: SubId(1),
        range: WatchRange::prefix(Bytes::from("/tls/")),
        from: None,
        prev_kv: false,
    };
    ws.send(Message::text(
        serde_json::to_string(&subscribe).expect("json"),
    ))
    .await
    .expect("send subscribe");
    let mut put = false;
    let got = tokio::time::timeout(LIMIT, async {
        while let Some(frame) = ws.next().await {
            let Message::Text(text) = frame.expect("frame") else {
                continue;
            };
            match serde_json::from_str::<ServerMessage>(&text).expect("server message") {
                ServerMessage::Subscribed { .. } if !put => {
                    etcd.etcdctl(&["put", "/tls/key", "over wss"])
                        .expect("etcdctl put");
                    put = true;
                }
                ServerMessage::Events { events, .. } => return Some(events),
                _ => {}
            }
        }
        None
    })
    .await
    .expect("an event within the limit")
    .expect("the socket stayed open");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].kv.key, Bytes::from("/tls/key"));
    assert_eq!(got[0].kv.value, Bytes::from("over wss"));
    ws.close(None).await.expect("close");

    // Clients that stall in the handshake or do not speak TLS at all hold
    // up no one: a full request succeeds meanwhile, long before the
    // stalled handshakes time out.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        stalled.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let mut plain = TcpStream::connect(server.addr).await.expect("connect");
    plain
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("plain HTTP to the HTTPS port");
    assert!(
        handshake(server.addr, &certs.pem("self-signed.pem"))
            .await
            .is_err(),
        "a client that does not trust the certificate fails its handshake"
    );
    let started = Instant::now();
    assert_eq!(level(cookie.clone()).await, 200);
    assert!(
        started.elapsed() < etcdeck::api::tls::HANDSHAKE_TIMEOUT / 2,
        "a request waited {:?} behind stalled handshakes",
        started.elapsed()
    );
    drop(stalled);
    drop(plain);

    // Logging out clears the `__Host-` cookie, with `Secure` as browsers
    // require for it.
    let logout = server
        .http
        .post(server.url(edit_path::LOGOUT))
        .header(reqwest::header::COOKIE, cookie.clone())
        .header(CSRF_HEADER, info.csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    let cleared = header(&logout, "set-cookie");
    assert!(
        cleared.starts_with("__Host-etcdeck_session=;") && cleared.contains("; Secure"),
        "{cleared}"
    );
    assert_eq!(level(cookie).await, 401);
    server.stop().await;
}

/// The `etcdeck` binary with its stderr collected line by line.
struct Binary {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _password: tempfile::NamedTempFile,
}

impl Binary {
    /// Starts `etcdeck` as root of `endpoint` with `args`, environment
    /// variables that would change its flags removed.
    fn start(endpoint: &str, args: &[&str]) -> Binary {
        let password = tempfile::NamedTempFile::new().expect("password file");
        std::fs::write(password.path(), ROOT_PASSWORD).expect("write password");
        let mut command = Command::new(env!("CARGO_BIN_EXE_etcdeck"));
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("ETCDECK_") || key_text.starts_with("ETCDCTL_") {
                command.env_remove(&key);
            }
        }
        let mut child = command
            .env("RUST_LOG", "etcdeck=info")
            .env("NO_COLOR", "1")
            .arg("--endpoints")
            .arg(endpoint)
            .arg("--user")
            .arg("root")
            .arg("--password-file")
            .arg(password.path())
            .arg("--dist")
            .arg("/nonexistent-dist")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start etcdeck");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Binary {
            child,
            lines,
            _password: password,
        }
    }

    fn stderr(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Waits until a line of stderr contains `text`, and returns it.
    async fn wait_line(&self, text: &str) -> String {
        wait_for(LIMIT, &format!("etcdeck to print {text:?}"), async || {
            let lines = self.lines.lock().expect("lines");
            lines
                .iter()
                .find(|line| line.contains(text))
                .cloned()
                .ok_or_else(|| lines.join("\n"))
        })
        .await
    }

    /// How many lines of stderr contain `text`.
    fn count(&self, text: &str) -> usize {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .filter(|line| line.contains(text))
            .count()
    }

    fn hang_up(&self) {
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    async fn exit_code(&mut self) -> Option<i32> {
        wait_for(LIMIT, "etcdeck to exit", async || {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => Ok(status.code()),
                None => Err(self.stderr()),
            }
        })
        .await
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_a_bad_file_keeps_the_one_served() {
    let etcd = etcd();
    let certs = Certs::generate();
    let ca = certs.pem("ca.pem");
    let self_signed = certs.pem("self-signed.pem");
    let served = Served::new(&certs, "server.pem", "server-key.pem");
    let port = free_port().expect("port");
    let (cert, key) = (path_arg(&served.cert()), path_arg(&served.key()));
    let listen = loopback(port).to_string();
    let binary = Binary::start(
        &etcd.endpoint(0),
        &["--listen", &listen, "--tls-cert", &cert, "--tls-key", &key],
    );
    binary
        .wait_line(&format!("etcdeck serves https://{listen}"))
        .await;
    let addr = loopback(port);
    wait_for(LIMIT, "a handshake trusting the CA", async || {
        handshake(addr, &ca)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await;
    assert!(handshake(addr, &self_signed).await.is_err());
    // An open connection is not touched by a reload.
    let mut open = handshake(addr, &ca).await.expect("handshake");

    // New files and SIGHUP: new connections get the new certificate.
    served.put(&certs, "self-signed.pem", "self-signed-key.pem");
    binary.hang_up();
    binary
        .wait_line("reloaded the HTTPS certificate and key")
        .await;
    handshake(addr, &self_signed)
        .await
        .expect("the new certificate is served");
    assert!(handshake(addr, &ca).await.is_err(), "the old one is not");

    // A bad file on reload: the error is logged, the certificate served
    // so far stays.
    std::fs::write(served.cert(), "not a certificate\n").expect("write");
    binary.hang_up();
    let error = binary
        .wait_line("still serving the previous certificate")
        .await;
    assert!(error.contains(&cert), "{error} names the file");
    handshake(addr, &self_signed)
        .await
        .expect("the previous certificate is still served");
    // A key that belongs to another certificate is refused the same way.
    served.put(&certs, "server.pem", "self-signed-key.pem");
    binary.hang_up();
    wait_for(LIMIT, "the mismatch to be logged", async || {
        if binary.count("still serving the previous certificate") >= 2 {
            Ok(())
        } else {
            Err(binary.stderr())
        }
    })
    .await;
    assert!(
        binary
            .stderr()
            .contains("does not belong to the certificate")
    );
    handshake(addr, &self_signed)
        .await
        .expect("the previous certificate is still served");

    // The connection opened before the reloads still works.
    open.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(LIMIT, open.read_to_end(&mut answer)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        binary.count("reloaded the HTTPS certificate and key"),
        1,
        "{}",
        binary.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_cannot_be_used_stops_the_start_with_one_sentence() {
    let certs = Certs::generate();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--tls-cert",
                "server.pem",
                "--tls-key",
                "self-signed-key.pem",
            ],
            "does not belong to the certificate",
        ),
        (
            &["--tls-cert", "server.pem", "--tls-key", "missing-key.pem"],
            "cannot read HTTPS key",
        ),
        (
            &[
                "--tls-cert",
                "server-key.pem",
                "--tls-key",
                "server-key.pem",
            ],
            "holds no certificate",
        ),
        (
            &["--tls-cert", "server.pem"],
            "--tls-cert and --tls-key go together",
        ),
    ];
    for (args, says) in cases {
        let port = free_port().expect("port");
        let listen = loopback(port).to_string();
        let mut argv = vec!["--listen".to_owned(), listen];
        for (i, arg) in args.iter().enumerate() {
            argv.push(if i % 2 == 1 {
                path_arg(&certs.path(arg))
            } else {
                (*arg).to_owned()
            });
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        // No etcd is needed: the certificate is checked before etcd is asked.
        let mut binary = Binary::start("http://127.0.0.1:9", &argv);
        assert_eq!(binary.exit_code().await, Some(1), "{}", binary.stderr());
        let stderr = binary.stderr();
        let line = stderr
            .lines()
            .find(|line| line.starts_with("etcdeck: "))
            .unwrap_or_else(|| panic!("no error line in {stderr:?}"));
        assert!(line.contains(says), "{line:?} should say {says:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_a_network_address_warns_on_stderr() {
    let etcd = etcd();
    let warning = "etcd passwords typed into the login page cross the network in clear";

    let port = free_port().expect("port");
    let binary = Binary::start(&etcd.endpoint(0), &["--listen", &format!("0.0.0.0:{port}")]);
    let line = binary.wait_line(warning).await;
    assert!(line.contains("--tls-cert and --tls-key"), "{line}");
    assert!(line.contains("TLS-terminating proxy"), "{line}");
    binary.wait_line("etcdeck serves http://").await;
    // It starts all the same.
    let http = reqwest::Client::new();
    wait_for(LIMIT, "etcdeck to answer on 0.0.0.0", async || {
        http.get(format!("http://{}{}", loopback(port), path::STATUS))
            .send()
            .await
            .map(drop)
            .map_err(|err| err.to_string())
    })
    .await;
    drop(binary);

    // On loopback nothing crosses the network: no warning.
    let port = free_port().expect("port");
    let binary = Binary::start(
        &etcd.endpoint(0),
        &["--listen", &loopback(port).to_string()],
    );
    binary.wait_line("etcdeck serves http://").await;
    assert_eq!(binary.count(warning), 0, "{}", binary.stderr());
}
