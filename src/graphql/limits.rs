//! What a query may cost, all judged before anything runs: aliases (here),
//! depth and complexity (async-graphql's own, with list fields costing their
//! page size times what each item selects).

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{ServerError, ServerResult, Variables};

/// At most `.0` aliased fields per document.
fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => count_aliases(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn aliases_in(doc: &ExecutableDocument) -> usize {
    let ops: usize = match &doc.operations {
        DocumentOperations::Single(op) => count_aliases(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => ops
            .values()
            .map(|op| count_aliases(&op.node.selection_set.node))
            .sum(),
    };
    ops + doc
        .fragments
        .values()
        .map(|f| count_aliases(&f.node.selection_set.node))
        .sum::<usize>()
}

/// Refuses a document with more than [`MAX_ALIASES`](super::MAX_ALIASES) aliases.
fn check_aliases(doc: &ExecutableDocument, max: usize) -> ServerResult<()> {
    let aliases = aliases_in(doc);
    if aliases > max {
        let mut err = ServerError::new(
            format!("the query has {aliases} aliases; at most {max} are allowed"),
            None,
        );
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", crate::error::WireCode::TooManyAliases.as_str());
        return Err(err);
    }
    Ok(())
}

/// The page size a connection is charged for: `first` or `last` as asked
/// (default 50, at most 500; a larger one is refused when the field runs).
pub fn page_cost(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let size = first
        .or(last)
        .unwrap_or(crate::pagination::DEFAULT_PAGE as i32)
        .clamp(1, crate::pagination::MAX_PAGE as i32) as usize;
    size.saturating_mul(child).saturating_add(1)
}

/// Default and largest size of a list nested in an object (a stockpiling's
/// deposits, a postback's attempts).
pub const NESTED_DEFAULT: usize = 20;
pub const NESTED_MAX: usize = 100;

/// What a nested list is charged for: its size as asked (default 20).
pub fn nested_cost(first: Option<i32>, child: usize) -> usize {
    let size = first
        .map(|n| n.clamp(1, NESTED_MAX as i32) as usize)
        .unwrap_or(NESTED_DEFAULT);
    size.saturating_mul(child).saturating_add(1)
}

/// How many items of a nested list to return; `INVALID` outside 0..=100.
pub fn nested_take(first: Option<i32>) -> async_graphql::Result<usize> {
    use async_graphql::ErrorExtensions;
    match first {
        None => Ok(NESTED_DEFAULT),
        Some(n) if (0..=NESTED_MAX as i32).contains(&n) => Ok(n as usize),
        Some(_) => Err(crate::error::AppError::InvalidField(
            vec!["first".into()],
            format!("`first` is 0 to {NESTED_MAX}"),
        )
        .extend()),
    }
}

/// Longest string any argument, input field or variable may carry, in
/// characters. Nothing in the API needs more (URLs stop at 2,048, the
/// stylesheet comes as an upload); checked before any resolver or database
/// work, so a 900 KB login or filter is refused for free.
pub const MAX_STRING: usize = 4096;

/// Refuses any string value over `.0` characters (`INVALID`, naming where).
enum Shape<'a, T> {
    Str(&'a str),
    List(&'a [T]),
    Object(&'a async_graphql::indexmap::IndexMap<async_graphql::Name, T>),
    Other,
}

fn const_shape(v: &async_graphql::Value) -> Shape<'_, async_graphql::Value> {
    use async_graphql::Value as V;
    match v {
        V::String(s) => Shape::Str(s),
        V::List(items) => Shape::List(items),
        V::Object(fields) => Shape::Object(fields),
        _ => Shape::Other,
    }
}

fn literal_shape(v: &async_graphql_value::Value) -> Shape<'_, async_graphql_value::Value> {
    use async_graphql_value::Value as V;
    match v {
        V::String(s) => Shape::Str(s),
        V::List(items) => Shape::List(items),
        V::Object(fields) => Shape::Object(fields),
        _ => Shape::Other,
    }
}

/// Whether `value` holds a string over `max` characters; `path` is left
/// pointing at it.
fn has_long<T>(
    value: &T,
    max: usize,
    path: &mut Vec<String>,
    shape: fn(&T) -> Shape<'_, T>,
) -> bool {
    let mut descend = |key: String, v: &T| {
        path.push(key);
        let found = has_long(v, max, path, shape);
        if !found {
            path.pop();
        }
        found
    };
    match shape(value) {
        Shape::Str(s) => s.len() > max && s.chars().count() > max,
        Shape::List(items) => items
            .iter()
            .enumerate()
            .any(|(i, v)| descend(i.to_string(), v)),
        Shape::Object(fields) => fields.iter().any(|(k, v)| descend(k.to_string(), v)),
        Shape::Other => false,
    }
}

fn long_in_set(set: &SelectionSet, max: usize) -> Option<Vec<String>> {
    for item in &set.items {
        let found = match &item.node {
            Selection::Field(f) => {
                let mut hit = None;
                for (name, value) in &f.node.arguments {
                    let mut path = vec![f.node.name.node.to_string(), name.node.to_string()];
                    if has_long(&value.node, max, &mut path, literal_shape) {
                        hit = Some(path);
                        break;
                    }
                }
                hit.or_else(|| long_in_set(&f.node.selection_set.node, max))
            }
            Selection::InlineFragment(i) => long_in_set(&i.node.selection_set.node, max),
            Selection::FragmentSpread(_) => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn too_long(field: Vec<String>, max: usize) -> ServerError {
    let mut err = ServerError::new(
        format!("`{}` is longer than {max} characters", field.join(".")),
        None,
    );
    let ext = err.extensions.get_or_insert_with(Default::default);
    ext.set("code", crate::error::WireCode::Invalid.as_str());
    ext.set("field", field);
    err
}

/// Refuses variables holding a string over [`MAX_STRING`] characters.
pub fn check_variables(variables: &Variables) -> ServerResult<()> {
    for (name, value) in variables.iter() {
        let mut path = vec!["variables".to_string(), name.to_string()];
        if has_long(value, MAX_STRING, &mut path, const_shape) {
            return Err(too_long(path, MAX_STRING));
        }
    }
    Ok(())
}

/// What a parsed document may hold: at most [`MAX_ALIASES`](super::MAX_ALIASES)
/// aliases and no literal string over [`MAX_STRING`] characters. (Depth and
/// complexity are the schema's own checks.)
pub fn check_document(doc: &ExecutableDocument) -> ServerResult<()> {
    check_aliases(doc, super::MAX_ALIASES)?;
    let sets: Vec<&SelectionSet> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set.node],
        DocumentOperations::Multiple(ops) => {
            ops.values().map(|op| &op.node.selection_set.node).collect()
        }
    };
    let fragments = doc.fragments.values().map(|f| &f.node.selection_set.node);
    for set in sets.into_iter().chain(fragments) {
        if let Some(path) = long_in_set(set, MAX_STRING) {
            return Err(too_long(path, MAX_STRING));
        }
    }
    Ok(())
}
