//! A loopback TCP proxy in front of one etcd member, for failures a killed
//! process cannot show: a member whose port hangs instead of refusing, and
//! a request that reaches etcd while its answer never comes back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with the bytes it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Both ways, as if it were not there.
    Forward = 0,
    /// Nothing either way: connections are accepted and held, bytes are
    /// neither read nor passed on (a partitioned or frozen member).
    Blackhole = 1,
    /// Requests reach etcd; its answers are read and thrown away.
    DropReplies = 2,
}

/// A proxy to one address; it stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    changed: watch::Sender<()>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let mode = Arc::new(AtomicU8::new(Mode::Forward as u8));
        let (changed, _) = watch::channel(());
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let (task_mode, task_changed) = (mode.clone(), changed.clone());
        tokio::spawn(async move {
            loop {
                let (client, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                    _ = &mut stopped => return,
                };
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(
                    client_read,
                    server_write,
                    false,
                    task_mode.clone(),
                    task_changed.subscribe(),
                ));
                tokio::spawn(pipe(
                    server_read,
                    client_write,
                    true,
                    task_mode.clone(),
                    task_changed.subscribe(),
                ));
            }
        });
        Proxy {
            addr,
            mode,
            changed,
            _stop: stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        self.changed.send_replace(());
    }
}

/// Copies one direction; `replies` is the direction from etcd back.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    replies: bool,
    mode: Arc<AtomicU8>,
    mut changed: watch::Receiver<()>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Hold still while blackholed: read nothing, so nothing moves.
        while mode.load(Ordering::SeqCst) == Mode::Blackhole as u8 {
            if changed.changed().await.is_err() {
                return;
            }
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let now = mode.load(Ordering::SeqCst);
        if replies && now == Mode::DropReplies as u8 {
            continue;
        }
        while mode.load(Ordering::SeqCst) == Mode::Blackhole as u8 {
            if changed.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
