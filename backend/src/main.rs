//! The `etcdeck` binary: parses flags, sets up logging, binds the listener and
//! hands over to [`etcdeck::run`]. Start-up problems end in one line on
//! stderr and a non-zero exit.

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
    tracing::info!(
        "etcdeck serves http://{}",
        listener.local_addr().unwrap_or(listen)
    );
    match etcdeck::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
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
