//! Ingestion, the Transactions page, originality.

use super::model::{
    Direction, Filter, Order, Originality, PostbackStatus, SortDirection, TransactionOrderField,
    TransactionStatus, TransactionType,
};
use crate::activation::service::{number_key, settle_waiting};
use crate::audit::Audit;
use crate::auth::model::{Actor, KeyReach, Scope, Tenant};
use crate::db::{lock_keys, write, Change};
use crate::deps::Deps;
use crate::error::{AppError, AppResult, ErrorCode, UserError};
use crate::events::Event;
use crate::events::TransactionEventKind;
use crate::money::{Money, MoneyError};
use crate::pagination::{self, Page, PageArgs, Sort};
use crate::stats::buckets;
use chrono::{DateTime, TimeZone, Utc};
use entity::{transaction, wallet};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// Most items one `ingestTransactions` call may carry.
pub const MAX_BATCH: usize = 1_000;
/// Longest transaction number, wallet identifier or counterparty accepted.
pub const MAX_TEXT: usize = 128;

/// One transaction as a payment system reports it.
#[derive(Clone, Debug)]
pub struct IngestItem {
    pub payment_system: String,
    pub wallet_identifier: String,
    pub direction: Direction,
    pub amount: Decimal,
    pub currency: String,
    pub commission: Option<Decimal>,
    pub transaction_number: String,
    pub counterparty: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub kind: Option<TransactionType>,
    pub originality: Option<Originality>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IngestOutcome {
    Created,
    Duplicate,
    Conflict,
    Rejected,
}

pub struct IngestResult {
    pub outcome: IngestOutcome,
    pub transaction: Option<transaction::Model>,
    /// A waiting activation request was settled by this transaction.
    pub activated: bool,
    pub errors: Vec<UserError>,
}

impl IngestResult {
    fn rejected(errors: Vec<UserError>) -> Self {
        IngestResult {
            outcome: IngestOutcome::Rejected,
            transaction: None,
            activated: false,
            errors,
        }
    }
}

/// An item that passed the checks that need no database.
struct Valid {
    item: IngestItem,
    number: String,
    wallet_identifier: String,
    amount: Money,
    commission: Money,
    country: String,
}

fn money_error(path: &[String], e: MoneyError) -> UserError {
    UserError {
        field: path.to_vec(),
        code: ErrorCode::Invalid,
        message: e.to_string(),
    }
}

fn validate(d: &Deps, index: usize, item: IngestItem) -> Result<Valid, Vec<UserError>> {
    let path = |field: &str| vec!["input".to_string(), index.to_string(), field.to_string()];
    let err = |field: &str, code: ErrorCode, message: String| UserError {
        field: path(field),
        code,
        message,
    };
    let mut errors = Vec::new();
    let number = item.transaction_number.trim().to_string();
    if number.is_empty() {
        errors.push(err(
            "transactionNumber",
            ErrorCode::Required,
            "the transaction number is required".into(),
        ));
    } else if number.chars().count() > MAX_TEXT {
        errors.push(err(
            "transactionNumber",
            ErrorCode::Invalid,
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    let wallet_identifier = item.wallet_identifier.trim().to_string();
    if wallet_identifier.is_empty() || wallet_identifier.chars().count() > MAX_TEXT {
        errors.push(err(
            "walletIdentifier",
            ErrorCode::Invalid,
            format!("1 to {MAX_TEXT} characters"),
        ));
    }
    if item
        .counterparty
        .as_deref()
        .is_some_and(|c| c.chars().count() > 256)
    {
        errors.push(err(
            "counterparty",
            ErrorCode::Invalid,
            "at most 256 characters".into(),
        ));
    }
    let Some(ps) = d.catalog.payment_system(&item.payment_system) else {
        errors.push(err(
            "paymentSystem",
            ErrorCode::Invalid,
            format!("unknown payment system `{}`", item.payment_system),
        ));
        return Err(errors);
    };
    if item.currency != ps.currency {
        errors.push(err(
            "currency",
            ErrorCode::Invalid,
            format!("{} moves {}, not `{}`", ps.code, ps.currency, item.currency),
        ));
        return Err(errors);
    }
    let amount = d
        .catalog
        .money(item.amount, &ps.currency, false)
        .map_err(|e| money_error(&path("amount"), e));
    let commission = d
        .catalog
        .money(item.commission.unwrap_or_default(), &ps.currency, true)
        .map_err(|e| money_error(&path("commission"), e));
    let (amount, commission) = match (amount, commission) {
        (Ok(a), Ok(c)) if c.minor > a.minor => {
            errors.push(err(
                "commission",
                ErrorCode::Invalid,
                "the commission exceeds the amount".into(),
            ));
            (a, c)
        }
        (Ok(a), Ok(c)) => (a, c),
        (a, c) => {
            errors.extend(a.err());
            errors.extend(c.err());
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Valid {
        country: ps.country.clone(),
        item,
        number,
        wallet_identifier,
        amount,
        commission,
    })
}

/// Whether a stored transaction carries the same data as a repeated report.
/// `occurredAt`, type and originality are compared only when the report gives them.
fn same_data(t: &transaction::Model, v: &Valid) -> bool {
    t.wallet_identifier == v.wallet_identifier
        && t.direction == v.item.direction
        && t.amount() == v.amount
        && t.currency == v.item.currency
        && t.commission() == v.commission
        && t.counterparty.as_deref().map(str::trim) == v.item.counterparty.as_deref().map(str::trim)
        && v.item.occurred_at.is_none_or(|at| at == t.created_at)
        && v.item.kind.is_none_or(|k| k == t.kind)
        && v.item.originality.is_none_or(|o| o == t.originality)
}

/// A number's key: (payment system, transaction number).
type NumberKey = (String, String);

/// One batch item that passed validation, with the wallet that names its merchant.
type Keyed = (usize, Valid, wallet::Model);

/// A batch item to insert (borrowed from its `Keyed`).
type NewRow<'a> = (usize, &'a Valid, &'a wallet::Model);

/// Records a batch of transactions (scope INGEST). Each item is judged on
/// its own; the batch is one database transaction, and a waiting activation
/// request named by a new transaction is settled inside it.
#[tracing::instrument(skip(d, actor, items), fields(items = items.len()))]
#[tracing::instrument(name = "db.transactions.ingest", skip_all)]
pub async fn ingest(
    d: &Deps,
    actor: &Actor,
    items: Vec<IngestItem>,
) -> AppResult<Vec<IngestResult>> {
    let reach = actor.key_with_scope(Scope::Ingest)?;
    if items.len() > MAX_BATCH {
        return Err(AppError::Invalid(format!(
            "at most {MAX_BATCH} transactions per call; this one has {}",
            items.len()
        )));
    }
    let mut results: Vec<Option<IngestResult>> = Vec::with_capacity(items.len());
    let mut valid: Vec<(usize, Valid)> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match validate(d, i, item) {
            Ok(v) => {
                valid.push((i, v));
                results.push(None);
            }
            Err(errors) => results.push(Some(IngestResult::rejected(errors))),
        }
    }
    let keyed = with_wallets(d, reach, valid, &mut results).await?;

    let in_batch = write(d, actor, async |txn, now| {
        let keys: Vec<String> = keyed
            .iter()
            .map(|(_, v, _)| number_key(&v.item.payment_system, &v.number))
            .collect();
        lock_keys(txn, &keys).await?;
        let known = stored(txn, &keyed).await?;
        let (to_insert, in_batch) = sort_out(&keyed, &known, reach, &mut results);
        let created = insert_new(txn, now, &to_insert).await?;
        let by_key: HashMap<NumberKey, usize> = created
            .iter()
            .enumerate()
            .map(|(n, t)| ((t.payment_system.clone(), t.transaction_number.clone()), n))
            .collect();

        let activated = settle_waiting(d, txn, now, &created).await?;
        let mut fresh: HashMap<i64, transaction::Model> = HashMap::new();
        if !activated.is_empty() {
            for t in transaction::Entity::find()
                .filter(transaction::Column::Id.is_in(activated.clone()))
                .all(txn)
                .await?
            {
                fresh.insert(t.id, t);
            }
        }
        let mut per_merchant: BTreeMap<i64, usize> = BTreeMap::new();
        for (i, v, _) in &to_insert {
            let key = (v.item.payment_system.clone(), v.number.clone());
            results[*i] = Some(match by_key.get(&key) {
                Some(&n) => {
                    let t = &created[n];
                    *per_merchant.entry(t.merchant_id).or_default() += 1;
                    IngestResult {
                        outcome: IngestOutcome::Created,
                        activated: activated.contains(&t.id),
                        transaction: Some(fresh.get(&t.id).cloned().unwrap_or_else(|| t.clone())),
                        errors: vec![],
                    }
                }
                // Unreachable under the number lock, but never report a row we did not store.
                None => IngestResult {
                    outcome: IngestOutcome::Duplicate,
                    transaction: None,
                    activated: false,
                    errors: vec![],
                },
            });
        }
        let events = ingest_events(txn, now, &created, &activated, &fresh).await?;
        let mut change = Change::done(in_batch)
            .publishing(events)
            .waking_postbacks(!activated.is_empty());
        for (merchant_id, count) in &per_merchant {
            change = change.audited(Audit {
                merchant_id: Some(*merchant_id),
                action: "transactions.ingest",
                subject: None,
                details: json!({ "created": count, "activated": activated.len() }),
            });
        }
        Ok(change)
    })
    .await?;

    let results = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| IngestResult::rejected(vec![])))
        .collect();
    Ok(point_repeats(results, &keyed, &in_batch))
}

/// The valid items whose wallet exists, is active and lies within the key's
/// reach, with that wallet; the others are answered NOT_FOUND in `results`.
async fn with_wallets(
    d: &Deps,
    reach: KeyReach,
    valid: Vec<(usize, Valid)>,
    results: &mut [Option<IngestResult>],
) -> AppResult<Vec<Keyed>> {
    let mut wallets: HashMap<(String, String), wallet::Model> = HashMap::new();
    for chunk in valid.chunks(500) {
        let ids: Vec<String> = chunk
            .iter()
            .map(|(_, v)| v.wallet_identifier.clone())
            .collect();
        for w in wallet::Entity::find()
            .filter(wallet::Column::Identifier.is_in(ids))
            .all(&d.db)
            .await?
        {
            wallets.insert((w.payment_system.clone(), w.identifier.clone()), w);
        }
    }
    let mut keyed = Vec::new();
    for (i, v) in valid {
        match wallets.get(&(v.item.payment_system.clone(), v.wallet_identifier.clone())) {
            // A key bound to a merchant sees no other merchant's wallet.
            Some(w) if w.active && reach.covers(w.merchant_id) => keyed.push((i, v, w.clone())),
            _ => {
                results[i] = Some(IngestResult::rejected(vec![UserError {
                    field: vec!["input".into(), i.to_string(), "walletIdentifier".into()],
                    code: ErrorCode::NotFound,
                    message: format!(
                        "no active {} wallet `{}`",
                        v.item.payment_system, v.wallet_identifier
                    ),
                }]))
            }
        }
    }
    Ok(keyed)
}

/// The stored transactions carrying the batch's numbers.
async fn stored(
    txn: &sea_orm::DatabaseTransaction,
    keyed: &[Keyed],
) -> AppResult<HashMap<NumberKey, transaction::Model>> {
    let mut known = HashMap::new();
    for chunk in keyed.chunks(500) {
        let numbers: Vec<String> = chunk.iter().map(|(_, v, _)| v.number.clone()).collect();
        let mut systems: Vec<String> = chunk
            .iter()
            .map(|(_, v, _)| v.item.payment_system.clone())
            .collect();
        systems.sort();
        systems.dedup();
        // Both columns, so the (payment_system, transaction_number) unique index serves it.
        for t in transaction::Entity::find()
            .filter(transaction::Column::PaymentSystem.is_in(systems))
            .filter(transaction::Column::TransactionNumber.is_in(numbers))
            .all(txn)
            .await?
        {
            known.insert((t.payment_system.clone(), t.transaction_number.clone()), t);
        }
    }
    Ok(known)
}

/// Sorts the batch out: a number already stored answers DUPLICATE or
/// CONFLICT now; a number repeated in the batch waits for its first copy;
/// the rest are to be inserted. Returns those and, per number, the item
/// that carries it first.
fn sort_out<'a>(
    keyed: &'a [Keyed],
    known: &HashMap<NumberKey, transaction::Model>,
    reach: KeyReach,
    results: &mut [Option<IngestResult>],
) -> (Vec<NewRow<'a>>, HashMap<NumberKey, usize>) {
    let mut to_insert = Vec::new();
    let mut in_batch: HashMap<NumberKey, usize> = HashMap::new();
    for (i, v, w) in keyed {
        let key = (v.item.payment_system.clone(), v.number.clone());
        if let Some(t) = known.get(&key) {
            let outcome = if same_data(t, v) {
                IngestOutcome::Duplicate
            } else {
                IngestOutcome::Conflict
            };
            // The stored row is shown only to a caller that could have made
            // it: same merchant as the wallet named now, within the key's
            // reach. Another merchant's number answers CONFLICT and nothing
            // more (BEHAVIOUR §13).
            let visible = t.merchant_id == w.merchant_id && reach.covers(t.merchant_id);
            results[*i] = Some(IngestResult {
                outcome,
                transaction: visible.then(|| t.clone()),
                activated: false,
                errors: vec![],
            });
        } else if let Some(&first) = in_batch.get(&key) {
            // Repeated within the batch: judged against the first copy once it is stored.
            results[*i] = Some(IngestResult {
                outcome: IngestOutcome::Duplicate,
                transaction: None,
                activated: false,
                errors: vec![UserError {
                    field: vec!["input".into(), i.to_string(), "transactionNumber".into()],
                    code: ErrorCode::Duplicate,
                    message: format!("the same transaction as item {first} of this batch"),
                }],
            });
        } else {
            in_batch.insert(key, *i);
            to_insert.push((*i, v, w));
        }
    }
    (to_insert, in_batch)
}

/// Inserts the new transactions, 500 rows a statement; returns the rows stored.
async fn insert_new(
    txn: &sea_orm::DatabaseTransaction,
    now: DateTime<Utc>,
    to_insert: &[NewRow<'_>],
) -> AppResult<Vec<transaction::Model>> {
    let mut created = Vec::new();
    for chunk in to_insert.chunks(500) {
        use transaction::Column as C;
        let mut insert = Query::insert();
        insert.into_table(transaction::Entity).columns([
            C::MerchantId,
            C::PaymentSystem,
            C::WalletId,
            C::WalletIdentifier,
            C::Direction,
            C::AmountMinor,
            C::Currency,
            C::CommissionMinor,
            C::TransactionNumber,
            C::Counterparty,
            C::CreatedAt,
            C::IngestedAt,
            C::Kind,
            C::Originality,
            C::Country,
            C::PostbackStatus,
        ]);
        for (_, v, w) in chunk {
            insert.values_panic([
                w.merchant_id.into(),
                v.item.payment_system.clone().into(),
                w.id.into(),
                v.wallet_identifier.clone().into(),
                v.item.direction.into(),
                v.amount.minor.into(),
                v.item.currency.clone().into(),
                v.commission.minor.into(),
                v.number.clone().into(),
                v.item
                    .counterparty
                    .as_deref()
                    .map(str::trim)
                    .map(str::to_string)
                    .into(),
                v.item.occurred_at.unwrap_or(now).into(),
                now.into(),
                v.item.kind.unwrap_or(TransactionType::Auto).into(),
                v.item.originality.unwrap_or(Originality::Normal).into(),
                v.country.clone().into(),
                PostbackStatus::StockpilingNotFound.into(),
            ]);
        }
        insert
            .on_conflict(
                OnConflict::columns([C::PaymentSystem, C::TransactionNumber])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_all();
        for row in txn.query_all(&insert).await? {
            created.push(transaction::Model::from_query_result(&row, "")?);
        }
    }
    Ok(created)
}

/// What a batch publishes: CREATED for each new transaction, ACTIVATED for
/// those a waiting request claimed, and those requests as they settled
/// (read inside the transaction: it sees the requests it settled).
async fn ingest_events(
    txn: &sea_orm::DatabaseTransaction,
    now: DateTime<Utc>,
    created: &[transaction::Model],
    activated: &[i64],
    fresh: &HashMap<i64, transaction::Model>,
) -> AppResult<Vec<Event>> {
    let mut events = Vec::new();
    for t in created {
        let t = fresh.get(&t.id).unwrap_or(t);
        events.push(Event::transaction(TransactionEventKind::Created, now, t));
        if activated.contains(&t.id) {
            events.push(Event::transaction(TransactionEventKind::Activated, now, t));
        }
    }
    if !activated.is_empty() {
        for request in entity::activation_request::Entity::find()
            .filter(entity::activation_request::Column::TransactionId.is_in(activated.to_vec()))
            .all(txn)
            .await?
        {
            let transaction = request
                .transaction_id
                .and_then(|id| fresh.get(&id).cloned());
            events.push(Event::ActivationRequest {
                request,
                transaction,
                stockpiling: None,
            });
        }
    }
    Ok(events)
}

/// Items repeated inside the batch point at what their first copy became.
fn point_repeats(
    mut out: Vec<IngestResult>,
    keyed: &[Keyed],
    in_batch: &HashMap<NumberKey, usize>,
) -> Vec<IngestResult> {
    for (i, v, _) in keyed {
        let key = (v.item.payment_system.clone(), v.number.clone());
        if let Some(&first) = in_batch.get(&key) {
            if first != *i && out[*i].transaction.is_none() {
                let original = out[first].transaction.clone();
                let same = original.as_ref().is_some_and(|t| same_data(t, v));
                out[*i].transaction = original;
                out[*i].errors.clear();
                out[*i].outcome = if same {
                    IngestOutcome::Duplicate
                } else {
                    IngestOutcome::Conflict
                };
            }
        }
    }
    out
}

pub const CURSOR_KIND: &str = "tx";

/// The epoch stands in for "not activated" when sorting by activation time.
fn never() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0).single().unwrap_or_default()
}

/// The sort of the Transactions page. For activation time the key is the
/// exact expression of the `transactions_merchant_activation_order` index, so
/// the index serves the order.
pub fn sort(order: Order, backend: DbBackend) -> Sort {
    use transaction::Column as C;
    let (field, key, bound): (_, _, fn(i64) -> Option<Expr>) = match order.field {
        TransactionOrderField::Id => ("ID", None, pagination::integer_bound),
        TransactionOrderField::CreatedAt => (
            "CREATED_AT",
            Some(Expr::col((transaction::Entity, C::CreatedAt))),
            pagination::instant_bound,
        ),
        TransactionOrderField::ActivatedAt => (
            "ACTIVATED_AT",
            Some(match backend {
                DbBackend::Postgres => {
                    Expr::cust("COALESCE(\"transactions\".\"activated_at\", 'epoch'::timestamptz)")
                }
                _ => Expr::cust(
                    "COALESCE(\"transactions\".\"activated_at\", '1970-01-01T00:00:00+00:00')",
                ),
            }),
            pagination::instant_bound,
        ),
        TransactionOrderField::Amount => (
            "AMOUNT",
            Some(Expr::col((transaction::Entity, C::AmountMinor))),
            pagination::integer_bound,
        ),
    };
    Sort {
        kind: CURSOR_KIND,
        field,
        ascending: order.direction == SortDirection::Asc,
        key,
        bound,
    }
}

/// The sort value of a row, as the cursor carries it.
fn sort_value(t: &transaction::Model, f: TransactionOrderField) -> i64 {
    match f {
        TransactionOrderField::Id => t.id,
        TransactionOrderField::CreatedAt => t.created_at.timestamp_micros(),
        TransactionOrderField::ActivatedAt => {
            t.activated_at.unwrap_or_else(never).timestamp_micros()
        }
        TransactionOrderField::Amount => t.amount_minor,
    }
}

/// Where `t` stands in a list sorted by `order` (`sort` being
/// [`sort`]`(order, …)`): its cursor.
pub fn position_of(t: &transaction::Model, order: Order, sort: &Sort) -> pagination::Position {
    sort.at(sort_value(t, order.field), t.id)
}

/// The filter as SQL, always inside the caller's merchant.
pub fn condition(tenant: Tenant, f: &Filter) -> Condition {
    Condition::all()
        .add(transaction::Column::MerchantId.eq(tenant.merchant_id))
        .add(matching(f))
}

/// The filter alone, for a select whose merchant is bounded otherwise (a
/// page: [`pagination::Owner`]).
pub fn matching(f: &Filter) -> Condition {
    use transaction::Column as C;
    let mut c = Condition::all();
    if let Some(id) = f.id {
        c = c.add(C::Id.eq(id));
    }
    if let Some(systems) = &f.payment_systems {
        c = c.add(C::PaymentSystem.is_in(systems.clone()));
    }
    if let Some(v) = &f.label {
        c = c.add(C::Label.eq(v.clone()));
    }
    if let Some(v) = &f.order_id {
        c = c.add(C::OrderId.eq(v.clone()));
    }
    if let Some(v) = f.direction {
        c = c.add(C::Direction.eq(v));
    }
    if let Some(v) = &f.transaction_number {
        c = c.add(C::TransactionNumber.eq(v.trim()));
    }
    if let Some(v) = &f.counterparty {
        let escaped = v
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        c = c.add(
            Expr::expr(Func::lower(Expr::col((
                transaction::Entity,
                C::Counterparty,
            ))))
            .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
        );
    }
    if let Some(v) = f.kind {
        c = c.add(C::Kind.eq(v));
    }
    if let Some(v) = f.originality {
        c = c.add(C::Originality.eq(v));
    }
    match f.status {
        Some(TransactionStatus::Activated) => c = c.add(C::ActivatedAt.is_not_null()),
        Some(TransactionStatus::NotActivated) => c = c.add(C::ActivatedAt.is_null()),
        None => {}
    }
    if let Some(v) = f.postback_status {
        c = c.add(C::PostbackStatus.eq(v));
    }
    if let Some(v) = &f.currency {
        c = c.add(C::Currency.eq(v.clone()));
    }
    let c = f.created_at.narrow(c, C::CreatedAt);
    f.activated_at.narrow(c, C::ActivatedAt)
}

/// The columns of a transaction a page reads: bit `i` is the entity's
/// `i`-th column ([`transaction::Column`]`::X as u32`). Every page reads
/// the id, the merchant and its sort key besides ([`page_select`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns(u64);

impl Columns {
    /// Every column.
    pub const ALL: Columns = Columns((1 << COLUMNS) - 1);
    /// Only those every page reads.
    pub const NONE: Columns = Columns(0);

    /// These columns.
    pub const fn of(columns: &[transaction::Column]) -> Columns {
        let mut bits = 0;
        let mut i = 0;
        while i < columns.len() {
            bits |= 1 << columns[i] as u32;
            i += 1;
        }
        Columns(bits)
    }

    /// The columns of both.
    pub const fn and(self, other: Columns) -> Columns {
        Columns(self.0 | other.0)
    }
}

/// How many columns a transaction has.
const COLUMNS: usize = 21;

/// The select of a page that reads `columns` (on PostgreSQL; SQLite reads
/// every column, by name): those, the id and merchant every row is known
/// by, and the column `order` sorts by, which its cursor carries.
pub fn page_select(
    backend: DbBackend,
    order: Order,
    columns: Columns,
) -> sea_orm::Select<transaction::Entity> {
    use transaction::Column as C;
    if backend != DbBackend::Postgres {
        return pagination::find_all::<transaction::Entity>(backend);
    }
    let key = match order.field {
        TransactionOrderField::Id => C::Id,
        TransactionOrderField::CreatedAt => C::CreatedAt,
        TransactionOrderField::ActivatedAt => C::ActivatedAt,
        TransactionOrderField::Amount => C::AmountMinor,
    };
    let read = columns.and(Columns::of(&[C::Id, C::MerchantId, key]));
    pagination::find_columns::<transaction::Entity>(backend, read.0)
}

/// One page of the Transactions page (keyset pagination both ways),
/// reading `columns` of its rows (the other fields of its models are
/// blank: see [`page_select`]); `None` when no row is wanted (only totals
/// were asked for: the arguments are checked all the same).
#[tracing::instrument(name = "db.transactions.list", skip_all)]
pub async fn list(
    d: &Deps,
    tenant: Tenant,
    filter: &Filter,
    order: Order,
    args: &PageArgs,
    columns: Option<Columns>,
) -> AppResult<Page<transaction::Model>> {
    let backend = d.db.get_database_backend();
    let sort = sort(order, backend);
    let Some(columns) = columns else {
        pagination::Plan::of(&sort, args)?;
        return Ok(Page::unread());
    };
    pagination::keyset(
        d,
        page_select(backend, order, columns).filter(matching(filter)),
        transaction::Column::Id,
        owner(tenant, filter),
        &sort,
        args,
    )
    .await
}

/// The Transactions page's rows, by position on PostgreSQL: sea-orm reads
/// a column by name (a hashed lookup per column per row) and decodes every
/// cell through sqlx's typed path (a type check, an error built per cell);
/// here the columns' names and types are checked once per page (all rows
/// of one statement share them), and every cell is taken where the
/// statement puts it, as the bytes PostgreSQL sent ([`Cells`]). A page
/// reads some of the entity's columns, in its order ([`page_select`]); the
/// fields of the others are blank. A page whose columns are not in the
/// entity's order, of the types read, in binary, or any SQLite page, is
/// read by name as before (a test compares both ways, nulls, every enum
/// value and text past ASCII included).
impl crate::pagination::PageRow for transaction::Entity {
    fn decode_page(
        rows: &[sea_orm::QueryResult],
    ) -> Result<Vec<transaction::Model>, sea_orm::DbErr> {
        let pg: Option<Vec<_>> = rows.iter().map(|r| r.try_as_pg_row()).collect();
        let by_name = || {
            rows.iter()
                .map(|r| <transaction::Model as sea_orm::FromQueryResult>::from_query_result(r, ""))
                .collect()
        };
        let Some(pg) = pg else {
            return by_name();
        };
        let Some(first) = pg.first() else {
            return Ok(Vec::new());
        };
        let Some(at) = places(sea_orm::sqlx::Row::columns(*first)) else {
            return by_name();
        };
        if !binary(first)? {
            return by_name();
        }
        check_kinds(first, &at)?;
        pg.iter()
            .map(|r| by_position(Cells { row: r, at: &at }))
            .collect()
    }
}

/// Where each of the entity's columns is in a page's row, [`UNREAD`] for
/// those it does not hold.
type Places = [u8; COLUMNS];

const UNREAD: u8 = u8::MAX;

/// The places of the entity's columns in rows of these columns: `None`
/// unless they are some of the entity's, in its order.
fn places(columns: &[sea_orm::sqlx::postgres::PgColumn]) -> Option<Places> {
    use sea_orm::sqlx::Column as _;
    use sea_orm::{IdenStatic, Iterable};
    let mut at = [UNREAD; COLUMNS];
    let mut next = 0;
    for (i, c) in transaction::Column::iter().enumerate() {
        if columns.get(next).is_some_and(|n| n.name() == c.as_str()) {
            *at.get_mut(i)? = next as u8;
            next += 1;
        }
    }
    (next == columns.len()).then_some(at)
}

/// How each column of the page statement is read, in the entity's order.
#[derive(Clone, Copy)]
enum Kind {
    /// `int8`, eight bytes big-endian
    Int8,
    /// any text type: its bytes, UTF-8
    Text,
    /// `timestamptz` (or `timestamp`): microseconds from 2000-01-01, eight
    /// bytes big-endian
    Instant,
}

const KINDS: [Kind; COLUMNS] = {
    use Kind::*;
    [
        Int8,    // id
        Int8,    // merchant_id
        Text,    // payment_system
        Int8,    // wallet_id
        Text,    // wallet_identifier
        Text,    // direction
        Int8,    // amount_minor
        Text,    // currency
        Int8,    // commission_minor
        Text,    // transaction_number
        Text,    // counterparty
        Instant, // created_at
        Instant, // ingested_at
        Text,    // label
        Text,    // order_id
        Instant, // activated_at
        Text,    // type
        Text,    // originality
        Text,    // country
        Int8,    // stockpiling_id
        Text,    // postback_status
    ]
};

/// Whether the statement's values come in binary (as every prepared
/// statement's do), which [`Cells`] reads.
fn binary(r: &sea_orm::sqlx::postgres::PgRow) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::sqlx::Row as _;
    let value = r
        .try_get_raw(0)
        .map_err(|e| sea_orm::DbErr::Type(e.to_string()))?;
    Ok(value.format() == sea_orm::sqlx::postgres::PgValueFormat::Binary)
}

/// Every column's type is the one [`KINDS`] reads it as (whatever the
/// rows' values, nulls included).
fn check_kinds(r: &sea_orm::sqlx::postgres::PgRow, at: &Places) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sqlx::postgres::Postgres;
    use sea_orm::sqlx::{Column as _, Row as _, Type, TypeInfo as _};
    let columns = r.columns();
    for (&place, kind) in at.iter().zip(KINDS) {
        let Some(column) = columns.get(place as usize) else {
            continue; // not read
        };
        let ty = column.type_info();
        let (fits, expected) = match kind {
            Kind::Int8 => (<i64 as Type<Postgres>>::compatible(ty), "INT8"),
            Kind::Text => (<str as Type<Postgres>>::compatible(ty), "TEXT"),
            Kind::Instant => (
                <chrono::DateTime<chrono::Utc> as Type<Postgres>>::compatible(ty),
                "TIMESTAMPTZ",
            ),
        };
        if !fits {
            return Err(sea_orm::DbErr::Type(format!(
                "column {} is {}, read as {expected}",
                column.name(),
                ty.name()
            )));
        }
    }
    Ok(())
}

/// The cells of a page row whose columns [`check_kinds`] accepted, read as
/// the bytes of their binary values.
/// `at` says where each of the entity's columns is.
#[derive(Clone, Copy)]
struct Cells<'r> {
    row: &'r sea_orm::sqlx::postgres::PgRow,
    at: &'r Places,
}

/// A cell [`Cells`] could not read: its column and why (a small error, so
/// the readers pass their values in registers; made a [`sea_orm::DbErr`]
/// once per row).
struct Bad(usize, &'static str);

impl From<Bad> for sea_orm::DbErr {
    fn from(Bad(i, what): Bad) -> Self {
        let name = <transaction::Column as sea_orm::Iterable>::iter()
            .nth(i)
            .map_or("?", |c| sea_orm::IdenStatic::as_str(&c));
        sea_orm::DbErr::Type(format!("column {name}: {what}"))
    }
}

impl<'r> Cells<'r> {
    /// Whether the row holds the entity's `i`-th column.
    #[inline(always)]
    fn read(self, i: usize) -> bool {
        self.at.get(i).is_some_and(|&p| p != UNREAD)
    }

    /// The value of the entity's `i`-th column, as its bytes, `None` for
    /// null.
    #[inline(always)]
    fn bytes(self, i: usize) -> Result<Option<&'r [u8]>, Bad> {
        use sea_orm::sqlx::{Row as _, ValueRef as _};
        let place = self.at.get(i).copied().unwrap_or(UNREAD);
        if place == UNREAD {
            return Err(Bad(i, "not read"));
        }
        let Ok(value) = self.row.try_get_raw(place as usize) else {
            return Err(Bad(i, "no such column"));
        };
        if value.is_null() {
            return Ok(None);
        }
        // (only a null has no bytes)
        value.as_bytes().map(Some).map_err(|_| Bad(i, "no value"))
    }

    #[inline(always)]
    fn int8_or_null(self, i: usize) -> Result<Option<i64>, Bad> {
        match self.bytes(i)? {
            None => Ok(None),
            Some(&[a, b, c, d, e, f, g, h]) => {
                Ok(Some(i64::from_be_bytes([a, b, c, d, e, f, g, h])))
            }
            Some(_) => Err(Bad(i, "not eight bytes")),
        }
    }

    #[inline(always)]
    fn int8(self, i: usize) -> Result<i64, Bad> {
        self.int8_or_null(i)?.ok_or(Bad(i, "null"))
    }

    /// A text cell, with ASCII — nearly every cell of a page: numbers,
    /// codes, labels — recognised eight bytes at a time (the general UTF-8
    /// check goes byte by byte through strings this short).
    #[inline(always)]
    fn text_or_null(self, i: usize) -> Result<Option<&'r str>, Bad> {
        let Some(bytes) = self.bytes(i)? else {
            return Ok(None);
        };
        if bytes.is_ascii() {
            // SAFETY: ASCII bytes are valid UTF-8.
            return Ok(Some(unsafe { std::str::from_utf8_unchecked(bytes) }));
        }
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Bad(i, "not UTF-8"))
    }

    #[inline(always)]
    fn text(self, i: usize) -> Result<&'r str, Bad> {
        self.text_or_null(i)?.ok_or(Bad(i, "null"))
    }

    /// A stored enum value.
    #[inline(always)]
    fn stored<T: std::str::FromStr>(self, i: usize) -> Result<T, Bad> {
        self.text(i)?
            .parse()
            .map_err(|_| Bad(i, "not a value of its enum"))
    }

    /// An instant, without chrono's calendar arithmetic (sqlx adds the
    /// microseconds to 2000-01-01 as a duration: a page row's three
    /// instants cost more than its ten strings).
    #[inline(always)]
    fn instant_or_null(self, i: usize) -> Result<Option<chrono::DateTime<chrono::Utc>>, Bad> {
        // microseconds from 2000-01-01 00:00:00 UTC
        const FROM_UNIX_EPOCH: i64 = 946_684_800_000_000;
        let Some(micros) = self.int8_or_null(i)? else {
            return Ok(None);
        };
        micros
            .checked_add(FROM_UNIX_EPOCH)
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(Some)
            .ok_or(Bad(i, "out of range"))
    }

    #[inline(always)]
    fn instant(self, i: usize) -> Result<chrono::DateTime<chrono::Utc>, Bad> {
        self.instant_or_null(i)?.ok_or(Bad(i, "null"))
    }
}

/// One row of the Transactions page's statement: the columns it holds,
/// of [`KINDS`], and blanks for the others (the id and merchant it must
/// hold).
fn by_position(c: Cells<'_>) -> Result<transaction::Model, sea_orm::DbErr> {
    /// The column's value when read, else `blank`.
    #[inline(always)]
    fn or<'r, T>(
        c: Cells<'r>,
        i: usize,
        read: impl FnOnce(Cells<'r>, usize) -> Result<T, Bad>,
        blank: T,
    ) -> Result<T, Bad> {
        if c.read(i) {
            read(c, i)
        } else {
            Ok(blank)
        }
    }
    fn text(c: Cells<'_>, i: usize) -> Result<String, Bad> {
        c.text(i).map(str::to_owned)
    }
    fn text_or_null(c: Cells<'_>, i: usize) -> Result<Option<String>, Bad> {
        Ok(c.text_or_null(i)?.map(str::to_owned))
    }
    let row = || -> Result<transaction::Model, Bad> {
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        Ok(transaction::Model {
            id: c.int8(0)?,
            merchant_id: c.int8(1)?,
            payment_system: or(c, 2, text, String::new())?,
            wallet_id: or(c, 3, Cells::int8, 0)?,
            wallet_identifier: or(c, 4, text, String::new())?,
            direction: or(c, 5, Cells::stored, Direction::Incoming)?,
            amount_minor: or(c, 6, Cells::int8, 0)?,
            currency: or(c, 7, text, String::new())?,
            commission_minor: or(c, 8, Cells::int8, 0)?,
            transaction_number: or(c, 9, text, String::new())?,
            counterparty: or(c, 10, text_or_null, None)?,
            created_at: or(c, 11, Cells::instant, epoch)?,
            ingested_at: or(c, 12, Cells::instant, epoch)?,
            label: or(c, 13, text_or_null, None)?,
            order_id: or(c, 14, text_or_null, None)?,
            activated_at: or(c, 15, Cells::instant_or_null, None)?,
            kind: or(c, 16, Cells::stored, TransactionType::Manual)?,
            originality: or(c, 17, Cells::stored, Originality::Normal)?,
            country: or(c, 18, text, String::new())?,
            stockpiling_id: or(c, 19, Cells::int8_or_null, None)?,
            postback_status: or(c, 20, Cells::stored, PostbackStatus::StockpilingNotFound)?,
        })
    };
    Ok(row()?)
}

/// The merchant of a page of transactions matching `filter`: planned once
/// per connection when nothing filters it (the merchant's index alone
/// decides the plan, in every order: each has its index).
pub fn owner(tenant: Tenant, filter: &Filter) -> pagination::Owner<transaction::Column> {
    pagination::Owner {
        column: transaction::Column::MerchantId,
        id: tenant.merchant_id,
        plans: if matches!(filter.systems_only(), Some(None)) {
            crate::db::Plans::Generic
        } else {
            crate::db::Plans::Chosen
        },
    }
}

/// The statement of one page, as [`list`] runs it (to look at its plan).
pub fn page_statement(
    backend: DbBackend,
    tenant: Tenant,
    filter: &Filter,
    order: Order,
    args: &PageArgs,
    columns: Columns,
) -> AppResult<sea_orm::Statement> {
    let sort = sort(order, backend);
    let plan = pagination::Plan::of(&sort, args)?;
    pagination::keyset_statement(
        backend,
        page_select(backend, order, columns).filter(matching(filter)),
        transaction::Column::Id,
        owner(tenant, filter),
        &sort,
        &plan,
    )
}

/// Rows matching the filter, all pages together.
#[tracing::instrument(name = "db.transactions.count", skip_all)]
pub async fn count(d: &Deps, tenant: Tenant, filter: &Filter) -> AppResult<i64> {
    use sea_orm::PaginatorTrait;
    if let Some(systems) = filter.systems_only() {
        return maintained_count(d, tenant.merchant_id, systems).await;
    }
    Ok(transaction::Entity::find()
        .filter(condition(tenant, filter))
        .count(&d.db)
        .await? as i64)
}

/// The merchant's transactions (of `systems`, when given) from the counts
/// the database maintains with every insert (migration 14): a few rows per
/// payment system instead of the merchant's whole history.
async fn maintained_count(
    d: &Deps,
    merchant_id: i64,
    systems: Option<&[String]>,
) -> AppResult<i64> {
    #[derive(sea_orm::FromQueryResult)]
    struct Total {
        n: Option<i64>,
    }
    if systems.is_some_and(|s| s.is_empty()) {
        return Ok(0);
    }
    let mut q = crate::db::Sql::new(d.db.get_database_backend());
    let merchant = q.bind(merchant_id);
    q.text = format!(
        "SELECT CAST(SUM(n) AS BIGINT) AS n FROM transaction_counts WHERE merchant_id = {merchant}"
    );
    q.is_in("payment_system", systems);
    let st = q.statement();
    let total = Total::find_by_statement(st).one(&d.db).await?;
    Ok(total.and_then(|t| t.n).unwrap_or(0))
}

/// Sums per currency of the rows matching the filter: (currency, minor units sum, count).
#[tracing::instrument(name = "db.transactions.totals", skip_all)]
pub async fn totals(d: &Deps, tenant: Tenant, filter: &Filter) -> AppResult<Vec<(Money, i64)>> {
    use transaction::Column as C;
    let select = transaction::Entity::find().filter(condition(tenant, filter));
    Ok(crate::money::totals_by_currency(&d.db, select, C::Currency, C::AmountMinor, C::Id).await?)
}

/// One transaction of the caller's merchant.
#[tracing::instrument(name = "db.transactions.get", skip_all)]
pub async fn get(d: &Deps, actor: &Actor, id: &str) -> AppResult<Option<transaction::Model>> {
    let tenant = actor.reader()?;
    let Ok(id) = id.trim().parse::<i64>() else {
        return Ok(None);
    };
    Ok(transaction::Entity::find_by_id(id)
        .filter(transaction::Column::MerchantId.eq(tenant.merchant_id))
        .one(&d.db)
        .await?)
}

/// Marks a transaction NORMAL or SCAM (scope PLATFORM). A SCAM transaction
/// is never activated; marking an activated one SCAM does not undo its postback.
pub async fn set_originality(
    d: &Deps,
    actor: &Actor,
    id: &str,
    originality: Originality,
) -> AppResult<Result<transaction::Model, UserError>> {
    let reach = actor.key_with_scope(Scope::Platform)?;
    let not_found = || UserError::new(&["id"], ErrorCode::NotFound, "no such transaction");
    let Ok(id) = id.trim().parse::<i64>() else {
        return Ok(Err(not_found()));
    };
    write(d, actor, async |txn, now| {
        let Some(before) = transaction::Entity::find_by_id(id)
            .one(txn)
            .await?
            .filter(|t| reach.covers(t.merchant_id))
        else {
            return Ok(Change::refused(Err(not_found())));
        };
        lock_keys(
            txn,
            &[number_key(
                &before.payment_system,
                &before.transaction_number,
            )],
        )
        .await?;
        buckets::transactions(txn, before.merchant_id, buckets::Scope::Id(id), -1).await?;
        transaction::Entity::update_many()
            .col_expr(transaction::Column::Originality, Expr::value(originality))
            .filter(transaction::Column::Id.eq(id))
            .exec(txn)
            .await?;
        buckets::transactions(txn, before.merchant_id, buckets::Scope::Id(id), 1).await?;
        // An activated deposit marked SCAM leaves the balance (its postback stays
        // sent); cleared again, it returns.
        if before.activated_at.is_some()
            && before.direction == Direction::Incoming
            && before.originality != originality
        {
            let net = before.amount_minor - before.commission_minor;
            let signed = if originality == Originality::Scam {
                -net
            } else {
                net
            };
            crate::activation::stockpile::credit(txn, before.merchant_id, &before.currency, signed)
                .await?;
        }
        let entry = Audit {
            merchant_id: Some(before.merchant_id),
            action: "transaction.set_originality",
            subject: Some(format!("transaction:{id}")),
            details: json!({ "from": before.originality, "to": originality }),
        };
        let after = transaction::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        let changed = Event::transaction(TransactionEventKind::OriginalityChanged, now, &after);
        Ok(Change::done(Ok(after)).audited(entry).publishing([changed]))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_counts_every_column_of_a_transaction() {
        use sea_orm::Iterable;
        assert_eq!(transaction::Column::iter().count(), COLUMNS);
        // every column has its own bit, inside ALL
        let mut seen = Columns::NONE;
        for (i, c) in transaction::Column::iter().enumerate() {
            // a column's bit is its place in the entity's order, which
            // pagination::find_columns reads the bits by
            assert_eq!(c as usize, i);
            let bit = Columns::of(&[c]).0;
            assert_eq!(seen.0 & bit, 0);
            assert_eq!(Columns::ALL.0 & bit, bit);
            seen = seen.and(Columns::of(&[c]));
        }
        assert_eq!(seen, Columns::ALL);
    }
}
