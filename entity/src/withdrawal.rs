use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "withdrawals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub payment_system: String,
    pub currency: String,
    pub amount_minor: i64,
    pub recipient: String,
    pub label: Option<String>,
    pub comment: Option<String>,
    /// The platform's comment on approving or rejecting.
    pub decision_comment: Option<String>,
    pub fields: String,
    pub status: WithdrawalStatus,
    pub request_kind: String,
    pub created_by: Option<i64>,
    pub api_key_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    pub postback_status: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where a withdrawal stands: NEW until the platform decides, then APPROVED
/// (paid out) or REJECTED. Stored as the same text as before.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WithdrawalStatus {
    #[sea_orm(string_value = "NEW")]
    New,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}
