//! etcdeck: a live web dashboard for etcd.
//!
//! The binary (`main.rs`) only parses flags and wires; everything else is
//! this library, so tests start the very same server with [`run`] on a
//! port-0 listener.
//!
//! # Layout
//! - [`config`]: flags and environment, validated into a [`Config`].
//! - [`etcd`]: the one etcd session (connect, auth, reconnect, health); the
//!   only module that names `etcd_client` types.
//! - [`tree`]: listing one level of the key tree with tight, cheap ranges.
//! - [`hub`]: the watch hub: shared upstream etcd watches and the
//!   per-subscriber promise of live events.
//! - [`coord`]: the coordination views (leases, locks, elections, queues,
//!   services) and the queue trackers fed by the hub.
//! - [`cluster`]: the cluster view and the histories kept for it, from the
//!   endpoint prober's readings.
//! - [`auth`]: the browser sessions (login, wall token, open), each with its
//!   etcd client; knows nothing of HTTP.
//! - [`audit`]: the audit log of writes.
//! - [`model`]: the live model of the keyspace (every key's metadata and,
//!   within a budget, its value), kept current through the hub.
//! - [`kubernetes`]: Kubernetes objects and gzip streams in values, decoded
//!   for people (pure).
//! - [`metrics`]: etcdeck's own metrics for Prometheus (`GET /metrics`),
//!   one registry counted into by every part; names no other module.
//! - [`api`]: HTTP routes, the session cookie and extractors, the one error
//!   mapping, the built frontend and the HTTPS listener; the only module
//!   that names axum.
//!
//! Dependencies point one way: `api -> {auth, audit, cluster, coord, hub,
//! tree, etcd}`, `cluster -> etcd`, `auth -> etcd`, `coord -> {hub, tree, etcd}`, `hub -> etcd`,
//! `etcd -> tree` (it implements the lister's `KeySource` and uses its one
//! range end of a prefix), and everything `-> config` and `-> metrics`.
//! `tree`, `audit` and `metrics` depend on no other module.

pub mod api;
pub mod audit;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod coord;
pub mod etcd;
pub mod hub;
pub mod kubernetes;
pub mod metrics;
pub mod model;
pub mod tree;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// How long a stopping server waits for its WebSockets to close.
const SOCKETS_CLOSE_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

pub use config::{Cli, Config};

/// Why the server stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Start(#[from] etcd::StartError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Tls(#[from] api::tls::TlsError),
    #[error("cannot listen for SIGHUP, which reloads the HTTPS certificate: {0}")]
    Hangup(std::io::Error),
    #[error("cluster {name}: {source}")]
    Cluster { name: String, source: Box<RunError> },
    #[error("serving HTTP failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Connects to etcd and serves the dashboard on `listener` until `shutdown`
/// completes; then stops accepting, lets open requests finish and returns.
/// With `config.server.tls` it serves HTTPS and reads the certificate and
/// key again on every SIGHUP.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    // A certificate that cannot be used fails before anything else starts.
    let https = match config.server.tls.clone() {
        None => None,
        Some(files) => {
            let certs = api::tls::Certs::load(files)?;
            let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(RunError::Hangup)?;
            Some((certs, hangups))
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let sockets = TaskTracker::new();
    let clusters = config.clusters();
    // One cluster keeps today's metric names without a label; several get
    // a `cluster` label each, in one registry.
    let metrics = if clusters.len() == 1 {
        vec![metrics::Metrics::new()]
    } else {
        let names: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
        metrics::Metrics::per_cluster(&names)
    };
    let server_config = Arc::new(config.server);
    let mut states = Vec::with_capacity(clusters.len());
    let several = clusters.len() > 1;
    for (cluster, metrics) in clusters.into_iter().zip(metrics) {
        let name = cluster.name.clone();
        let state = cluster_state(
            cluster,
            config.coord.clone(),
            server_config.clone(),
            metrics,
            stop_rx.clone(),
            sockets.clone(),
        )
        .await
        // With several clusters, a refusal says whose it is.
        .map_err(|err| {
            if several {
                RunError::Cluster {
                    name: name.clone(),
                    source: Box::new(err),
                }
            } else {
                err
            }
        })?;
        states.push((name, state));
    }
    let app = api::router(states);
    // Handlers learn the client's address (login throttling, the sessions
    // list, the audit log) from the connection.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let stopping = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    // Live events are small frames that should leave at once, not wait to be
    // coalesced with the next one. (`tap_io` also gives the TLS listener its
    // `ConnectInfo<SocketAddr>`: axum provides it for a `TapIo` of any
    // listener whose address is a `SocketAddr`.)
    match https {
        Some((certs, hangups)) => {
            tokio::spawn(reload_on_hangup(certs.clone(), hangups, stop_rx));
            let listener =
                api::tls::TlsListener::new(listener, certs).tap_io(|tls| no_delay(tls.get_ref().0));
            axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await?;
        }
        None => {
            let listener = listener.tap_io(|tcp| no_delay(tcp));
            axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await?;
        }
    }
    // WebSockets outlive their HTTP connection: let each send its close
    // frame before returning.
    sockets.close();
    if tokio::time::timeout(SOCKETS_CLOSE_WITHIN, sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!("some WebSockets did not close in time");
    }
    Ok(())
}

/// Everything of one cluster: its audit log, its etcd session, hub,
/// coordination views, cluster view, browser sessions, login throttle and
/// model. Nothing here is shared with another cluster, so a session, a
/// watch or an audit entry of one can never be another's.
async fn cluster_state(
    cluster: config::ClusterConfig,
    coord_config: config::CoordConfig,
    server_config: Arc<config::ServerConfig>,
    metrics: metrics::Metrics,
    stop_rx: watch::Receiver<bool>,
    sockets: TaskTracker,
) -> Result<api::AppState, RunError> {
    // Before etcd: a dashboard that cannot keep its audit log must not
    // start taking writes.
    let audit = match &cluster.audit.path {
        Some(path) => audit::Audit::open(path, cluster.audit.max_bytes)?,
        None => audit::Audit::in_memory(),
    };
    let session = etcd::EtcdSession::start(cluster.etcd, metrics.clone(), stop_rx.clone()).await?;
    let hub = hub::Hub::new(metrics.clone());
    let coord = coord::Coord::start(session.clone(), hub.clone(), coord_config, stop_rx.clone());
    let cluster_view = cluster::Cluster::start(
        session.clone(),
        server_config.quota_backend_bytes,
        stop_rx.clone(),
    );
    let sessions = auth::Sessions::start(session.clone(), server_config.clone(), stop_rx.clone());
    let throttle = auth::Throttle::start(&server_config.login_throttle, stop_rx.clone());
    Ok(api::AppState {
        hub,
        coord,
        cluster: cluster_view,
        session,
        sessions,
        throttle,
        config: server_config,
        shutdown: stop_rx,
        sockets,
        audit,
        metrics,
        model: model::Model::disabled(),
        readable: api::ReadableCache::default(),
    })
}

fn no_delay(tcp: &tokio::net::TcpStream) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
    }
}

/// Reads the HTTPS certificate and key again on every SIGHUP until the
/// server stops (certificates renewed by an ACME client, say).
async fn reload_on_hangup(
    certs: Arc<api::tls::Certs>,
    mut hangups: tokio::signal::unix::Signal,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            got = hangups.recv() => match got {
                Some(()) => certs.reload_and_log(),
                None => return,
            },
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
    }
}
