//! Schema assembly: the merged roots, request context helpers and limits.

pub mod limits;
pub mod observe;
pub mod scalars;
pub use observe::Api;

use crate::accounts::graphql::{AccountsMutation, AccountsQuery};
use crate::activation::graphql::{ActivationMutation, ActivationQuery};
use crate::app::Deps;
use crate::auth::graphql::{ApiKeysMutation, ApiKeysQuery, AuthMutation, TotpMutation};
use crate::auth::model::Actor;
use crate::catalog::graphql::CatalogQuery;
use crate::error::AppError;
use crate::events::graphql::EventsSubscription;
use crate::exports::graphql::ExportsMutation;
use crate::plugin::graphql::{PluginMutation, PluginQuery};
use crate::postbacks::graphql::{PostbacksMutation, PostbacksQuery};
use crate::rates::graphql::{RatesMutation, RatesQuery};
use crate::settings::graphql::{SettingsMutation, SettingsQuery};
use crate::stats::graphql::StatsQuery;
use crate::transactions::graphql::{TransactionsMutation, TransactionsQuery};
use crate::withdrawals::graphql::{WithdrawalsMutation, WithdrawalsQuery};
use async_graphql::{
    Context, ErrorExtensions, MergedObject, Result, Schema, SchemaBuilder, SimpleObject,
};
use std::net::IpAddr;

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
            .data(deps)
            .limit_depth(MAX_INTROSPECTION_DEPTH)
            .finish()
    });
    Api::new(b.finish(), relaxed, Some(metrics))
}

/// The SDL of the schema, as `kassa export-schema` prints it.
pub fn sdl() -> String {
    // (with @specifiedBy, as introspection reports it)
    builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// What every operation runs with, whichever transport carries it (a
/// request over HTTP, a WebSocket's `connection_init`, a shared
/// subscription): the caller, the client's address and the DataLoaders.
/// The loaders keep no cache (`DataLoader::new`), so one socket's loaders
/// batch each event's lookups and never answer from an earlier event.
pub fn request_context(
    data: &mut async_graphql::Data,
    db: &sea_orm::DatabaseConnection,
    actor: Actor,
    client: IpAddr,
) {
    use crate::accounts::loader::UserLoader;
    use crate::postbacks::loader::{AttemptsLoader, StockpilingPostbacksLoader};
    use crate::transactions::loader::{StockpilingLoader, StockpilingTransactionsLoader};
    use async_graphql::dataloader::DataLoader;
    // A few milliseconds gather a whole page's keys into one batch.
    let window = std::time::Duration::from_millis(2);
    data.insert(actor);
    data.insert(ClientIp(client));
    data.insert(DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn).delay(window));
    data.insert(DataLoader::new(StockpilingLoader { db: db.clone() }, tokio::spawn).delay(window));
    data.insert(
        DataLoader::new(
            StockpilingTransactionsLoader { db: db.clone() },
            tokio::spawn,
        )
        .delay(window),
    );
    data.insert(
        DataLoader::new(StockpilingPostbacksLoader { db: db.clone() }, tokio::spawn).delay(window),
    );
    data.insert(DataLoader::new(AttemptsLoader { db: db.clone() }, tokio::spawn).delay(window));
}

/// The server's shared dependencies.
pub fn deps<'a>(ctx: &Context<'a>) -> Result<&'a Deps> {
    ctx.data::<Deps>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("schema built without Deps")).extend())
}

/// The caller of this request (set by the HTTP or WebSocket layer).
pub fn actor<'a>(ctx: &Context<'a>) -> Result<&'a Actor> {
    Ok(ctx.data_opt::<Actor>().unwrap_or(&Actor::Anonymous))
}

/// The client's address, for per-client rate limits.
#[derive(Copy, Clone, Debug)]
pub struct ClientIp(pub IpAddr);

pub fn client_ip(ctx: &Context<'_>) -> IpAddr {
    ctx.data_opt::<ClientIp>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// Relay-style page information.
#[derive(SimpleObject, Clone, Default)]
pub struct PageInfo {
    /// More rows after this page.
    pub has_next_page: bool,
    /// More rows before this page.
    pub has_previous_page: bool,
    /// The first row's cursor; null on an empty page.
    pub start_cursor: Option<String>,
    /// The last row's cursor (pass it as after); null on an empty page.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// The page info of a page whose edges carry `cursors`, in list order.
    pub fn of<'a>(
        cursors: impl IntoIterator<Item = &'a String>,
        has_next_page: bool,
        has_previous_page: bool,
    ) -> Self {
        let mut cursors = cursors.into_iter();
        let start_cursor = cursors.next().cloned();
        let end_cursor = cursors.last().cloned().or_else(|| start_cursor.clone());
        PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor,
            end_cursor,
        }
    }
}
