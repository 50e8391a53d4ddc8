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
    /// The same schema with room for the standard introspection query's
    /// depth (graphql-js nests `ofType` past [`super::MAX_DEPTH`]); only
    /// documents that read nothing but the schema run on it. None when
    /// introspection is off.
    introspection: Option<KassaSchema>,
    metrics: Option<Arc<Metrics>>,
}

/// Introspection fields that answer lists: how deep they may nest in a
/// schema-only document (graphql-js's query has `types → fields → args`).
const LIST_FIELDS: [&str; 8] = [
    "types",
    "fields",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "args",
    "directives",
];
const MAX_LIST_NESTING: usize = 3;

/// The deepest nesting of introspection list fields under `set`, counting
/// inside `__schema` / `__type` only (`inside`); `None` past the walk's bounds.
fn introspection_lists(
    set: &async_graphql::parser::types::SelectionSet,
    doc: &async_graphql::parser::types::ExecutableDocument,
    inside: bool,
    depth: usize,
) -> Option<usize> {
    use async_graphql::parser::types::Selection;
    if depth > 32 {
        return None;
    }
    let mut deepest = 0;
    for item in &set.items {
        let (inner, here, inside) = match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                let inside = inside || name == "__schema" || name == "__type";
                (
                    &f.node.selection_set.node,
                    usize::from(inside && LIST_FIELDS.contains(&name)),
                    inside,
                )
            }
            Selection::InlineFragment(i) => (&i.node.selection_set.node, 0, inside),
            Selection::FragmentSpread(s) => (
                &doc.fragments
                    .get(&s.node.fragment_name.node)?
                    .node
                    .selection_set
                    .node,
                0,
                inside,
            ),
        };
        deepest = deepest.max(here + introspection_lists(inner, doc, inside, depth + 1)?);
    }
    Some(deepest)
}

/// Refuses introspection that fans out: list fields of `__schema`/`__type`
/// (types, fields, args, …) nested deeper than graphql-js's own query nests
/// them (`types → fields → args`), in any document. Depth and complexity
/// cannot see it: each level multiplies the answer by the schema's size.
fn check_introspection_fan_out(
    doc: &async_graphql::parser::types::ExecutableDocument,
) -> Result<(), ServerError> {
    let ok = doc.operations.iter().all(|(_, op)| {
        introspection_lists(&op.node.selection_set.node, doc, false, 0)
            .is_some_and(|n| n <= MAX_LIST_NESTING)
    });
    if ok {
        return Ok(());
    }
    let mut err = ServerError::new(
        format!(
            "introspection nests list fields (types, fields, args, …) more than {MAX_LIST_NESTING} deep"
        ),
        None,
    );
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", "QUERY_TOO_DEEP");
    Err(err)
}

/// Whether `doc` reads only the schema: `__schema`, `__type` or
/// `__typename` at the top of every operation, all of them queries.
fn schema_only(doc: &async_graphql::parser::types::ExecutableDocument) -> bool {
    use async_graphql::parser::types::{OperationType, Selection, SelectionSet};
    fn top_ok(
        set: &SelectionSet,
        doc: &async_graphql::parser::types::ExecutableDocument,
        hops: usize,
    ) -> bool {
        hops < 8
            && set.items.iter().all(|item| match &item.node {
                Selection::Field(f) => {
                    matches!(
                        f.node.name.node.as_str(),
                        "__schema" | "__type" | "__typename"
                    )
                }
                Selection::InlineFragment(i) => top_ok(&i.node.selection_set.node, doc, hops + 1),
                Selection::FragmentSpread(s) => doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .is_some_and(|f| top_ok(&f.node.selection_set.node, doc, hops + 1)),
            })
    }
    doc.operations.iter().all(|(_, op)| {
        op.node.ty == OperationType::Query && top_ok(&op.node.selection_set.node, doc, 0)
    })
}

impl Api {
    pub fn new(
        schema: KassaSchema,
        introspection: Option<KassaSchema>,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Api {
            schema,
            introspection,
            metrics,
        }
    }

    /// async-graphql answers `__schema { description }` with the description
    /// of the `__Schema` type itself; this schema has none, so clients that
    /// rebuild it (graphql-js `buildClientSchema`) would invent one.
    fn without_foreign_description(response: &mut Response) {
        const FOREIGN: &str = "A GraphQL Schema defines the capabilities of a GraphQL server.";
        if let Value::Object(fields) = &mut response.data {
            for value in fields.values_mut() {
                if let Value::Object(schema) = value {
                    if let Some(d) = schema.get_mut("description") {
                        if matches!(d, Value::String(s) if s.starts_with(FOREIGN)) {
                            *d = Value::Null;
                        }
                    }
                }
            }
        }
    }

    /// The schema `request` runs on: the introspection one for a document
    /// that reads only the schema, the limited one for everything else.
    fn schema_for(&self, request: &mut Request) -> &KassaSchema {
        match (&self.introspection, request.parsed_query()) {
            (Some(relaxed), Ok(doc)) if schema_only(doc) => relaxed,
            _ => &self.schema,
        }
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
        (
            name,
            limits::check_document(doc).and_then(|()| check_introspection_fan_out(doc)),
        )
    }
}

impl Executor for Api {
    /// A query or mutation over HTTP.
    async fn execute(&self, mut request: Request) -> Response {
        let started = Instant::now();
        let (name, admitted) = Self::admit(&mut request);
        let mut response = match admitted {
            Ok(()) => self.schema_for(&mut request).execute(request).await,
            Err(e) => Response::from_errors(vec![e]),
        };
        Self::without_foreign_description(&mut response);
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
            Ok(()) => {
                let schema = self.schema_for(&mut request).clone();
                match session_data {
                    Some(data) => schema
                        .execute_stream_with_session_data(request, data)
                        .boxed(),
                    None => schema.execute_stream(request).boxed(),
                }
            }
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
