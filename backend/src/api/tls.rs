//! HTTPS for the dashboard: the certificate and key it presents
//! ([`Certs`], read from `--tls-cert` / `--tls-key` and read again on
//! SIGHUP) and the listener `axum::serve` takes its connections from
//! ([`TlsListener`]).
//!
//! The listener hands over a connection only once its TLS handshake is
//! done. Handshakes run as tasks of their own, each within
//! [`HANDSHAKE_TIMEOUT`], so a client that connects and says nothing holds
//! up no one else; one that fails is logged at debug level and forgotten,
//! and the listener goes on accepting. Its address type is the peer's
//! [`SocketAddr`], so `into_make_service_with_connect_info::<SocketAddr>()`
//! and the client address extractor work as they do over plain HTTP.
//!
//! The crypto is the ring provider of the rustls that tonic already uses
//! for etcd: the process carries one TLS stack. Connections speak
//! HTTP/1.1 (ALPN `http/1.1`), which carries the WebSocket upgrade as is.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, crypto};
use tokio_rustls::server::TlsStream;

use crate::config::ServeTls;

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes may be under way at once; past that, new
/// connections wait in the kernel's backlog until one finishes.
const MAX_HANDSHAKES: usize = 1024;

/// Why the dashboard's certificate or key cannot be used, in one sentence
/// for the person who started etcdeck.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the HTTPS {what} {path}: {reason}")]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("the HTTPS {what} {path} is not valid PEM: {reason}")]
    BadPem {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("the HTTPS certificate file {0} holds no certificate ('BEGIN CERTIFICATE')")]
    NoCertificate(PathBuf),
    #[error("the HTTPS key file {0} holds no private key ('BEGIN PRIVATE KEY')")]
    NoKey(PathBuf),
    #[error("the HTTPS key {key} does not belong to the certificate {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("the HTTPS certificate {cert} and key {key} cannot be used: {reason}")]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// The certificate and key being served, and the files they come from.
pub struct Certs {
    files: ServeTls,
    current: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for Certs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certs")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Certs {
    /// Reads and checks the certificate chain and key (the key must belong
    /// to the chain's first certificate).
    pub fn load(files: ServeTls) -> Result<Arc<Certs>, TlsError> {
        let acceptor = acceptor(&files)?;
        Ok(Arc::new(Certs {
            files,
            current: RwLock::new(acceptor),
        }))
    }

    /// Reads the files again and serves new connections with what they
    /// hold now. On any problem the certificate served so far stays, and
    /// the error says why; connections already open are not touched.
    pub fn reload(&self) -> Result<(), TlsError> {
        let acceptor = acceptor(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = acceptor;
        Ok(())
    }

    /// [`Certs::reload`], with its outcome in the log.
    pub fn reload_and_log(&self) {
        match self.reload() {
            Ok(()) => tracing::info!(
                cert = %self.files.cert.display(),
                "reloaded the HTTPS certificate and key"
            ),
            Err(err) => tracing::error!("{err}; still serving the previous certificate"),
        }
    }

    fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn acceptor(files: &ServeTls) -> Result<TlsAcceptor, TlsError> {
    let cert_pem = read(&files.cert, "certificate")?;
    let key_pem = read(&files.key, "key")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad_pem("certificate", &files.cert, &err))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| match err {
        pem::Error::NoItemsFound => TlsError::NoKey(files.key.clone()),
        other => bad_pem("key", &files.key, &other),
    })?;
    let unusable = |reason: String| TlsError::Unusable {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason,
    };
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|err| unusable(err.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|err| match err {
                rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
                    cert: files.cert.clone(),
                    key: files.key.clone(),
                },
                other => unusable(other.to_string()),
            })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|err| TlsError::Unreadable {
        what,
        path: path.to_owned(),
        reason: err.to_string(),
    })
}

fn bad_pem(what: &'static str, path: &Path, err: &pem::Error) -> TlsError {
    TlsError::BadPem {
        what,
        path: path.to_owned(),
        reason: err.to_string(),
    }
}

/// TCP connections that become TLS streams, for `axum::serve`.
#[derive(Debug)]
pub struct TlsListener {
    tcp: TcpListener,
    certs: Arc<Certs>,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, certs: Arc<Certs>) -> TlsListener {
        TlsListener {
            tcp,
            certs,
            handshakes: JoinSet::new(),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Both branches are cancel-safe: a connection accepted or a
            // handshake finished is never lost when `serve` stops calling.
            tokio::select! {
                accepted = self.tcp.accept(), if self.handshakes.len() < MAX_HANDSHAKES => {
                    match accepted {
                        Ok((tcp, peer)) => {
                            let acceptor = self.certs.acceptor();
                            self.handshakes.spawn(handshake(acceptor, tcp, peer));
                        }
                        Err(err) => accept_failed(err).await,
                    }
                }
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(stream)) = done {
                        return stream;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// One client's handshake; `None` (logged at debug level) when it fails or
/// takes longer than [`HANDSHAKE_TIMEOUT`]: port scanners, plain HTTP sent
/// to the HTTPS port and browsers that refuse the certificate all end here.
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some((stream, peer)),
        Ok(Err(err)) => {
            tracing::debug!(%peer, error = %err, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// What `axum::serve`'s own TCP listener does with an accept error: a
/// connection that went away is nothing; anything else (out of file
/// descriptors) is logged and given a second to pass.
async fn accept_failed(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept error: {err}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
