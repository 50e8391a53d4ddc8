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
use crate::error::WireCode;
use crate::telemetry::Metrics;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Data, Executor, Request, Response, ServerError, Value};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    /// The same schema validating in async-graphql's fast mode: only the
    /// complexity and depth (they follow the variables: `first: $n`),
    /// fragment cycles, uploads. A document runs on it once it has passed
    /// the full rules on `schema`, and only where those cannot fail the
    /// second time: they read the document, the schema (no field here is
    /// visible to some callers only) and the variables' values, which fast
    /// mode checks only as each field reads them. A query's bad variable
    /// then fails its field instead of the whole request before any ran; a
    /// mutation's would fail only after the fields before it had written
    /// (a first `createWithdrawal` done, the second refused), so a mutation
    /// given variables is always checked whole first.
    validated: Option<KassaSchema>,
    metrics: Option<Arc<Metrics>>,
    documents: Arc<Documents>,
}

/// A document that passed the limits, as parsed.
struct Admitted {
    doc: ExecutableDocument,
    /// The operation's name when the document names its only operation.
    name: Option<String>,
    schema_only: bool,
    /// Its rows may answer as JSON ([`rows::json_safe`]).
    rows_as_json: bool,
    /// The document holds one operation.
    single: bool,
    /// Some operation of the document is a mutation.
    mutation: bool,
    /// It once ran through async-graphql's full validation without an
    /// error: from then on it runs on the schema that checks only what can
    /// change between requests (see [`Api::validated`]).
    validated: std::sync::atomic::AtomicBool,
}

impl Admitted {
    fn is_validated(&self) -> bool {
        self.validated.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Documents already parsed and judged, by their text: a client sends the
/// same few documents over and over with other variables, and parsing and
/// judging one is a tenth of a Transactions page's CPU. Only admitted
/// documents are kept (a refused one is judged again each time), at most
/// [`CACHED_DOCUMENTS`] of at most [`CACHED_DOCUMENT_BYTES`] each; when full
/// the cache starts over (a flood of distinct documents costs what it did
/// without the cache, and memory stays bounded).
#[derive(Default)]
struct Documents {
    by_text: Mutex<HashMap<Box<str>, Arc<Admitted>>>,
}

const CACHED_DOCUMENTS: usize = 512;
const CACHED_DOCUMENT_BYTES: usize = 16 * 1024;

impl Documents {
    fn get(&self, text: &str) -> Option<Arc<Admitted>> {
        self.by_text
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(text)
            .cloned()
    }

    fn keep(&self, text: &str, admitted: Arc<Admitted>) {
        if text.len() > CACHED_DOCUMENT_BYTES {
            return;
        }
        let mut map = self.by_text.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHED_DOCUMENTS {
            map.clear();
        }
        map.insert(text.into(), admitted);
    }
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
        .set("code", WireCode::QueryTooDeep.as_str());
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
            validated: None,
            metrics,
            documents: Arc::default(),
        }
    }

    /// Runs documents that passed the full validation once on `fast` (the
    /// same schema in `ValidationMode::Fast`).
    pub fn with_validated(mut self, fast: KassaSchema) -> Self {
        self.validated = Some(fast);
        self
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

    /// The schema a document runs on: the introspection one for a document
    /// that reads only the schema, the fast-validating one for a document
    /// that passed the full rules before, the limited one for everything else.
    fn schema_for(&self, admitted: &Admitted, request: &Request) -> &KassaSchema {
        match (&self.introspection, &self.validated) {
            (Some(relaxed), _) if admitted.schema_only => relaxed,
            (_, Some(fast))
                if admitted.is_validated()
                    && (!admitted.mutation || request.variables.is_empty()) =>
            {
                fast
            }
            _ => &self.schema,
        }
    }

    /// Parses the document (once: the schema runs the parsed one, and a
    /// document seen before is not parsed again), applies the alias and
    /// string limits, and names the operation for metrics. Ok(whether the
    /// document reads only the schema).
    fn admit(&self, request: &mut Request) -> (Option<String>, Result<Arc<Admitted>, ServerError>) {
        if let Err(e) = limits::check_variables(&request.variables) {
            return (request.operation_name.clone(), Err(e));
        }
        if let Some(hit) = self.documents.get(&request.query) {
            request.set_parsed_query(hit.doc.clone());
            let name = request.operation_name.clone().or_else(|| hit.name.clone());
            return (name, Ok(hit));
        }
        let named = request.operation_name.clone();
        let doc = match request.parsed_query() {
            Ok(doc) => doc,
            Err(e) => return (named, Err(e)),
        };
        let only_name = match &doc.operations {
            DocumentOperations::Multiple(ops) if ops.len() == 1 => {
                ops.keys().next().map(|n| n.to_string())
            }
            _ => None,
        };
        let single = match &doc.operations {
            DocumentOperations::Single(_) => true,
            DocumentOperations::Multiple(ops) => ops.len() == 1,
        };
        let name = named.or_else(|| only_name.clone());
        if let Err(e) = limits::check_document(doc).and_then(|()| check_introspection_fan_out(doc))
        {
            return (name, Err(e));
        }
        let admitted = Arc::new(Admitted {
            doc: doc.clone(),
            name: only_name,
            schema_only: schema_only(doc),
            rows_as_json: super::rows::json_safe(doc),
            single,
            mutation: doc
                .operations
                .iter()
                .any(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Mutation),
            validated: Default::default(),
        });
        self.documents.keep(&request.query, admitted.clone());
        (name, Ok(admitted))
    }
}

impl Api {
    /// A query or mutation over HTTP, and the operation's name (for the
    /// access log). With `json_rows` its rows answer as JSON where the
    /// document allows it ([`super::rows::RowCache`]): the response must
    /// then be written by [`super::json::response`].
    pub async fn execute_named(
        &self,
        mut request: Request,
        json_rows: bool,
    ) -> (Response, Option<String>, String) {
        let started = Instant::now();
        let (name, admitted) = self.admit(&mut request);
        let span = tracing::info_span!("graphql", operation = name.as_deref().unwrap_or("-"));
        let mut response = match admitted {
            Ok(admitted) => {
                if json_rows && admitted.rows_as_json {
                    request.data.insert(super::rows::RowCache::default());
                }
                use tracing::Instrument;
                let response = self
                    .schema_for(&admitted, &request)
                    .execute(request)
                    .instrument(span)
                    .await;
                if admitted.single && response.errors.is_empty() && !admitted.is_validated() {
                    // (an error of any kind, validation or not, leaves it strict)
                    admitted
                        .validated
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                response
            }
            Err(e) => Response::from_errors(vec![e]),
        };
        Self::without_foreign_description(&mut response);
        let codes = tag_errors(&mut response);
        if let Some(metrics) = &self.metrics {
            metrics.observe(name.as_deref(), started.elapsed().as_secs_f64(), &codes);
        }
        let outcome = outcome(&codes);
        (response, name, outcome)
    }
}

impl Executor for Api {
    /// A query or mutation.
    async fn execute(&self, request: Request) -> Response {
        self.execute_named(request, false).await.0
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
        let (name, admitted) = self.admit(&mut request);
        let stream = match admitted {
            Ok(admitted) => {
                let schema = self.schema_for(&admitted, &request).clone();
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
        // counted while the stream lives (a subscription until it ends)
        let streaming = metrics.as_ref().map(|m| {
            m.streams.inc();
            Streaming(m.streams.clone())
        });
        let mut first = true;
        stream
            .map(move |mut response| {
                let _alive = &streaming;
                let codes = tag_errors(&mut response);
                if first {
                    tracing::info!(
                        target: "kassa::access",
                        operation = name.as_deref().unwrap_or("-"),
                        outcome = outcome(&codes),
                        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "operation"
                    );
                }
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

/// What the access log says of an operation: `ok`, or its errors' codes.
pub fn outcome(codes: &[String]) -> String {
    if codes.is_empty() {
        "ok".into()
    } else {
        codes.join(",")
    }
}

/// Holds one count of `kassa_graphql_streams` while a stream lives.
struct Streaming(prometheus::IntGauge);

impl Drop for Streaming {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// async-graphql's limit errors carry no code and no type, only these
/// texts (`validation::check_rules`, not public); the unit test
/// `limit_messages_are_async_graphqls` fails if an upgrade changes them.
const DEPTH_REFUSED: &str = "Query is nested too deep.";
const COMPLEXITY_REFUSED: &str = "Query is too complex.";

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
            let code = if e.message == DEPTH_REFUSED {
                WireCode::QueryTooDeep
            } else if e.message == COMPLEXITY_REFUSED || e.message.contains("too many directives") {
                WireCode::TooComplex
            } else if e.message.starts_with("Data `") && e.message.ends_with("does not exist.") {
                // a resolver missing its context is our fault, and its
                // message names an internal type: never shown
                e.message = "internal error".into();
                WireCode::Internal
            } else {
                WireCode::BadRequest
            };
            ext.set("code", code.as_str());
            code.to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(text: &str) -> Arc<Admitted> {
        Arc::new(Admitted {
            doc: async_graphql::parser::parse_query(text).unwrap(),
            name: None,
            schema_only: false,
            rows_as_json: false,
            single: true,
            mutation: false,
            validated: Default::default(),
        })
    }

    #[tokio::test]
    async fn limit_messages_are_async_graphqls() {
        use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
        #[derive(SimpleObject)]
        struct Inner {
            a: i32,
        }
        struct Q;
        #[Object]
        impl Q {
            async fn inner(&self) -> Inner {
                Inner { a: 1 }
            }
        }
        let run = async |depth: usize, complexity: usize| {
            let mut r = Schema::build(Q, EmptyMutation, EmptySubscription)
                .limit_depth(depth)
                .limit_complexity(complexity)
                .finish()
                .execute("{ inner { a } }")
                .await;
            let codes = tag_errors(&mut r);
            (r.errors.remove(0).message, codes)
        };
        let (deep, codes) = run(1, 100).await;
        assert_eq!(deep, DEPTH_REFUSED);
        assert_eq!(codes, vec!["QUERY_TOO_DEEP"]);
        let (complex, codes) = run(10, 1).await;
        assert_eq!(complex, COMPLEXITY_REFUSED);
        assert_eq!(codes, vec!["TOO_COMPLEX"]);
    }

    #[test]
    fn documents_are_kept_by_text_within_bounds() {
        let docs = Documents::default();
        docs.keep("{ a }", admitted("{ a }"));
        assert!(docs.get("{ a }").is_some());
        assert!(
            docs.get("{ a  }").is_none(),
            "another text is another document"
        );

        let big = format!("{{ a {} }}", " ".repeat(CACHED_DOCUMENT_BYTES));
        docs.keep(&big, admitted(&big));
        assert!(docs.get(&big).is_none(), "a large document is not kept");

        for i in 0..CACHED_DOCUMENTS {
            let text = format!("{{ a{i} }}");
            docs.keep(&text, admitted(&text));
        }
        let held = docs.by_text.lock().unwrap().len();
        assert!(held <= CACHED_DOCUMENTS, "{held} documents held");
        assert!(docs
            .get(&format!("{{ a{} }}", CACHED_DOCUMENTS - 1))
            .is_some());
    }
}
