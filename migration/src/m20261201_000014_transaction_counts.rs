//! Maintained counts of transactions per (merchant, payment system), so the
//! Transactions page's `totalCount` without a filter (or filtered by
//! payment system only) reads a handful of rows instead of counting a
//! merchant's whole history. Kept by triggers, so every writer — the API,
//! the demo loader, a bulk `INSERT` — keeps them exact, in the same
//! transaction as the rows they count.
//!
//! PostgreSQL: one statement-level trigger per INSERT / DELETE (transition
//! tables), adding per (merchant, system) into the shard of the writing
//! connection (`pg_backend_pid() % 8`), so concurrent ingests do not queue
//! on one counter row. SQLite (one writer at a time): row-level triggers on
//! shard 0. A transaction's merchant and payment system never change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000014_transaction_counts"
    }
}

const TABLE: &str = "CREATE TABLE transaction_counts (
    merchant_id BIGINT NOT NULL,
    payment_system TEXT NOT NULL,
    shard INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, payment_system, shard)
)";

const BACKFILL: &str = "INSERT INTO transaction_counts (merchant_id, payment_system, shard, n)
    SELECT merchant_id, payment_system, 0, COUNT(*) FROM transactions
    GROUP BY merchant_id, payment_system";

const POSTGRES: [&str; 4] = [
    "CREATE FUNCTION kassa_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       INSERT INTO transaction_counts (merchant_id, payment_system, shard, n)
       SELECT merchant_id, payment_system, pg_backend_pid() % 8, COUNT(*) FROM counted
       GROUP BY merchant_id, payment_system ORDER BY merchant_id, payment_system
       ON CONFLICT (merchant_id, payment_system, shard)
       DO UPDATE SET n = transaction_counts.n + excluded.n;
       RETURN NULL;
     END $$",
    "CREATE FUNCTION kassa_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       INSERT INTO transaction_counts (merchant_id, payment_system, shard, n)
       SELECT merchant_id, payment_system, pg_backend_pid() % 8, -COUNT(*) FROM counted
       GROUP BY merchant_id, payment_system ORDER BY merchant_id, payment_system
       ON CONFLICT (merchant_id, payment_system, shard)
       DO UPDATE SET n = transaction_counts.n + excluded.n;
       RETURN NULL;
     END $$",
    "CREATE TRIGGER transactions_count_inserted AFTER INSERT ON transactions
     REFERENCING NEW TABLE AS counted FOR EACH STATEMENT EXECUTE FUNCTION kassa_count_inserted()",
    "CREATE TRIGGER transactions_count_deleted AFTER DELETE ON transactions
     REFERENCING OLD TABLE AS counted FOR EACH STATEMENT EXECUTE FUNCTION kassa_count_deleted()",
];

const SQLITE: [&str; 2] = [
    "CREATE TRIGGER transactions_count_inserted AFTER INSERT ON transactions BEGIN
       INSERT OR IGNORE INTO transaction_counts (merchant_id, payment_system, shard, n)
       VALUES (NEW.merchant_id, NEW.payment_system, 0, 0);
       UPDATE transaction_counts SET n = n + 1
       WHERE merchant_id = NEW.merchant_id AND payment_system = NEW.payment_system AND shard = 0;
     END",
    "CREATE TRIGGER transactions_count_deleted AFTER DELETE ON transactions BEGIN
       INSERT OR IGNORE INTO transaction_counts (merchant_id, payment_system, shard, n)
       VALUES (OLD.merchant_id, OLD.payment_system, 0, 0);
       UPDATE transaction_counts SET n = n - 1
       WHERE merchant_id = OLD.merchant_id AND payment_system = OLD.payment_system AND shard = 0;
     END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            // (migrations run in one transaction) no other instance inserts
            // between the backfill and the triggers
            db.execute_unprepared("LOCK TABLE transactions IN SHARE ROW EXCLUSIVE MODE")
                .await?;
        }
        db.execute_unprepared(TABLE).await?;
        db.execute_unprepared(BACKFILL).await?;
        let triggers: &[&str] = match db.get_database_backend() {
            DbBackend::Postgres => &POSTGRES,
            _ => &SQLITE,
        };
        for sql in triggers {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "not reversible; restore a backup instead".into(),
        ))
    }
}
