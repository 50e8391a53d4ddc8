//! Request ids and the access log: every HTTP request gets an id (the
//! caller's `x-request-id` when it is a sane token, else a new one),
//! returned in the response header, carried by every log line of the
//! request (a `request` span) and by `extensions.requestId` of its errors;
//! when the request ends one access line says what it was — never a token,
//! a secret or a query's variables.

use async_graphql::Value;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task serves, if it serves one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// Runs `work` as part of the current request (same id, same span): for
/// tasks a request spawns.
pub fn carry<F: std::future::Future>(work: F) -> impl std::future::Future<Output = F::Output> {
    Carried::here().within(work)
}

/// The current request's id and span, to carry into work that outlives the
/// request's task (a WebSocket's connection, upgraded from its request).
pub struct Carried {
    id: String,
    span: tracing::Span,
}

impl Carried {
    pub fn here() -> Carried {
        Carried {
            id: current().unwrap_or_default(),
            span: tracing::Span::current(),
        }
    }

    pub fn within<F: std::future::Future>(
        self,
        work: F,
    ) -> impl std::future::Future<Output = F::Output> {
        REQUEST_ID.scope(self.id, work.instrument(self.span))
    }
}

/// What the access line says of a GraphQL operation, left by its handler
/// in the response's extensions.
#[derive(Clone, Debug)]
pub struct Operation {
    pub name: Option<String>,
    /// `ok`, or the errors' codes.
    pub outcome: String,
    /// `anonymous`, `invalid`, `user`, `key`, `plugin`.
    pub caller: &'static str,
    /// The client's address as rate limits see it (behind a trusted proxy,
    /// the forwarded one).
    pub client: std::net::IpAddr,
}

/// A caller's own id is kept when it is 1–128 characters of
/// `[A-Za-z0-9._:-]` (what proxies and tracing systems send); anything
/// else is replaced, so a log line never carries what a client made up.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The path as logged: an export's download token is a credential.
fn logged_path(path: &str) -> &str {
    if path.starts_with("/exports/") {
        "/exports/{token}"
    } else {
        path
    }
}

/// The middleware: id, span, header, access line.
pub async fn layer(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(new_id);
    let method = request.method().clone();
    let path = logged_path(request.uri().path()).to_string();
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span.clone()))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match response.extensions().get::<Operation>() {
        Some(op) => tracing::info!(
            target: "kassa::access",
            %method,
            path,
            status,
            duration_ms = millis,
            operation = op.name.as_deref().unwrap_or("-"),
            outcome = op.outcome,
            caller = op.caller,
            client = %op.client,
            "request"
        ),
        None => tracing::info!(
            target: "kassa::access",
            %method,
            path,
            status,
            duration_ms = millis,
            "request"
        ),
    }
    response
}

/// Puts this request's id into every error's `extensions.requestId`.
pub fn tag_errors(errors: &mut [async_graphql::ServerError]) {
    let Some(id) = current() else { return };
    for e in errors {
        e.extensions
            .get_or_insert_with(Default::default)
            .set("requestId", Value::String(id.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept() {
        assert!(acceptable("0f3a-req.1:x_y"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("id\nforged log line"));
        assert!(!acceptable(&"a".repeat(129)));
        assert_eq!(new_id().len(), 32);
        assert_ne!(new_id(), new_id());
        assert_eq!(logged_path("/exports/kex_secret"), "/exports/{token}");
    }
}
