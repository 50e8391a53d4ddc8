//! The only axum code: routes, the CSRF and batch rules, credential
//! extraction, health, metrics and the WebSocket upgrade (BEHAVIOUR §11).

pub mod access;
pub mod hub;
mod playground;
mod plugin_page;
pub mod sessions;
pub mod state;
mod ws;

use crate::auth::service::authenticate;
use crate::error::WireCode;
use crate::http::state::AppState;
use async_graphql::http::MultipartOptions;
use async_graphql::{ErrorExtensionValues, Response as GqlResponse, ServerError};
use axum::body::Body;
use axum::extract::Path;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    let body_limit = state.deps.config.body_limit;
    let cors = cors(&state.deps.config.cors_origins);
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/files/{name}", get(files))
        .route("/exports/{token}", get(export))
        .route("/plugin", get(plugin_page::page))
        .route("/plugin/plugin.js", get(plugin_page::script))
        .route("/plugin/plugin.css", get(plugin_page::style))
        .route("/playground/assets/{name}", get(playground::asset))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(cors)
        .layer(axum::middleware::from_fn(access::layer))
        .with_state(state)
}

/// Headers a page on a listed origin may send: the credential, the body's
/// type and the CSRF headers multipart needs.
const CORS_HEADERS: [&str; 4] = [
    "authorization",
    "content-type",
    "x-kassa-csrf",
    "apollo-require-preflight",
];

/// CORS for the origins in `KASSA_CORS_ORIGINS`, exactly as listed; any
/// other origin gets no CORS header, so its browser keeps the answer from
/// it. Credentials are bearer tokens, never cookies, so none are allowed.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(CORS_HEADERS.map(HeaderName::from_static))
        .max_age(std::time::Duration::from_secs(600))
}

/// Whether a browser page of `origin` may open the WebSocket: a page of this
/// server (the playground, the plugin page), or an origin the operator
/// listed. Clients that send no `Origin` (servers, scripts) are not browsers
/// and are not asked.
pub fn origin_allowed(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(origin) = crate::config::exact_origin(origin) else {
        return false;
    };
    if state.deps.config.cors_origins.contains(&origin) {
        return true;
    }
    // Same origin: the page came from the host the request was sent to (as
    // a trusted proxy forwarded it, when there is one).
    let peer_trusted = is_trusted_proxy(state, &peer.ip().to_canonical());
    let host = peer_trusted
        .then(|| headers.get("x-forwarded-host"))
        .flatten()
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .map(|h| {
            h.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let (Some(host), Some((scheme, authority))) = (host, origin.split_once("://")) else {
        return false;
    };
    // `Host` may name the default port that `Origin` leaves out
    let default_port = if scheme == "https" { "443" } else { "80" };
    host == authority || host == format!("{authority}:{default_port}")
}

/// Content types `POST /graphql` reads as JSON.
const JSON_TYPES: [&str; 2] = ["application/json", "application/graphql-response+json"];

/// `GET /files/<name>`: an uploaded stylesheet or picture, public (the plugin
/// loads them on merchants' sites), with its own type and never sniffed.
/// Names are random and a new upload gets a new name, so a file never changes.
async fn files(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match crate::plugin::service::file(&state.deps, &name).await {
        Ok(Some(f)) => (
            [
                (header::CONTENT_TYPE, f.content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
                (
                    header::CACHE_CONTROL,
                    "public, max-age=31536000, immutable".into(),
                ),
                (header::ETAG, format!("\"{}\"", f.name)),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'".into(),
                ),
            ],
            f.data,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such file").into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "serving a file");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `GET /exports/<token>`: the CSV an export token names, streamed; 404
/// for an unknown or expired token (the same answer, so tokens cannot be probed).
async fn export(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let found = match crate::exports::service::find(&state.deps, &token).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            return (StatusCode::NOT_FOUND, "no such export, or it expired").into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "finding an export");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let filter = match crate::exports::graphql::stored_filter(&found) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = ?e.message, "an export's stored filter");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let name = crate::exports::service::file_name(&found);
    let body = axum::body::Body::from_stream(crate::exports::service::stream(
        state.deps.clone(),
        found,
        filter,
    ));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response()
}

/// A GraphQL-shaped error response for requests refused before execution.
fn refuse(state: &AppState, status: StatusCode, code: WireCode, message: &str) -> Response {
    state.metrics.refuse(code.as_str());
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code.as_str());
    err.extensions = Some(ext);
    let mut errors = vec![err];
    access::tag_errors(&mut errors);
    (status, Json(GqlResponse::from_errors(errors))).into_response()
}

/// Whether `ip` is a proxy listed in `KASSA_TRUSTED_PROXIES`.
fn is_trusted_proxy(state: &AppState, ip: &IpAddr) -> bool {
    state
        .deps
        .config
        .trusted_proxies
        .iter()
        .any(|net| net.contains(ip))
}

/// The client's address: the peer, unless the peer is a trusted proxy
/// (`KASSA_TRUSTED_PROXIES`); then the nearest address in `X-Forwarded-For`
/// that is not itself a trusted proxy. Without trusted proxies the header
/// is never believed, so no client can choose its own rate-limit bucket.
pub fn client_addr(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: &IpAddr| is_trusted_proxy(state, ip);
    let peer = peer.ip().to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    // Nearest first: each proxy appends the address it heard from.
    hops.reverse();
    let mut client = peer;
    for hop in hops {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// The bearer credential of `Authorization`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn has_csrf_header(headers: &HeaderMap) -> bool {
    ["x-kassa-csrf", "apollo-require-preflight"]
        .iter()
        .any(|h| headers.get(*h).is_some_and(|v| !v.as_bytes().is_empty()))
}

/// A request refused before GraphQL runs: its status, code and message.
struct Refusal(StatusCode, WireCode, String);

impl Refusal {
    fn bad(code: WireCode, message: &str) -> Refusal {
        Refusal(StatusCode::BAD_REQUEST, code, message.to_string())
    }
}

const NO_BATCHES: &str = "batched requests are not accepted: send one operation per request";

/// How a POST body is encoded.
enum BodyKind {
    Json,
    /// With its full content type (the boundary is in it).
    Multipart(String),
}

/// The body's kind, from its content type; refused before reading a byte
/// when it will not run (multipart without the CSRF header, other types).
fn body_kind(headers: &HeaderMap) -> Result<BodyKind, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "multipart/form-data" {
        if !has_csrf_header(headers) {
            return Err(Refusal::bad(
                WireCode::Csrf,
                "multipart requests need a non-empty x-kassa-csrf header",
            ));
        }
        return Ok(BodyKind::Multipart(content_type.to_string()));
    }
    if !JSON_TYPES.contains(&essence.as_str()) {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WireCode::UnsupportedMediaType,
            "send GraphQL as application/json (or multipart/form-data with x-kassa-csrf)".into(),
        ));
    }
    Ok(BodyKind::Json)
}

/// The body, read only up to `limit`: an oversized one is cut off, never held.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, Refusal> {
    let too_large = || {
        Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            WireCode::TooLarge,
            format!("the request body is over its limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// One GraphQL request from a JSON body; a batch (an array) is refused.
fn parse_json(body: &[u8]) -> Result<async_graphql::Request, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| Refusal::bad(WireCode::BadRequest, "the body is not JSON"))?;
    if value.is_array() {
        return Err(Refusal::bad(WireCode::BatchNotSupported, NO_BATCHES));
    }
    serde_json::from_value(value).map_err(|_| {
        Refusal::bad(
            WireCode::BadRequest,
            "the body is not a GraphQL request ({\"query\": …})",
        )
    })
}

/// One GraphQL request from a multipart body (the upload spec), at most one
/// file of at most 1 MiB.
async fn parse_multipart(
    content_type: &str,
    body: axum::body::Bytes,
) -> Result<async_graphql::Request, Refusal> {
    let parsed = async_graphql::http::receive_batch_body(
        Some(content_type),
        futures_util::io::Cursor::new(body),
        MultipartOptions::default()
            .max_file_size(crate::plugin::service::GIF_MAX)
            .max_num_files(1),
    )
    .await;
    match parsed.map(|b| b.into_single()) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(_)) => Err(Refusal::bad(WireCode::BatchNotSupported, NO_BATCHES)),
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => Err(Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            WireCode::TooLarge,
            "an uploaded file is over 1 MiB".into(),
        )),
        Err(_) => Err(Refusal::bad(
            WireCode::BadRequest,
            "malformed multipart request",
        )),
    }
}

/// `POST /graphql`: JSON bodies, or multipart with a CSRF header; one
/// operation per request.
async fn graphql_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let parsed = async {
        let kind = body_kind(&headers)?;
        let limit = match kind {
            BodyKind::Multipart(_) => crate::plugin::service::UPLOAD_BODY_MAX,
            BodyKind::Json => state.deps.config.body_limit,
        };
        let body = read_body(&headers, body, limit).await?;
        match kind {
            BodyKind::Json => parse_json(&body),
            BodyKind::Multipart(content_type) => parse_multipart(&content_type, body).await,
        }
    }
    .await;
    match parsed {
        Ok(request) => execute(&state, peer, &headers, request).await,
        Err(Refusal(status, code, message)) => refuse(&state, status, code, &message),
    }
}

/// Runs one parsed operation for the caller of `headers` and answers it,
/// bounded in bytes.
async fn execute(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    mut request: async_graphql::Request,
) -> Response {
    let actor = match authenticate(&state.deps, bearer(headers).as_deref()).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = ?e, "authenticating a request");
            return refuse(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                WireCode::Internal,
                "internal error",
            );
        }
    };
    let caller = actor.kind();
    let client = client_addr(state, peer, headers);
    crate::graphql::context::request_context(&mut request.data, &state.deps.db, actor, client);
    // The operation runs to its end on a task of its own: a client that goes
    // away mid-request cancels nothing half-way (a write and its audit, a
    // transaction being opened), it only misses the answer.
    let shared = state.clone();
    let run = access::carry(async move { shared.schema.execute_named(request, true).await });
    let (mut response, name, outcome) = match tokio::spawn(run).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a GraphQL operation panicked");
            return refuse(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                WireCode::Internal,
                "internal error",
            );
        }
    };
    access::tag_errors(&mut response.errors);
    let operation = access::Operation {
        name,
        outcome,
        caller,
        client,
    };
    // A response is bounded in bytes too: past the limit the client gets an
    // error asking for a smaller page instead of megabytes.
    let body = match crate::graphql::json::response(&response) {
        Ok(b) if b.len() <= state.deps.config.response_limit => b,
        Ok(b) => {
            tracing::warn!(bytes = b.len(), "response over its limit refused");
            state.metrics.refuse(WireCode::ResponseTooLarge.as_str());
            drop(b);
            let mut err = ServerError::new(
                format!(
                    "the response is over {} bytes: ask for smaller pages or fewer fields",
                    state.deps.config.response_limit
                ),
                None,
            );
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", WireCode::ResponseTooLarge.as_str());
            let mut errors = vec![err];
            access::tag_errors(&mut errors);
            serde_json::to_vec(&GqlResponse::from_errors(errors)).unwrap_or_default()
        }
        Err(e) => {
            tracing::error!(error = %e, "serializing a response");
            return refuse(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                WireCode::Internal,
                "internal error",
            );
        }
    };
    let mut answer = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    answer.extensions_mut().insert(operation);
    answer
}

/// The pool, the sockets and the bus, read at scrape time.
fn runtime_metrics(state: &AppState) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let (size, idle, max) = crate::db::pool_state(&state.deps.db, state.deps.reads.as_deref());
    let bus = &state.deps.bus;
    let stats = &bus.stats;
    format!(
        "# HELP kassa_db_pool_connections Database connections by state.\n\
         # TYPE kassa_db_pool_connections gauge\n\
         kassa_db_pool_connections{{state=\"in_use\"}} {in_use}\n\
         kassa_db_pool_connections{{state=\"idle\"}} {idle}\n\
         # HELP kassa_db_pool_max_connections The most connections this instance opens (KASSA_DB_POOL).\n\
         # TYPE kassa_db_pool_max_connections gauge\n\
         kassa_db_pool_max_connections {max}\n\
         # HELP kassa_websocket_sockets Open WebSockets.\n\
         # TYPE kassa_websocket_sockets gauge\n\
         kassa_websocket_sockets {sockets}\n\
         # HELP kassa_bus_shared Whether events fan out through Redis (REDIS_URL set).\n\
         # TYPE kassa_bus_shared gauge\n\
         kassa_bus_shared {shared}\n\
         # HELP kassa_bus_connected Whether the Redis fan-out is up right now (1 for an in-process bus).\n\
         # TYPE kassa_bus_connected gauge\n\
         kassa_bus_connected {connected}\n\
         # HELP kassa_bus_resyncs_total Times subscribers were told to resync (fan-out back, an unreadable event).\n\
         # TYPE kassa_bus_resyncs_total counter\n\
         kassa_bus_resyncs_total {resyncs}\n\
         # HELP kassa_bus_events_published_total Events this instance published.\n\
         # TYPE kassa_bus_events_published_total counter\n\
         kassa_bus_events_published_total {published}\n\
         # HELP kassa_bus_events_received_total Events received from the Redis channel.\n\
         # TYPE kassa_bus_events_received_total counter\n\
         kassa_bus_events_received_total {received}\n\
         # HELP kassa_bus_events_undecodable_total Events on the Redis channel this instance could not read (another format version).\n\
         # TYPE kassa_bus_events_undecodable_total counter\n\
         kassa_bus_events_undecodable_total {undecodable}\n",
        in_use = (size as usize).saturating_sub(idle),
        sockets = state.sockets.len(),
        shared = u8::from(bus.is_shared()),
        connected = u8::from(!bus.is_shared() || bus.connected()),
        resyncs = stats.resyncs.load(Relaxed),
        published = stats.published.load(Relaxed),
        received = stats.received.load(Relaxed),
        undecodable = stats.undecodable.load(Relaxed),
    )
}

/// `GET /graphql`: the GraphiQL playground. A GET never runs an operation.
async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(query) = params.get("query") {
        return graphql_get_query(&state, peer, &headers, query, &params).await;
    }
    if !state.deps.config.playground {
        return (StatusCode::NOT_FOUND, "the playground is turned off").into_response();
    }
    playground::render()
}

/// `GET /graphql?query=…`: a query (never a mutation or a subscription), as
/// GraphQL over HTTP allows and clients such as urql send by default. The
/// answer is the caller's own data: never stored by a cache.
async fn graphql_get_query(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    query: &str,
    params: &HashMap<String, String>,
) -> Response {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let operation = params.get("operationName").filter(|n| !n.is_empty());
    let kind = async_graphql::parser::parse_query(query)
        .ok()
        .and_then(|doc| match (doc.operations, operation) {
            (DocumentOperations::Single(op), _) => Some(op.node.ty),
            (DocumentOperations::Multiple(ops), Some(name)) => {
                ops.get(name.as_str()).map(|op| op.node.ty)
            }
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                ops.values().next().map(|op| op.node.ty)
            }
            _ => None,
        });
    if matches!(
        kind,
        Some(OperationType::Mutation | OperationType::Subscription)
    ) {
        return refuse(
            state,
            StatusCode::METHOD_NOT_ALLOWED,
            WireCode::MethodNotAllowed,
            "a GET runs queries only: send mutations over POST /graphql, subscriptions over /graphql/ws",
        );
    }
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = operation {
        request = request.operation_name(name);
    }
    if let Some(raw) = params.get("variables").filter(|v| !v.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(v @ serde_json::Value::Object(_)) => {
                request = request.variables(async_graphql::Variables::from_json(v));
            }
            _ => {
                return refuse(
                    state,
                    StatusCode::BAD_REQUEST,
                    WireCode::BadRequest,
                    "variables must be a JSON object",
                )
            }
        }
    }
    let mut response = execute(state, peer, headers, request).await;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    response
}

/// `GET /readyz`: the database answers and every migration is applied.
async fn readyz(State(state): State<AppState>) -> Response {
    match crate::db::migrations_applied(&state.deps.db).await {
        Ok(true) => (StatusCode::OK, "ready").into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text; with `KASSA_METRICS_TOKEN` set, only for
/// `Authorization: Bearer <token>` (compared in constant time).
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.deps.config.metrics_token {
        use subtle::ConstantTimeEq;
        let given = bearer(&headers).unwrap_or_default();
        let ok: bool = crate::auth::tokens::digest(&given)
            .as_bytes()
            .ct_eq(crate::auth::tokens::digest(expected.expose()).as_bytes())
            .into();
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need Authorization: Bearer <KASSA_METRICS_TOKEN>",
            )
                .into_response();
        }
    }
    let mut text = state.metrics.render();
    let checks = state
        .deps
        .password_checks
        .load(std::sync::atomic::Ordering::Relaxed);
    text.push_str(&format!(
        "# HELP kassa_password_checks_total Passwords checked against their argon2 hash.\n\
         # TYPE kassa_password_checks_total counter\n\
         kassa_password_checks_total {checks}\n\
         # HELP kassa_password_slots_free argon2 slots free right now.\n\
         # TYPE kassa_password_slots_free gauge\n\
         kassa_password_slots_free {}\n",
        state.deps.argon2.available_permits()
    ));
    text.push_str(&runtime_metrics(&state));
    match crate::postbacks::worker::metrics_text(&state.deps).await {
        Ok(postbacks) => text.push_str(&postbacks),
        Err(e) => tracing::warn!(error = ?e, "reading postback metrics"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
