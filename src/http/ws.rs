//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws. The
//! credential comes in `connection_init`; a bad one closes the socket with
//! 4401 (never a silent accept).

use crate::app::AppState;
use crate::auth::model::Actor;
use crate::auth::service::authenticate;
use crate::events::graphql::SocketControl;
use crate::http::sessions::Registration;
use async_graphql::http::{
    WebSocket as GqlWebSocket, WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS,
};
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use futures_util::{future, SinkExt, StreamExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Close code for a missing, unknown or expired credential.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
const UNAUTHORIZED: &str = "Unauthorized";

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The first sub-protocol we speak, as the client listed them.
    let protocol = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok());
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "use the graphql-transport-ws (or legacy graphql-ws) sub-protocol",
        )
            .into_response();
    };
    // Small buffers: an idle subscriber should cost kilobytes, not the
    // 128 KiB read and write buffers tungstenite starts with; clients only
    // ever send small protocol messages.
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(socket, state, protocol))
}

fn bearer_of(payload: &serde_json::Value) -> Option<String> {
    let raw = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))?
        .as_str()?
        .trim();
    Some(match raw.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim().to_string(),
        _ => raw.to_string(),
    })
}

/// Close code when no `connection_init` came in time.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the socket checks its init deadline and counts toward a keepalive.
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// A keepalive message goes out every this many housekeeping ticks.
const KEEPALIVE_TICKS: u32 = 6;

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }))
}

async fn serve(socket: WebSocket, state: AppState, protocol: WebSocketProtocols) {
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(|m| {
            future::ready(match m {
                Ok(Message::Text(t)) => Some(t.to_string()),
                Ok(Message::Binary(b)) => String::from_utf8(b.to_vec()).ok(),
                _ => None,
            })
        });
    let refused = Arc::new(AtomicBool::new(false));
    let initialised = Arc::new(AtomicBool::new(false));
    let registration: Arc<std::sync::Mutex<Option<Registration>>> = Default::default();
    let control = SocketControl::default();
    let (refused_in_init, initialised_in_init, registration_in_init, control_in_init) = (
        refused.clone(),
        initialised.clone(),
        registration.clone(),
        control.clone(),
    );
    let watch = state.sessions.clone();
    let deps = state.deps.clone();
    let mut protocol_stream = GqlWebSocket::new(state.schema.clone(), input, protocol)
        .on_connection_init(move |payload| async move {
            initialised_in_init.store(true, Ordering::SeqCst);
            let actor = match authenticate(&deps, bearer_of(&payload).as_deref()).await {
                Ok(Actor::Invalid) | Err(_) => {
                    refused_in_init.store(true, Ordering::SeqCst);
                    return Err(async_graphql::Error::new(UNAUTHORIZED));
                }
                Ok(actor) => actor,
            };
            if let Actor::User(u) = &actor {
                // the instance's watcher closes this socket when the session ends
                *registration_in_init
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) =
                    Some(watch.register(u.session_id, control_in_init.clone()));
            }
            let mut data = Data::default();
            data.insert(actor);
            data.insert(control_in_init);
            Ok(data)
        });
    let opened = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(HOUSEKEEPING);
    ticks.tick().await;
    let mut tick_count = 0u32;
    let mut closed = false;
    loop {
        let out = tokio::select! {
            msg = protocol_stream.next() => match msg {
                Some(WsMessage::Text(t)) => Message::Text(t.into()),
                Some(WsMessage::Close(code, reason)) => {
                    closed = true;
                    let code = if refused.load(Ordering::SeqCst) { CLOSE_UNAUTHORIZED } else { code };
                    close(code, &reason)
                }
                None => break,
            },
            _ = control.wake.notified() => {
                let (code, reason) = control
                    .close
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .unwrap_or((1000, "closing"));
                closed = true;
                close(code, reason)
            },
            _ = ticks.tick() => {
                tick_count += 1;
                if !initialised.load(Ordering::SeqCst) && opened.elapsed() >= INIT_TIMEOUT {
                    closed = true;
                    close(CLOSE_INIT_TIMEOUT, "connection_init timeout")
                } else if tick_count.is_multiple_of(KEEPALIVE_TICKS) && initialised.load(Ordering::SeqCst) {
                    keepalive(protocol)
                } else {
                    continue;
                }
            },
        };
        if sink.send(out).await.is_err() || closed {
            return;
        }
    }
    if refused.load(Ordering::SeqCst) {
        // The legacy protocol reports the refusal as a message; close after it.
        let _ = sink.send(close(CLOSE_UNAUTHORIZED, UNAUTHORIZED)).await;
    }
}

fn keepalive(protocol: WebSocketProtocols) -> Message {
    match protocol {
        WebSocketProtocols::GraphQLWS => Message::Text(r#"{"type":"ping"}"#.into()),
        WebSocketProtocols::SubscriptionsTransportWS => Message::Text(r#"{"type":"ka"}"#.into()),
    }
}
