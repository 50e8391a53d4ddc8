//! The only axum code: routes, the CSRF and batch rules, credential
//! extraction, health, metrics and the WebSocket upgrade (BEHAVIOUR §11).

mod playground;
pub mod sessions;
mod ws;

use crate::app::AppState;
use crate::auth::service::authenticate;
use crate::graphql::ClientIp;
use async_graphql::http::MultipartOptions;
use async_graphql::{ErrorExtensionValues, Response as GqlResponse, ServerError, Value};
use axum::body::Body;
use axum::extract::Path;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    let body_limit = state.deps.config.body_limit;
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/files/{name}", get(files))
        .route("/playground/assets/{name}", get(playground::asset))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
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

/// A GraphQL-shaped error response for requests refused before execution.
fn refuse(state: &AppState, status: StatusCode, code: &str, message: &str) -> Response {
    state.metrics.refuse(code);
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    (status, Json(GqlResponse::from_errors(vec![err]))).into_response()
}

/// The client's address: the peer, unless the peer is a trusted proxy
/// (`KASSA_TRUSTED_PROXIES`); then the nearest address in `X-Forwarded-For`
/// that is not itself a trusted proxy. Without trusted proxies the header
/// is never believed, so no client can choose its own rate-limit bucket.
pub fn client_addr(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = &state.deps.config.trusted_proxies;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
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

/// `POST /graphql`: JSON bodies, or multipart with a CSRF header; one
/// operation per request.
async fn graphql_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // Refuse what will not run before reading a byte of the body, then read
    // it only up to its kind's limit: an oversized body is cut off, never held.
    let multipart = essence == "multipart/form-data";
    if multipart && !has_csrf_header(&headers) {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            "CSRF",
            "multipart requests need a non-empty x-kassa-csrf header",
        );
    }
    if !multipart && !JSON_TYPES.contains(&essence.as_str()) {
        return refuse(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send GraphQL as application/json (or multipart/form-data with x-kassa-csrf)",
        );
    }
    let limit = if multipart {
        crate::plugin::service::UPLOAD_BODY_MAX
    } else {
        state.deps.config.body_limit
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        refuse(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "TOO_LARGE",
            &format!("the request body is over its limit of {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return too_large();
    };
    let request = match essence.as_str() {
        "application/json" | "application/graphql-response+json" => {
            let value: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(_) => {
                    return refuse(
                        &state,
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        "the body is not JSON",
                    )
                }
            };
            if value.is_array() {
                return refuse(
                    &state,
                    StatusCode::BAD_REQUEST,
                    "BATCH_NOT_SUPPORTED",
                    "batched requests are not accepted: send one operation per request",
                );
            }
            match serde_json::from_value::<async_graphql::Request>(value) {
                Ok(r) => r,
                Err(_) => {
                    return refuse(
                        &state,
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        "the body is not a GraphQL request ({\"query\": …})",
                    )
                }
            }
        }
        "multipart/form-data" => {
            let parsed = async_graphql::http::receive_batch_body(
                Some(content_type.as_str()),
                futures_util::io::Cursor::new(body),
                MultipartOptions::default()
                    .max_file_size(crate::plugin::service::GIF_MAX)
                    .max_num_files(1),
            )
            .await;
            match parsed.map(|b| b.into_single()) {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => {
                    return refuse(
                        &state,
                        StatusCode::BAD_REQUEST,
                        "BATCH_NOT_SUPPORTED",
                        "batched requests are not accepted: send one operation per request",
                    )
                }
                Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
                    return refuse(
                        &state,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "TOO_LARGE",
                        "an uploaded file is over 1 MiB",
                    )
                }
                Err(_) => {
                    return refuse(
                        &state,
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        "malformed multipart request",
                    )
                }
            }
        }
        _ => unreachable!("content types were checked above"),
    };

    let actor = match authenticate(&state.deps, bearer(&headers).as_deref()).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = ?e, "authenticating a request");
            return refuse(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            );
        }
    };
    let operation = request
        .operation_name
        .clone()
        .or_else(|| named_operation(&request.query));
    let request = crate::graphql::with_loaders(
        request
            .data(actor)
            .data(ClientIp(client_addr(&state, peer, &headers))),
        &state.deps.db,
    );
    let started = Instant::now();
    let mut response = state.schema.execute(request).await;
    let mut codes = tag_errors(&mut response);
    // A response is bounded in bytes too: past the limit the client gets an
    // error asking for a smaller page instead of megabytes.
    let body = match serde_json::to_vec(&response) {
        Ok(b) if b.len() <= state.deps.config.response_limit => b,
        Ok(b) => {
            tracing::warn!(bytes = b.len(), "response over its limit refused");
            codes.push("RESPONSE_TOO_LARGE".into());
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
                .set("code", "RESPONSE_TOO_LARGE");
            serde_json::to_vec(&GqlResponse::from_errors(vec![err])).unwrap_or_default()
        }
        Err(e) => {
            tracing::error!(error = %e, "serializing a response");
            return refuse(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            );
        }
    };
    state.metrics.observe(
        operation.as_deref(),
        started.elapsed().as_secs_f64(),
        &codes,
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The name of the document's only operation, for metrics when the client
/// sent no `operationName`.
fn named_operation(query: &str) -> Option<String> {
    use async_graphql::parser::types::DocumentOperations;
    match async_graphql::parser::parse_query(query).ok()?.operations {
        DocumentOperations::Single(_) => None,
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|n| n.to_string())
        }
        DocumentOperations::Multiple(_) => None,
    }
}

/// Gives every error an `extensions.code` (async-graphql's own parse,
/// validation and limit errors carry none) and returns the codes.
fn tag_errors(response: &mut GqlResponse) -> Vec<String> {
    response
        .errors
        .iter_mut()
        .map(|e| {
            let ext = e.extensions.get_or_insert_with(Default::default);
            if let Some(Value::String(code)) = ext.get("code") {
                return code.clone();
            }
            let code = if e.message.contains("nested too deep") {
                "QUERY_TOO_DEEP"
            } else if e.message.contains("too complex") || e.message.contains("too many directives")
            {
                "TOO_COMPLEX"
            } else {
                "BAD_REQUEST"
            };
            ext.set("code", code);
            code.to_string()
        })
        .collect()
}

/// `GET /graphql`: the GraphiQL playground. A GET never runs an operation.
async fn graphql_get(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if params.contains_key("query") {
        return refuse(
            &state,
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "operations run only over POST /graphql",
        );
    }
    if !state.deps.config.playground {
        return (StatusCode::NOT_FOUND, "the playground is turned off").into_response();
    }
    playground::render()
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
            .ct_eq(crate::auth::tokens::digest(expected).as_bytes())
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
