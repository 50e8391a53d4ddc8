use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "activation_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ticket: String,
    pub merchant_id: i64,
    pub payment_system: String,
    pub transaction_number: String,
    pub label: String,
    pub order_id: Option<String>,
    pub status: ActivationRequestStatus,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub settled_at: Option<DateTimeUtc>,
    pub transaction_id: Option<i64>,
    pub waiting_key: Option<String>,
    pub client_ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// Where an activation request stands.
    pub enum ActivationRequestStatus {
        /// The payment system has not reported the number yet.
        Waiting = "WAITING",
        /// The number arrived and the deposit was activated.
        Activated = "ACTIVATED",
        /// The number did not arrive in time.
        Expired = "EXPIRED",
        /// The number arrived but could not be activated (e.g. already activated, or an outgoing transaction).
        Rejected = "REJECTED",
    }
}
