//! Indexes for the Transactions page sorted by activation time and filtered
//! by postback status. For activation time, the sort key
//! puts not-activated rows at the epoch, and the index holds that same expression.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000003_activation_order"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let sql = match db.get_database_backend() {
            DbBackend::Postgres => {
                "CREATE INDEX transactions_merchant_activation_order ON transactions \
                 (merchant_id, (COALESCE(activated_at, 'epoch'::timestamptz)), id)"
            }
            _ => {
                "CREATE INDEX transactions_merchant_activation_order ON transactions \
                 (merchant_id, COALESCE(activated_at, '1970-01-01T00:00:00+00:00'), id)"
            }
        };
        db.execute_unprepared(sql).await?;
        // Operators look for the rare statuses (ERROR_SENDING, QUEUED); without
        // this the page scans the merchant's whole history to fill 50 rows.
        db.execute_unprepared(
            "CREATE INDEX transactions_merchant_postback ON transactions (merchant_id, postback_status, id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "not reversible; restore a backup instead".into(),
        ))
    }
}
