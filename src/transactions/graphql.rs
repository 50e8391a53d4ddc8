//! GraphQL: the Transactions page, ingestion, originality, stockpilings.

use super::loader::StockpilingLoader;
use super::model::{
    Direction, Filter, Order, Originality, PostbackStatus, SortDirection, TransactionOrderField,
    TransactionStatus, TransactionType,
};
use super::service::{self, Columns, IngestItem, IngestOutcome};
use crate::activation::graphql::Stockpiling;
use crate::auth::model::Tenant;
use crate::catalog::model::PaymentSystem;
use crate::error::{AppError, UserError};
use crate::graphql::common::{amount, clamp_count, internal, CurrencyTotal, PageInfo, TimeRange};
use crate::graphql::context::{actor, deps};
use crate::graphql::rows::{self, enum_name, Cell, Row};
use crate::graphql::scalars::{DateTime, Decimal};
use crate::pagination::PageArgs;
use async_graphql::dataloader::DataLoader;
use async_graphql::parser::types::Field;
use async_graphql::{
    ComplexObject, Context, ContextSelectionSet, Enum, ErrorExtensions, InputObject, Object,
    OutputType, Positioned, Result, ResultExt, SelectionField, ServerResult, SimpleObject, Value,
    ID,
};
use entity::transaction;

/// A payment-system transaction as the merchant sees it. Its plain columns
/// are answered by [`Row::cell`] in one pass over the selection; the schema
/// type and every other field are [`TransactionObject`]'s.
#[derive(Clone)]
pub struct Transaction(pub std::sync::Arc<transaction::Model>);

impl From<transaction::Model> for Transaction {
    fn from(t: transaction::Model) -> Self {
        Transaction(t.into())
    }
}

impl OutputType for Transaction {
    fn type_name() -> std::borrow::Cow<'static, str> {
        TransactionObject::type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        TransactionObject::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        rows::resolve(self, ctx, field).await
    }
}

impl Row for Transaction {
    type Object = TransactionObject;

    fn object(&self) -> TransactionObject {
        TransactionObject(self.0.clone())
    }

    fn column_of(name: &str) -> Option<u8> {
        PLAIN.iter().position(|(n, _)| *n == name).map(|c| c as u8)
    }

    // The same values as TransactionObject's fields of the same names (a
    // test compares every field both ways).
    fn cell(&self, c: u8, ctx: &ContextSelectionSet<'_>) -> Option<Cell<'_>> {
        let t = &*self.0;
        fn or_null(v: &Option<String>) -> Cell<'_> {
            v.as_deref().map_or(Cell::Null, Cell::Text)
        }
        let amount = |minor| {
            let units = ctx
                .data_opt::<crate::deps::Deps>()?
                .catalog
                .minor_units(&t.currency);
            Some(Cell::Decimal(rust_decimal::Decimal::new(minor, units)))
        };
        Some(match PLAIN.get(c as usize)?.1 {
            Plain::Id => Cell::Id(t.id),
            Plain::WalletIdentifier => Cell::Text(&t.wallet_identifier),
            Plain::Direction => Cell::Enum(enum_name(t.direction)),
            Plain::Amount => amount(t.amount_minor)?,
            Plain::Currency => Cell::Text(&t.currency),
            Plain::Commission => amount(t.commission_minor)?,
            Plain::TransactionNumber => Cell::Text(&t.transaction_number),
            Plain::Counterparty => or_null(&t.counterparty),
            Plain::CreatedAt => Cell::Instant(t.created_at),
            Plain::Label => or_null(&t.label),
            Plain::OrderId => or_null(&t.order_id),
            Plain::ActivatedAt => t.activated_at.map_or(Cell::Null, Cell::Instant),
            Plain::Status => Cell::Enum(enum_name(t.status())),
            Plain::PostbackStatus => Cell::Enum(enum_name(t.postback_status)),
            Plain::Type => Cell::Enum(enum_name(t.kind)),
            Plain::Originality => Cell::Enum(enum_name(t.originality)),
            Plain::Country => Cell::Text(&t.country),
        })
    }

    // a catalogue entry: the same for every row of its payment system
    fn shared(&self, name: &str) -> Option<&str> {
        (name == "paymentSystem").then_some(self.0.payment_system.as_str())
    }
}

/// The fields a [`Transaction`] answers from its row, by their schema
/// names ([`Row::column_of`] numbers them by their place here).
#[derive(Clone, Copy)]
enum Plain {
    Id,
    WalletIdentifier,
    Direction,
    Amount,
    Currency,
    Commission,
    TransactionNumber,
    Counterparty,
    CreatedAt,
    Label,
    OrderId,
    ActivatedAt,
    Status,
    PostbackStatus,
    Type,
    Originality,
    Country,
}

const PLAIN: [(&str, Plain); 17] = [
    ("id", Plain::Id),
    ("walletIdentifier", Plain::WalletIdentifier),
    ("direction", Plain::Direction),
    ("amount", Plain::Amount),
    ("currency", Plain::Currency),
    ("commission", Plain::Commission),
    ("transactionNumber", Plain::TransactionNumber),
    ("counterparty", Plain::Counterparty),
    ("createdAt", Plain::CreatedAt),
    ("label", Plain::Label),
    ("orderId", Plain::OrderId),
    ("activatedAt", Plain::ActivatedAt),
    ("status", Plain::Status),
    ("postbackStatus", Plain::PostbackStatus),
    ("type", Plain::Type),
    ("originality", Plain::Originality),
    ("country", Plain::Country),
];

/// The columns a field of a [`Transaction`] reads, by its schema name
/// (the id and the sort key every page reads); `None` for a field not
/// listed here, for which a page reads every column. A test answers each
/// field alone and compares it with the field read from every column.
fn columns_of(field: &str) -> Option<Columns> {
    use transaction::Column as C;
    Some(Columns::of(match field {
        "__typename" | "id" => &[],
        "paymentSystem" => &[C::PaymentSystem],
        "walletIdentifier" => &[C::WalletIdentifier],
        "direction" => &[C::Direction],
        "amount" => &[C::AmountMinor, C::Currency],
        "currency" => &[C::Currency],
        "commission" => &[C::CommissionMinor, C::Currency],
        "transactionNumber" => &[C::TransactionNumber],
        "counterparty" => &[C::Counterparty],
        "createdAt" => &[C::CreatedAt],
        "label" => &[C::Label],
        "orderId" => &[C::OrderId],
        "activatedAt" | "status" => &[C::ActivatedAt],
        "postbackStatus" => &[C::PostbackStatus],
        "type" => &[C::Kind],
        "originality" => &[C::Originality],
        "country" => &[C::Country],
        "postbacks" | "stockpiling" => &[C::StockpilingId],
        _ => return None,
    }))
}

/// The columns a page's selection (`transactions { … }`) reads of its
/// rows: the union over every `edges { node }` and `nodes`, through
/// fragments, aliases and directives alike (a field under `@skip` counts:
/// more columns, never fewer); `None` when it reads no row at all (only
/// `totalCount`, `totals`).
fn page_columns(page: SelectionField<'_>) -> Option<Columns> {
    fn node(f: SelectionField<'_>, columns: &mut Columns) {
        for field in f.selection_set() {
            *columns = columns.and(columns_of(field.name()).unwrap_or(Columns::ALL));
        }
    }
    let mut rows = false;
    let mut columns = Columns::NONE;
    for field in page.selection_set() {
        match field.name() {
            "totalCount" | "totals" | "__typename" => {}
            "pageInfo" => rows = true,
            "nodes" => {
                rows = true;
                node(field, &mut columns);
            }
            "edges" => {
                rows = true;
                for field in field.selection_set() {
                    match field.name() {
                        "cursor" | "__typename" => {}
                        "node" => node(field, &mut columns),
                        _ => columns = Columns::ALL,
                    }
                }
            }
            _ => {
                rows = true;
                columns = Columns::ALL;
            }
        }
    }
    rows.then_some(columns)
}

/// The GraphQL object of a [`Transaction`] (see [`crate::graphql::rows`]).
pub struct TransactionObject(std::sync::Arc<transaction::Model>);

// Serial: when this object resolves (a selection `Row` does not take), its
// fields resolve one after another instead of as a `FuturesUnordered` per
// row; the rows of a page still resolve together, so the DataLoaders of
// `stockpiling` and `postbacks` still see every row's key in one batch.
/// A payment the payment system reported into one of the merchant's wallets.
#[Object(name = "Transaction", serial)]
impl TransactionObject {
    /// Sequence number of the transaction in the system.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Wallet type.
    async fn payment_system<'ctx>(&self, ctx: &Context<'ctx>) -> Result<&'ctx PaymentSystem> {
        deps(ctx)?
            .catalog
            .payment_system(&self.0.payment_system)
            .ok_or_else(|| internal("payment system missing from the catalogue"))
    }
    /// The wallet it arrived in (Wallet.identifier).
    async fn wallet_identifier(&self) -> &str {
        &self.0.wallet_identifier
    }
    /// INCOMING (a deposit) or OUTGOING.
    async fn direction(&self) -> Direction {
        self.0.direction
    }
    /// Amount in currency, commission not deducted.
    async fn amount(&self, ctx: &Context<'_>) -> Result<Decimal> {
        Ok(amount(deps(ctx)?, &self.0.amount()))
    }
    /// ISO 4217 code of amount and commission.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The payment system's commission (same currency).
    async fn commission(&self, ctx: &Context<'_>) -> Result<Decimal> {
        Ok(amount(deps(ctx)?, &self.0.commission()))
    }
    /// The payment system's own transaction number.
    async fn transaction_number(&self) -> &str {
        &self.0.transaction_number
    }
    /// The payer's account at the payment system, if reported.
    async fn counterparty(&self) -> Option<&str> {
        self.0.counterparty.as_deref()
    }
    /// When the transaction was logged (the payment system's `occurredAt`).
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// User ID in the merchant's system.
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// Transaction ID in the merchant's system.
    async fn order_id(&self) -> Option<&str> {
        self.0.order_id.as_deref()
    }
    /// When the payer activated it; null while NOT_ACTIVATED.
    async fn activated_at(&self) -> Option<DateTime> {
        self.0.activated_at.map(Into::into)
    }
    /// NOT_ACTIVATED until the payer types its number into the plugin.
    async fn status(&self) -> TransactionStatus {
        self.0.status()
    }
    /// Where the merchant's notification of this deposit stands.
    async fn postback_status(&self) -> PostbackStatus {
        self.0.postback_status
    }
    /// MANUAL (the payer typed the number) or AUTO (delayed automatic activation).
    #[graphql(name = "type")]
    async fn kind(&self) -> TransactionType {
        self.0.kind
    }
    /// The platform's verdict: NORMAL or SCAM.
    async fn originality(&self) -> Originality {
        self.0.originality
    }
    /// ISO 3166-1 alpha-2 country of the payment system.
    async fn country(&self) -> &str {
        &self.0.country
    }
    /// The postbacks that reported this deposit (its stockpiling's).
    async fn postbacks(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::postbacks::graphql::Postback>> {
        let Some(id) = self.0.stockpiling_id else {
            return Ok(vec![]);
        };
        let loader =
            ctx.data::<DataLoader<crate::postbacks::loader::StockpilingPostbacksLoader>>()?;
        Ok(loader
            .load_one(id)
            .await
            .map_err(internal)?
            .unwrap_or_default()
            .into_iter()
            .map(crate::postbacks::graphql::Postback)
            .collect())
    }
    /// The stockpiling this deposit belongs to, once activated.
    async fn stockpiling(&self, ctx: &Context<'_>) -> Result<Option<Stockpiling>> {
        let Some(id) = self.0.stockpiling_id else {
            return Ok(None);
        };
        let loader = ctx.data::<DataLoader<StockpilingLoader>>()?;
        Ok(loader
            .load_one(id)
            .await
            .map_err(internal)?
            .map(Stockpiling))
    }
}

/// Which transactions to list; every field left out matches all, and the fields given must all match.
#[derive(InputObject, Default)]
pub struct TransactionFilter {
    /// Exactly this id.
    pub id: Option<ID>,
    /// Any of these payment-system codes.
    pub payment_systems: Option<Vec<String>>,
    /// The payer's label, exactly.
    pub label: Option<String>,
    /// The merchant's order id, exactly.
    pub order_id: Option<String>,
    /// Null means all.
    pub direction: Option<Direction>,
    /// The payment system's number, exactly.
    pub transaction_number: Option<String>,
    /// Case-insensitive substring.
    pub counterparty: Option<String>,
    /// MANUAL or AUTO activation.
    #[graphql(name = "type")]
    pub kind: Option<TransactionType>,
    /// NORMAL or SCAM.
    pub originality: Option<Originality>,
    /// Activated or not.
    pub status: Option<TransactionStatus>,
    /// Where the postback stands.
    pub postback_status: Option<PostbackStatus>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// Reported within this range.
    pub created_at: Option<TimeRange>,
    /// Activated within this range.
    pub activated_at: Option<TimeRange>,
}

impl TransactionFilter {
    pub fn parse(self) -> Result<Filter> {
        let id = match self.id {
            Some(id) => Some(id.parse::<i64>().map_err(|_| {
                AppError::Invalid("filter.id is not a transaction id".into()).extend()
            })?),
            None => None,
        };
        Ok(Filter {
            id,
            payment_systems: self.payment_systems,
            label: self.label,
            order_id: self.order_id,
            direction: self.direction,
            transaction_number: self.transaction_number,
            counterparty: self.counterparty.filter(|c| !c.is_empty()),
            kind: self.kind,
            originality: self.originality,
            status: self.status,
            postback_status: self.postback_status,
            currency: self.currency,
            created_at: self.created_at.into(),
            activated_at: self.activated_at.into(),
        })
    }
}

/// How to sort transactions.
#[derive(InputObject)]
pub struct TransactionOrder {
    /// The column to sort by.
    pub field: TransactionOrderField,
    /// ASC or DESC.
    pub direction: SortDirection,
}

/// A transaction with its cursor, answered by [`rows::edge`]; the schema
/// type is [`TransactionEdgeObject`]'s.
pub struct TransactionEdge {
    /// its cursor, spelled where it is answered
    pub position: crate::pagination::Position,
    pub node: Transaction,
}

impl OutputType for TransactionEdge {
    fn type_name() -> std::borrow::Cow<'static, str> {
        TransactionEdgeObject::type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        TransactionEdgeObject::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        rows::edge(self, ctx, field).await
    }
}

impl rows::Edge for TransactionEdge {
    type Node = Transaction;

    fn write_cursor(&self, out: &mut Vec<u8>) {
        self.position.write_json(out)
    }

    fn cursor(&self) -> String {
        self.position.cursor()
    }

    fn node(&self) -> &Transaction {
        &self.node
    }

    fn object(&self) -> impl async_graphql::ContainerType {
        TransactionEdgeObject {
            cursor: self.position.cursor(),
            node: self.node.clone(),
        }
    }
}

impl rows::Item for TransactionEdge {
    fn plan(&self, ctx: &ContextSelectionSet<'_>) -> Option<rows::Plan> {
        rows::edge_list_plan(self, ctx)
    }

    fn write<'a>(
        &'a self,
        ctx: &'a ContextSelectionSet<'a>,
        cache: &'a rows::RowCache,
        plan: &'a rows::Plan,
        out: Vec<u8>,
    ) -> impl std::future::Future<Output = Vec<u8>> + Send + 'a {
        rows::write_edge(self, ctx, cache, plan, out)
    }
}

/// A transaction with its cursor.
#[derive(SimpleObject)]
#[graphql(name = "TransactionEdge", serial)]
pub struct TransactionEdgeObject {
    /// Opaque: pass it as after (or before) to continue from here.
    pub cursor: String,
    /// The transaction.
    pub node: Transaction,
}

/// A page of transactions.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct TransactionConnection {
    /// The transactions with their cursors.
    pub edges: rows::Rows<TransactionEdge>,
    /// The transactions (the same as edges' nodes).
    pub nodes: rows::Rows<Transaction>,
    /// Where this page stands.
    pub page_info: PageInfo,
    #[graphql(skip)]
    tenant: Tenant,
    #[graphql(skip)]
    filter: Filter,
}

#[ComplexObject]
impl TransactionConnection {
    /// Rows matching the filter, all pages together (counted only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let n = service::count(deps(ctx)?, self.tenant, &self.filter)
            .await
            .extend()?;
        Ok(clamp_count(n))
    }
    /// Sums of the rows matching the filter, one per currency (computed only when asked for).
    async fn totals(&self, ctx: &Context<'_>) -> Result<Vec<CurrencyTotal>> {
        let d = deps(ctx)?;
        Ok(CurrencyTotal::from_sums(
            d,
            service::totals(d, self.tenant, &self.filter)
                .await
                .extend()?,
        ))
    }
}

/// One transaction as the payment system reports it (INGEST key).
#[derive(InputObject)]
pub struct IngestTransactionInput {
    /// Payment-system code ("paytm").
    pub payment_system: String,
    /// The merchant's wallet it arrived in (Wallet.identifier).
    pub wallet_identifier: String,
    /// INCOMING for a deposit.
    pub direction: Direction,
    /// The amount in the wallet's currency, in its minor units (e.g. 2 decimals for INR); greater than 0.
    pub amount: Decimal,
    /// ISO 4217 code; must be the wallet's.
    pub currency: String,
    /// The payment system's commission, in the same currency; 0 when none.
    pub commission: Option<Decimal>,
    /// The payment system's number, unique per payment system.
    pub transaction_number: String,
    /// The payer's account at the payment system, if known.
    pub counterparty: Option<String>,
    /// When the payment happened at the payment system; defaults to now.
    pub occurred_at: Option<DateTime>,
    /// Defaults to AUTO.
    #[graphql(name = "type")]
    pub kind: Option<TransactionType>,
    /// Defaults to NORMAL.
    pub originality: Option<Originality>,
}

/// What became of one reported transaction.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "IngestOutcome", name = "IngestOutcome")]
pub enum IngestOutcomeGql {
    /// A new transaction was recorded.
    Created,
    /// Already recorded with the same data: nothing changed.
    Duplicate,
    /// Already recorded with different data: nothing changed.
    Conflict,
    /// Not recorded: see errors.
    Rejected,
}

/// The answer for one reported transaction, in input order.
#[derive(SimpleObject)]
pub struct IngestResult {
    /// CREATED, DUPLICATE, CONFLICT or REJECTED.
    pub outcome: IngestOutcomeGql,
    /// The recorded transaction (the earlier one for a DUPLICATE); null otherwise.
    pub transaction: Option<Transaction>,
    /// Set when a waiting activation request was settled by this transaction.
    pub activated: bool,
    /// Why it was rejected; empty otherwise.
    pub errors: Vec<UserError>,
}

/// Result of ingestTransactions.
#[derive(SimpleObject)]
pub struct IngestTransactionsPayload {
    /// One result per input, in the same order.
    pub results: Vec<IngestResult>,
}

/// Result of setTransactionOriginality.
#[derive(SimpleObject)]
pub struct SetTransactionOriginalityPayload {
    /// The transaction as it stands now.
    pub transaction: Option<Transaction>,
    /// NOT_FOUND; empty on success.
    pub errors: Vec<UserError>,
}

#[derive(Default)]
pub struct TransactionsQuery;

#[Object]
impl TransactionsQuery {
    /// One transaction of the caller's merchant, or null when there is none with this id (another merchant's id is null too).
    async fn transaction(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The transaction's id.")] id: ID,
    ) -> Result<Option<Transaction>> {
        Ok(service::get(deps(ctx)?, actor(ctx)?, &id)
            .await
            .extend()?
            .map(Transaction::from))
    }

    /// Payments → Transactions → Transactions. Newest first unless orderBy says otherwise.
    #[allow(clippy::too_many_arguments)] // the contract's arguments
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, last, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which transactions; all of the merchant's when left out.")]
        filter: Option<TransactionFilter>,
        #[graphql(desc = "Sort order; newest first by creation when left out.")] order_by: Option<
            TransactionOrder,
        >,
        #[graphql(desc = "Page size going forward: default 50, at most 500.")] first: Option<i32>,
        #[graphql(desc = "The endCursor of the previous page.")] after: Option<String>,
        #[graphql(desc = "Page size going backward: at most 500.")] last: Option<i32>,
        #[graphql(desc = "The startCursor of the next page (paging backward).")] before: Option<
            String,
        >,
    ) -> Result<TransactionConnection> {
        let d = deps(ctx)?;
        let tenant = actor(ctx)?.reader().extend()?;
        let filter = filter.unwrap_or_default().parse()?;
        let order = order_by
            .map(|o| Order {
                field: o.field,
                direction: o.direction,
            })
            .unwrap_or_default();
        // only what the selection reads (`{ transactions { totalCount } }` no row)
        let columns = page_columns(ctx.field());
        let page = service::list(
            d,
            tenant,
            &filter,
            order,
            &PageArgs {
                first,
                after,
                last,
                before,
            },
            columns,
        )
        .await
        .extend()?;
        let sort = service::sort(order, sea_orm::ConnectionTrait::get_database_backend(&d.db));
        let edges: Vec<TransactionEdge> = page
            .rows
            .into_iter()
            .map(|t| TransactionEdge {
                position: service::position_of(&t, order, &sort),
                node: Transaction(t.into()),
            })
            .collect();
        Ok(TransactionConnection {
            page_info: PageInfo::between(
                edges.first().map(|e| e.position.cursor()),
                edges.last().map(|e| e.position.cursor()),
                page.has_next,
                page.has_previous,
            ),
            nodes: rows::Rows(edges.iter().map(|e| e.node.clone()).collect()),
            edges: rows::Rows(edges),
            tenant,
            filter,
        })
    }
}

#[derive(Default)]
pub struct TransactionsMutation;

#[Object]
impl TransactionsMutation {
    /// Platform (API key with scope INGEST): records payment-system transactions. Idempotent.
    async fn ingest_transactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The transactions the payment system reported; each is answered on its own."
        )]
        input: Vec<IngestTransactionInput>,
    ) -> Result<IngestTransactionsPayload> {
        let items = input
            .into_iter()
            .map(|i| IngestItem {
                payment_system: i.payment_system,
                wallet_identifier: i.wallet_identifier,
                direction: i.direction,
                amount: i.amount.0,
                currency: i.currency,
                commission: i.commission.map(|c| c.0),
                transaction_number: i.transaction_number,
                counterparty: i.counterparty,
                occurred_at: i.occurred_at.map(|t| t.0),
                kind: i.kind,
                originality: i.originality,
            })
            .collect();
        let results = service::ingest(deps(ctx)?, actor(ctx)?, items)
            .await
            .extend()?;
        Ok(IngestTransactionsPayload {
            results: results
                .into_iter()
                .map(|r| IngestResult {
                    outcome: r.outcome.into(),
                    transaction: r.transaction.map(Transaction::from),
                    activated: r.activated,
                    errors: r.errors,
                })
                .collect(),
        })
    }

    /// Platform (scope PLATFORM): marks a transaction NORMAL or SCAM.
    async fn set_transaction_originality(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The transaction's id.")] id: ID,
        #[graphql(
            desc = "NORMAL, or SCAM to mark it fraudulent (it then leaves the dashboard's sums)."
        )]
        originality: Originality,
    ) -> Result<SetTransactionOriginalityPayload> {
        Ok(
            match service::set_originality(deps(ctx)?, actor(ctx)?, &id, originality)
                .await
                .extend()?
            {
                Ok(t) => SetTransactionOriginalityPayload {
                    transaction: Some(Transaction(t.into())),
                    errors: vec![],
                },
                Err(e) => SetTransactionOriginalityPayload {
                    transaction: None,
                    errors: vec![e],
                },
            },
        )
    }
}
