use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scope: ApiKeyScope,
    pub merchant_id: Option<i64>,
    #[sea_orm(unique)]
    pub key_hash: String,
    pub prefix: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// The name its owner gave it (self-service keys).
    pub name: Option<String>,
    /// The user who made it (self-service keys).
    pub created_by: Option<i64>,
    /// Last request made with it, to the minute.
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// What an API key may do.
    pub enum ApiKeyScope {
        /// The merchant's own server: reads as OPERATOR, creates withdrawals.
        Merchant = "MERCHANT",
        /// A payment-system integration: `ingestTransactions`.
        Ingest = "INGEST",
        /// The platform operator: statuses, originality, rates, delayed activation.
        Platform = "PLATFORM",
    }
}
