//! The `etcdeck` binary: parses flags, sets up logging, binds the listener and
//! hands over to [`etcdeck::run`]. Start-up problems end in one line on
//! stderr and a non-zero exit; plain HTTP on an address other machines can
//! reach starts with a warning there.

use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = etcdeck::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("etcdeck=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let listen = cli.listen;
    let config = match cli.into_config(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => return fail(&format!("cannot listen on {listen}: {err}")),
    };
    let https = config.server.tls.is_some();
    if !https && !listen.ip().is_loopback() {
        warn_plain_http(listen);
    }
    tracing::info!(
        "etcdeck serves {}://{}",
        if https { "https" } else { "http" },
        listener.local_addr().unwrap_or(listen)
    );
    match etcdeck::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Plain HTTP on an address other machines reach: etcd passwords typed
/// into the login page cross the network readable by anyone on the path.
/// etcdeck still starts (a trusted network, or a TLS proxy in front, may
/// make it fine), but says so where the person starting it looks.
fn warn_plain_http(listen: std::net::SocketAddr) {
    eprintln!(
        "etcdeck: warning: serving plain HTTP on {listen}, which other machines can reach: \
         etcd passwords typed into the login page cross the network in clear. \
         Serve HTTPS with --tls-cert and --tls-key, or put a TLS-terminating proxy in front \
         and listen on 127.0.0.1."
    );
}

fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("etcdeck: {err}");
    ExitCode::FAILURE
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
