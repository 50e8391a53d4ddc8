//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws. The
//! credential comes in `connection_init`; a bad one closes the socket with
//! 4401 (never a silent accept).

use crate::app::AppState;
use crate::auth::model::Actor;
use crate::auth::service::authenticate;
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
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
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
    let refused_in_init = refused.clone();
    let deps = state.deps.clone();
    let mut protocol_stream = GqlWebSocket::new(state.schema.clone(), input, protocol)
        .on_connection_init(move |payload| async move {
            let actor = match authenticate(&deps, bearer_of(&payload).as_deref()).await {
                Ok(Actor::Invalid) | Err(_) => {
                    refused_in_init.store(true, Ordering::SeqCst);
                    return Err(async_graphql::Error::new(UNAUTHORIZED));
                }
                Ok(actor) => actor,
            };
            let mut data = Data::default();
            data.insert(actor);
            Ok(data)
        });
    let mut closed = false;
    while let Some(msg) = protocol_stream.next().await {
        let out = match msg {
            WsMessage::Text(t) => Message::Text(t.into()),
            WsMessage::Close(code, reason) => {
                closed = true;
                let code = if refused.load(Ordering::SeqCst) {
                    CLOSE_UNAUTHORIZED
                } else {
                    code
                };
                Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }))
            }
        };
        if sink.send(out).await.is_err() {
            return;
        }
    }
    if !closed && refused.load(Ordering::SeqCst) {
        // The legacy protocol reports the refusal as a message; close after it.
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_UNAUTHORIZED,
                reason: UNAUTHORIZED.into(),
            })))
            .await;
    }
}
