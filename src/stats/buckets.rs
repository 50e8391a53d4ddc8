//! Keeping `stat_buckets` in step with the rows they count.
//!
//! Every change that can move a transaction or withdrawal into or out of a
//! bucket (activation, originality, stockpiling completion, a withdrawal's
//! decision) calls [`transactions`]/[`withdrawals`] with `-1` for the rows as
//! they stand before it and `+1` after it, inside the same database
//! transaction. The same statements with scope `All` rebuild the table.

use crate::error::AppResult;
use sea_orm::{ConnectionTrait, DbBackend};

/// Which transactions a maintenance statement counts.
#[derive(Copy, Clone, Debug)]
pub enum Scope {
    /// One transaction (or withdrawal) by id.
    Id(i64),
    /// The members of one stockpiling.
    Stockpiling(i64),
    /// One merchant's rows.
    Merchant(i64),
    /// Every row.
    All,
}

fn bucket(backend: DbBackend, col: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST(FLOOR(EXTRACT(EPOCH FROM {col}) / 900) AS BIGINT)"),
        _ => format!("(CAST(strftime('%s', {col}) AS INTEGER) / 900)"),
    }
}

fn upsert(select: &str, sign: i64) -> String {
    format!(
        "INSERT INTO stat_buckets (merchant_id, section, kind, bucket, payment_system, currency, \
         country, completed, amount_minor, count) \
         SELECT merchant_id, section, kind, bucket, payment_system, currency, country, completed, \
         SUM(amount_minor) * {sign}, COUNT(*) * {sign} FROM ({select}) x WHERE 1 = 1 \
         GROUP BY merchant_id, section, kind, bucket, payment_system, currency, country, completed \
         ORDER BY merchant_id, section, kind, bucket, payment_system, currency, country, completed \
         ON CONFLICT (merchant_id, section, kind, bucket, payment_system, currency, country, completed) \
         DO UPDATE SET amount_minor = stat_buckets.amount_minor + excluded.amount_minor, \
         count = stat_buckets.count + excluded.count"
    )
}

/// Adds (`sign` = 1) or removes (`sign` = -1) the dashboard contribution of
/// the transactions in `scope` as they stand now: INCOMING, activated and
/// NORMAL, placed by activation, creation and (when completed) their
/// stockpiling's end.
pub async fn transactions(conn: &impl ConnectionTrait, scope: Scope, sign: i64) -> AppResult<()> {
    let backend = conn.get_database_backend();
    let scope = match scope {
        Scope::Id(id) => format!("t.id = {id}"),
        Scope::Stockpiling(id) => format!("t.stockpiling_id = {id}"),
        Scope::Merchant(id) => format!("t.merchant_id = {id}"),
        Scope::All => "1 = 1".into(),
    };
    let base = format!(
        "FROM transactions t LEFT JOIN stockpilings s ON s.id = t.stockpiling_id \
         WHERE {scope} AND t.direction = 'INCOMING' AND t.activated_at IS NOT NULL \
         AND t.originality = 'NORMAL'"
    );
    let part = |kind: &str, col: &str, extra: &str| {
        format!(
            "SELECT t.merchant_id AS merchant_id, 'T' AS section, '{kind}' AS kind, {} AS bucket, \
             t.payment_system AS payment_system, t.currency AS currency, t.country AS country, \
             CASE WHEN s.status = 'COMPLETED' THEN 1 ELSE 0 END AS completed, \
             t.amount_minor AS amount_minor {base}{extra}",
            bucket(backend, col)
        )
    };
    let select = format!(
        "{} UNION ALL {} UNION ALL {}",
        part("ACTIVATION", "t.activated_at", ""),
        part("CREATION", "t.created_at", ""),
        part(
            "STOCKPILING_END",
            "s.completed_at",
            " AND s.completed_at IS NOT NULL"
        ),
    );
    conn.execute_unprepared(&upsert(&select, sign)).await?;
    Ok(())
}

/// Adds or removes the contribution of APPROVED withdrawals in `scope`:
/// placed by `processedAt` (kind ACTIVATION) and by `createdAt` (CREATION),
/// in the country of their payment system.
pub async fn withdrawals(conn: &impl ConnectionTrait, scope: Scope, sign: i64) -> AppResult<()> {
    let backend = conn.get_database_backend();
    let scope = match scope {
        Scope::Id(id) => format!("w.id = {id}"),
        Scope::Merchant(id) => format!("w.merchant_id = {id}"),
        Scope::Stockpiling(_) => return Ok(()),
        Scope::All => "1 = 1".into(),
    };
    let part = |kind: &str, col: &str| {
        format!(
            "SELECT w.merchant_id AS merchant_id, 'W' AS section, '{kind}' AS kind, {} AS bucket, \
             w.payment_system AS payment_system, w.currency AS currency, p.country AS country, \
             1 AS completed, w.amount_minor AS amount_minor FROM withdrawals w \
             JOIN payment_systems p ON p.code = w.payment_system WHERE {scope} AND w.status = 'APPROVED' AND w.processed_at IS NOT NULL",
            bucket(backend, col)
        )
    };
    let select = format!(
        "{} UNION ALL {}",
        part("ACTIVATION", "w.processed_at"),
        part("CREATION", "w.created_at")
    );
    conn.execute_unprepared(&upsert(&select, sign)).await?;
    Ok(())
}

/// Recomputes the buckets of one merchant (or all) from the raw rows, in
/// the caller's transaction. Returns the number of bucket rows written.
pub async fn rebuild(conn: &impl ConnectionTrait, merchant_id: Option<i64>) -> AppResult<u64> {
    let (scope, cond) = match merchant_id {
        Some(id) => (Scope::Merchant(id), format!(" WHERE merchant_id = {id}")),
        None => (Scope::All, String::new()),
    };
    conn.execute_unprepared(&format!("DELETE FROM stat_buckets{cond}"))
        .await?;
    transactions(conn, scope, 1).await?;
    withdrawals(conn, scope, 1).await?;
    let rows = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM stat_buckets{cond}"),
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    Ok(rows as u64)
}
