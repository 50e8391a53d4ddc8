//! One extension that every operation passes through, whichever transport
//! carries it (HTTP, either WebSocket protocol, a shared subscription):
//! every error leaves with an `extensions.code`, and the operation is
//! counted in the metrics.

use crate::telemetry::Metrics;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextSubscribe,
};
use async_graphql::{Request, Response, ServerResult, Value};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Registers [`ObserveExtension`] with the metrics it records into (none
/// when the schema is only exported).
pub struct Observe(pub Option<Arc<Metrics>>);

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension {
            metrics: self.0.clone(),
            operation: Arc::new(Mutex::new(None)),
        })
    }
}

pub struct ObserveExtension {
    metrics: Option<Arc<Metrics>>,
    /// The operation's name, once the request is known.
    operation: Arc<Mutex<Option<String>>>,
}

/// Gives every error an `extensions.code` (async-graphql's own parse,
/// validation and limit errors carry none) and returns the codes.
pub fn tag_errors(response: &mut Response) -> Vec<String> {
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
            } else if e.message.starts_with("Data `") && e.message.ends_with("does not exist.") {
                // a resolver missing its context is our fault, and its
                // message names an internal type: never shown
                e.message = "internal error".into();
                "INTERNAL"
            } else {
                "BAD_REQUEST"
            };
            ext.set("code", code);
            code.to_string()
        })
        .collect()
}

/// The name of the document's only operation, for metrics when the client
/// sent no `operationName`.
pub fn named_operation(query: &str) -> Option<String> {
    use async_graphql::parser::types::DocumentOperations;
    match async_graphql::parser::parse_query(query).ok()?.operations {
        DocumentOperations::Single(_) => None,
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|n| n.to_string())
        }
        DocumentOperations::Multiple(_) => None,
    }
}

#[async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let name = request
            .operation_name
            .clone()
            .or_else(|| named_operation(&request.query));
        *self.operation.lock().unwrap_or_else(|p| p.into_inner()) = name;
        next.run(ctx, request).await
    }

    /// A query or mutation over HTTP.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let mut response = next.run(ctx).await;
        let codes = tag_errors(&mut response);
        if let Some(metrics) = &self.metrics {
            let name = self
                .operation
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            metrics.observe(name.as_deref(), started.elapsed().as_secs_f64(), &codes);
        }
        response
    }

    /// Any operation over a WebSocket: each response is tagged; the first
    /// counts as the request (its latency is the time to the first answer),
    /// later ones as events.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let metrics = self.metrics.clone();
        let operation = self.operation.clone();
        let started = Instant::now();
        let mut first = true;
        next.run(ctx, stream)
            .map(move |mut response| {
                let codes = tag_errors(&mut response);
                if let Some(metrics) = &metrics {
                    let name = operation.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    if first {
                        metrics.observe(name.as_deref(), started.elapsed().as_secs_f64(), &codes);
                    } else {
                        metrics.event(name.as_deref(), &codes);
                    }
                }
                first = false;
                response
            })
            .boxed()
    }
}
