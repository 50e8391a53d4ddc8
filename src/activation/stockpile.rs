//! Activating one transaction and moving its stockpiling, inside the
//! caller's database transaction.

use crate::catalog::model::Catalog;
use crate::error::AppResult;
use crate::stats::buckets::{self, Scope};
use chrono::{DateTime, SecondsFormat, Utc};
use entity::postback::PostbackKind;
use entity::stockpiling::StockpilingStatus;
use entity::transaction::{Direction, Originality, PostbackStatus};
use entity::{minimum_deposit, stockpiling, transaction};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder,
};
use serde_json::json;

/// What an activation changed.
pub struct Activated {
    pub transaction: transaction::Model,
    pub stockpiling: stockpiling::Model,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Claims transaction `id` for `label` if it is still claimable (INCOMING,
/// NORMAL, not activated); `None` when someone else got there first.
pub async fn activate(
    txn: &DatabaseTransaction,
    catalog: &Catalog,
    now: DateTime<Utc>,
    id: i64,
    label: &str,
    order_id: Option<&str>,
) -> AppResult<Option<Activated>> {
    use transaction::Column as T;
    let claim = Query::update()
        .table(transaction::Entity)
        .values([
            (T::Label, Some(label.to_string()).into()),
            (T::OrderId, order_id.map(str::to_string).into()),
            (T::ActivatedAt, Some(now).into()),
        ])
        .and_where(T::Id.eq(id))
        .and_where(T::ActivatedAt.is_null())
        .and_where(T::Direction.eq(Direction::Incoming))
        .and_where(T::Originality.eq(Originality::Normal))
        .returning_all()
        .to_owned();
    let Some(row) = txn.query_one(&claim).await? else {
        return Ok(None);
    };
    let mut tx = transaction::Model::from_query_result(&row, "")?;
    credit(
        txn,
        tx.merchant_id,
        &tx.currency,
        tx.amount_minor - tx.commission_minor,
    )
    .await?;
    let stockpiling = join_stockpiling(txn, catalog, now, &mut tx, label).await?;
    Ok(Some(Activated {
        transaction: tx,
        stockpiling,
    }))
}

/// Moves `net` minor units into (or, negative, out of) a merchant's balance.
pub async fn credit(
    txn: &impl ConnectionTrait,
    merchant_id: i64,
    currency: &str,
    net: i64,
) -> AppResult<()> {
    use entity::balance::Column as B;
    let upsert = Query::insert()
        .into_table(entity::balance::Entity)
        .columns([B::MerchantId, B::Currency, B::CreditedMinor])
        .values_panic([merchant_id.into(), currency.into(), net.into()])
        .on_conflict(
            OnConflict::columns([B::MerchantId, B::Currency])
                .value(
                    B::CreditedMinor,
                    Expr::col((entity::balance::Entity, B::CreditedMinor)).add(net),
                )
                .to_owned(),
        )
        .to_owned();
    txn.execute(&upsert).await?;
    Ok(())
}

/// Adds `tx` to the open stockpiling of its (merchant, label, currency) in one
/// atomic upsert, and completes it when the minimum is reached.
async fn join_stockpiling(
    txn: &DatabaseTransaction,
    catalog: &Catalog,
    now: DateTime<Utc>,
    tx: &mut transaction::Model,
    label: &str,
) -> AppResult<stockpiling::Model> {
    use stockpiling::Column as S;
    let minimum = minimum_deposit::Entity::find_by_id((tx.merchant_id, tx.currency.clone()))
        .one(txn)
        .await?
        .map(|m| m.amount_minor)
        .unwrap_or(0);
    let open_key = format!("{}:{}:{}", tx.merchant_id, tx.currency, label);
    let upsert = Query::insert()
        .into_table(stockpiling::Entity)
        .columns([
            S::MerchantId,
            S::Label,
            S::Currency,
            S::MinimumMinor,
            S::AccumulatedMinor,
            S::Status,
            S::OpenKey,
            S::CreatedAt,
        ])
        .values_panic([
            tx.merchant_id.into(),
            label.into(),
            tx.currency.clone().into(),
            minimum.into(),
            tx.amount_minor.into(),
            StockpilingStatus::InProgress.into(),
            open_key.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::column(S::OpenKey)
                .value(
                    S::AccumulatedMinor,
                    Expr::col((stockpiling::Entity, S::AccumulatedMinor)).add(tx.amount_minor),
                )
                .to_owned(),
        )
        .returning_all()
        .to_owned();
    let row = txn
        .query_one(&upsert)
        .await?
        .ok_or_else(|| anyhow::anyhow!("stockpiling upsert returned no row"))?;
    let mut sp = stockpiling::Model::from_query_result(&row, "")?;
    tx.stockpiling_id = Some(sp.id);
    tx.postback_status = PostbackStatus::StockpilingInProgress;

    transaction::Entity::update_many()
        .col_expr(transaction::Column::StockpilingId, Expr::value(Some(sp.id)))
        .col_expr(
            transaction::Column::PostbackStatus,
            Expr::value(PostbackStatus::StockpilingInProgress),
        )
        .filter(transaction::Column::Id.eq(tx.id))
        .exec(txn)
        .await?;
    let completes = sp.accumulated_minor >= sp.minimum_minor;
    if !completes {
        buckets::transactions(txn, tx.merchant_id, Scope::Id(tx.id), 1).await?;
    } else if sp.accumulated_minor != tx.amount_minor {
        // the earlier members move from "in progress" to "completed" (and
        // gain a stockpiling-end day); this one is counted once, below
        buckets::transactions(
            txn,
            sp.merchant_id,
            Scope::StockpilingExcept(sp.id, tx.id),
            -1,
        )
        .await?;
    }

    if completes {
        stockpiling::Entity::update_many()
            .col_expr(S::Status, Expr::value(StockpilingStatus::Completed))
            .col_expr(S::CompletedAt, Expr::value(Some(now)))
            .col_expr(S::OpenKey, Expr::value(Option::<String>::None))
            .filter(S::Id.eq(sp.id))
            .exec(txn)
            .await?;
        sp.status = StockpilingStatus::Completed;
        sp.completed_at = Some(now);
        sp.open_key = None;
        tx.postback_status = PostbackStatus::Queued;
        transaction::Entity::update_many()
            .col_expr(
                transaction::Column::PostbackStatus,
                Expr::value(PostbackStatus::Queued),
            )
            .filter(transaction::Column::StockpilingId.eq(sp.id))
            .exec(txn)
            .await?;
        buckets::transactions(txn, sp.merchant_id, Scope::Stockpiling(sp.id), 1).await?;
        queue_deposit_postback(txn, catalog, now, &sp, &tx.payment_system).await?;
    }
    Ok(sp)
}

/// Writes the DEPOSIT postback of a completed stockpiling (the outbox row).
async fn queue_deposit_postback(
    txn: &DatabaseTransaction,
    catalog: &Catalog,
    now: DateTime<Utc>,
    sp: &stockpiling::Model,
    payment_system: &str,
) -> AppResult<()> {
    let members = transaction::Entity::find()
        .filter(transaction::Column::StockpilingId.eq(sp.id))
        .order_by_asc(transaction::Column::Id)
        .all(txn)
        .await?;
    let body = |postback_id: i64| {
        json!({
            "type": "deposit",
            "postback_id": postback_id.to_string(),
            "stockpiling_id": sp.id.to_string(),
            "label": sp.label,
            "amount": catalog.decimal(&sp.accumulated()).to_string(),
            "currency": sp.currency,
            "payment_system": payment_system,
            "completed_at": sp.completed_at.map(rfc3339),
            "transactions": members.iter().map(|t| json!({
                "id": t.id.to_string(),
                "transaction_number": t.transaction_number,
                "amount": catalog.decimal(&t.amount()).to_string(),
                "commission": catalog.decimal(&t.commission()).to_string(),
                "order_id": t.order_id,
                "activated_at": t.activated_at.map(rfc3339),
            })).collect::<Vec<_>>(),
        })
    };
    crate::postbacks::service::queue(
        txn,
        now,
        sp.merchant_id,
        PostbackKind::Deposit,
        (Some(sp.id), None),
        body,
    )
    .await?;
    Ok(())
}
