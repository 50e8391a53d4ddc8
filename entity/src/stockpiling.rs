use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "stockpilings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub label: String,
    pub currency: String,
    pub minimum_minor: i64,
    pub accumulated_minor: i64,
    pub status: StockpilingStatus,
    pub open_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// Whether a stockpiling reached the minimum.
    pub enum StockpilingStatus {
        /// Below the minimum: deposits keep accumulating.
        InProgress = "IN_PROGRESS",
        /// The minimum was reached and the postback queued.
        Completed = "COMPLETED",
    }
}
