//! Objects that are one database row, answered in one pass over the
//! selection.
//!
//! async-graphql resolves an object's selection by boxing one future per
//! field and collecting them (in a `FuturesUnordered`, or one after another
//! for `serial` objects). For a row whose fields are mostly plain columns
//! that bookkeeping costs more than the fields: profiled on a 500-row
//! Transactions page, boxing, moving and dispatching the per-field futures
//! were the largest part of Kassa's own CPU. A [`Row`] answers its plain
//! columns directly and hands every other field (nested objects,
//! DataLoader-backed lists) to the derived object's own resolver, one after
//! another, so the DataLoaders still see every row of a page in one batch.
//!
//! The derived object stays the type's single definition: it registers the
//! schema type (name, fields, descriptions) and answers any selection this
//! path does not take: fragments, custom directives, a response key given
//! twice (whose sub-selections async-graphql merges). `@skip`/`@include`
//! are already gone from the document when resolvers run. Kassa's schema
//! runs with no async-graphql extensions (limits, error codes and metrics
//! live in the executor around it); an extension's per-field hook would
//! not see the columns answered here.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
};

/// A row-backed GraphQL object.
pub trait Row: Send + Sync {
    /// The derived object: the schema's definition of the type, and the
    /// resolver of every field [`Row::column`] does not answer.
    type Object: OutputType + ContainerType;

    /// The derived object over the same row.
    fn object(&self) -> Self::Object;

    /// The number of the plain field `name` (the schema's field name, not
    /// an alias) for [`Row::cell`], or `None` when the derived object
    /// resolves it. Asked once per selection, not per row ([`Plan`]).
    fn column_of(name: &str) -> Option<u8>
    where
        Self: Sized;

    /// The value of column `c` ([`Row::column_of`]), or `None` to let the
    /// derived object resolve the field. (`ctx` is the row's selection's:
    /// for the request's data.)
    fn cell(&self, c: u8, ctx: &ContextSelectionSet<'_>) -> Option<Cell<'_>>;

    /// For a field the derived object resolves whose value, errors
    /// included, follows from its selection and a key of the row alone
    /// (e.g. a catalogue entry by its code): that key. Within one request
    /// such a field is resolved once per key and selection ([`RowCache`]).
    /// In a list written in one pass ([`Rows`]) the keys are resolved one
    /// after another: such a field must not wait on other rows (a
    /// DataLoader's batch); declare those as neither column nor shared.
    fn shared(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// A plain field's value as a row holds it: written straight into a JSON
/// answer, or made the `Value` the derived object's field gives
/// ([`Cell::into_value`]).
pub enum Cell<'a> {
    Null,
    /// a String (or ID) the row holds
    Text(&'a str),
    /// an ID (a row's number, answered as a string)
    Id(i64),
    /// a DateTime scalar
    Instant(chrono::DateTime<chrono::Utc>),
    /// a Decimal scalar
    Decimal(rust_decimal::Decimal),
    /// an enum's GraphQL name ([`enum_name`])
    Enum(&'static str),
    Value(Value),
}

impl Cell<'_> {
    /// The value as the derived object's field of the same name gives it.
    pub fn into_value(self) -> Value {
        use async_graphql::ScalarType;
        match self {
            Cell::Null => Value::Null,
            Cell::Text(s) => Value::String(s.to_owned()),
            Cell::Id(id) => Value::String(id.to_string()),
            Cell::Instant(t) => super::scalars::DateTime(t).to_value(),
            Cell::Decimal(d) => super::scalars::Decimal(d).to_value(),
            Cell::Enum(name) => Value::Enum(Name::new(name)),
            Cell::Value(v) => v,
        }
    }

    /// Appends the value as JSON: the same text as [`Cell::into_value`]'s
    /// value written by [`super::json`] (a test compares them).
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Cell::Null => out.extend_from_slice(b"null"),
            Cell::Text(s) | Cell::Enum(s) => {
                let _ = super::json::string(out, s);
            }
            Cell::Id(id) => {
                out.push(b'"');
                out.extend_from_slice(itoa::Buffer::new().format(*id).as_bytes());
                out.push(b'"');
            }
            Cell::Instant(t) => super::scalars::write_instant(out, t),
            Cell::Decimal(d) => super::scalars::write_decimal(out, d),
            Cell::Value(v) => json(out, v),
        }
    }
}

/// The GraphQL name of an enum's value (what `Value::Enum` holds).
pub fn enum_name<T: async_graphql::resolver_utils::EnumType>(value: T) -> &'static str {
    T::items()
        .iter()
        .find(|item| item.value == value)
        .map_or("", |item| item.name)
}

/// `OutputType::resolve` for a [`Row`].
pub async fn resolve<R: Row>(
    row: &R,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    let cache = ctx.data_opt::<RowCache>();
    let Some(plan) = row_plan(row, ctx, false) else {
        return Box::pin(row.object().resolve(ctx, field)).await;
    };
    let mut out = Answer::start(cache, ctx.item, plan.steps.len());
    fill(row, ctx, cache, &plan, &mut out).await;
    Ok(out.finish(cache, ctx.item))
}

/// How a plain selection is answered: for each of its fields, in order,
/// its response key as JSON (`"key":`) and what answers it. Worked out
/// from the selection once — for a list, on its first row — and followed
/// by every row (whose selection it is: a list's rows share theirs), so a
/// row's fields are not looked up by name again.
pub struct Plan {
    steps: Vec<Step>,
}

struct Step {
    key: Box<[u8]>,
    what: What,
}

enum What {
    Typename,
    /// [`Row::cell`]
    Column(u8),
    /// [`Row::shared`]
    Shared,
    /// the derived object's resolver
    Resolve,
    /// an edge's cursor
    Cursor,
    /// an edge's node: written in place by its plan, or (`None`, its
    /// selection not plain) resolved
    Node(Option<Plan>),
}

impl Step {
    fn of(f: &Positioned<Field>, what: What) -> Step {
        let key = f.node.response_key().node.as_bytes();
        debug_assert!(is_name(key), "a response key that is no name: {key:?}");
        let mut json = Vec::with_capacity(key.len() + 3);
        json.push(b'"');
        json.extend_from_slice(key);
        json.extend_from_slice(b"\":");
        Step {
            key: json.into(),
            what,
        }
    }
}

/// The [`Plan`] of `row`'s selection `ctx.item`, when it is plain fields
/// ([`plain`]). In a list written in one pass (`listed`) every field must
/// be a column, a shared field or `__typename` — answered without waiting
/// on anything another row would be part of (a DataLoader's batch) — else
/// `None`; a single row hands any other field to its derived object.
fn row_plan<R: Row>(row: &R, ctx: &ContextSelectionSet<'_>, listed: bool) -> Option<Plan> {
    plain(&ctx.item.node.items)?;
    let steps = fields(ctx.item)
        .map(|f| {
            let name = f.node.name.node.as_str();
            let what = if name == "__typename" {
                What::Typename
            } else if let Some(c) = R::column_of(name) {
                What::Column(c)
            } else if row.shared(name).is_some() {
                What::Shared
            } else if listed {
                return None;
            } else {
                What::Resolve
            };
            Some(Step::of(f, what))
        })
        .collect::<Option<_>>()?;
    Some(Plan { steps })
}

/// Answers `row`'s plain selection `ctx.item` into `out` by its `plan`:
/// columns directly, shared fields once per key, anything else (and a
/// column the row leaves to it) by the derived object.
async fn fill<R: Row>(
    row: &R,
    ctx: &ContextSelectionSet<'_>,
    cache: Option<&RowCache>,
    plan: &Plan,
    out: &mut Answer,
) {
    for (f, step) in fields(ctx.item).zip(&plan.steps) {
        let key = &step.key;
        if let What::Column(c) = step.what {
            if let Some(cell) = row.cell(c, ctx) {
                out.put(f, key, cell);
                continue;
            }
        }
        let ctx_field = ctx.with_field(f);
        let shared = match step.what {
            What::Shared => row.shared(f.node.name.node.as_str()),
            _ => None,
        };
        match (&step.what, shared) {
            (What::Typename, _) => out.put(f, key, Cell::Text(&R::Object::type_name())),
            (What::Shared, Some(shared)) => match cache.and_then(|c| c.shared(f, shared)) {
                Some(raw) => out.put_raw(key, &raw),
                None => match Box::pin(row.object().resolve_field(&ctx_field)).await {
                    Ok(Some(v)) => match cache {
                        Some(cache) => out.put_raw(key, &cache.keep_shared(f, shared, &v)),
                        None => out.put(f, key, Cell::Value(v)),
                    },
                    other => out.set(ctx, f, key, other),
                },
            },
            // (and a column the row leaves to its object, a shared field
            // this row has no key for)
            _ => {
                let value = Box::pin(row.object().resolve_field(&ctx_field)).await;
                out.set(ctx, f, key, value)
            }
        }
    }
}

/// A list of [`Row`]s (the schema's `[T!]!`). Over HTTP, when the first
/// row's selection has a [`Plan`] for a list (every field a column, a
/// shared field or `__typename`), the list's JSON is written in one buffer,
/// row after row by that plan, and travels up as one `Binary`: no future,
/// allocation and value per row (on a 20-row page those were a tenth of a
/// request's instructions). Any other list resolves as async-graphql
/// resolves a `Vec`, the rows concurrently.
pub struct Rows<T>(pub Vec<T>);

/// An edge of a connection whose node is a [`Row`], for [`Rows`] of edges
/// (answered by [`edge`] one at a time).
pub trait Edge: OutputType {
    type Node: Row + OutputType;
    /// Appends the edge's cursor as a JSON string.
    fn write_cursor(&self, out: &mut Vec<u8>);
    /// The edge's cursor.
    fn cursor(&self) -> String;
    fn node(&self) -> &Self::Node;
    /// The derived edge object, for a selection [`edge`] does not take.
    fn object(&self) -> impl ContainerType;
}

/// An item of [`Rows`]: a row, or an edge of one.
pub trait Item: OutputType {
    /// The [`Plan`] of the item's selection `ctx.item` in a list written
    /// in one pass, if it has one.
    fn plan(&self, ctx: &ContextSelectionSet<'_>) -> Option<Plan>;
    /// Appends the item's answer to `out` (given and given back), by the
    /// plan [`Item::plan`] made for the list's first item.
    fn write<'a>(
        &'a self,
        ctx: &'a ContextSelectionSet<'a>,
        cache: &'a RowCache,
        plan: &'a Plan,
        out: Vec<u8>,
    ) -> impl std::future::Future<Output = Vec<u8>> + Send + 'a;
}

/// Every row is an item: its selection written by [`fill`].
impl<R: Row + OutputType> Item for R {
    fn plan(&self, ctx: &ContextSelectionSet<'_>) -> Option<Plan> {
        row_plan(self, ctx, true)
    }

    async fn write<'a>(
        &'a self,
        ctx: &'a ContextSelectionSet<'a>,
        cache: &'a RowCache,
        plan: &'a Plan,
        out: Vec<u8>,
    ) -> Vec<u8> {
        let mut answer = Answer::within(out);
        fill(self, ctx, Some(cache), plan, &mut answer).await;
        answer.into_json()
    }
}

/// The [`Plan`] of edge `e`'s selection `ctx.item`, when it is plain: of
/// `cursor`, `node` (itself planned) and `__typename` only in a list
/// (`listed`, as [`row_plan`]), anything else resolved by the derived edge
/// object for a single edge.
fn edge_plan<E: Edge>(e: &E, ctx: &ContextSelectionSet<'_>, listed: bool) -> Option<Plan> {
    plain(&ctx.item.node.items)?;
    let steps = fields(ctx.item)
        .map(|f| {
            let what = match f.node.name.node.as_str() {
                "__typename" => What::Typename,
                "cursor" => What::Cursor,
                "node" => {
                    let ctx_node = ctx.with_field(f).with_selection_set(&f.node.selection_set);
                    match row_plan(e.node(), &ctx_node, listed) {
                        Some(plan) => What::Node(Some(plan)),
                        None if listed => return None,
                        None => What::Node(None),
                    }
                }
                _ if listed => return None,
                _ => What::Resolve,
            };
            Some(Step::of(f, what))
        })
        .collect::<Option<_>>()?;
    Some(Plan { steps })
}

/// [`Item::plan`] for an edge.
pub fn edge_list_plan<E: Edge>(e: &E, ctx: &ContextSelectionSet<'_>) -> Option<Plan> {
    edge_plan(e, ctx, true)
}

/// [`Item::write`] for an edge.
pub async fn write_edge<E: Edge>(
    e: &E,
    ctx: &ContextSelectionSet<'_>,
    cache: &RowCache,
    plan: &Plan,
    out: Vec<u8>,
) -> Vec<u8> {
    let mut answer = Answer::within(out);
    fill_edge(e, ctx, Some(cache), plan, &mut answer).await;
    answer.into_json()
}

impl<T: OutputType> OutputType for Rows<T>
where
    T: Item,
{
    fn type_name() -> std::borrow::Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let items = &self.0;
        let cache = ctx.data_opt::<RowCache>();
        let (Some(cache), Some(first)) = (cache, items.first()) else {
            return async_graphql::resolver_utils::resolve_list(
                ctx,
                field,
                items,
                Some(items.len()),
            )
            .await;
        };
        let Some(plan) = first.plan(&ctx.with_index(0)) else {
            return async_graphql::resolver_utils::resolve_list(
                ctx,
                field,
                items,
                Some(items.len()),
            )
            .await;
        };
        let mut out = Vec::new();
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let ctx_item = ctx.with_index(i);
            let at = out.len();
            out = item.write(&ctx_item, cache, &plan, out).await;
            if i == 0 {
                // the others are about as long as the first
                out.reserve((out.len() - at + 1) * (items.len() - 1) + 1);
            }
        }
        out.push(b']');
        Ok(Value::Binary(out.into()))
    }
}

/// Whether the rows of `doc` may answer as JSON ([`RowCache`]): no
/// selection set of it gives a response key twice, counting the fields its
/// fragments bring (whatever their type conditions). async-graphql merges
/// the values of such a key as objects, which a row's JSON is not. Walks
/// at most 10,000 selections 64 deep (a document's fragments can multiply
/// and cycle before validation refuses them), else says no; each key is
/// looked up in a set, so a selection of thousands of fields costs a walk
/// over them, not their square.
pub fn json_safe(doc: &ExecutableDocument) -> bool {
    fn once<'a>(
        set: &'a SelectionSet,
        doc: &'a ExecutableDocument,
        seen: &mut std::collections::HashSet<&'a str>,
        budget: &mut usize,
        depth: usize,
    ) -> bool {
        if depth > 64 {
            return false;
        }
        for item in &set.items {
            *budget = match budget.checked_sub(1) {
                Some(left) => left,
                None => return false,
            };
            let ok = match &item.node {
                Selection::Field(f) => {
                    let key = f.node.response_key().node.as_str();
                    seen.insert(key)
                        && once(
                            &f.node.selection_set.node,
                            doc,
                            &mut Default::default(),
                            budget,
                            depth + 1,
                        )
                }
                Selection::InlineFragment(i) => {
                    once(&i.node.selection_set.node, doc, seen, budget, depth + 1)
                }
                Selection::FragmentSpread(s) => doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .is_some_and(|f| {
                        once(&f.node.selection_set.node, doc, seen, budget, depth + 1)
                    }),
            };
            if !ok {
                return false;
            }
        }
        true
    }
    let mut budget = 10_000;
    doc.operations.iter().all(|(_, op)| {
        once(
            &op.node.selection_set.node,
            doc,
            &mut Default::default(),
            &mut budget,
            0,
        )
    })
}

/// What one HTTP request's rows share (request data), and the sign that
/// they answer as JSON: a request that carries it is written by
/// [`super::json::response`], which copies each row's JSON into place.
///
/// Kept: which selections are plain fields (checked once, not per row),
/// how long a row of each was (its next row's buffer), and the JSON of
/// [`Row::shared`] fields. A selection is recognised by its address in the
/// document and checked by its response keys' own allocations, which the
/// kept copy holds alive (no other selection can have them), so nothing
/// kept is ever used for another document's selection. Bounded: at most
/// [`KEPT`] selections and shared values.
#[derive(Default)]
pub struct RowCache(std::sync::Mutex<Kept>);

const KEPT: usize = 64;

#[derive(Default)]
struct Kept {
    /// (selection set's address, its response keys in order, a row's length)
    plain: Vec<(usize, Vec<Name>, usize)>,
    /// (field's address, its response key, the row's key, the value's JSON)
    shared: Vec<(usize, Name, String, bytes::Bytes)>,
}

impl RowCache {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The length of a row of `set` when it was found plain before.
    fn plain(&self, set: &Positioned<SelectionSet>) -> Option<usize> {
        let at = set as *const _ as usize;
        let items = &set.node.items;
        let kept = self.kept();
        let (_, keys, len) = kept.plain.iter().find(|(a, ..)| *a == at)?;
        let same = keys.len() == items.len()
            && items.iter().zip(keys).all(|(item, key)| {
                matches!(&item.node, Selection::Field(f)
                    if std::ptr::eq(f.node.response_key().node.as_str(), key.as_str()))
            });
        same.then_some(*len)
    }

    fn keep_plain(&self, set: &Positioned<SelectionSet>, len: usize) {
        let at = set as *const _ as usize;
        let mut kept = self.kept();
        // (rows resolve concurrently: another may have kept it meanwhile)
        if kept.plain.len() < KEPT && !kept.plain.iter().any(|(a, ..)| *a == at) {
            let keys = fields(set)
                .map(|f| f.node.response_key().node.clone())
                .collect();
            kept.plain.push((at, keys, len));
        }
    }

    fn shared(&self, f: &Positioned<Field>, key: &str) -> Option<bytes::Bytes> {
        let at = f as *const _ as usize;
        let name = f.node.response_key().node.as_str();
        self.kept()
            .shared
            .iter()
            .find(|(a, n, k, _)| *a == at && std::ptr::eq(n.as_str(), name) && k == key)
            .map(|(.., v)| v.clone())
    }

    /// `value` as JSON, kept for the other rows of `key`.
    fn keep_shared(&self, f: &Positioned<Field>, key: &str, value: &Value) -> bytes::Bytes {
        let mut raw = Vec::new();
        json(&mut raw, value);
        let raw = bytes::Bytes::from(raw);
        let at = f as *const _ as usize;
        let mut kept = self.kept();
        if kept.shared.len() < KEPT && !kept.shared.iter().any(|(a, _, k, _)| *a == at && k == key)
        {
            let name = f.node.response_key().node.clone();
            kept.shared.push((at, name, key.to_owned(), raw.clone()));
        }
        raw
    }
}

/// Appends `v` as JSON. Writing into a `Vec` cannot fail, and a response
/// value is always valid JSON (its numbers are finite: async-graphql
/// refuses the others before they become values).
fn json(out: &mut Vec<u8>, v: &Value) {
    let _ = super::json::value(out, v);
}

/// One response object answered in one pass over a plain selection: as
/// JSON text when the request is written by [`super::json`] (it carries a
/// [`RowCache`]), else as an object of values.
enum Answer {
    Json {
        out: Vec<u8>,
        /// where the object's `{` is in `out`
        start: usize,
        /// members written so far
        members: usize,
        /// the selection's row length was known (kept in the [`RowCache`])
        known: bool,
    },
    Object(IndexMap<Name, Value>),
}

/// Whether `key` is a GraphQL name: what the parser allows as a field's
/// name or alias.
fn is_name(key: &[u8]) -> bool {
    key.first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

impl Answer {
    /// The answer to fill for the `fields` of the plain selection `set`.
    fn start(cache: Option<&RowCache>, set: &Positioned<SelectionSet>, fields: usize) -> Self {
        let Some(cache) = cache else {
            return Answer::Object(IndexMap::with_capacity(fields));
        };
        let (len, known) = match cache.plain(set) {
            Some(len) => (len, true),
            None => (64, false),
        };
        let mut out = Vec::with_capacity(len);
        out.push(b'{');
        Answer::Json {
            out,
            start: 0,
            members: 0,
            known,
        }
    }

    /// A JSON answer written at the end of `out` (a list's or an object's
    /// buffer), given back by [`Answer::into_json`].
    fn within(mut out: Vec<u8>) -> Self {
        let start = out.len();
        out.push(b'{');
        Answer::Json {
            out,
            start,
            members: 0,
            known: true,
        }
    }

    /// The buffer of a [`Answer::within`] answer, its object closed (or
    /// `null` when no field was written: every one failed, as
    /// [`Answer::finish`] gives).
    fn into_json(self) -> Vec<u8> {
        match self {
            Answer::Json {
                mut out,
                start,
                members,
                ..
            } => {
                if members == 0 {
                    out.truncate(start);
                    out.extend_from_slice(b"null");
                } else {
                    out.push(b'}');
                }
                out
            }
            Answer::Object(_) => Vec::new(),
        }
    }

    /// For a JSON answer: field `f`'s key (`"key":`, its [`Step`]'s)
    /// written and the buffer lent to answer its object in place, to be
    /// given back by [`Answer::close_nested`].
    fn nested(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        match self {
            Answer::Json { out, members, .. } => {
                Self::member(out, members, key);
                Some(std::mem::take(out))
            }
            Answer::Object(_) => None,
        }
    }

    fn close_nested(&mut self, inner: Vec<u8>) {
        if let Answer::Json { out, .. } = self {
            *out = inner;
        }
    }

    /// The value of field `f`, whose key as JSON is `key`.
    fn put(&mut self, f: &Positioned<Field>, key: &[u8], cell: Cell<'_>) {
        match self {
            Answer::Json { out, members, .. } => {
                Self::member(out, members, key);
                cell.write(out);
            }
            Answer::Object(out) => {
                out.insert(f.node.response_key().node.clone(), cell.into_value());
            }
        }
    }

    /// The value of a field as JSON (only ever given to a JSON answer).
    fn put_raw(&mut self, key: &[u8], raw: &[u8]) {
        if let Answer::Json { out, members, .. } = self {
            Self::member(out, members, key);
            out.extend_from_slice(raw);
        }
    }

    /// Appends a member's key, `"key":` as its [`Step`] spells it (after a
    /// comma past the first member).
    fn member(out: &mut Vec<u8>, members: &mut usize, key: &[u8]) {
        out.reserve(key.len() + 1);
        if *members > 0 {
            out.push(b',');
        }
        *members += 1;
        out.extend_from_slice(key);
    }

    /// A field's outcome: a failed field is reported and left out (as
    /// async-graphql's container does).
    fn set(
        &mut self,
        ctx: &ContextSelectionSet<'_>,
        f: &Positioned<Field>,
        key: &[u8],
        value: ServerResult<Option<Value>>,
    ) {
        match value {
            Ok(v) => self.put(f, key, Cell::Value(v.unwrap_or_default())),
            Err(e) => ctx.add_error(e),
        }
    }

    fn finish(self, cache: Option<&RowCache>, set: &Positioned<SelectionSet>) -> Value {
        if self.is_empty() {
            return Value::Null;
        }
        match self {
            Answer::Json { mut out, known, .. } => {
                out.push(b'}');
                if let (Some(cache), false) = (cache, known) {
                    cache.keep_plain(set, out.len());
                }
                Value::Binary(out.into())
            }
            Answer::Object(out) => Value::Object(out),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Answer::Json { members, .. } => *members == 0,
            Answer::Object(out) => out.is_empty(),
        }
    }
}
/// How many fields the selection has when it is only fields, without
/// directives, each response key once; `None` sends the selection to the
/// derived resolver.
fn plain(items: &[Positioned<Selection>]) -> Option<usize> {
    for (i, item) in items.iter().enumerate() {
        let Selection::Field(f) = &item.node else {
            return None;
        };
        let key = &f.node.response_key().node;
        if !f.node.directives.is_empty()
            || fields_of(&items[..i]).any(|g| &g.node.response_key().node == key)
        {
            return None;
        }
    }
    Some(items.len())
}

/// The fields of a plain selection ([`plain`]).
fn fields(set: &Positioned<SelectionSet>) -> impl Iterator<Item = &Positioned<Field>> {
    fields_of(&set.node.items)
}

fn fields_of(items: &[Positioned<Selection>]) -> impl Iterator<Item = &Positioned<Field>> {
    items.iter().filter_map(|item| match &item.node {
        Selection::Field(f) => Some(f),
        _ => None,
    })
}

/// `OutputType::resolve` for a connection's edge whose node is a [`Row`]:
/// `cursor` and `node` answered in one pass, as [`resolve`] answers a
/// row's columns, instead of one boxed future per field per edge (as JSON,
/// the node's object written in place). Any selection this path does not
/// take goes to the derived edge object ([`Edge::object`], the type's
/// single definition, as for [`Row::Object`]).
pub async fn edge<E: Edge>(
    e: &E,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    let cache = ctx.data_opt::<RowCache>();
    let Some(plan) = edge_plan(e, ctx, false) else {
        return Box::pin(e.object().resolve(ctx, field)).await;
    };
    let mut out = Answer::start(cache, ctx.item, plan.steps.len());
    fill_edge(e, ctx, cache, &plan, &mut out).await;
    Ok(out.finish(cache, ctx.item))
}

/// Answers the plain selection `ctx.item` of edge `e` into `out` by its `plan`.
async fn fill_edge<E: Edge>(
    e: &E,
    ctx: &ContextSelectionSet<'_>,
    cache: Option<&RowCache>,
    plan: &Plan,
    out: &mut Answer,
) {
    for (f, step) in fields(ctx.item).zip(&plan.steps) {
        let key = &step.key;
        match &step.what {
            What::Typename => out.put(f, key, Cell::Text(&E::type_name())),
            What::Cursor => match out {
                Answer::Json { out, members, .. } => {
                    Answer::member(out, members, key);
                    e.write_cursor(out);
                }
                Answer::Object(_) => out.put(f, key, Cell::Text(&e.cursor())),
            },
            // as the derived object resolves an object-typed field
            What::Node(node_plan) => {
                let ctx_node = ctx.with_field(f).with_selection_set(&f.node.selection_set);
                match node_plan.as_ref().map(|p| (p, out.nested(key))) {
                    Some((node_plan, Some(inner))) => {
                        let mut node = Answer::within(inner);
                        fill(e.node(), &ctx_node, cache, node_plan, &mut node).await;
                        out.close_nested(node.into_json());
                    }
                    _ => {
                        let value = e.node().resolve(&ctx_node, f).await.map(Some);
                        out.set(ctx, f, key, value)
                    }
                }
            }
            What::Column(_) | What::Shared | What::Resolve => {
                let value = Box::pin(e.object().resolve_field(&ctx.with_field(f))).await;
                out.set(ctx, f, key, value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};

    /// A row: `n` is a column, `half` fails on odd rows, `group` is shared
    /// by parity.
    struct Probe(i32);
    struct ProbeObject(i32);

    #[derive(SimpleObject)]
    struct Group {
        parity: i32,
        n: i32,
    }

    #[Object(name = "Probe")]
    impl ProbeObject {
        async fn n(&self) -> i32 {
            self.0
        }
        async fn half(&self) -> async_graphql::Result<i32> {
            if self.0 % 2 == 1 {
                Err("odd".into())
            } else {
                Ok(self.0 / 2)
            }
        }
        /// shared by parity: fails for the odd rows
        async fn oops(&self) -> async_graphql::Result<i32> {
            if self.0 % 2 == 1 {
                Err("odd oops".into())
            } else {
                Ok(0)
            }
        }
        /// (`n` is the first row's of the parity: shared by key, as declared)
        async fn group(&self) -> Group {
            Group {
                parity: self.0 % 2,
                n: self.0 % 2,
            }
        }
    }

    impl OutputType for Probe {
        fn type_name() -> std::borrow::Cow<'static, str> {
            ProbeObject::type_name()
        }
        fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
            ProbeObject::create_type_info(registry)
        }
        async fn resolve(
            &self,
            ctx: &ContextSelectionSet<'_>,
            field: &Positioned<Field>,
        ) -> ServerResult<Value> {
            resolve(self, ctx, field).await
        }
    }

    impl Row for Probe {
        type Object = ProbeObject;
        fn object(&self) -> ProbeObject {
            ProbeObject(self.0)
        }
        fn column_of(name: &str) -> Option<u8> {
            (name == "n").then_some(0)
        }
        fn cell(&self, c: u8, _: &ContextSelectionSet<'_>) -> Option<Cell<'_>> {
            (c == 0).then(|| Cell::Value(Value::from(self.0)))
        }
        fn shared(&self, name: &str) -> Option<&str> {
            matches!(name, "group" | "oops").then_some(if self.0 % 2 == 0 { "even" } else { "odd" })
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn probes(&self) -> Vec<Probe> {
            (0..6).map(Probe).collect()
        }
        async fn rows(&self) -> Rows<Probe> {
            Rows((0..6).map(Probe).collect())
        }
        /// (the same as `probes`, four letters as `rows`: errors at the same columns)
        async fn list(&self) -> Vec<Probe> {
            (0..6).map(Probe).collect()
        }
        async fn none(&self) -> Rows<Probe> {
            Rows(Vec::new())
        }
    }

    async fn run(query: &str, cached: bool) -> async_graphql::Response {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let mut request = async_graphql::Request::new(query);
        if cached {
            request = request.data(RowCache::default());
        }
        schema.execute(request).await
    }

    /// Over HTTP (a [`RowCache`]) rows are written as JSON, plain
    /// selections are checked once and shared fields resolved once per
    /// key: the response's text, failed fields (left out, each reported)
    /// and aliases included, is the derived object's, and the value path's
    /// without the cache, serialized by serde_json.
    #[tokio::test]
    async fn rows_answer_the_same_as_json_and_as_values() {
        let selection = "n half a: n group { parity } g: group { n __typename } __typename";
        let direct = run(&format!("{{ probes {{ {selection} }} }}"), true).await;
        let derived = run(
            &format!("{{ probes {{ ... on Probe {{ {selection} }} }} }}"),
            true,
        )
        .await;
        let uncached = run(&format!("{{ probes {{ {selection} }} }}"), false).await;
        let text = String::from_utf8(super::super::json::response(&direct).unwrap()).unwrap();
        assert_eq!(text, serde_json::to_string(&uncached).unwrap());
        // (the derived query's fields sit elsewhere in its document)
        let mut data = Vec::new();
        super::super::json::value(&mut data, &direct.data).unwrap();
        assert_eq!(data, serde_json::to_vec(&derived.data).unwrap());
        let paths = |r: &async_graphql::Response| {
            r.errors
                .iter()
                .map(|e| format!("{:?} {}", e.path, e.message))
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(&direct), paths(&derived));
        assert!(matches!(&direct.data, Value::Object(o)
            if matches!(&o["probes"], Value::List(rows) if matches!(rows[0], Value::Binary(_)))));
        assert!(!text.contains("Binary"));
        assert_eq!(direct.errors.len(), 3, "{:?}", direct.errors);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let probes = json["data"]["probes"].as_array().unwrap();
        assert_eq!(probes.len(), 6);
        assert_eq!(probes[4]["half"], 2);
        assert_eq!(probes[4]["a"], 4);
        assert!(probes[5].get("half").is_none(), "{}", probes[5]);
        assert_eq!(probes[5]["n"], 5);
        assert_eq!(probes[5]["group"]["parity"], 1);
        assert_eq!(probes[5]["g"]["__typename"], "Group");
        assert_eq!(probes[3]["g"]["n"], 1);
    }

    /// A list of rows answers what a list of the same rows answers one
    /// by one: as one JSON text when every field is a column or shared
    /// (failed shared fields reported at each row's path and left out),
    /// row by row otherwise, and as values without the cache.
    #[tokio::test]
    async fn a_list_of_rows_answers_as_its_rows_one_by_one() {
        let text = |r: &async_graphql::Response| {
            String::from_utf8(super::super::json::response(r).unwrap()).unwrap()
        };
        for (selection, in_one) in [
            (
                "n a: n group { parity } g: group { n __typename } oops __typename",
                true,
            ),
            ("n oops half", false),
        ] {
            let list = run(&format!("{{ probes: rows {{ {selection} }} }}"), true).await;
            let one_by_one = run(&format!("{{ probes: list {{ {selection} }} }}"), true).await;
            let uncached = run(&format!("{{ probes: rows {{ {selection} }} }}"), false).await;
            assert_eq!(text(&list), text(&one_by_one), "{selection}");
            assert_eq!(text(&list), serde_json::to_string(&uncached).unwrap());
            assert!(!list.errors.is_empty());
            let Value::Object(data) = &list.data else {
                panic!("{:?}", list.data)
            };
            assert_eq!(
                matches!(data["probes"], Value::Binary(_)),
                in_one,
                "{selection}"
            );
        }
        let list = run("{ probes: rows { oops } }", true).await;
        let paths: Vec<_> = list
            .errors
            .iter()
            .map(|e| format!("{:?}", e.path))
            .collect();
        assert_eq!(paths.len(), 3, "{paths:?}");
        assert!(
            paths[0].contains("Index(1)") && paths[2].contains("Index(5)"),
            "{paths:?}"
        );
        // no rows: an empty list
        assert_eq!(
            text(&run("{ none { n } }", true).await),
            r#"{"data":{"none":[]}}"#
        );
    }

    /// Keys are written unescaped ([`Answer::member`]): the parser takes
    /// nothing but names as fields and aliases.
    #[test]
    fn response_keys_are_names() {
        for bad in [
            r#"{ "a\"b": n }"#,
            "{ é: n }",
            "{ a-b: n }",
            "{ 1a: n }",
            "{ a\\u0022: n }",
        ] {
            assert!(async_graphql::parser::parse_query(bad).is_err(), "{bad}");
        }
        let doc = async_graphql::parser::parse_query("{ _a1: n B_: m }").unwrap();
        let async_graphql::parser::types::DocumentOperations::Single(op) = &doc.operations else {
            panic!("one operation")
        };
        for item in &op.node.selection_set.node.items {
            let Selection::Field(f) = &item.node else {
                panic!("fields only")
            };
            assert!(is_name(f.node.response_key().node.as_bytes()));
        }
        assert!(!is_name(b"") && !is_name(b"1a") && !is_name(b"a\"") && is_name(b"_"));
    }

    /// A document whose selections repeat a response key, directly or
    /// through fragments, answers its rows as values (async-graphql merges
    /// them as objects); a cycle or a missing fragment says no too.
    #[test]
    fn only_documents_that_repeat_no_key_answer_rows_as_json() {
        let safe = |q: &str| json_safe(&async_graphql::parser::parse_query(q).unwrap());
        assert!(safe("{ a { b c } b: a { b } }"));
        assert!(safe("{ a { ...F } } fragment F on T { b c { d } }"));
        assert!(safe(
            "query Q { a { ... on T { b } c } } query R { a { b } }"
        ));
        assert!(!safe("{ a { b b } }"));
        assert!(!safe("{ a a }"));
        assert!(!safe("{ a { b c { d x: d d } } }"));
        assert!(!safe("{ a { b ...F } } fragment F on T { b }"));
        assert!(!safe("{ a { ... on T { b } ... on U { b } } }"));
        assert!(!safe("{ a { ...F } } fragment F on T { a { ...F } }"));
        assert!(!safe("{ a { ...Missing } }"));
    }

    /// Each kind of cell writes the JSON of the value it stands for
    /// (instants over the years, every fraction width, leap seconds and
    /// years past 9999 included).
    #[test]
    fn a_cell_writes_what_its_value_serializes_to() {
        use chrono::{TimeZone, Utc};
        let mut cells = vec![
            Cell::Null,
            Cell::Text("plain"),
            Cell::Text("quote \" backslash \\ newline \n é"),
            Cell::Id(0),
            Cell::Id(i64::MAX),
            Cell::Id(-7),
            Cell::Decimal("1500.00".parse().unwrap()),
            Cell::Decimal("-0.001".parse().unwrap()),
            Cell::Decimal("0.00".parse().unwrap()),
            Cell::Decimal(-rust_decimal::Decimal::new(0, 2)),
            Cell::Decimal(rust_decimal::Decimal::MAX),
            Cell::Decimal(rust_decimal::Decimal::MIN),
            Cell::Decimal(rust_decimal::Decimal::new(12345, 28)),
            Cell::Decimal(rust_decimal::Decimal::new(-7, 0)),
            Cell::Enum("SOME_VALUE"),
            Cell::Value(Value::from(3)),
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let secs = (seed % 400_000_000_000) as i64 - 62_000_000_000;
            let nanos = match seed % 4 {
                0 => 0,
                1 => (seed >> 20) as u32 % 1000 * 1_000_000,
                2 => (seed >> 20) as u32 % 1_000_000 * 1000,
                _ => (seed >> 20) as u32 % 1_000_000_000,
            };
            cells.push(Cell::Instant(Utc.timestamp_opt(secs, nanos).unwrap()));
        }
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        cells.push(Cell::Instant(leap));
        cells.push(Cell::Instant(
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
        ));
        cells.push(Cell::Instant(
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
        ));
        for cell in cells {
            let mut written = Vec::new();
            cell.write(&mut written);
            let value = cell.into_value();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
        }
    }
}
