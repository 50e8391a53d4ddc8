//! Refuses alias floods before anything runs (depth and complexity limits are
//! async-graphql's own).

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{ServerError, ServerResult, Variables};
use std::sync::Arc;

/// At most `.0` aliased fields per document.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

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

#[async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let aliases = aliases_in(&doc);
        if aliases > self.0 {
            let mut err = ServerError::new(
                format!(
                    "the query has {aliases} aliases; at most {} are allowed",
                    self.0
                ),
                None,
            );
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", "TOO_MANY_ALIASES");
            return Err(err);
        }
        Ok(doc)
    }
}
