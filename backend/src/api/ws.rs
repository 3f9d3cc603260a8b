//! `GET /api/v1/ws`: the WebSocket of the live protocol
//! ([`etcdeck_shared::ws`]), one per browser tab.
//!
//! One task per socket reads the browser's subscribe and unsubscribe
//! messages and writes what its subscriptions have to say. It writes at the
//! pace the browser reads: a browser that stops reading stops draining its
//! subscriptions' queues, which then overflow into a resync (see
//! `crate::hub`), so it costs bounded memory and never slows anyone else.
//! A message that is not understood gets an `error` reply; the socket stays
//! open and its other subscriptions carry on.

use std::pin::Pin;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use etcdeck_shared::ws::{
    ClientMessage, MAX_CLIENT_FRAME, MAX_SUBSCRIPTIONS, ServerMessage, SubId,
};
use etcdeck_shared::{ApiError, ErrorCode};
use futures::{SinkExt, Stream, StreamExt};
use tokio_stream::StreamMap;

use super::{AppState, Failure};
use crate::hub::Hub;

/// How often the backend pings an idle browser, so dead peers are noticed.
const PING_INTERVAL: Duration = Duration::from_secs(20);
/// Frames above this size close the socket (a protocol error); frames
/// between [`MAX_CLIENT_FRAME`] and this get an error reply.
const MAX_FRAME_READ: usize = 1024 * 1024;

type Frames = Pin<Box<dyn Stream<Item = String> + Send>>;

pub(super) async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(failure) = same_origin(&headers) {
        return failure.into_response();
    }
    let hub = state.hub.clone();
    ws.max_message_size(MAX_FRAME_READ)
        .max_frame_size(MAX_FRAME_READ)
        .on_upgrade(move |socket| serve(socket, hub))
}

/// Browsers always send `Origin` on a WebSocket upgrade; a page from another
/// site must not open a socket with this user's access.
fn same_origin(headers: &HeaderMap) -> Result<(), Failure> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser: nothing cross-site to guard against.
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    if origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        tracing::warn!(?origin, host, "refused a cross-origin WebSocket");
        Err(Failure::Forbidden(
            "this WebSocket only accepts pages served by this etcdeck".into(),
        ))
    }
}

async fn serve(socket: WebSocket, hub: Hub) {
    let (mut sink, mut incoming) = socket.split();
    let mut subscriptions: StreamMap<SubId, Frames> = StreamMap::new();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    loop {
        let frame = tokio::select! {
            frame = incoming.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    handle(&hub, &mut subscriptions, text.as_str())
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
            Some((_, frame)) = subscriptions.next(), if !subscriptions.is_empty() => Some(frame),
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                None
            }
        };
        if let Some(frame) = frame
            && sink.send(Message::Text(frame.into())).await.is_err()
        {
            break;
        }
    }
}

/// Acts on one text frame; returns the error reply, if any.
fn handle(hub: &Hub, subscriptions: &mut StreamMap<SubId, Frames>, text: &str) -> Option<String> {
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
                return Some(bad_request(&format!(
                    "at most {MAX_SUBSCRIPTIONS} subscriptions per connection"
                )));
            }
            let subscription = hub.subscribe(range, from);
            let frames =
                futures::stream::unfold(subscription, move |mut subscription| async move {
                    let out = subscription.next(id).await?;
                    Some((out.to_text(id, prev_kv), subscription))
                });
            subscriptions.insert(id, Box::pin(frames));
        }
        ClientMessage::Unsubscribe { id } => {
            subscriptions.remove(&id);
        }
    }
    None
}

fn bad_request(message: &str) -> String {
    let error = ServerMessage::Error {
        error: ApiError {
            code: ErrorCode::BadRequest,
            message: message.to_owned(),
        },
    };
    serde_json::to_string(&error).unwrap_or_default()
}
