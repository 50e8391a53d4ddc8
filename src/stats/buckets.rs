//! Keeping `stat_buckets` in step with the rows they count.
//!
//! Every change that can move a transaction or withdrawal into or out of a
//! bucket (activation, originality, stockpiling completion, a withdrawal's
//! decision) calls [`transactions`]/[`withdrawals`] with `-1` for the rows as
//! they stand before it and `+1` after it, inside the same database
//! transaction. The same statements with scope `All` rebuild the table.

use crate::error::AppResult;
use chrono_tz::Tz;
use entity::stat_bucket::{DashboardDateKind as DateKind, StatSection};
use entity::stockpiling::StockpilingStatus;
use entity::transaction::{Direction, Originality};
use entity::withdrawal::WithdrawalStatus;
use entity::TextEnum;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Which transactions a maintenance statement counts.
#[derive(Copy, Clone, Debug)]
pub enum Scope {
    /// One transaction (or withdrawal) by id.
    Id(i64),
    /// The members of one stockpiling.
    Stockpiling(i64),
    /// The members of one stockpiling but one transaction.
    StockpilingExcept(i64, i64),
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

/// The merchant's time zone, read so that a concurrent change of it waits
/// for this transaction (PostgreSQL `FOR SHARE`; SQLite writes one at a time):
/// the zone change then rebuilds the days with this transaction's rows in.
async fn zone_of(conn: &impl ConnectionTrait, merchant_id: i64) -> AppResult<Tz> {
    let lock = match conn.get_database_backend() {
        DbBackend::Postgres => " FOR SHARE",
        _ => "",
    };
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT timezone FROM merchants WHERE id = {merchant_id}{lock}"),
        ))
        .await?
        .ok_or(crate::error::AppError::NotFound)?;
    let name: String = row.try_get("", "timezone")?;
    Ok(name.parse().unwrap_or(chrono_tz::UTC))
}

/// The same rows as `select`, rolled into the local days of `tz`.
fn upsert_days(select: &str, sign: i64, tz: Tz) -> String {
    format!(
        "INSERT INTO stat_days (merchant_id, section, kind, day, payment_system, currency, \
         country, completed, amount_minor, count) \
         SELECT merchant_id, section, kind, day, payment_system, currency, country, completed, \
         SUM(amount_minor) * {sign}, COUNT(*) * {sign} \
         FROM (SELECT x.*, {} AS day FROM ({select}) x) y WHERE 1 = 1 \
         GROUP BY merchant_id, section, kind, day, payment_system, currency, country, completed \
         ORDER BY merchant_id, section, kind, day, payment_system, currency, country, completed \
         ON CONFLICT (merchant_id, section, kind, day, payment_system, currency, country, completed) \
         DO UPDATE SET amount_minor = stat_days.amount_minor + excluded.amount_minor, \
         count = stat_days.count + excluded.count",
        super::days::local_day_sql(tz)
    )
}

/// Recomputes one merchant's days from its buckets, in `tz`.
pub async fn rebuild_days(conn: &impl ConnectionTrait, merchant_id: i64, tz: Tz) -> AppResult<()> {
    conn.execute_unprepared(&format!(
        "DELETE FROM stat_days WHERE merchant_id = {merchant_id}"
    ))
    .await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO stat_days (merchant_id, section, kind, day, payment_system, currency, \
         country, completed, amount_minor, count) \
         SELECT merchant_id, section, kind, day, payment_system, currency, country, completed, \
         SUM(amount_minor), SUM(count) \
         FROM (SELECT b.*, {} AS day FROM stat_buckets b WHERE b.merchant_id = {merchant_id}) y \
         WHERE 1 = 1 \
         GROUP BY merchant_id, section, kind, day, payment_system, currency, country, completed \
         HAVING SUM(count) <> 0",
        super::days::local_day_sql(tz)
    ))
    .await?;
    Ok(())
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
pub async fn transactions(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    scope: Scope,
    sign: i64,
) -> AppResult<()> {
    let select = transactions_select(conn.get_database_backend(), scope);
    apply(conn, merchant_id, &select, sign).await
}

/// The counted rows of the transactions in `scope`, one per date kind.
fn transactions_select(backend: DbBackend, scope: Scope) -> String {
    let scope = match scope {
        Scope::Id(id) => format!("t.id = {id}"),
        Scope::Stockpiling(id) => format!("t.stockpiling_id = {id}"),
        Scope::StockpilingExcept(sp, id) => format!("t.stockpiling_id = {sp} AND t.id <> {id}"),
        Scope::Merchant(id) => format!("t.merchant_id = {id}"),
        Scope::All => "1 = 1".into(),
    };
    let base = format!(
        "FROM transactions t LEFT JOIN stockpilings s ON s.id = t.stockpiling_id \
         WHERE {scope} AND t.direction = {incoming} AND t.activated_at IS NOT NULL \
         AND t.originality = {normal}",
        incoming = Direction::Incoming.sql(),
        normal = Originality::Normal.sql(),
    );
    let part = |kind: DateKind, col: &str, extra: &str| {
        format!(
            "SELECT t.merchant_id AS merchant_id, {section} AS section, {kind} AS kind, {} AS bucket, \
             t.payment_system AS payment_system, t.currency AS currency, t.country AS country, \
             CASE WHEN s.status = {completed} THEN 1 ELSE 0 END AS completed, \
             t.amount_minor AS amount_minor {base}{extra}",
            bucket(backend, col),
            section = StatSection::Transactions.sql(),
            kind = kind.sql(),
            completed = StockpilingStatus::Completed.sql(),
        )
    };
    format!(
        "{} UNION ALL {} UNION ALL {}",
        part(DateKind::Activation, "t.activated_at", ""),
        part(DateKind::Creation, "t.created_at", ""),
        part(
            DateKind::StockpilingEnd,
            "s.completed_at",
            " AND s.completed_at IS NOT NULL"
        ),
    )
}

/// Adds or removes the contribution of APPROVED withdrawals in `scope`:
/// placed by `processedAt` (kind ACTIVATION) and by `createdAt` (CREATION),
/// in the country of their payment system.
pub async fn withdrawals(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    scope: Scope,
    sign: i64,
) -> AppResult<()> {
    let select = withdrawals_select(conn.get_database_backend(), scope);
    apply(conn, merchant_id, &select, sign).await
}

/// The counted rows of the withdrawals in `scope`, one per date kind.
fn withdrawals_select(backend: DbBackend, scope: Scope) -> String {
    let scope = match scope {
        Scope::Id(id) => format!("w.id = {id}"),
        Scope::Merchant(id) => format!("w.merchant_id = {id}"),
        Scope::Stockpiling(_) | Scope::StockpilingExcept(..) => "1 = 0".into(),
        Scope::All => "1 = 1".into(),
    };
    let part = |kind: DateKind, col: &str| {
        format!(
            "SELECT w.merchant_id AS merchant_id, {section} AS section, {kind} AS kind, {} AS bucket, \
             w.payment_system AS payment_system, w.currency AS currency, p.country AS country, \
             1 AS completed, w.amount_minor AS amount_minor FROM withdrawals w \
             JOIN payment_systems p ON p.code = w.payment_system \
             WHERE {scope} AND w.status = {approved} AND w.processed_at IS NOT NULL",
            bucket(backend, col),
            section = StatSection::Withdrawals.sql(),
            kind = kind.sql(),
            approved = WithdrawalStatus::Approved.sql(),
        )
    };
    format!(
        "{} UNION ALL {}",
        part(DateKind::Activation, "w.processed_at"),
        part(DateKind::Creation, "w.created_at")
    )
}

/// Moves the rows of `select` (one merchant's) into both tables.
async fn apply(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    select: &str,
    sign: i64,
) -> AppResult<()> {
    // The zone first: a transaction never waits for the merchant row while
    // holding statistics rows a zone change needs (no deadlock between them).
    let tz = zone_of(conn, merchant_id).await?;
    let select = format!("SELECT * FROM ({select}) z WHERE z.merchant_id = {merchant_id}");
    conn.execute_unprepared(&upsert(&select, sign)).await?;
    conn.execute_unprepared(&upsert_days(&select, sign, tz))
        .await?;
    Ok(())
}

/// Recomputes the buckets and days of one merchant from the raw rows, in
/// the caller's transaction (a rebuild of all goes merchant by merchant,
/// each in its own transaction). Returns the number of bucket rows written.
pub async fn rebuild(conn: &impl ConnectionTrait, merchant_id: i64) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let Some(zone) = conn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT timezone FROM merchants WHERE id = {merchant_id}"),
        ))
        .await?
        .map(|r| r.try_get::<String>("", "timezone"))
        .transpose()?
    else {
        return Ok(0);
    };
    let cond = format!(" WHERE merchant_id = {merchant_id}");
    conn.execute_unprepared(&format!("DELETE FROM stat_buckets{cond}"))
        .await?;
    let scope = Scope::Merchant(merchant_id);
    conn.execute_unprepared(&upsert(&transactions_select(backend, scope), 1))
        .await?;
    conn.execute_unprepared(&upsert(&withdrawals_select(backend, scope), 1))
        .await?;
    rebuild_days(conn, merchant_id, zone.parse().unwrap_or(chrono_tz::UTC)).await?;
    let rows = conn
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM stat_buckets{cond}"),
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    Ok(rows as u64)
}
