//! `GET /api/v1/ws`: the WebSocket of the live protocol
//! ([`etcdeck_shared::ws`]), one per browser tab.
//!
//! One task per socket reads the browser's subscribe and unsubscribe
//! messages and writes what its subscriptions have to say. It writes at the
//! pace the browser reads: a browser that stops reading stops draining its
//! subscriptions' queues, which then overflow into a resync (see
//! `crate::hub`), so it costs bounded memory and never slows anyone else.
//! A message that is not understood gets an `error` reply, a subscribe that is
//! refused a `closed` for its id; the socket stays open and its other
//! subscriptions carry on. A heartbeat goes out every
//! [`HEARTBEAT_SECS`] seconds, and when the server stops, every socket gets a
//! close frame ("going away") so that browsers reconnect.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use etcdeck_shared::edit::SessionKind;
use etcdeck_shared::ws::{
    ClientMessage, HEARTBEAT_SECS, MAX_CLIENT_FRAME, MAX_SUBSCRIPTIONS, SESSION_ENDED_CLOSE,
    ServerMessage, SubId,
};
use futures::{SinkExt, Stream, StreamExt};
use tokio::sync::watch;
use tokio_stream::StreamMap;

use super::extract::Reader;
use super::mask::{self, Mask};
use super::{AppState, Failure};
use crate::config::{Masks, ServerConfig};
use crate::etcd::EtcdSession;
use crate::hub::{Hub, Out, events_text};
use crate::metrics::Metrics;

/// How often the backend sends a heartbeat (a text frame the page sees) and
/// a ping, so that both ends notice a dead peer.
const HEARTBEAT: Duration = Duration::from_secs(HEARTBEAT_SECS);
/// Frames above this size close the socket (a protocol error); frames
/// between [`MAX_CLIENT_FRAME`] and this get an error reply.
const MAX_FRAME_READ: usize = 1024 * 1024;

/// What a socket keeps for reading: the browser sends only small messages
/// (the buffer grows for a larger one); the default of 128 KiB would be most
/// of a subscriber's memory.
const READ_BUFFER: usize = 4 * 1024;

/// A subscription's frames, each with when the hub received the revisions
/// it carries (none for other messages).
type Frames = Pin<Box<dyn Stream<Item = (String, Vec<Instant>)> + Send>>;

pub(super) async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    reader: Result<Reader, Failure>,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(failure) = super::same_site(&headers, &state.config) {
        return failure.into_response();
    }
    let reader = match reader {
        Ok(reader) => reader,
        Err(failure) => return failure.into_response(),
    };
    let hub = state.hub.clone();
    let shutdown = state.shutdown.clone();
    let sockets = state.sockets.clone();
    let config = state.config.clone();
    let metrics = state.metrics.clone();
    ws.max_message_size(MAX_FRAME_READ)
        .max_frame_size(MAX_FRAME_READ)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            sockets.track_future(serve(socket, hub, reader, config, metrics, shutdown))
        })
}

async fn serve(
    socket: WebSocket,
    hub: Hub,
    reader: Reader,
    config: Arc<ServerConfig>,
    metrics: Metrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let _open = metrics.websocket_opened();
    let (mut sink, mut incoming) = socket.split();
    let mut subscriptions: StreamMap<SubId, Frames> = StreamMap::new();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.reset();
    let session = reader.session.clone();
    let ended = async {
        match &session {
            Some(session) => session.ended().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(ended);
    loop {
        if *shutdown.borrow() {
            // The server is stopping: say so, so browsers reconnect to the next one.
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::AWAY,
                    reason: "etcdeck is stopping".into(),
                })))
                .await;
            break;
        }
        // When the hub received the revisions of the frame about to be written.
        let mut received = Vec::new();
        let frame = tokio::select! {
            frame = incoming.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(session) = &session {
                        session.touch();
                    }
                    handle(&hub, &reader.etcd, &config, &mut subscriptions, text.as_str())
                }
                Some(Ok(Message::Binary(_))) => Some(bad_request(
                    "binary frames are not part of the protocol; send JSON text",
                )),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => None,
                Some(Err(err)) => {
                    tracing::debug!(error = %err, "WebSocket read failed");
                    break;
                }
            },
            Some((_, (frame, revisions))) = subscriptions.next(), if !subscriptions.is_empty() => {
                received = revisions;
                Some(frame)
            }
            _ = heartbeat.tick() => {
                // A wall screen is in use while it shows something; a
                // person's login is in use while they act.
                if let Some(session) = &session
                    && session.kind != SessionKind::Login
                {
                    session.touch();
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                Some(r#"{"type":"heartbeat"}"#.to_owned())
            }
            () = &mut ended => {
                // Logged out or expired: the page must log in again, not
                // reconnect with a cookie that no longer works.
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: SESSION_ENDED_CLOSE,
                        reason: "your etcdeck session ended; log in again".into(),
                    })))
                    .await;
                break;
            }
            _ = shutdown.changed() => None,
        };
        if let Some(frame) = frame {
            if sink.send(Message::Text(frame.into())).await.is_err() {
                break;
            }
            received
                .into_iter()
                .for_each(|at| metrics.event_written(at));
        }
    }
}

/// Acts on one text frame; returns the error reply, if any.
fn handle(
    hub: &Hub,
    etcd: &EtcdSession,
    config: &Arc<ServerConfig>,
    subscriptions: &mut StreamMap<SubId, Frames>,
    text: &str,
) -> Option<String> {
    if text.len() > MAX_CLIENT_FRAME {
        return Some(bad_request(&format!(
            "message of {} bytes is over the limit of {MAX_CLIENT_FRAME}",
            text.len()
        )));
    }
    let message = match serde_json::from_str::<ClientMessage>(text) {
        Ok(message) => message,
        Err(err) => return Some(bad_request(&format!("message not understood: {err}"))),
    };
    match message {
        ClientMessage::Subscribe {
            id,
            range,
            from,
            prev_kv,
        } => {
            if subscriptions.len() >= MAX_SUBSCRIPTIONS && !subscriptions.contains_key(&id) {
                let refused = ServerMessage::Closed {
                    id,
                    error: Failure::BadRequest(format!(
                        "at most {MAX_SUBSCRIPTIONS} subscriptions per connection; \
                         unsubscribe from one first"
                    ))
                    .into_api_error(),
                };
                return Some(serde_json::to_string(&refused).unwrap_or_default());
            }
            let subscription = hub.subscribe(etcd, range, from);
            let config = config.clone();
            let frames = futures::stream::unfold(subscription, move |mut subscription| {
                let config = config.clone();
                async move {
                    let out = subscription.next(id).await?;
                    let received = out.received();
                    Some((
                        (frame(id, out, prev_kv, &config.masks), received),
                        subscription,
                    ))
                }
            });
            subscriptions.insert(id, Box::pin(frames));
        }
        ClientMessage::Unsubscribe { id } => {
            subscriptions.remove(&id);
        }
    }
    None
}

/// The text frame of what subscription `id` has to say; the end of a
/// subscription is worded by the API's one error mapping. Values of masked
/// keys are left out here, for this subscriber: events that touch none go
/// out as the hub serialised them once for every subscriber.
fn frame(id: SubId, out: Out, prev_kv: bool, masks: &Masks) -> String {
    let message = match out {
        Out::Events(batches) => {
            if !batches.iter().any(|b| mask::touches(masks, &b.events)) {
                return events_text(id, &batches, prev_kv);
            }
            let events = batches
                .iter()
                .flat_map(|b| b.events.iter())
                .map(|event| {
                    let mut event = event.clone();
                    if !prev_kv {
                        event.prev = None;
                    }
                    event.mask(masks);
                    event
                })
                .collect();
            ServerMessage::Events { id, events }
        }
        Out::Message(mut message) => {
            message.mask(masks);
            message
        }
        Out::Closed(why) => ServerMessage::Closed {
            id,
            error: Failure::from(why).into_api_error(),
        },
    };
    serde_json::to_string(&message).unwrap_or_default()
}

fn bad_request(message: &str) -> String {
    let error = ServerMessage::Error {
        error: Failure::BadRequest(message.to_owned()).into_api_error(),
    };
    serde_json::to_string(&error).unwrap_or_default()
}
