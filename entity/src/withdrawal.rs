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
    pub request_kind: WithdrawalRequestKind,
    pub created_by: Option<i64>,
    pub api_key_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    pub postback_status: WithdrawalPostbackStatus,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// The platform's decision on a withdrawal.
    pub enum WithdrawalStatus {
        /// Waiting for the platform; its amount is reserved.
        New = "NEW",
        /// Paid out.
        Approved = "APPROVED",
        /// Not paid; the amount is available again.
        Rejected = "REJECTED",
    }
}

text_enum! {
    #[graphql]
    /// Who requested a withdrawal.
    pub enum WithdrawalRequestKind {
        /// Created in the personal account.
        Manual = "MANUAL",
        /// Created by the merchant's server with an API key.
        Api = "API",
    }
}

text_enum! {
    #[graphql]
    /// Where a withdrawal's postback stands.
    pub enum WithdrawalPostbackStatus {
        /// No status postback is due yet (the withdrawal is NEW).
        NotSent = "NOT_SENT",
        /// The merchant's server answered 2xx.
        Received = "RECEIVED",
        /// Delivery failed after every retry.
        Error = "ERROR",
    }
}

impl Model {
    pub fn amount(&self) -> crate::Money {
        crate::Money::new(self.amount_minor, self.currency.clone())
    }
}
