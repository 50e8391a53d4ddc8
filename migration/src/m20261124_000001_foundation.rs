//! The whole data model of the contract, plus the currency and payment-system
//! catalogue, which ship with the server rather than with demo data.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run_script(manager, include_str!("m20261124_000001_foundation.sql")).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "the foundation cannot be rolled back; restore a backup instead".into(),
        ))
    }
}
