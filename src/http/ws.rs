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
    let code = crate::error::WireCode::TooManySubscriptions.as_str();
    let error = serde_json::json!({ "message": message, "extensions": { "code": code } });
    let payload = match protocol {
        WebSocketProtocols::GraphQLWS => serde_json::json!([error]),
        WebSocketProtocols::SubscriptionsTransportWS => error,
    };
    frame(id, "error", Some(&payload.to_string()))
}

/// What the `connection_init` handler learns, shared with the socket's loop.
#[derive(Default)]
struct Handshake {
    initialised: AtomicBool,
    /// The credential was refused (or could not be checked).
    refused: AtomicBool,
    /// The caller already holds its share of sockets.
    too_many: AtomicBool,
    caller: std::sync::Mutex<Option<Actor>>,
    /// This socket's place in its owner's share, given back when it ends.
    seat: std::sync::Mutex<Option<crate::http::sessions::Seat>>,
    /// The session watcher's hold on this socket (closes it when the session ends).
    registration: std::sync::Mutex<Option<Registration>>,
}

fn put<T>(slot: &std::sync::Mutex<Option<T>>, value: T) {
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
}

impl Handshake {
    fn caller(&self) -> Option<Actor> {
        self.caller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The close code to report instead of `otherwise`, when the handshake
    /// failed for a reason of ours.
    fn close_code(&self, otherwise: u16) -> u16 {
        if self.too_many.load(Ordering::SeqCst) {
            CLOSE_TOO_MANY_SOCKETS
        } else if self.refused.load(Ordering::SeqCst) {
            CLOSE_UNAUTHORIZED
        } else {
            otherwise
        }
    }

    /// Checks the credential of `connection_init`, takes a seat in the
    /// caller's share and registers the session with the watcher; the
    /// request data every operation of the socket then sees.
    async fn accept(
        &self,
        state: &AppState,
        control: SocketControl,
        client: IpAddr,
        payload: serde_json::Value,
    ) -> async_graphql::Result<Data> {
        self.initialised.store(true, Ordering::SeqCst);
        let deps = &state.deps;
        let actor = match authenticate(deps, bearer_of(&payload).as_deref()).await {
            Ok(Actor::Invalid) => {
                self.refused.store(true, Ordering::SeqCst);
                return Err(async_graphql::Error::new(UNAUTHORIZED));
            }
            Err(e) => {
                // the credential could not be checked (the database is
                // away): refused like an unknown one, but never silently
                tracing::error!(error = ?e, "checking a socket's credential");
                self.refused.store(true, Ordering::SeqCst);
                return Err(async_graphql::Error::new(UNAUTHORIZED));
            }
            Ok(actor) => actor,
        };
        match state
            .seats
            .take(owner_of(&actor, client), deps.config.ws_per_client)
        {
            Some(seat) => put(&self.seat, seat),
            None => {
                self.too_many.store(true, Ordering::SeqCst);
                return Err(async_graphql::Error::new(
                    "too many open sockets for this caller",
                ));
            }
        }
        put(&self.caller, actor.clone());
        if let Actor::User(u) = &actor {
            // the instance's watcher closes this socket when the session ends
            put(
                &self.registration,
                state.sessions.register(u.session_id, control.clone()),
            );
        }
        let mut data = Data::default();
        crate::graphql::context::request_context(&mut data, &deps.db, actor, client);
        data.insert(control);
        Ok(data)
    }
}

/// What the socket does next.
enum Step {
    /// Nothing to send.
    Skip,
    Send(Message),
    /// Send this close frame and end.
    Close(Message),
    /// The client went away.
    End,
}

/// One socket's subscriptions: the shareable ones served here from the hub,
/// the rest handed on to async-graphql's protocol handler.
struct Connection {
    state: AppState,
    protocol: WebSocketProtocols,
    client: IpAddr,
    handshake: Arc<Handshake>,
    /// Client messages for the protocol handler.
    forward: tokio::sync::mpsc::Sender<String>,
    members: SelectAll<MemberStream>,
    /// ids served here, with the handle that stops each
    shared: HashMap<String, AbortHandle>,
    /// ids handed on
    handed_on: HashSet<String>,
}

impl Connection {
    /// A client message: kept here (a shared subscription), handed on to
    /// the protocol handler, or answered at once.
    fn on_client_text(&mut self, text: String) -> Step {
        let msg: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let id = msg["id"].as_str().unwrap_or_default().to_string();
        let kind = msg["type"].as_str();
        let starts = matches!(kind, Some("subscribe" | "start")) && !id.is_empty();
        let known = self.shared.contains_key(&id) || self.handed_on.contains(&id);
        if starts && !known && self.shared.len() + self.handed_on.len() >= MAX_SUBSCRIPTIONS {
            return Step::Send(refuse_operation(
                self.protocol,
                &id,
                &format!(
                    "at most {MAX_SUBSCRIPTIONS} subscriptions per socket: complete one first"
                ),
            ));
        }
        let hand_on = if self.protocol != WebSocketProtocols::GraphQLWS {
            match kind {
                Some("start") if !id.is_empty() => {
                    self.handed_on.insert(id);
                }
                Some("stop") => {
                    self.handed_on.remove(&id);
                }
                _ => {}
            }
            true
        } else {
            match kind {
                Some("subscribe") if !id.is_empty() => {
                    if known {
                        return Step::Close(close(
                            4409,
                            &format!("Subscriber for {id} already exists"),
                        ));
                    }
                    self.subscribe(id, &msg["payload"])
                }
                Some("complete") => match self.shared.remove(&id) {
                    Some(stop) => {
                        stop.abort();
                        false
                    }
                    None => {
                        self.handed_on.remove(&id);
                        true
                    }
                },
                _ => true,
            }
        };
        if hand_on && self.forward.try_send(text).is_err() {
            return Step::Close(close(1008, "too many messages in flight"));
        }
        Step::Skip
    }

    /// Joins the hub for a shareable subscription; otherwise (returns true)
    /// the protocol handler serves it.
    fn subscribe(&mut self, id: String, payload: &serde_json::Value) -> bool {
        let query = payload["query"].as_str().unwrap_or_default();
        let operation = payload["operationName"].as_str();
        let variables = if payload["variables"].is_null() {
            serde_json::json!({})
        } else {
            payload["variables"].clone()
        };
        let key = self
            .handshake
            .caller()
            .filter(|_| shareable(query, operation))
            .and_then(|a| Key::of(&a, query, &variables, operation).map(|k| (k, a)));
        let Some((key, actor)) = key else {
            self.handed_on.insert(id);
            return true;
        };
        let state = &self.state;
        let member = state.hub.join(
            &state.schema,
            state.deps.config.event_buffer,
            key,
            &actor,
            self.client,
        );
        let updates = futures_util::stream::unfold(member, |mut m| async move {
            match m.rx.recv().await {
                Ok(s) => Some((Ok(s), m)),
                Err(RecvError::Lagged(_)) => Some((Err(()), m)),
                Err(RecvError::Closed) => None,
            }
        });
        let (updates, stop) = futures_util::stream::abortable(updates);
        let tag = id.clone();
        self.members
            .push(updates.map(move |u| (tag.clone(), u)).boxed());
        self.shared.insert(id, stop);
        false
    }

    /// An update of a shared subscription (`Err`: this subscriber fell behind).
    fn on_shared(&mut self, id: String, update: Result<Shared, ()>) -> Step {
        match update {
            Ok(Shared::Next(payload)) => Step::Send(frame(&id, "next", Some(&payload))),
            Ok(Shared::Error(errors)) => {
                if let Some(stop) = self.shared.remove(&id) {
                    stop.abort();
                }
                Step::Send(frame(&id, "error", Some(&errors)))
            }
            Ok(Shared::Complete) => {
                if let Some(stop) = self.shared.remove(&id) {
                    stop.abort();
                }
                Step::Send(frame(&id, "complete", None))
            }
            Ok(Shared::Close(code, reason)) => Step::Close(close(code, reason)),
            Err(()) => Step::Close(close(CLOSE_TOO_SLOW, "subscriber too slow")),
        }
    }

    /// A message of the protocol handler.
    fn on_protocol(&mut self, msg: Option<WsMessage>) -> Step {
        match msg {
            Some(WsMessage::Text(t)) => {
                // a handed-on subscription that ended frees its id
                if t.contains("\"complete\"") || t.contains("\"error\"") {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) {
                        if let Some(id) = v["id"].as_str() {
                            self.handed_on.remove(id);
                        }
                    }
                }
                Step::Send(Message::Text(t.into()))
            }
            Some(WsMessage::Close(code, reason)) => {
                Step::Close(close(self.handshake.close_code(code), &reason))
            }
            None => Step::End,
        }
    }

    /// Housekeeping: the init deadline, and a keepalive now and then.
    fn on_tick(&self, tick: u32, opened: tokio::time::Instant) -> Step {
        let initialised = self.handshake.initialised.load(Ordering::SeqCst);
        if !initialised && opened.elapsed() >= INIT_TIMEOUT {
            Step::Close(close(CLOSE_INIT_TIMEOUT, "connection_init timeout"))
        } else if tick.is_multiple_of(KEEPALIVE_TICKS) && initialised {
            Step::Send(keepalive(self.protocol))
        } else {
            Step::Skip
        }
    }
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
    let handshake = Arc::new(Handshake::default());
    let control = SocketControl::default();
    let mut protocol_stream = {
        let (handshake, state, control) = (handshake.clone(), state.clone(), control.clone());
        GqlWebSocket::new(state.schema.clone(), input, protocol).on_connection_init(
            move |payload| async move { handshake.accept(&state, control, client, payload).await },
        )
    };
    let mut closing = state.closing.subscribe();
    let mut conn = Connection {
        state,
        protocol,
        client,
        handshake: handshake.clone(),
        forward,
        members: SelectAll::new(),
        shared: HashMap::new(),
        handed_on: HashSet::new(),
    };
    let opened = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(HOUSEKEEPING);
    ticks.tick().await;
    let mut tick = 0u32;
    loop {
        let step = tokio::select! {
            incoming = socket_in.next() => match incoming {
                Some(Ok(Message::Text(t))) => conn.on_client_text(t.to_string()),
                Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                    Ok(t) => conn.on_client_text(t),
                    Err(_) => Step::Skip,
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Step::End,
                Some(Ok(_)) => Step::Skip,
            },
            Some((id, update)) = conn.members.next(), if !conn.members.is_empty() => {
                conn.on_shared(id, update)
            }
            msg = protocol_stream.next() => conn.on_protocol(msg),
            _ = closing.wait_for(|c| *c) => {
                Step::Close(close(CLOSE_RESTARTING, "server restarting: reconnect and refetch"))
            }
            _ = control.wake.notified() => {
                let (code, reason) = control.asked_or_normal();
                Step::Close(close(code, reason))
            }
            _ = ticks.tick() => {
                tick += 1;
                conn.on_tick(tick, opened)
            }
        };
        match step {
            Step::Skip => {}
            Step::Send(m) => {
                if sink.send(m).await.is_err() {
                    return;
                }
            }
            Step::Close(m) => {
                let _ = sink.send(m).await;
                return;
            }
            Step::End => break,
        }
    }
    if handshake.too_many.load(Ordering::SeqCst) {
        let _ = sink
            .send(close(CLOSE_TOO_MANY_SOCKETS, "too many open sockets"))
            .await;
    } else if handshake.refused.load(Ordering::SeqCst) {
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
