//! Connecting to SQLite or PostgreSQL, migrating, and opening write transactions.

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::time::Duration;

/// Opens the pool. SQLite gets WAL (readers never block the writer) and a
/// busy timeout; PostgreSQL a pool sized for a few instances per server.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        opts.max_connections(8).min_connections(1);
    } else {
        opts.max_connections(20).min_connections(1);
    }
    let db = Database::connect(opts)
        .await
        .with_context(|| format!("connecting to the database at {}", redact(url)))?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL persists in the file; busy_timeout and foreign_keys are per connection
        // and sqlx sets them on each (5 s busy timeout, foreign keys on).
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .context("switching SQLite to WAL")?;
    }
    Ok(db)
}

/// Hides the password of a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Applies pending migrations. On PostgreSQL the whole run holds a
/// transaction-scoped advisory lock, so instances starting together take turns
/// and the later ones find nothing left to do.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7261746173)")
                .await
                .context("taking the migration lock")?;
            Migrator::up(&txn, None)
                .await
                .context("applying migrations")?;
            txn.commit().await.context("committing migrations")?;
        }
        _ => {
            let txn = begin_write(db).await?;
            Migrator::up(&txn, None)
                .await
                .context("applying migrations")?;
            txn.commit().await.context("committing migrations")?;
        }
    }
    Ok(())
}

/// Whether every migration this binary knows has been applied.
pub async fn migrations_applied(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

/// Begins a transaction that will write. On SQLite it takes the write lock
/// up front (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy
/// timeout instead of failing with SQLITE_BUSY when a read turns into a write.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
        }
        _ => db.begin().await,
    }
}
