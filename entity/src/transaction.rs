use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "transactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub payment_system: String,
    pub wallet_id: i64,
    pub wallet_identifier: String,
    pub direction: String,
    pub amount_minor: i64,
    pub currency: String,
    pub commission_minor: i64,
    pub transaction_number: String,
    pub counterparty: Option<String>,
    pub created_at: DateTimeUtc,
    pub ingested_at: DateTimeUtc,
    pub label: Option<String>,
    pub order_id: Option<String>,
    pub activated_at: Option<DateTimeUtc>,
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub originality: String,
    pub country: String,
    pub stockpiling_id: Option<i64>,
    pub postback_status: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
