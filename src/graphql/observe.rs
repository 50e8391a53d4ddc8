//! The one way into the schema, whichever transport carries an operation
//! (HTTP, either WebSocket protocol, a shared subscription): the document is
//! parsed once and judged against the limits before anything runs, every
//! error leaves with an `extensions.code`, and the operation is counted in
//! the metrics.
//!
//! This is an [`Executor`] around the schema rather than a schema
//! extension: with no extension registered, async-graphql resolves each
//! field directly instead of through a chain of boxed hooks (a third of a
//! Transactions page's CPU).

use super::{limits, KassaSchema};
use crate::telemetry::Metrics;
use async_graphql::parser::types::DocumentOperations;
use async_graphql::{Data, Executor, Request, Response, ServerError, Value};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Instant;

/// The schema as every transport runs it.
#[derive(Clone)]
pub struct Api {
    pub schema: KassaSchema,
    metrics: Option<Arc<Metrics>>,
}

impl Api {
    pub fn new(schema: KassaSchema, metrics: Option<Arc<Metrics>>) -> Self {
        Api { schema, metrics }
    }

    /// Parses the document (once: the schema runs the parsed one), applies
    /// the alias and string limits, and names the operation for metrics.
    fn admit(request: &mut Request) -> (Option<String>, Result<(), ServerError>) {
        if let Err(e) = limits::check_variables(&request.variables) {
            return (request.operation_name.clone(), Err(e));
        }
        let named = request.operation_name.clone();
        let doc = match request.parsed_query() {
            Ok(doc) => doc,
            Err(e) => return (named, Err(e)),
        };
        let name = named.or_else(|| match &doc.operations {
            DocumentOperations::Multiple(ops) if ops.len() == 1 => {
                ops.keys().next().map(|n| n.to_string())
            }
            _ => None,
        });
        (name, limits::check_document(doc))
    }
}

impl Executor for Api {
    /// A query or mutation over HTTP.
    async fn execute(&self, mut request: Request) -> Response {
        let started = Instant::now();
        let (name, admitted) = Self::admit(&mut request);
        let mut response = match admitted {
            Ok(()) => self.schema.execute(request).await,
            Err(e) => Response::from_errors(vec![e]),
        };
        let codes = tag_errors(&mut response);
        if let Some(metrics) = &self.metrics {
            metrics.observe(name.as_deref(), started.elapsed().as_secs_f64(), &codes);
        }
        response
    }

    /// Any operation over a WebSocket, or a shared subscription: each
    /// response is tagged; the first counts as the request (its latency is
    /// the time to the first answer), later ones as events.
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let started = Instant::now();
        let (name, admitted) = Self::admit(&mut request);
        let stream = match admitted {
            Ok(()) => match session_data {
                Some(data) => self
                    .schema
                    .execute_stream_with_session_data(request, data)
                    .boxed(),
                None => self.schema.execute_stream(request).boxed(),
            },
            Err(e) => {
                futures_util::stream::once(async move { Response::from_errors(vec![e]) }).boxed()
            }
        };
        let metrics = self.metrics.clone();
        let mut first = true;
        stream
            .map(move |mut response| {
                let codes = tag_errors(&mut response);
                if let Some(metrics) = &metrics {
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
