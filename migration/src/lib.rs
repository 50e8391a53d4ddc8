//! Kassa's schema, one migration per step. Each migration is plain SQL with
//! three backend-specific words (`{pk}`, `{ts}`, `{blob}`) so both SQLite and
//! PostgreSQL get the same tables; money columns are integer minor units.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_foundation;
mod m20261124_000002_transactions;
mod m20261124_000003_activation_order;
mod m20261124_000004_withdrawals;
mod m20261124_000005_stats;
mod m20261124_000006_stat_days;
mod m20261130_000007_postback_endpoints;
mod m20261201_000008_withdrawal_decision_comment;
mod m20261201_000009_api_key_names;
mod m20261201_000010_audit_filters;
mod m20261201_000011_totp;
mod m20261201_000012_exports;
mod m20261201_000013_transactions_by_system;
mod m20261201_000014_transaction_counts;
mod m20261201_000015_activated_pages;
pub mod m20261202_000016_transaction_owner_fixed;
mod sql;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_foundation::Migration),
            Box::new(m20261124_000002_transactions::Migration),
            Box::new(m20261124_000003_activation_order::Migration),
            Box::new(m20261124_000004_withdrawals::Migration),
            Box::new(m20261124_000005_stats::Migration),
            Box::new(m20261124_000006_stat_days::Migration),
            Box::new(m20261130_000007_postback_endpoints::Migration),
            Box::new(m20261201_000008_withdrawal_decision_comment::Migration),
            Box::new(m20261201_000009_api_key_names::Migration),
            Box::new(m20261201_000010_audit_filters::Migration),
            Box::new(m20261201_000011_totp::Migration),
            Box::new(m20261201_000012_exports::Migration),
            Box::new(m20261201_000013_transactions_by_system::Migration),
            Box::new(m20261201_000014_transaction_counts::Migration),
            Box::new(m20261201_000015_activated_pages::Migration),
            Box::new(m20261202_000016_transaction_owner_fixed::Migration),
        ]
    }
}
