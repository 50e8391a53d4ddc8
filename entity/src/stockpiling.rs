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

impl Model {
    /// The payer's deposits so far.
    pub fn accumulated(&self) -> crate::Money {
        crate::Money::new(self.accumulated_minor, self.currency.clone())
    }

    /// The minimum deposit it was opened with.
    pub fn minimum(&self) -> crate::Money {
        crate::Money::new(self.minimum_minor, self.currency.clone())
    }

    /// What is still missing to reach the minimum (zero once reached).
    pub fn remaining(&self) -> crate::Money {
        crate::Money::new(
            (self.minimum_minor - self.accumulated_minor).max(0),
            self.currency.clone(),
        )
    }
}
