//! The live protocol under test: a WebSocket client that speaks
//! [`etcdeck_shared::ws`] and records every message, a writer that changes
//! etcd directly, ground truth read straight from etcd, and the checker that
//! holds each subscription to the hub's promise.
//!
//! The promise (see `shared/src/ws.rs`): a subscription's events are exactly
//! the revisions written to its range, in order, none missing and none twice,
//! or an explicit `Gap` followed by `Snapshot` pages equal to etcd's range at
//! the snapshot revision, and then exactly the events after it.
//!
//! The checker never trusts etcdeck: [`Truth`] is read from etcd with its own
//! etcd-client watch (history) and ranges at a revision (snapshots). The
//! checker itself ([`check_session`]) is pure and unit-tested in
//! `tests/watch.rs` on hand-made sequences.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use etcd_client::{
    Client, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};
use etcdeck_shared::ws::{
    ClientMessage, EventKind, GapReason, ServerMessage, SubId, WatchEvent, WatchKv, WatchRange,
};
use etcdeck_shared::{ApiError, Bytes, Revision, path};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

use super::{Server, Target, config};

/// Everything the scenarios' writers change lives under this prefix.
pub const PREFIX: &str = "/w/";
/// A user who may read [`PREFIX`] and nothing else.
pub const VIEWER: (&str, &str) = ("viewer", "viewer-password");
/// How long a condition that should hold within a second or two may take on
/// a loaded two-core machine.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A real etcd with auth, with the [`VIEWER`] user added.
pub fn start_etcd(options: ClusterOptions) -> EtcdCluster {
    init_logs();
    let etcd = EtcdCluster::start(options).expect("start etcd");
    etcd.add_user(VIEWER.0, VIEWER.1, &[PREFIX], &[])
        .expect("add the viewer");
    etcd
}

/// Where most tests start: etcd (with the viewer user), a writer under
/// [`PREFIX`], and the revision the test's own writes will start at.
pub async fn start_scene(options: ClusterOptions) -> (EtcdCluster, Vec<String>, Writer, i64) {
    let etcd = start_etcd(options);
    let endpoints = etcd.endpoints();
    let mut writer = Writer::connect(&endpoints, PREFIX).await;
    let start = writer.revision().await + 1;
    (etcd, endpoints, writer, start)
}

/// etcdeck connected to `etcd` as `user`.
pub async fn server_as(etcd: &EtcdCluster, user: (&str, &str)) -> Server {
    Server::start(config(etcd.endpoints(), Some(user)))
        .await
        .expect("start etcdeck")
}

pub async fn root_server(etcd: &EtcdCluster) -> Server {
    server_as(etcd, ("root", ROOT_PASSWORD)).await
}

/// What most watch scenarios start from, in one line: etcd (with the
/// [`VIEWER`] user), a writer under [`PREFIX`], the revision the test's own
/// writes start at, and etcdeck logged in as root. Tests take it apart with
/// a `let Scene { .. } =` so each keeps only what it uses; `etcd` stays
/// bound (as `etcd: _etcd` when unused), since dropping it stops etcd.
pub struct Scene {
    pub etcd: EtcdCluster,
    pub endpoints: Vec<String>,
    pub writer: Writer,
    pub start: i64,
    pub root: Server,
}

impl Scene {
    pub async fn start(options: ClusterOptions) -> Scene {
        let (etcd, endpoints, writer, start) = start_scene(options).await;
        let root = root_server(&etcd).await;
        Scene {
            etcd,
            endpoints,
            writer,
            start,
            root,
        }
    }
}

/// One subscription a tab opens ([`open_tab`], [`LiveClient::subscribe_all`]).
#[derive(Clone, Debug)]
pub struct Sub {
    pub id: u32,
    pub range: WatchRange,
    pub from: Option<Revision>,
    pub prev_kv: bool,
}

impl Sub {
    /// Subscription `id` to everything under `prefix`, from now.
    pub fn prefix(id: u32, prefix: &str) -> Sub {
        Sub {
            id,
            range: WatchRange::prefix(prefix),
            from: None,
            prev_kv: false,
        }
    }

    /// Subscription `id` to the one key `key`, from now.
    pub fn key(id: u32, key: &str) -> Sub {
        Sub {
            range: WatchRange::key(key),
            ..Sub::prefix(id, "")
        }
    }

    /// Starting at `revision` (replaying history) instead of now.
    pub fn from(self, revision: i64) -> Sub {
        Sub {
            from: Some(Revision(revision)),
            ..self
        }
    }

    /// With each key's previous value.
    pub fn prev_kv(self) -> Sub {
        Sub {
            prev_kv: true,
            ..self
        }
    }
}

/// A browser tab on `server` with every one of `subs` open (answered with
/// `subscribed`).
pub async fn open_tab(server: &Server, subs: &[Sub]) -> LiveClient {
    let mut ws = LiveClient::connect(server.live()).await;
    ws.subscribe_all(subs).await;
    ws
}

/// One tab on each of `servers`, each with every one of `subs` open.
pub async fn open_tabs<const N: usize>(servers: [&Server; N], subs: &[Sub]) -> [LiveClient; N] {
    let mut tabs = Vec::with_capacity(N);
    for server in servers {
        tabs.push(open_tab(server, subs).await);
    }
    match tabs.try_into() {
        Ok(tabs) => tabs,
        Err(_) => unreachable!("one tab per server"),
    }
}

// ---------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------

/// One message as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub message: ServerMessage,
}

/// One `Subscribe` and everything the backend said about it on that socket.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: SubId,
    pub range: WatchRange,
    pub from: Option<Revision>,
    pub prev_kv: bool,
    /// Which connection of the client (0 for the first, +1 per reconnect).
    pub socket: usize,
    pub sent_at: Instant,
    pub messages: Vec<Received>,
    pub unsubscribed: bool,
}

impl Session {
    /// A session built by hand, for the checker's own tests.
    pub fn fake(
        id: u32,
        range: WatchRange,
        from: Option<i64>,
        messages: Vec<ServerMessage>,
    ) -> Session {
        let at = Instant::now();
        Session {
            id: SubId(id),
            range,
            from: from.map(Revision),
            prev_kv: false,
            socket: 0,
            sent_at: at,
            messages: messages
                .into_iter()
                .map(|message| Received { at, message })
                .collect(),
            unsubscribed: false,
        }
    }

    /// The highest revision this session was told about (the resume point).
    pub fn seen(&self) -> Option<Revision> {
        let mut seen = None;
        for received in &self.messages {
            let told = match &received.message {
                ServerMessage::Subscribed { revision, .. }
                | ServerMessage::Progress { revision, .. } => Some(*revision),
                ServerMessage::Events { events, .. } => events.last().map(|e| e.kv.mod_revision),
                ServerMessage::Snapshot { revision, done, .. } => done.then_some(*revision),
                _ => None,
            };
            if told.is_some() {
                seen = seen.max(told);
            }
        }
        seen
    }

    pub fn events(&self) -> impl Iterator<Item = &WatchEvent> {
        self.messages.iter().flat_map(|r| match &r.message {
            ServerMessage::Events { events, .. } => events.as_slice(),
            _ => &[],
        })
    }

    pub fn closed(&self) -> Option<&ApiError> {
        self.messages.iter().find_map(|r| match &r.message {
            ServerMessage::Closed { error, .. } => Some(error),
            _ => None,
        })
    }

    pub fn subscribed(&self) -> Option<Revision> {
        self.messages.iter().find_map(|r| match &r.message {
            ServerMessage::Subscribed { revision, .. } => Some(*revision),
            _ => None,
        })
    }

    pub fn gaps(&self) -> Vec<GapReason> {
        self.messages
            .iter()
            .filter_map(|r| match &r.message {
                ServerMessage::Gap { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// The message types in order, run-length encoded: `subscribed events*12 progress`.
    pub fn outline(&self) -> String {
        let mut out = String::new();
        let mut last: Option<(&'static str, usize)> = None;
        let flush = |out: &mut String, item: Option<(&'static str, usize)>| {
            if let Some((name, n)) = item {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(name);
                if n > 1 {
                    let _ = write!(out, "*{n}");
                }
            }
        };
        for received in &self.messages {
            let name = kind_name(&received.message);
            match &mut last {
                Some((last_name, n)) if *last_name == name => *n += 1,
                _ => {
                    flush(&mut out, last.take());
                    last = Some((name, 1));
                }
            }
        }
        flush(&mut out, last);
        // A loop (say `reconnecting live` a thousand times) should not bury
        // the rest of a failure message.
        const SHOWN: usize = 400;
        if out.len() > SHOWN {
            let cut = out[..SHOWN].rfind(' ').unwrap_or(SHOWN);
            let _ = write!(
                out,
                " ... ({} messages; last: {})",
                self.messages.len(),
                self.messages.last().map_or("", |r| kind_name(&r.message))
            );
            let tail = out.split_off(out.rfind(" ... (").unwrap_or(out.len()));
            out.truncate(cut);
            out.push_str(&tail);
        }
        out
    }
}

fn kind_name(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Subscribed { .. } => "subscribed",
        ServerMessage::Events { .. } => "events",
        ServerMessage::Progress { .. } => "progress",
        ServerMessage::Reconnecting { .. } => "reconnecting",
        ServerMessage::Live { .. } => "live",
        ServerMessage::Gap { .. } => "gap",
        ServerMessage::Snapshot { .. } => "snapshot",
        ServerMessage::Closed { .. } => "closed",
        ServerMessage::Error { .. } => "error",
        ServerMessage::Heartbeat => "heartbeat",
    }
}

/// Everything one client saw, over all its sockets.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub sessions: Vec<Session>,
    /// `Error` messages (they belong to no subscription).
    pub errors: Vec<Received>,
    /// Messages for a subscription id this socket never subscribed.
    pub strays: Vec<Received>,
    /// Frames that were not a `ServerMessage`.
    pub undecodable: Vec<String>,
    /// Why each socket ended, in order.
    pub socket_ends: Vec<String>,
    /// Values were replaced by [`fingerprint`]s on arrival (keeps memory flat).
    pub digest_values: bool,
}

impl Recording {
    pub fn sessions_of(&self, id: SubId) -> impl Iterator<Item = &Session> {
        self.sessions.iter().filter(move |s| s.id == id)
    }

    pub fn last(&self, id: SubId) -> Option<&Session> {
        self.sessions.iter().rev().find(|s| s.id == id)
    }

    /// The resume point of subscription `id` over all its sessions.
    pub fn seen(&self, id: SubId) -> Option<Revision> {
        self.sessions_of(id).filter_map(Session::seen).max()
    }

    /// Roughly how many bytes this recording occupies on the heap (with
    /// 16 bytes of allocator overhead per allocation), so that a memory
    /// measurement can tell the test's own growth from the server's.
    pub fn approx_heap_bytes(&self) -> usize {
        const OVERHEAD: usize = 16;
        let vec = |capacity: usize, size: usize| {
            if capacity == 0 {
                0
            } else {
                capacity * size + OVERHEAD
            }
        };
        let kv = |kv: &WatchKv| vec(kv.key.0.capacity(), 1) + vec(kv.value.0.capacity(), 1);
        let mut total = vec(self.sessions.capacity(), size_of::<Session>());
        for session in &self.sessions {
            total += vec(session.messages.capacity(), size_of::<Received>());
            for received in &session.messages {
                match &received.message {
                    ServerMessage::Events { events, .. } => {
                        total += vec(events.capacity(), size_of::<WatchEvent>());
                        for event in events {
                            total += kv(&event.kv) + event.prev.as_ref().map_or(0, kv);
                        }
                    }
                    ServerMessage::Snapshot { kvs, .. } => {
                        total += vec(kvs.capacity(), size_of::<WatchKv>());
                        total += kvs.iter().map(kv).sum::<usize>();
                    }
                    _ => {}
                }
            }
        }
        total
    }

    /// A readable digest for failure messages.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for s in &self.sessions {
            let _ = writeln!(
                out,
                "  sub {} socket {} from {:?} seen {:?}: {}",
                s.id.0,
                s.socket,
                s.from.map(|r| r.0),
                s.seen().map(|r| r.0),
                s.outline()
            );
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "  errors: {:?}", self.errors);
        }
        if !self.strays.is_empty() {
            let _ = writeln!(out, "  strays: {}", self.strays.len());
        }
        if !self.undecodable.is_empty() {
            let _ = writeln!(out, "  undecodable: {:?}", self.undecodable);
        }
        if !self.socket_ends.is_empty() {
            let _ = writeln!(out, "  socket ends: {:?}", self.socket_ends);
        }
        out
    }
}

/// A short stand-in for a value: its length and a hash.
pub fn fingerprint(value: &[u8]) -> Vec<u8> {
    let mut hasher = DefaultHasher::new();
    hasher.write(value);
    format!("#{}:{:016x}", value.len(), hasher.finish()).into_bytes()
}

fn digest_message(message: &mut ServerMessage) {
    let digest_kv = |kv: &mut WatchKv| kv.value = Bytes(fingerprint(&kv.value.0));
    match message {
        ServerMessage::Events { events, .. } => {
            for event in events {
                digest_kv(&mut event.kv);
                if let Some(prev) = &mut event.prev {
                    digest_kv(prev);
                }
            }
        }
        ServerMessage::Snapshot { kvs, .. } => kvs.iter_mut().for_each(digest_kv),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// The WebSocket client
// ---------------------------------------------------------------------------

struct Shared {
    recording: Mutex<Recording>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Recording> {
        self.recording
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, socket: usize, at: Instant, text: &str) {
        let mut recording = self.lock();
        match serde_json::from_str::<ServerMessage>(text) {
            // Heartbeats only keep the connection observably alive.
            Ok(ServerMessage::Heartbeat) => {}
            Ok(mut message) => {
                if recording.digest_values {
                    digest_message(&mut message);
                }
                let received = Received { at, message };
                match received.message.id() {
                    None => recording.errors.push(received),
                    Some(id) => {
                        match recording
                            .sessions
                            .iter_mut()
                            .rev()
                            .find(|s| s.id == id && s.socket == socket)
                        {
                            Some(session) => session.messages.push(received),
                            None => recording.strays.push(received),
                        }
                    }
                }
            }
            Err(err) => {
                let mut shown: String = text.chars().take(200).collect();
                let _ = write!(shown, " ({err})");
                recording.undecodable.push(shown);
            }
        }
        drop(recording);
        self.changed.notify_waiters();
    }

    fn end(&self, why: String) {
        self.lock().socket_ends.push(why);
        self.changed.notify_waiters();
    }
}

/// How a client's sockets are set up.
#[derive(Clone, Copy, Debug, Default)]
pub struct SocketOptions {
    /// `SO_RCVBUF` for the client's socket: a small one makes a paused reader
    /// push back on the server quickly.
    pub recv_buffer: Option<u32>,
    /// Keep [`fingerprint`]s instead of values (see [`Recording::digest_values`]).
    pub digest_values: bool,
}

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// A browser tab's WebSocket, recorded. Messages are read by a background
/// task until [`LiveClient::pause`] stops it from polling the socket.
#[derive(Debug)]
pub struct LiveClient {
    target: Target,
    options: SocketOptions,
    shared: Arc<Shared>,
    sink: Option<Sink>,
    reader: Option<JoinHandle<()>>,
    paused: watch::Sender<bool>,
    socket: usize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl LiveClient {
    pub async fn connect(target: Target) -> LiveClient {
        LiveClient::connect_with(target, SocketOptions::default()).await
    }

    pub async fn connect_with(target: Target, options: SocketOptions) -> LiveClient {
        let shared = Arc::new(Shared {
            recording: Mutex::new(Recording {
                digest_values: options.digest_values,
                ..Recording::default()
            }),
            changed: Notify::new(),
        });
        let (paused, _) = watch::channel(false);
        let mut client = LiveClient {
            target,
            options,
            shared,
            sink: None,
            reader: None,
            paused,
            socket: 0,
        };
        client.open().await;
        client
    }

    async fn open(&mut self) {
        let socket = TcpSocket::new_v4().expect("tcp socket");
        if let Some(size) = self.options.recv_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        let stream = socket
            .connect(self.target.addr)
            .await
            .expect("connect to etcdeck");
        let url = format!("ws://{}{}", self.target.addr, path::WS);
        let mut request = url
            .as_str()
            .into_client_request()
            .expect("WebSocket request");
        if let Some(cookie) = &self.target.cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().expect("cookie header"));
        }
        let (ws, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .unwrap_or_else(|err| panic!("WebSocket handshake with {url} failed: {err}"));
        let (sink, stream) = ws.split();
        self.sink = Some(sink);
        self.reader = Some(tokio::spawn(read_loop(
            stream,
            self.shared.clone(),
            self.paused.subscribe(),
            self.socket,
        )));
    }

    /// Subscribes every one of `subs` and waits until each is open.
    pub async fn subscribe_all(&mut self, subs: &[Sub]) {
        for sub in subs {
            self.subscribe(sub.id, sub.range.clone(), sub.from, sub.prev_kv)
                .await;
        }
        for sub in subs {
            self.wait_subscribed(sub.id, LIMIT).await;
        }
    }

    /// Subscribes `id` to `range`.
    pub async fn subscribe(
        &mut self,
        id: u32,
        range: WatchRange,
        from: Option<Revision>,
        prev_kv: bool,
    ) {
        self.shared.lock().sessions.push(Session {
            id: SubId(id),
            range: range.clone(),
            from,
            prev_kv,
            socket: self.socket,
            sent_at: Instant::now(),
            messages: Vec::new(),
            unsubscribed: false,
        });
        self.send(&ClientMessage::Subscribe {
            id: SubId(id),
            range,
            from,
            prev_kv,
        })
        .await;
    }

    pub async fn unsubscribe(&mut self, id: u32) {
        if let Some(session) = self
            .shared
            .lock()
            .sessions
            .iter_mut()
            .rev()
            .find(|s| s.id == SubId(id))
        {
            session.unsubscribed = true;
        }
        self.send(&ClientMessage::Unsubscribe { id: SubId(id) })
            .await;
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        let text = serde_json::to_string(message).expect("encode");
        self.send_raw(Message::text(text)).await;
    }

    /// Sends any frame, well-formed or not.
    pub async fn send_raw(&mut self, message: Message) {
        self.sink
            .as_mut()
            .expect("connected")
            .send(message)
            .await
            .expect("send a frame to etcdeck");
    }

    /// Stops reading the socket: the kernel's buffers fill and the server
    /// sees a subscriber that does not keep up.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Closes the socket as a browser tab would.
    pub async fn disconnect(&mut self) {
        if let Some(mut sink) = self.sink.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
        }
        if let Some(reader) = self.reader.take() {
            reader.abort();
            let _ = reader.await;
        }
        self.shared
            .end(format!("socket {} closed by the test", self.socket));
    }

    /// Like [`LiveClient::reconnect`], to another etcdeck (say, restarted on
    /// a new port).
    pub async fn reconnect_to(&mut self, target: Target) {
        self.target = target;
        self.reconnect().await;
    }

    /// Opens a new socket and subscribes every subscription that was open
    /// again, each with `from` = what it has seen + 1.
    pub async fn reconnect(&mut self) {
        if self.sink.is_some() {
            self.disconnect().await;
        }
        self.socket += 1;
        self.open().await;
        let resume: Vec<(u32, WatchRange, Option<Revision>, bool)> = {
            let recording = self.shared.lock();
            let mut ids: Vec<SubId> = recording.sessions.iter().map(|s| s.id).collect();
            ids.sort();
            ids.dedup();
            ids.into_iter()
                .filter_map(|id| {
                    let last = recording.last(id)?;
                    if last.unsubscribed || last.closed().is_some() {
                        return None;
                    }
                    let from = match recording.seen(id) {
                        Some(seen) => Some(Revision(seen.0 + 1)),
                        None => last.from,
                    };
                    Some((id.0, last.range.clone(), from, last.prev_kv))
                })
                .collect()
        };
        for (id, range, from, prev_kv) in resume {
            self.subscribe(id, range, from, prev_kv).await;
        }
    }

    /// A copy of everything recorded so far.
    pub fn recording(&self) -> Recording {
        self.shared.lock().clone()
    }

    pub fn seen(&self, id: u32) -> Option<Revision> {
        self.shared.lock().seen(SubId(id))
    }

    /// Waits until `check` holds for the recording; panics after `limit`
    /// with what was recorded.
    pub async fn wait_until(
        &self,
        limit: Duration,
        what: &str,
        mut check: impl FnMut(&Recording) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let recording = self.shared.lock();
                if check(&recording) {
                    return;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "timed out after {limit:?} waiting for {what}; recorded:\n{}",
                        recording.summary()
                    );
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(remaining, notified).await;
        }
    }

    /// Waits until subscription `id` is open (its last session got `Subscribed`).
    pub async fn wait_subscribed(&self, id: u32, limit: Duration) -> Revision {
        self.wait_until(limit, &format!("sub {id} to be subscribed"), |r| {
            r.last(SubId(id)).and_then(Session::subscribed).is_some()
        })
        .await;
        self.shared
            .lock()
            .last(SubId(id))
            .and_then(Session::subscribed)
            .expect("subscribed")
    }

    /// Waits until subscription `id` has been told about `revision`.
    pub async fn wait_seen(&self, id: u32, revision: i64, limit: Duration) {
        self.wait_until(
            limit,
            &format!("sub {id} to reach revision {revision}"),
            |r| r.seen(SubId(id)).is_some_and(|seen| seen.0 >= revision),
        )
        .await;
    }
}

impl Drop for LiveClient {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

async fn read_loop(
    mut stream: SplitStream<WebSocketStream<TcpStream>>,
    shared: Arc<Shared>,
    mut paused: watch::Receiver<bool>,
    socket: usize,
) {
    loop {
        if *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                return;
            }
            continue;
        }
        let next = tokio::select! {
            changed = paused.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            next = stream.next() => next,
        };
        let at = Instant::now();
        match next {
            Some(Ok(Message::Text(text))) => shared.record(socket, at, text.as_str()),
            Some(Ok(Message::Binary(bytes))) => {
                shared
                    .lock()
                    .undecodable
                    .push(format!("binary frame of {} bytes", bytes.len()));
            }
            Some(Ok(Message::Close(frame))) => {
                shared.end(format!("socket {socket} closed by etcdeck: {frame:?}"));
                return;
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                shared.end(format!("socket {socket} failed: {err}"));
                return;
            }
            None => {
                shared.end(format!("socket {socket} ended"));
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Writing to etcd directly
// ---------------------------------------------------------------------------

/// A root etcd-client with automatic token refresh and short timeouts.
pub async fn root_client(endpoints: &[String]) -> Client {
    let options = ConnectOptions::new()
        .with_user("root", ROOT_PASSWORD)
        .with_auto_token_refresh(true)
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(3));
    super::wait_for(
        Duration::from_secs(30),
        "etcd to accept a root client",
        async || {
            Client::connect(endpoints, Some(options.clone()))
                .await
                .map_err(|err| err.to_string())
        },
    )
    .await
}

/// Writes a deterministic mix of puts, deletes and multi-key transactions
/// under `prefix` (keys `prefix a/kNNN` and `prefix b/kNNN`), retrying
/// failed writes, and records when each write was acknowledged.
pub struct Writer {
    client: Client,
    pub prefix: String,
    keys: u64,
    value_size: (usize, usize),
    /// With more than one, every write is a transaction putting this many keys.
    txn_size: usize,
    seq: u64,
    rng: u64,
    /// Revision and acknowledgement time of every successful write.
    pub acks: Vec<(i64, Instant)>,
    /// Bytes of values written.
    pub bytes: usize,
    /// Attempts that failed and were retried.
    pub failures: usize,
}

impl Writer {
    pub async fn connect(endpoints: &[String], prefix: &str) -> Writer {
        Writer {
            client: root_client(endpoints).await,
            prefix: prefix.to_owned(),
            keys: 40,
            value_size: (1, 40),
            txn_size: 1,
            seq: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            acks: Vec::new(),
            bytes: 0,
            failures: 0,
        }
    }

    /// Values of `min..=max` bytes.
    pub fn with_values(mut self, min: usize, max: usize) -> Self {
        self.value_size = (min, max.max(min));
        self
    }

    pub fn with_keys(mut self, keys: u64) -> Self {
        self.keys = keys.max(1);
        self
    }

    /// Every write a transaction putting `n` keys (at most the number of keys).
    pub fn with_txns_of(mut self, n: usize) -> Self {
        self.txn_size = n.max(1);
        self
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic, no dependency.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn key(&mut self) -> String {
        let n = self.next_random() % self.keys;
        let half = if n.is_multiple_of(2) { "a" } else { "b" };
        format!("{}{half}/k{n:03}", self.prefix)
    }

    fn value(&mut self) -> Vec<u8> {
        let (min, max) = self.value_size;
        let len = min + (self.next_random() as usize) % (max - min + 1);
        let mut value = format!("v{}:", self.seq).into_bytes();
        // Every fifth value has bytes that are not UTF-8.
        let filler: &[u8] = if self.seq.is_multiple_of(5) {
            b"\xff\x00\xfe"
        } else {
            b"abcdefghijklmnopqrstuvwxyz"
        };
        while value.len() < len {
            value.push(filler[value.len() % filler.len()]);
        }
        value.truncate(len.max(1));
        value
    }

    /// One write (a put, a delete, or a transaction putting three keys),
    /// retried until etcd takes it. Returns its revision.
    pub async fn step(&mut self) -> i64 {
        self.seq += 1;
        let seq = self.seq;
        let txn_size = if self.txn_size > 1 {
            self.txn_size.min(self.keys as usize)
        } else {
            3
        };
        let op = if self.txn_size == 1 && seq.is_multiple_of(11) {
            Op::Delete(self.key())
        } else if self.txn_size > 1 || seq.is_multiple_of(7) {
            let mut puts = Vec::new();
            let mut keys = Vec::new();
            while puts.len() < txn_size {
                let key = self.key();
                if !keys.contains(&key) {
                    keys.push(key.clone());
                    let value = self.value();
                    puts.push((key, value));
                }
            }
            Op::Txn(puts)
        } else {
            let key = self.key();
            let value = self.value();
            Op::Put(key, value)
        };
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let result = match &op {
                Op::Put(key, value) => self
                    .client
                    .put(key.as_bytes(), value.clone(), None::<PutOptions>)
                    .await
                    .map(|r| r.header().map(|h| h.revision())),
                Op::Delete(key) => self
                    .client
                    .delete(key.as_bytes(), None)
                    .await
                    .map(|r| r.header().map(|h| h.revision())),
                Op::Txn(puts) => {
                    let ops: Vec<TxnOp> = puts
                        .iter()
                        .map(|(k, v)| TxnOp::put(k.as_bytes(), v.clone(), None))
                        .collect();
                    self.client
                        .txn(Txn::new().and_then(ops))
                        .await
                        .map(|r| r.header().map(|h| h.revision()))
                }
            };
            match result {
                Ok(revision) => {
                    let revision = revision.expect("response header");
                    self.acks.push((revision, Instant::now()));
                    self.bytes += match &op {
                        Op::Put(_, v) => v.len(),
                        Op::Delete(_) => 0,
                        Op::Txn(puts) => puts.iter().map(|(_, v)| v.len()).sum(),
                    };
                    return revision;
                }
                Err(err) => {
                    self.failures += 1;
                    assert!(
                        Instant::now() < deadline,
                        "etcd did not take write {seq} for 40 s: {err}"
                    );
                    // Retrying until etcd takes the write (it is away in the
                    // fault scenarios): the pause only spaces the attempts.
                    tokio::time::sleep(super::POLL).await;
                }
            }
        }
    }

    /// `n` writes; returns the last revision.
    pub async fn write(&mut self, n: usize) -> i64 {
        let mut last = 0;
        for _ in 0..n {
            last = self.step().await;
        }
        last
    }

    /// Puts the end markers `prefix ~end`, `prefix a/~end` and
    /// `prefix b/~end` in one transaction and returns its revision: every
    /// subscription to the prefix or one of its halves must reach it.
    pub async fn mark(&mut self) -> i64 {
        let value = format!("{}", self.seq);
        let ops: Vec<TxnOp> = ["~end", "a/~end", "b/~end"]
            .iter()
            .map(|k| TxnOp::put(format!("{}{k}", self.prefix), value.clone(), None))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            match self.client.txn(Txn::new().and_then(ops.clone())).await {
                Ok(r) => return r.header().expect("header").revision(),
                Err(err) => {
                    assert!(Instant::now() < deadline, "marker write failed: {err}");
                    // Spaces the retries, as in `step`.
                    tokio::time::sleep(super::POLL).await;
                }
            }
        }
    }

    /// etcd's current revision.
    pub async fn revision(&mut self) -> i64 {
        let response = self
            .client
            .get("etcdeck-test-probe", None)
            .await
            .expect("read the current revision");
        response.header().expect("header").revision()
    }

    /// Keeps writing (one write every `pace`) until `stop` is set; returns
    /// the writer with its acknowledgements.
    pub fn spawn_until(
        mut self,
        mut stop: watch::Receiver<bool>,
        pace: Duration,
    ) -> JoinHandle<Writer> {
        tokio::spawn(async move {
            while !*stop.borrow_and_update() {
                self.step().await;
                if !pace.is_zero() {
                    // The pace is the scenario's write rate, not a wait.
                    tokio::select! {
                        _ = tokio::time::sleep(pace) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            self
        })
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("prefix", &self.prefix)
            .field("writes", &self.acks.len())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Op {
    Put(String, Vec<u8>),
    Delete(String),
    Txn(Vec<(String, Vec<u8>)>),
}

// ---------------------------------------------------------------------------
// Ground truth from etcd
// ---------------------------------------------------------------------------

/// One change as etcd's own history tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthEvent {
    pub revision: i64,
    pub kind: EventKind,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// The key's value and mod revision before the change, if it existed.
    pub prev: Option<(Vec<u8>, i64)>,
}

/// One key as etcd's range at a revision tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthKv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
}

/// etcd's history of everything under `prefix` from `start` to `end`, and
/// its ranges at the revisions the checker needs.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    pub prefix: Vec<u8>,
    /// Every change under `prefix` with `start <= revision <= end`, in order.
    pub events: Vec<TruthEvent>,
    pub start: i64,
    pub end: i64,
    /// Everything under `prefix` at a revision, in key order.
    pub snapshots: BTreeMap<i64, Vec<TruthKv>>,
}

impl Truth {
    /// Reads the history under `prefix` from `start` up to `end` (a revision
    /// that wrote under the prefix, e.g. [`Writer::mark`]) with a watch of
    /// its own. `start` must not be compacted yet.
    pub async fn read(endpoints: &[String], prefix: &str, start: i64, end: i64) -> Truth {
        let mut truth = Truth::starting(prefix, start);
        truth.extend(endpoints, end).await;
        truth
    }

    /// No history yet; [`Truth::extend`] reads it from `start` on.
    pub fn starting(prefix: &str, start: i64) -> Truth {
        Truth {
            prefix: prefix.as_bytes().to_vec(),
            start,
            end: start - 1,
            ..Truth::default()
        }
    }

    /// Reads further history, from `self.end + 1` to `end`.
    pub async fn extend(&mut self, endpoints: &[String], end: i64) {
        let from = self.end + 1;
        if end < from {
            return;
        }
        let client = root_client(endpoints).await;
        // etcd replays up to 1000 revisions per response: with large values
        // that is far over tonic's default 4 MiB message limit.
        let mut stream = client
            .watch_client()
            .max_decoding_message_size(256 * 1024 * 1024)
            .watch(
                self.prefix.clone(),
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_prev_key()
                        .with_start_revision(from),
                ),
            )
            .await
            .expect("ground-truth watch");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = from - 1;
        while last < end {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let response = tokio::time::timeout(remaining, stream.message())
                .await
                .unwrap_or_else(|_| {
                    panic!("etcd's history under the prefix did not reach {end} (at {last})")
                })
                .expect("ground-truth watch response")
                .expect("ground-truth watch ended");
            assert!(
                !response.canceled(),
                "ground-truth watch from {from} cancelled: {} (compacted at {})",
                response.cancel_reason(),
                response.compact_revision()
            );
            for event in response.events() {
                let kv = event.kv().expect("event kv");
                let revision = kv.mod_revision();
                last = last.max(revision);
                if revision > end {
                    continue;
                }
                self.events.push(TruthEvent {
                    revision,
                    kind: match event.event_type() {
                        EventType::Put => EventKind::Put,
                        EventType::Delete => EventKind::Delete,
                    },
                    key: kv.key().to_vec(),
                    value: kv.value().to_vec(),
                    prev: event
                        .prev_kv()
                        .map(|p| (p.value().to_vec(), p.mod_revision())),
                });
            }
        }
        self.end = end;
    }

    /// Reads etcd's range under the prefix at every revision some session's
    /// last snapshot page names.
    pub async fn read_snapshots(&mut self, endpoints: &[String], recordings: &[&Recording]) {
        let mut revisions = Vec::new();
        for recording in recordings {
            for session in &recording.sessions {
                for received in &session.messages {
                    if let ServerMessage::Snapshot { revision, .. } = &received.message {
                        revisions.push(revision.0);
                    }
                }
            }
        }
        revisions.sort_unstable();
        revisions.dedup();
        let mut client = root_client(endpoints).await;
        for revision in revisions {
            if self.snapshots.contains_key(&revision) {
                continue;
            }
            let response = client
                .get(
                    self.prefix.clone(),
                    Some(GetOptions::new().with_prefix().with_revision(revision)),
                )
                .await
                .unwrap_or_else(|err| panic!("etcd range at revision {revision}: {err}"));
            let kvs = response
                .kvs()
                .iter()
                .map(|kv| TruthKv {
                    key: kv.key().to_vec(),
                    value: kv.value().to_vec(),
                    create_revision: kv.create_revision(),
                    mod_revision: kv.mod_revision(),
                    version: kv.version(),
                })
                .collect();
            self.snapshots.insert(revision, kvs);
        }
    }
}

// ---------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------

/// What a session (or a whole subscription) delivered, when it kept the promise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub events: usize,
    pub gaps: Vec<GapReason>,
    pub snapshot_revisions: Vec<i64>,
    pub progress: usize,
    pub reconnecting: usize,
    /// The highest revision the session was told about.
    pub seen: Option<i64>,
}

enum State {
    /// Before `Subscribed`.
    Opening,
    /// Events after `pos` are expected; `next` indexes the first one.
    Live,
    /// After a `Gap`: snapshot pages so far, at `revision`.
    Snapshotting {
        revision: Option<i64>,
        kvs: Vec<WatchKv>,
    },
}

fn show(bytes: &[u8]) -> String {
    Bytes(bytes.to_vec()).display()
}

fn same_value(received: &[u8], truth: &[u8], digest: bool) -> bool {
    if digest {
        received == fingerprint(truth).as_slice()
    } else {
        received == truth
    }
}

/// Checks one session against etcd's history: every event in its range after
/// its start, in order, exactly once, or a gap and a snapshot equal to etcd's
/// range and then exactly the events after it. With `until`, the session must
/// have delivered every event up to that revision. `digest` says the
/// recording kept [`fingerprint`]s instead of values.
pub fn check_session(
    session: &Session,
    truth: &Truth,
    until: Option<i64>,
    digest: bool,
) -> Result<Verdict, String> {
    let who = format!("sub {} (socket {})", session.id.0, session.socket);
    let expected: Vec<&TruthEvent> = truth
        .events
        .iter()
        .filter(|e| session.range.contains(&e.key))
        .collect();
    let mut verdict = Verdict::default();
    let mut state = State::Opening;
    // Position: the last revision accounted for, and the index of the first
    // expected event after it.
    let mut pos: i64 = 0;
    let mut next: usize = 0;
    let mut reconnecting = false;
    let seek = |pos: i64| expected.partition_point(|e| e.revision <= pos);
    let covers = |pos: i64| -> Result<(), String> {
        if pos + 1 < truth.start {
            Err(format!(
                "{who}: needs etcd history from {} but the ground truth starts at {}",
                pos + 1,
                truth.start
            ))
        } else {
            Ok(())
        }
    };

    for (i, received) in session.messages.iter().enumerate() {
        let at = format!("{who}, message {i} ({})", kind_name(&received.message));
        match (&mut state, &received.message) {
            (State::Opening, ServerMessage::Subscribed { revision, .. }) => {
                pos = match session.from {
                    // `from` 0 or below means from the first revision.
                    Some(from) => from.0.max(1) - 1,
                    None => revision.0,
                };
                if revision.0 != pos {
                    return Err(format!(
                        "{at}: subscribed at {} for `from` {:?} (expected {pos})",
                        revision.0,
                        session.from.map(|r| r.0)
                    ));
                }
                covers(pos)?;
                next = seek(pos);
                verdict.seen = Some(pos);
                state = State::Live;
            }
            (State::Opening, other) => {
                return Err(format!("{at}: expected `subscribed` first, got {other:?}"));
            }
            (_, ServerMessage::Subscribed { .. }) => {
                return Err(format!("{at}: a second `subscribed`"));
            }
            (_, ServerMessage::Closed { error, .. }) => {
                return Err(format!(
                    "{at}: the subscription was closed: {:?} {}",
                    error.code, error.message
                ));
            }
            (_, ServerMessage::Error { error }) => {
                return Err(format!("{at}: error {:?} {}", error.code, error.message));
            }
            (_, ServerMessage::Heartbeat) => {}
            (_, ServerMessage::Reconnecting { .. }) => {
                verdict.reconnecting += 1;
                reconnecting = true;
            }
            (_, ServerMessage::Live { .. }) => {
                if !reconnecting {
                    return Err(format!("{at}: `live` without `reconnecting` before it"));
                }
                reconnecting = false;
            }
            (State::Live, ServerMessage::Events { events, .. }) => {
                let mut last_rev = None;
                for event in events {
                    let rev = event.kv.mod_revision.0;
                    if !session.range.contains(&event.kv.key.0) {
                        return Err(format!(
                            "{at}: event rev {rev} for {}, outside the range",
                            show(&event.kv.key.0)
                        ));
                    }
                    let Some(want) = expected.get(next) else {
                        return Err(format!(
                            "{at}: event rev {rev} {:?} {} not in etcd's history of the range \
                             (history ends at {}, last delivered {pos})",
                            event.kind,
                            show(&event.kv.key.0),
                            truth.end
                        ));
                    };
                    let matches = rev == want.revision
                        && event.kind == want.kind
                        && event.kv.key.0 == want.key
                        && (event.kind == EventKind::Delete
                            || same_value(&event.kv.value.0, &want.value, digest));
                    if matches {
                        check_prev(&at, session.prev_kv, event, want, digest)?;
                    } else {
                        let what = if rev < want.revision || Some(rev) < last_rev {
                            if expected[..next]
                                .iter()
                                .any(|e| e.revision == rev && e.key == event.kv.key.0)
                            {
                                "duplicate"
                            } else {
                                "out of order"
                            }
                        } else if rev > want.revision {
                            "missing"
                        } else if event.kv.key.0 != want.key {
                            "wrong key or order within a revision"
                        } else {
                            "wrong content"
                        };
                        return Err(format!(
                            "{at}: {what}: expected rev {} {:?} {}, got rev {rev} {:?} {} \
                             (value {})",
                            want.revision,
                            want.kind,
                            show(&want.key),
                            event.kind,
                            show(&event.kv.key.0),
                            show(&event.kv.value.0),
                        ));
                    }
                    next += 1;
                    pos = rev;
                    last_rev = Some(rev);
                    verdict.events += 1;
                }
                if let (Some(last), Some(following)) = (last_rev, expected.get(next))
                    && following.revision == last
                {
                    return Err(format!("{at}: revision {last} split over two messages"));
                }
                verdict.seen = verdict.seen.max(last_rev);
            }
            (State::Live, ServerMessage::Progress { revision, .. }) => {
                if let Some(want) = expected.get(next)
                    && want.revision <= revision.0
                {
                    return Err(format!(
                        "{at}: progress to {} but rev {} ({}) was not delivered",
                        revision.0,
                        want.revision,
                        show(&want.key)
                    ));
                }
                pos = pos.max(revision.0);
                verdict.progress += 1;
                verdict.seen = verdict.seen.max(Some(revision.0));
            }
            (State::Live, ServerMessage::Gap { reason, .. }) => {
                verdict.gaps.push(reason.clone());
                state = State::Snapshotting {
                    revision: None,
                    kvs: Vec::new(),
                };
            }
            (State::Live, ServerMessage::Snapshot { .. }) => {
                return Err(format!("{at}: a snapshot without a gap before it"));
            }
            (
                State::Snapshotting { revision, kvs },
                ServerMessage::Snapshot {
                    revision: page_revision,
                    kvs: page,
                    done,
                    ..
                },
            ) => {
                if let Some(r) = *revision
                    && r != page_revision.0
                {
                    return Err(format!(
                        "{at}: snapshot pages at revisions {r} and {}",
                        page_revision.0
                    ));
                }
                *revision = Some(page_revision.0);
                kvs.extend(page.iter().cloned());
                if *done {
                    let r = page_revision.0;
                    let Some(want) = truth.snapshots.get(&r) else {
                        return Err(format!(
                            "{at}: snapshot at {r}, which the ground truth did not read"
                        ));
                    };
                    let want: Vec<&TruthKv> = want
                        .iter()
                        .filter(|kv| session.range.contains(&kv.key))
                        .collect();
                    compare_snapshot(&at, r, kvs, &want, digest)?;
                    covers(r)?;
                    pos = r;
                    next = seek(r);
                    verdict.snapshot_revisions.push(r);
                    verdict.seen = verdict.seen.max(Some(r));
                    state = State::Live;
                }
            }
            (State::Snapshotting { .. }, other) => {
                return Err(format!(
                    "{at}: {} between a gap and the snapshot's last page",
                    kind_name(other)
                ));
            }
        }
    }

    if let Some(until) = until {
        match state {
            State::Opening => return Err(format!("{who}: never subscribed")),
            State::Snapshotting { .. } => {
                return Err(format!("{who}: ended inside a gap's snapshot"));
            }
            State::Live => {}
        }
        if let Some(want) = expected.get(next)
            && want.revision <= until
        {
            let missing = expected[next..]
                .iter()
                .filter(|e| e.revision <= until)
                .count();
            return Err(format!(
                "{who}: {missing} events up to {until} never arrived, the first rev {} {:?} {} \
                 (delivered up to {pos})",
                want.revision,
                want.kind,
                show(&want.key)
            ));
        }
        if reconnecting {
            return Err(format!("{who}: `reconnecting` and never `live` again"));
        }
    }
    Ok(verdict)
}

/// `prev` is there exactly when asked for and etcd had it, and equals
/// etcd's previous value.
fn check_prev(
    at: &str,
    asked: bool,
    event: &WatchEvent,
    want: &TruthEvent,
    digest: bool,
) -> Result<(), String> {
    let rev = event.kv.mod_revision.0;
    let key = show(&want.key);
    match (&event.prev, &want.prev) {
        (Some(_), _) if !asked => Err(format!(
            "{at}: rev {rev} {key} carries `prev` though the subscription did not ask for it"
        )),
        (None, _) if !asked => Ok(()),
        (None, None) => Ok(()),
        (Some(got), Some((value, modified)))
            if got.key.0 == want.key
                && got.mod_revision.0 == *modified
                && same_value(&got.value.0, value, digest) =>
        {
            Ok(())
        }
        (got, want_prev) => Err(format!(
            "{at}: rev {rev} {key}: prev {:?} but etcd had {:?}",
            got.as_ref().map(|p| (show(&p.value.0), p.mod_revision.0)),
            want_prev.as_ref().map(|(v, r)| (show(v), *r))
        )),
    }
}

fn compare_snapshot(
    at: &str,
    revision: i64,
    got: &[WatchKv],
    want: &[&TruthKv],
    digest: bool,
) -> Result<(), String> {
    for pair in got.windows(2) {
        if pair[0].key.0 >= pair[1].key.0 {
            return Err(format!(
                "{at}: snapshot keys not in order: {} then {}",
                show(&pair[0].key.0),
                show(&pair[1].key.0)
            ));
        }
    }
    let mut got_iter = got.iter();
    for (i, w) in want.iter().enumerate() {
        let Some(g) = got_iter.next() else {
            return Err(format!(
                "{at}: snapshot at {revision} lacks {} (and {} keys after it)",
                show(&w.key),
                want.len() - i - 1
            ));
        };
        let same = g.key.0 == w.key
            && same_value(&g.value.0, &w.value, digest)
            && g.create_revision.0 == w.create_revision
            && g.mod_revision.0 == w.mod_revision
            && g.version == w.version;
        if !same {
            return Err(format!(
                "{at}: snapshot at {revision} differs from etcd: got {} (mod {}, create {}, \
                 version {}), etcd has {} (mod {}, create {}, version {})",
                show(&g.key.0),
                g.mod_revision.0,
                g.create_revision.0,
                g.version,
                show(&w.key),
                w.mod_revision,
                w.create_revision,
                w.version
            ));
        }
    }
    if let Some(extra) = got_iter.next() {
        return Err(format!(
            "{at}: snapshot at {revision} has {} which etcd does not",
            show(&extra.key.0)
        ));
    }
    Ok(())
}

/// Checks every session of subscription `id`, in order: each keeps the
/// promise, each resumes where the one before it left off, and the last one
/// delivered everything up to `until`.
pub fn check_subscription(
    recording: &Recording,
    id: u32,
    truth: &Truth,
    until: i64,
) -> Result<Verdict, String> {
    let sessions: Vec<&Session> = recording.sessions_of(SubId(id)).collect();
    if sessions.is_empty() {
        return Err(format!("sub {id} was never subscribed"));
    }
    let mut total = Verdict::default();
    let mut seen: Option<i64> = None;
    for (i, session) in sessions.iter().enumerate() {
        if let (Some(seen), Some(from)) = (seen, session.from)
            && from.0 > seen + 1
        {
            return Err(format!(
                "sub {id}: session {i} resumed from {} but only {seen} was seen",
                from.0
            ));
        }
        let last = i + 1 == sessions.len();
        let verdict = check_session(
            session,
            truth,
            last.then_some(until),
            recording.digest_values,
        )?;
        total.events += verdict.events;
        total.gaps.extend(verdict.gaps);
        total.snapshot_revisions.extend(verdict.snapshot_revisions);
        total.progress += verdict.progress;
        total.reconnecting += verdict.reconnecting;
        seen = seen.max(verdict.seen);
        total.seen = seen;
    }
    Ok(total)
}

/// Checks each `(name, recording, id)` and panics with every failure at once.
pub fn assert_promise(subs: &[(&str, &Recording, u32)], truth: &Truth, until: i64) -> Vec<Verdict> {
    let mut failures = Vec::new();
    let mut verdicts = Vec::new();
    for (name, recording, id) in subs {
        match check_subscription(recording, *id, truth, until) {
            Ok(verdict) => {
                eprintln!("{name}: {verdict:?}");
                verdicts.push(verdict);
            }
            Err(err) => failures.push(format!("{name}: {err}\n{}", recording.summary())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} subscriptions broke the promise:\n{}",
        failures.len(),
        subs.len(),
        failures.join("\n")
    );
    verdicts
}

/// The end of a scenario: writes the end markers, waits until every
/// subscription has reached them, reads the rest of etcd's history into
/// `truth` and the snapshots the sessions name, and checks every
/// subscription.
pub async fn finish(
    endpoints: &[String],
    writer: &mut Writer,
    mut truth: Truth,
    subs: &[(&str, &LiveClient, u32)],
) -> (Truth, Vec<Verdict>) {
    let mark = writer.mark().await;
    for (name, client, id) in subs {
        let waited = Instant::now();
        client
            .wait_until(
                Duration::from_secs(30),
                &format!("{name} (sub {id}) to reach the end marker at {mark}"),
                |r| r.seen(SubId(*id)).is_some_and(|seen| seen.0 >= mark),
            )
            .await;
        let waited = waited.elapsed();
        if waited > Duration::from_secs(1) {
            eprintln!("{name}: reached the end marker {waited:?} after it was written");
        }
    }
    truth.extend(endpoints, mark).await;
    let recordings: Vec<Recording> = subs.iter().map(|(_, c, _)| c.recording()).collect();
    let refs: Vec<&Recording> = recordings.iter().collect();
    truth.read_snapshots(endpoints, &refs).await;
    let checks: Vec<(&str, &Recording, u32)> = subs
        .iter()
        .zip(&recordings)
        .map(|((name, _, id), recording)| (*name, recording, *id))
        .collect();
    let verdicts = assert_promise(&checks, &truth, mark);
    (truth, verdicts)
}

// ---------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------

/// The sum of metric `name` (over all label sets) on an etcd member's
/// `/metrics`.
pub async fn etcd_metric(endpoint: &str, name: &str) -> f64 {
    let body = reqwest::get(format!("{endpoint}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    body.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// This process's resident memory in KiB (the server runs in-process).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Sends etcdeck's logs to the test output when `RUST_LOG` is set (e.g.
/// `RUST_LOG=etcdeck=debug`), for diagnosing a failing scenario.
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
