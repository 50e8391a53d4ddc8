//! A transaction never changes merchant or payment system: the maintained
//! counts (`transaction_counts`, kept by insert and delete triggers) and
//! every tenant boundary rest on it, so the database refuses an update that
//! would move a transaction to another merchant or payment system, whoever
//! writes it. An update that sets them to their own values passes.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000016_transaction_owner_fixed"
    }
}

/// What the refusal says (a test looks for it).
pub const REFUSAL: &str = "a transaction keeps its merchant and payment system";

/// The trigger (and its function) on `backend`.
fn statements(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![
            format!(
                "CREATE FUNCTION kassa_transaction_owner_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF NEW.merchant_id IS DISTINCT FROM OLD.merchant_id
                      OR NEW.payment_system IS DISTINCT FROM OLD.payment_system THEN
                     RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'integrity_constraint_violation';
                   END IF;
                   RETURN NEW;
                 END $$"
            ),
            "CREATE TRIGGER transactions_owner_fixed BEFORE UPDATE OF merchant_id, payment_system
             ON transactions FOR EACH ROW EXECUTE FUNCTION kassa_transaction_owner_fixed()"
                .to_string(),
        ],
        _ => vec![format!(
            "CREATE TRIGGER transactions_owner_fixed BEFORE UPDATE OF merchant_id, payment_system
             ON transactions
             WHEN NEW.merchant_id IS NOT OLD.merchant_id OR NEW.payment_system IS NOT OLD.payment_system
             BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )],
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in statements(db.get_database_backend()) {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match db.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS transactions_owner_fixed ON transactions",
                "DROP FUNCTION IF EXISTS kassa_transaction_owner_fixed()",
            ],
            _ => &["DROP TRIGGER IF EXISTS transactions_owner_fixed"],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
