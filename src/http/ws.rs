//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws. The
//! credential comes in `connection_init`; a bad one closes the socket with
//! 4401 (never a silent accept).

use crate::auth::model::Actor;
use crate::auth::service::authenticate;
use crate::events::graphql::{SocketControl, CLOSE_TOO_SLOW};
use crate::http::hub::{Key, Shared};
use crate::http::sessions::Registration;
use crate::http::state::AppState;
use async_graphql::http::{
    WebSocket as GqlWebSocket, WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS,
};
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use futures_util::stream::{AbortHandle, SelectAll};
use futures_util::{SinkExt, StreamExt};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Close code for a missing, unknown or expired credential.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
const UNAUTHORIZED: &str = "Unauthorized";

/// Most subscriptions (and operations in flight) one socket may hold.
pub const MAX_SUBSCRIPTIONS: usize = 50;
/// Close code when a caller already holds its share of sockets.
pub const CLOSE_TOO_MANY_SOCKETS: u16 = 4429;
/// Client messages waiting for the protocol handler; a client that floods
/// past this is closed (1008) rather than buffered without bound.
const INBOUND_QUEUE: usize = 256;

pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let client = super::client_addr(&state, peer, &headers);
    if !super::origin_allowed(&state, peer, &headers) {
        state
            .metrics
            .refuse(crate::error::WireCode::Origin.as_str());
        return (
            StatusCode::FORBIDDEN,
            "this page's origin may not open the API's WebSocket (KASSA_CORS_ORIGINS)",
        )
            .into_response();
    }
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
    // The socket's log lines carry the upgrade request's id.
    let request = super::access::Carried::here();
    // Small buffers: an idle subscriber should cost kilobytes, not the
    // 128 KiB read and write buffers tungstenite starts with. Clients only
    // ever send small protocol messages (1 KiB reads, grown when needed), and
    // every outgoing message is flushed at once anyway (no write buffer).
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| {
            let sockets = state.sockets.clone();
            sockets.track_future(request.within(serve(socket, state, protocol, client)))
        })
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

/// Close code when the server shuts down: reconnect (to another instance,
/// or this one once it is back) and refetch what the page shows.
pub const CLOSE_RESTARTING: u16 = 1012;

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

/// Whether a request is a subscription to one merchant-scoped root field,
/// which sockets can share (see `events::hub`).
fn shareable(query: &str, operation: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    if !doc.fragments.is_empty() {
        return false;
    }
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return false,
        },
        (DocumentOperations::Multiple(_), None) => return false,
    };
    let items = &op.node.selection_set.node.items;
    op.node.ty == OperationType::Subscription
        && op.node.directives.is_empty()
        && items.len() == 1
        && matches!(&items[0].node, Selection::Field(f)
            if f.node.alias.is_none()
                && matches!(f.node.name.node.as_str(), "transactionEvents" | "withdrawalEvents"))
}

/// A graphql-transport-ws message for subscription `id`.
fn frame(id: &str, kind: &str, payload: Option<&str>) -> Message {
    let id = serde_json::to_string(id).unwrap_or_default();
    Message::Text(
        match payload {
            Some(p) => format!(r#"{{"id":{id},"type":"{kind}","payload":{p}}}"#),
            None => format!(r#"{{"id":{id},"type":"{kind}"}}"#),
        }
        .into(),
    )
}

type MemberStream = futures_util::stream::BoxStream<'static, (String, Result<Shared, ()>)>;

/// Whose share of sockets a socket counts against: its session, API key,
/// plugin key, or (without a credential) its client address.
fn owner_of(actor: &Actor, client: IpAddr) -> String {
    match actor {
        Actor::User(u) => format!("session:{}", u.session_id),
        Actor::Key(k) => format!("api-key:{}", k.key_id),
        _ => format!("address:{client}"),
    }
}

/// An error message for operation `id`, in the socket's protocol.
fn refuse_operation(protocol: WebSocketProtocols, id: &str, message: &str) -> Message {
    let error = serde_json::json!({ "message": message, "extensions": { "code": crate::error::WireCode::TooManySubscriptions.as_str() } });
    let payload = match protocol {
        WebSocketProtocols::GraphQLWS => serde_json::json!([error]),
        WebSocketProtocols::SubscriptionsTransportWS => error,
    };
    frame(id, "error", Some(&payload.to_string()))
}

async fn serve(socket: WebSocket, state: AppState, protocol: WebSocketProtocols, client: IpAddr) {
    let (mut sink, mut socket_in) = socket.split();
    // What the socket receives goes to async-graphql's protocol handler,
    // except the shareable subscriptions, which this loop serves from the hub.
    let (forward, forwarded) = tokio::sync::mpsc::channel::<String>(INBOUND_QUEUE);
    let input = Box::pin(futures_util::stream::unfold(
        forwarded,
        |mut rx| async move { rx.recv().await.map(|t| (t, rx)) },
    ));
    let caller: Arc<std::sync::Mutex<Option<Actor>>> = Default::default();
    // This socket's place in its owner's share, given back when it ends.
    let seat: Arc<std::sync::Mutex<Option<crate::http::sessions::Seat>>> = Default::default();
    let seat_in_init = seat.clone();
    let seats = state.seats.clone();
    let per_client = state.deps.config.ws_per_client;
    let too_many = Arc::new(AtomicBool::new(false));
    let too_many_in_init = too_many.clone();
    let caller_in_init = caller.clone();
    let mut members: SelectAll<MemberStream> = SelectAll::new();
    // ids served here (with the handle that stops each) and ids handed on
    let mut shared: HashMap<String, AbortHandle> = HashMap::new();
    let mut handed_on: HashSet<String> = HashSet::new();
    let shares = protocol == WebSocketProtocols::GraphQLWS;
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
                Ok(Actor::Invalid) => {
                    refused_in_init.store(true, Ordering::SeqCst);
                    return Err(async_graphql::Error::new(UNAUTHORIZED));
                }
                Err(e) => {
                    // the credential could not be checked (the database is
                    // away): refused like an unknown one, but never silently
                    tracing::error!(error = ?e, "checking a socket's credential");
                    refused_in_init.store(true, Ordering::SeqCst);
                    return Err(async_graphql::Error::new(UNAUTHORIZED));
                }
                Ok(actor) => actor,
            };
            match seats.take(owner_of(&actor, client), per_client) {
                Some(s) => {
                    *seat_in_init.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
                }
                None => {
                    too_many_in_init.store(true, Ordering::SeqCst);
                    return Err(async_graphql::Error::new(
                        "too many open sockets for this caller",
                    ));
                }
            }
            *caller_in_init.lock().unwrap_or_else(|p| p.into_inner()) = Some(actor.clone());
            if let Actor::User(u) = &actor {
                // the instance's watcher closes this socket when the session ends
                *registration_in_init
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) =
                    Some(watch.register(u.session_id, control_in_init.clone()));
            }
            let mut data = Data::default();
            crate::graphql::context::request_context(&mut data, &deps.db, actor, client);
            data.insert(control_in_init);
            Ok(data)
        });
    let mut closing = state.closing.subscribe();
    let opened = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(HOUSEKEEPING);
    ticks.tick().await;
    let mut tick_count = 0u32;
    let mut closed = false;
    loop {
        let out = tokio::select! {
            incoming = socket_in.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                        Ok(t) => t,
                        Err(_) => continue,
                    },
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                let msg: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let id = msg["id"].as_str().unwrap_or_default().to_string();
                let kind = msg["type"].as_str();
                let starts = matches!(kind, Some("subscribe" | "start")) && !id.is_empty();
                // Each client message is kept here (a shared subscription),
                // handed on to the protocol handler, or answered at once.
                let mut hand_on = false;
                let answer = if starts
                    && !shared.contains_key(&id)
                    && !handed_on.contains(&id)
                    && shared.len() + handed_on.len() >= MAX_SUBSCRIPTIONS
                {
                    Some(refuse_operation(protocol, &id, &format!("at most {MAX_SUBSCRIPTIONS} subscriptions per socket: complete one first")))
                } else if !shares {
                    match kind {
                        Some("start") if !id.is_empty() => { handed_on.insert(id); }
                        Some("stop") => { handed_on.remove(&id); }
                        _ => {}
                    }
                    hand_on = true;
                    None
                } else {
                    match kind {
                        Some("subscribe") if !id.is_empty() => {
                            if shared.contains_key(&id) || handed_on.contains(&id) {
                                closed = true;
                                Some(close(4409, &format!("Subscriber for {id} already exists")))
                            } else {
                                let payload = &msg["payload"];
                                let query = payload["query"].as_str().unwrap_or_default();
                                let operation = payload["operationName"].as_str();
                                let variables = if payload["variables"].is_null() {
                                    serde_json::json!({})
                                } else {
                                    payload["variables"].clone()
                                };
                                let actor = caller.lock().unwrap_or_else(|p| p.into_inner()).clone();
                                let key = actor.as_ref().filter(|_| shareable(query, operation)).and_then(|a| {
                                    Key::of(a, query, &variables, operation).map(|k| (k, a.clone()))
                                });
                                match key {
                                    Some((key, actor)) => {
                                        let member = state.hub.join(&state.schema, state.deps.config.event_buffer, key, &actor, client);
                                        let updates = futures_util::stream::unfold(member, |mut m| async move {
                                            match m.rx.recv().await {
                                                Ok(s) => Some((Ok(s), m)),
                                                Err(RecvError::Lagged(_)) => Some((Err(()), m)),
                                                Err(RecvError::Closed) => None,
                                            }
                                        });
                                        let (updates, stop) = futures_util::stream::abortable(updates);
                                        let tag = id.clone();
                                        members.push(updates.map(move |u| (tag.clone(), u)).boxed());
                                        shared.insert(id, stop);
                                    }
                                    None => {
                                        handed_on.insert(id);
                                        hand_on = true;
                                    }
                                }
                                None
                            }
                        }
                        Some("complete") => {
                            if let Some(stop) = shared.remove(&id) {
                                stop.abort();
                            } else {
                                handed_on.remove(&id);
                                hand_on = true;
                            }
                            None
                        }
                        _ => {
                            hand_on = true;
                            None
                        }
                    }
                };
                if hand_on && forward.try_send(text).is_err() {
                    closed = true;
                    close(1008, "too many messages in flight")
                } else {
                    match answer {
                        Some(m) => m,
                        None => continue,
                    }
                }
            },
            Some((id, update)) = members.next(), if !members.is_empty() => match update {
                Ok(Shared::Next(payload)) => frame(&id, "next", Some(&payload)),
                Ok(Shared::Error(errors)) => {
                    if let Some(stop) = shared.remove(&id) { stop.abort(); }
                    frame(&id, "error", Some(&errors))
                }
                Ok(Shared::Complete) => {
                    if let Some(stop) = shared.remove(&id) { stop.abort(); }
                    frame(&id, "complete", None)
                }
                Ok(Shared::Close(code, reason)) => {
                    closed = true;
                    close(code, reason)
                }
                Err(()) => {
                    closed = true;
                    close(CLOSE_TOO_SLOW, "subscriber too slow")
                }
            },
            msg = protocol_stream.next() => match msg {
                Some(WsMessage::Text(t)) => {
                    // a handed-on subscription that ended frees its id
                    if t.contains("\"complete\"") || t.contains("\"error\"") {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) {
                            if let Some(id) = v["id"].as_str() {
                                handed_on.remove(id);
                            }
                        }
                    }
                    Message::Text(t.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    closed = true;
                    let code = if too_many.load(Ordering::SeqCst) {
                        CLOSE_TOO_MANY_SOCKETS
                    } else if refused.load(Ordering::SeqCst) {
                        CLOSE_UNAUTHORIZED
                    } else {
                        code
                    };
                    close(code, &reason)
                }
                None => break,
            },
            _ = closing.wait_for(|c| *c) => {
                closed = true;
                close(CLOSE_RESTARTING, "server restarting: reconnect and refetch")
            },
            _ = control.wake.notified() => {
                let (code, reason) = control.asked_or_normal();
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
    if too_many.load(Ordering::SeqCst) {
        let _ = sink
            .send(close(CLOSE_TOO_MANY_SOCKETS, "too many open sockets"))
            .await;
    } else if refused.load(Ordering::SeqCst) {
        // The legacy protocol reports the refusal as a message; close after it.
        let _ = sink.send(close(CLOSE_UNAUTHORIZED, UNAUTHORIZED)).await;
    }
    drop(seat);
}

fn keepalive(protocol: WebSocketProtocols) -> Message {
    match protocol {
        WebSocketProtocols::GraphQLWS => Message::Text(r#"{"type":"ping"}"#.into()),
        WebSocketProtocols::SubscriptionsTransportWS => Message::Text(r#"{"type":"ka"}"#.into()),
    }
}
