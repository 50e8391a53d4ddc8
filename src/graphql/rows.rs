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
use async_graphql::parser::types::{Field, Selection};
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, OutputType, Positioned, ServerResult, Value,
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
}

/// `OutputType::resolve` for a [`Row`].
pub async fn resolve<R: Row>(
    row: &R,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    let object = row.object();
    let items = &ctx.item.node.items;
    let Some(fields) = plain_fields(items) else {
        return object.resolve(ctx, field).await;
    };
    let mut out = IndexMap::with_capacity(fields.len());
    for f in fields {
        let name = f.node.name.node.as_str();
        let ctx_field = ctx.with_field(f);
        let value = if name == "__typename" {
            Ok(Some(Value::String(
                object.introspection_type_name().into_owned(),
            )))
        } else if let Some(v) = row.column(name, &ctx_field) {
            Ok(Some(v))
        } else {
            object.resolve_field(&ctx_field).await
        };
        // as async-graphql's container: a failed field is reported and left out
        match value {
            Ok(v) => {
                out.insert(f.node.response_key().node.clone(), v.unwrap_or_default());
            }
            Err(e) => ctx.add_error(e),
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    })
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
    let Some(fields) = plain_fields(&ctx.item.node.items) else {
        return object().resolve(ctx, field).await;
    };
    let mut out = IndexMap::with_capacity(fields.len());
    for f in fields {
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
        match value {
            Ok(v) => {
                out.insert(f.node.response_key().node.clone(), v.unwrap_or_default());
            }
            Err(e) => ctx.add_error(e),
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    })
}
