//! Schema assembly: the merged roots, the schema's limits, the SDL. What a
//! resolver reads from its request is in [`context`]; shared GraphQL types in
//! [`common`].

pub mod common;
pub mod context;
pub mod json;
pub mod limits;
pub mod observe;
pub mod rows;
pub mod scalars;
pub use observe::Api;

use crate::accounts::graphql::{AccountsMutation, AccountsQuery};
use crate::activation::graphql::{ActivationMutation, ActivationQuery};
use crate::auth::graphql::{ApiKeysMutation, ApiKeysQuery, AuthMutation, TotpMutation};
use crate::catalog::graphql::CatalogQuery;
use crate::deps::Deps;
use crate::events::graphql::EventsSubscription;
use crate::exports::graphql::ExportsMutation;
use crate::plugin::graphql::{PluginMutation, PluginQuery};
use crate::postbacks::graphql::{PostbacksMutation, PostbacksQuery};
use crate::rates::graphql::{RatesMutation, RatesQuery};
use crate::settings::graphql::{SettingsMutation, SettingsQuery};
use crate::stats::graphql::StatsQuery;
use crate::transactions::graphql::{TransactionsMutation, TransactionsQuery};
use crate::withdrawals::graphql::{WithdrawalsMutation, WithdrawalsQuery};
use async_graphql::{MergedObject, Schema, SchemaBuilder};

/// Reads. Merchant data needs a session (any role) or a MERCHANT API key unless a field says Public; every read is scoped to the caller's merchant.
#[derive(MergedObject, Default)]
pub struct Query(
    AccountsQuery,
    CatalogQuery,
    TransactionsQuery,
    ActivationQuery,
    PostbacksQuery,
    RatesQuery,
    SettingsQuery,
    WithdrawalsQuery,
    StatsQuery,
    PluginQuery,
    ApiKeysQuery,
);

/// Changes. Each answers a payload whose errors list says what was wrong with the input (UserError); missing rights are GraphQL errors (UNAUTHENTICATED, FORBIDDEN). Every change is audited.
#[derive(MergedObject, Default)]
pub struct Mutation(
    AuthMutation,
    ApiKeysMutation,
    TotpMutation,
    ExportsMutation,
    AccountsMutation,
    SettingsMutation,
    PostbacksMutation,
    RatesMutation,
    ActivationMutation,
    TransactionsMutation,
    WithdrawalsMutation,
    PluginMutation,
);

pub type KassaSchema = Schema<Query, Mutation, EventsSubscription>;

/// Deepest query accepted (the contract's deepest useful query is about 8).
pub const MAX_DEPTH: usize = 12;
/// Most a query may cost: every field counts 1, and a list field counts its
/// page size (`first`/`last`, default 50) times what each item selects, at
/// every level. A full 500-row Transactions page with every column is about
/// 17,000; thirty of them, or one with every nested list, are refused before
/// anything runs.
pub const MAX_COMPLEXITY: usize = 25_000;
/// Deepest schema-only (introspection) document: graphql-js's standard
/// query reaches about 14 (`__schema → types → fields → type` and nine
/// `ofType`s).
pub const MAX_INTROSPECTION_DEPTH: usize = 24;
/// Most aliases a query may carry, so one request cannot fan out into hundreds of calls.
pub const MAX_ALIASES: usize = 30;

fn builder() -> SchemaBuilder<Query, Mutation, EventsSubscription> {
    // No extensions: the limits, error codes and metrics are `observe::Api`'s,
    // around the schema (an extension would wrap every field's resolution).
    Schema::build(Query::default(), Mutation::default(), EventsSubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(10)
}

/// The schema the server runs, with its shared dependencies.
pub fn build_schema(deps: Deps, metrics: std::sync::Arc<crate::telemetry::Metrics>) -> Api {
    let introspection = deps.config.introspection;
    let mut b = builder().data(deps.clone());
    if !introspection {
        b = b.disable_introspection();
    }
    // Documents that only read the schema get the depth graphql-js's
    // standard introspection query needs; everything else keeps MAX_DEPTH.
    let relaxed = introspection.then(|| {
        builder()
            .data(deps.clone())
            .limit_depth(MAX_INTROSPECTION_DEPTH)
            .finish()
    });
    let mut fast = builder()
        .data(deps.clone())
        .validation_mode(async_graphql::ValidationMode::Fast);
    if !introspection {
        fast = fast.disable_introspection();
    }
    Api::new(b.finish(), relaxed, Some(metrics)).with_validated(fast.finish())
}

/// The SDL of the schema, as `kassa export-schema` prints it.
pub fn sdl() -> String {
    // (with @specifiedBy, as introspection reports it)
    builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
