//! Idempotency keys of createWithdrawal: one key, one withdrawal, for 24
//! hours. The key is claimed inside the creating transaction (an insert
//! that does nothing on conflict), so two concurrent requests with one key
//! make one withdrawal: on PostgreSQL the second waits for the first to
//! commit, on SQLite writers are serialised.

use crate::error::AppResult;
use chrono::{DateTime, TimeDelta, Utc};
use entity::{idempotency_key, withdrawal};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

/// How long a key answers with its first withdrawal.
pub const TTL: TimeDelta = TimeDelta::hours(24);

/// What a key says about a request.
pub enum Claim {
    /// The key is new (or expired and started over): go on and create.
    Fresh,
    /// The same request came before: answer with its withdrawal.
    Replay(Box<withdrawal::Model>),
    /// The key was used within the TTL for a different request.
    Conflict,
}

/// The digest of a request's meaning (canonical JSON: key order fixed,
/// fields sorted), so a retry with the same data matches.
pub fn request_hash(canonical: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Claims `key` of `merchant_id` for the request `hash`, in `txn`.
pub async fn claim(
    txn: &impl ConnectionTrait,
    merchant_id: i64,
    key: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> AppResult<Claim> {
    use idempotency_key::Column as K;
    let insert = Query::insert()
        .into_table(idempotency_key::Entity)
        .columns([K::MerchantId, K::Key, K::RequestHash, K::CreatedAt])
        .values_panic([merchant_id.into(), key.into(), hash.into(), now.into()])
        .on_conflict(
            OnConflict::columns([K::MerchantId, K::Key])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    // On PostgreSQL a concurrent copy waits here until the first commits.
    if txn.execute(&insert).await?.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
    let existing = idempotency_key::Entity::find_by_id((merchant_id, key.to_string()))
        .one(txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("idempotency key vanished"))?;
    if existing.created_at + TTL <= now {
        // Expired: the key starts over.
        idempotency_key::Entity::update_many()
            .col_expr(K::RequestHash, Expr::value(hash))
            .col_expr(K::CreatedAt, Expr::value(now))
            .col_expr(K::WithdrawalId, Expr::value(Option::<i64>::None))
            .filter(K::MerchantId.eq(merchant_id))
            .filter(K::Key.eq(key))
            .exec(txn)
            .await?;
        return Ok(Claim::Fresh);
    }
    if existing.request_hash != hash {
        return Ok(Claim::Conflict);
    }
    let first = match existing.withdrawal_id {
        Some(id) => withdrawal::Entity::find_by_id(id).one(txn).await?,
        None => None,
    };
    first
        .map(|w| Claim::Replay(Box::new(w)))
        .ok_or_else(|| anyhow::anyhow!("idempotency key without its withdrawal").into())
}

/// Ties a claimed key to the withdrawal it made.
pub async fn bind(
    txn: &impl ConnectionTrait,
    merchant_id: i64,
    key: &str,
    withdrawal_id: i64,
) -> AppResult<()> {
    use idempotency_key::Column as K;
    idempotency_key::Entity::update_many()
        .col_expr(K::WithdrawalId, Expr::value(Some(withdrawal_id)))
        .filter(K::MerchantId.eq(merchant_id))
        .filter(K::Key.eq(key))
        .exec(txn)
        .await?;
    Ok(())
}
