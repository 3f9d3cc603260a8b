//! Two facts the `Status` call does not carry, read from each member's own
//! Prometheus text on its client URL (`/metrics`): the compaction revision
//! (`etcd_debugging_mvcc_compact_revision`) and the backend quota
//! (`etcd_server_quota_backend_bytes`).
//!
//! One scraper per cluster, shared by every session, reads every endpoint
//! each [`SCRAPE_EVERY`] (not per page view: every cluster page and wall
//! screen shares its readings), all at once and each within
//! [`SCRAPE_TIMEOUT`], so a member that hangs delays nobody else's reading.
//! It uses the same TLS settings as etcdeck's gRPC connections and no
//! credentials (etcd serves `/metrics` to anyone who may connect). Only
//! the two lines it needs are read from the answer; no key names are in it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::watch;

use crate::config::TlsConfig;

/// How often every member's `/metrics` is read.
pub const SCRAPE_EVERY: Duration = Duration::from_secs(10);
/// How long one member's answer may take, connecting included.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);
/// More than this is not etcd's metrics page (etcd 3.4 serves about 100 KiB).
const MAX_BODY: usize = 8 * 1024 * 1024;

const COMPACT_REVISION: &str = "etcd_debugging_mvcc_compact_revision";
const QUOTA_BYTES: &str = "etcd_server_quota_backend_bytes";

/// What one member's `/metrics` said, with when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsReading {
    /// etcd's compaction revision; etcd says -1 (or 0) before the first
    /// compaction.
    pub compact_revision: Option<i64>,
    pub quota_bytes: Option<u64>,
    pub read_at: Instant,
}

/// What is known of one member's `/metrics`: the last reading that worked,
/// and the error of the last attempt when it failed. The two facts only
/// move forward (the quota changes only with a restart), so an older
/// reading is still worth showing while a member is away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberMetrics {
    pub last: Option<MetricsReading>,
    pub error: Option<String>,
}

/// Why a member's `/metrics` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("etcdeck's TLS settings cannot be used for /metrics: {0}")]
    Tls(String),
    #[error("/metrics did not answer: {0}")]
    Request(String),
    #[error("/metrics answered HTTP {0}")]
    Status(u16),
    #[error("/metrics answered more than {} MiB", MAX_BODY / 1024 / 1024)]
    TooLarge,
}

/// The cluster's `/metrics` scraper. Cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct Scraper {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    urls: Vec<String>,
    /// `Err` when the TLS settings could not be made into a client: every
    /// reading says why instead.
    client: Result<reqwest::Client, String>,
    readings: Mutex<Vec<MemberMetrics>>,
}

impl Scraper {
    /// A scraper of `urls` with `tls`; nothing runs until [`Scraper::run`].
    pub(super) fn new(urls: Vec<String>, tls: Option<&TlsConfig>) -> Self {
        let client = http_client(tls).map_err(|err| {
            tracing::warn!(error = %err, "members' /metrics will not be read");
            err.to_string()
        });
        let readings = Mutex::new(vec![MemberMetrics::default(); urls.len()]);
        Scraper {
            inner: Arc::new(Inner {
                urls,
                client,
                readings,
            }),
        }
    }

    /// Reads every member each [`SCRAPE_EVERY`] until `shutdown`.
    pub(super) async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.scrape_all().await;
            tokio::select! {
                _ = tokio::time::sleep(SCRAPE_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Reads every member now, at once; each reading is kept as soon as it
    /// comes, so a slow member holds back only its own.
    pub(super) async fn scrape_all(&self) {
        join_all((0..self.inner.urls.len()).map(|i| self.scrape(i))).await;
    }

    async fn scrape(&self, endpoint: usize) {
        let result = match &self.inner.client {
            Ok(client) => read(client, &self.inner.urls[endpoint]).await,
            Err(reason) => Err(ScrapeError::Tls(reason.clone())),
        };
        let mut readings = self
            .inner
            .readings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let member = &mut readings[endpoint];
        match result {
            Ok(body) => {
                let (compact_revision, quota_bytes) = parse(&body);
                member.last = Some(MetricsReading {
                    compact_revision,
                    quota_bytes,
                    read_at: Instant::now(),
                });
                member.error = None;
            }
            Err(err) => {
                if member.error.is_none() {
                    tracing::debug!(endpoint = %self.inner.urls[endpoint], error = %err, "a member's /metrics cannot be read");
                }
                member.error = Some(err.to_string());
            }
        }
    }

    /// What is known of every endpoint's `/metrics`, in the order of the
    /// endpoints.
    pub(super) fn readings(&self) -> Vec<MemberMetrics> {
        self.inner
            .readings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// An HTTP client with the cluster's TLS settings: its CA as the only
/// root, and its client certificate when one is given.
fn http_client(tls: Option<&TlsConfig>) -> Result<reqwest::Client, ScrapeError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(SCRAPE_TIMEOUT)
        .connect_timeout(SCRAPE_TIMEOUT)
        // etcdeck's gRPC connections go straight to the members; so do these.
        .no_proxy()
        .pool_max_idle_per_host(1);
    if let Some(tls) = tls {
        if let Some(ca) = &tls.ca {
            let ca = reqwest::Certificate::from_pem(ca)
                .map_err(|err| ScrapeError::Tls(err.to_string()))?;
            builder = builder.add_root_certificate(ca);
        }
        if let Some((cert, key)) = &tls.identity {
            let mut pem = key.clone();
            pem.push(b'\n');
            pem.extend_from_slice(cert);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|err| ScrapeError::Tls(err.to_string()))?;
            builder = builder.identity(identity);
        }
    }
    builder
        .build()
        .map_err(|err| ScrapeError::Tls(err.to_string()))
}

/// `GET {url}/metrics`, its body as text.
async fn read(client: &reqwest::Client, url: &str) -> Result<String, ScrapeError> {
    let request = |err: reqwest::Error| ScrapeError::Request(plain(&err));
    let mut answer = client
        .get(format!("{}/metrics", url.trim_end_matches('/')))
        .send()
        .await
        .map_err(request)?;
    if !answer.status().is_success() {
        return Err(ScrapeError::Status(answer.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(request)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ScrapeError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A reqwest error with its causes, in one line ("timed out" says little
/// without them).
fn plain(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return format!("no answer within {} s", SCRAPE_TIMEOUT.as_secs());
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The compaction revision and the quota from Prometheus text. Both are
/// gauges without labels; Prometheus may write their values as floats
/// (`1.6777216e+07`).
fn parse(body: &str) -> (Option<i64>, Option<u64>) {
    let value = |name: &str| {
        body.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = rest.strip_prefix(' ')?;
            let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
            value.is_finite().then_some(value)
        })
    };
    let compact_revision = value(COMPACT_REVISION).map(|v| v as i64);
    let quota_bytes = value(QUOTA_BYTES).filter(|v| *v > 0.0).map(|v| v as u64);
    (compact_revision, quota_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_gauges_are_read_and_nothing_else() {
        let body = "\
# HELP etcd_debugging_mvcc_compact_revision The revision of the last compaction in store.
# TYPE etcd_debugging_mvcc_compact_revision gauge
etcd_debugging_mvcc_compact_revision 1234
etcd_debugging_mvcc_compact_revision_total 9
# TYPE etcd_server_quota_backend_bytes gauge
etcd_server_quota_backend_bytes 1.6777216e+07
etcd_server_quota_backend_bytes_other 5
";
        assert_eq!(parse(body), (Some(1234), Some(16 * 1024 * 1024)));
        assert_eq!(
            parse("etcd_debugging_mvcc_compact_revision -1\n"),
            (Some(-1), None)
        );
        assert_eq!(parse("nothing here\n"), (None, None));
        assert_eq!(parse("etcd_server_quota_backend_bytes NaN\n"), (None, None));
    }

    #[tokio::test]
    async fn a_member_that_does_not_listen_is_an_error_not_a_wait() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        drop(listener);
        let scraper = Scraper::new(vec![url], None);
        let started = Instant::now();
        scraper.scrape_all().await;
        assert!(started.elapsed() < SCRAPE_TIMEOUT + Duration::from_secs(1));
        let readings = scraper.readings();
        assert!(readings[0].last.is_none());
        assert!(readings[0].error.is_some(), "{readings:?}");
    }

    #[tokio::test]
    async fn a_member_that_hangs_holds_back_only_its_own_reading() {
        // Accepts connections (the kernel does) and never answers, as a
        // stopped process does.
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let answering = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let urls = vec![
            format!("http://{}", hung.local_addr().expect("address")),
            format!("http://{}", answering.local_addr().expect("address")),
        ];
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = answering.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let body = "etcd_server_quota_backend_bytes 2.147483648e+09\n";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        let scraper = Scraper::new(urls, None);
        let scraping = tokio::spawn({
            let scraper = scraper.clone();
            async move { scraper.scrape_all().await }
        });
        let started = Instant::now();
        loop {
            let readings = scraper.readings();
            if let Some(last) = &readings[1].last {
                assert_eq!(last.quota_bytes, Some(2_147_483_648));
                assert!(readings[0].last.is_none() && readings[0].error.is_none());
                break;
            }
            assert!(
                started.elapsed() < SCRAPE_TIMEOUT / 2,
                "the answering member waited for the hung one"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        scraping.await.expect("scrape");
        assert!(started.elapsed() < SCRAPE_TIMEOUT + Duration::from_secs(1));
        let error = scraper.readings()[0]
            .error
            .clone()
            .expect("the hung member's error");
        assert!(error.contains("no answer within"), "{error}");
        drop(hung);
    }
}
