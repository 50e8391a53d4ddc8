use sea_orm::entity::prelude::*;

/// A CSV export's download token (as SHA-256) and what it downloads.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub merchant_id: i64,
    pub kind: ExportKind,
    pub filter: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    /// What an export lists.
    pub enum ExportKind {
        Transactions = "TRANSACTIONS",
        Withdrawals = "WITHDRAWALS",
    }
}
