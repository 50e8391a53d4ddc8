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
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
};

/// A row-backed GraphQL object.
pub trait Row: Send + Sync {
    /// The derived object: the schema's definition of the type, and the
    /// resolver of every field [`Row::column`] does not answer.
    type Object: OutputType + ContainerType;

    /// The derived object over the same row.
    fn object(&self) -> Self::Object;

    /// The value of the plain field `name` (the schema's field name, not
    /// an alias), or `None` to let the derived object resolve it.
    fn column(&self, name: &str, ctx: &Context<'_>) -> Option<Value>;

    /// For a field the derived object resolves whose value, errors
    /// included, follows from its selection and a key of the row alone
    /// (e.g. a catalogue entry by its code): that key. Within one request
    /// such a field is resolved once per key and selection ([`RowCache`]).
    fn shared(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// `OutputType::resolve` for a [`Row`].
pub async fn resolve<R: Row>(
    row: &R,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    let object = row.object();
    let cache = ctx.data_opt::<RowCache>();
    let Some((fields, mut out)) = Answer::start(cache, ctx.item) else {
        return object.resolve(ctx, field).await;
    };
    for (i, f) in fields.into_iter().enumerate() {
        let name = f.node.name.node.as_str();
        let ctx_field = ctx.with_field(f);
        let value = if name == "__typename" {
            Ok(Some(Value::String(
                object.introspection_type_name().into_owned(),
            )))
        } else if let Some(v) = row.column(name, &ctx_field) {
            Ok(Some(v))
        } else if let (Some(cache), Some(key)) = (cache, row.shared(name)) {
            match cache.shared(f, key) {
                Some(v) => Ok(Some(v)),
                None => {
                    let v = object.resolve_field(&ctx_field).await;
                    if let Ok(Some(v)) = &v {
                        cache.keep_shared(f, key, v.clone());
                    }
                    v
                }
            }
        } else {
            object.resolve_field(&ctx_field).await
        };
        out.set(ctx, f, i, value);
    }
    Ok(out.finish(cache, ctx.item))
}

/// What one HTTP request's rows share (request data): the keys of each
/// selection they answer, and the values of [`Row::shared`] fields.
///
/// Inserting a key into a response object hashes it (SipHash, a third of
/// the cost of a row's plain columns on a Transactions page); cloning an
/// object of the same keys does not, so after the first row of a selection
/// the others start from a copy of its keys. A selection is recognised by
/// its address in the document and checked by its response keys' own
/// allocations, which the kept copy holds alive (no other selection can
/// have them), so nothing kept is ever used for another document's
/// selection. Bounded: at most [`KEPT`] selections and shared values.
#[derive(Default)]
pub struct RowCache(std::sync::Mutex<Kept>);

const KEPT: usize = 64;

#[derive(Default)]
struct Kept {
    /// (selection set's address, its keys in order, each with a null)
    templates: Vec<(usize, IndexMap<Name, Value>)>,
    /// (field's address, its response key, the row's key, the value)
    shared: Vec<(usize, Name, String, Value)>,
}

impl RowCache {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the keys of `set` when a row of it was answered before.
    fn template(&self, set: &Positioned<SelectionSet>) -> Option<IndexMap<Name, Value>> {
        let at = set as *const _ as usize;
        let items = &set.node.items;
        let kept = self.kept();
        let (_, keys) = kept.templates.iter().find(|(a, _)| *a == at)?;
        let same = keys.len() == items.len()
            && items.iter().zip(keys.keys()).all(|(item, key)| {
                matches!(&item.node, Selection::Field(f)
                    if std::ptr::eq(f.node.response_key().node.as_str(), key.as_str()))
            });
        same.then(|| keys.clone())
    }

    fn keep_template(&self, set: &Positioned<SelectionSet>, out: &IndexMap<Name, Value>) {
        let at = set as *const _ as usize;
        let mut kept = self.kept();
        // (rows resolve concurrently: another may have kept it meanwhile)
        if kept.templates.len() < KEPT && !kept.templates.iter().any(|(a, _)| *a == at) {
            let keys = out.keys().map(|k| (k.clone(), Value::Null)).collect();
            kept.templates.push((at, keys));
        }
    }

    fn shared(&self, f: &Positioned<Field>, key: &str) -> Option<Value> {
        let at = f as *const _ as usize;
        let name = f.node.response_key().node.as_str();
        self.kept()
            .shared
            .iter()
            .find(|(a, n, k, _)| *a == at && std::ptr::eq(n.as_str(), name) && k == key)
            .map(|(.., v)| v.clone())
    }

    fn keep_shared(&self, f: &Positioned<Field>, key: &str, value: Value) {
        let at = f as *const _ as usize;
        let mut kept = self.kept();
        if kept.shared.len() < KEPT && !kept.shared.iter().any(|(a, _, k, _)| *a == at && k == key)
        {
            let name = f.node.response_key().node.clone();
            kept.shared.push((at, name, key.to_owned(), value));
        }
    }
}

/// One response object answered in one pass over a plain selection.
struct Answer {
    out: IndexMap<Name, Value>,
    /// `out` holds every key already (a copy of the selection's template)
    templated: bool,
    /// fields that failed, left out at the end (as async-graphql's container)
    failed: Vec<usize>,
}

impl Answer {
    /// The selection's fields and their answer to fill; `None` when the
    /// selection is not plain fields (the derived object answers it).
    fn start<'a>(
        cache: Option<&RowCache>,
        set: &'a Positioned<SelectionSet>,
    ) -> Option<(Vec<&'a Positioned<Field>>, Self)> {
        let items = &set.node.items;
        if let Some(out) = cache.and_then(|c| c.template(set)) {
            let fields = items
                .iter()
                .filter_map(|item| match &item.node {
                    Selection::Field(f) => Some(f),
                    _ => None,
                })
                .collect();
            let answer = Answer {
                out,
                templated: true,
                failed: Vec::new(),
            };
            return Some((fields, answer));
        }
        let fields = plain_fields(items)?;
        let answer = Answer {
            out: IndexMap::with_capacity(fields.len()),
            templated: false,
            failed: Vec::new(),
        };
        Some((fields, answer))
    }

    /// The value of field `f`, the `i`th of the selection.
    fn set(
        &mut self,
        ctx: &ContextSelectionSet<'_>,
        f: &Positioned<Field>,
        i: usize,
        value: ServerResult<Option<Value>>,
    ) {
        match value {
            Ok(v) => {
                let v = v.unwrap_or_default();
                if self.templated {
                    if let Some((_, slot)) = self.out.get_index_mut(i) {
                        *slot = v;
                    }
                } else {
                    self.out.insert(f.node.response_key().node.clone(), v);
                }
            }
            Err(e) => {
                ctx.add_error(e);
                self.failed.push(i);
            }
        }
    }

    fn finish(mut self, cache: Option<&RowCache>, set: &Positioned<SelectionSet>) -> Value {
        if self.templated {
            for i in self.failed.iter().rev() {
                self.out.shift_remove_index(*i);
            }
        } else if let (Some(cache), true) = (cache, self.failed.is_empty()) {
            cache.keep_template(set, &self.out);
        }
        if self.out.is_empty() {
            Value::Null
        } else {
            Value::Object(self.out)
        }
    }
}

/// The selection's fields when it is only fields, without directives, each
/// response key once; `None` sends the selection to the derived resolver.
fn plain_fields(items: &[Positioned<Selection>]) -> Option<Vec<&Positioned<Field>>> {
    let mut fields: Vec<&Positioned<Field>> = Vec::with_capacity(items.len());
    for item in items {
        let Selection::Field(f) = &item.node else {
            return None;
        };
        let key = &f.node.response_key().node;
        if !f.node.directives.is_empty()
            || fields.iter().any(|g| &g.node.response_key().node == key)
        {
            return None;
        }
        fields.push(f);
    }
    Some(fields)
}

/// `OutputType::resolve` for a connection's edge whose node is a [`Row`]:
/// `cursor` and `node` answered in one pass, as [`resolve`] answers a
/// row's columns, instead of one boxed future per field per edge. Any
/// selection this path does not take goes to the derived edge object that
/// `object` builds (the type's single definition, as for [`Row::Object`]).
pub async fn edge<N: OutputType, O: OutputType + ContainerType>(
    cursor: &str,
    node: &N,
    object: impl Fn() -> O,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    let cache = ctx.data_opt::<RowCache>();
    let Some((fields, mut out)) = Answer::start(cache, ctx.item) else {
        return object().resolve(ctx, field).await;
    };
    for (i, f) in fields.into_iter().enumerate() {
        let ctx_field = ctx.with_field(f);
        let value = match f.node.name.node.as_str() {
            "__typename" => Ok(Some(Value::String(O::type_name().into_owned()))),
            "cursor" => Ok(Some(Value::String(cursor.to_owned()))),
            // as the derived object resolves an object-typed field
            "node" => {
                let ctx_node = ctx_field.with_selection_set(&f.node.selection_set);
                node.resolve(&ctx_node, f).await.map(Some)
            }
            _ => object().resolve_field(&ctx_field).await,
        };
        out.set(ctx, f, i, value);
    }
    Ok(out.finish(cache, ctx.item))
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
        fn column(&self, name: &str, _: &Context<'_>) -> Option<Value> {
            (name == "n").then(|| Value::from(self.0))
        }
        fn shared(&self, name: &str) -> Option<&str> {
            (name == "group").then_some(if self.0 % 2 == 0 { "even" } else { "odd" })
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn probes(&self) -> Vec<Probe> {
            (0..6).map(Probe).collect()
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

    /// Rows after the first start from a copy of the selection's keys and
    /// take shared fields from the first row of their key: the answer,
    /// failed fields (left out, each reported) and aliases included, is
    /// the derived object's, and the one-pass path's without the cache.
    #[tokio::test]
    async fn rows_answer_the_same_from_kept_keys_and_shared_values() {
        let selection = "n half a: n group { parity } g: group { n __typename } __typename";
        let direct = run(&format!("{{ probes {{ {selection} }} }}"), true).await;
        let derived = run(
            &format!("{{ probes {{ ... on Probe {{ {selection} }} }} }}"),
            true,
        )
        .await;
        let uncached = run(&format!("{{ probes {{ {selection} }} }}"), false).await;
        for other in [&derived, &uncached] {
            assert_eq!(direct.data, other.data);
            let paths = |r: &async_graphql::Response| {
                r.errors
                    .iter()
                    .map(|e| format!("{:?} {}", e.path, e.message))
                    .collect::<Vec<_>>()
            };
            assert_eq!(paths(&direct), paths(other));
        }
        assert_eq!(direct.errors.len(), 3, "{:?}", direct.errors);
        let json = direct.data.into_json().unwrap();
        let probes = json["probes"].as_array().unwrap();
        assert_eq!(probes.len(), 6);
        assert_eq!(probes[4]["half"], 2);
        assert_eq!(probes[4]["a"], 4);
        assert!(probes[5].get("half").is_none(), "{}", probes[5]);
        assert_eq!(probes[5]["n"], 5);
        assert_eq!(probes[5]["group"]["parity"], 1);
        assert_eq!(probes[5]["g"]["__typename"], "Group");
        assert_eq!(probes[3]["g"]["n"], 1);
    }
}
