use sea_orm::entity::prelude::*;

/// Pre-aggregated dashboard statistics for one 15-minute UTC bucket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stat_buckets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub section: StatSection,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: DashboardDateKind,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub payment_system: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub country: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub completed: i32,
    pub amount_minor: i64,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// The date that places a row on a day.
    pub enum DashboardDateKind {
        /// Count a deposit on the day it was activated.
        Activation = "ACTIVATION",
        /// Count a deposit on the day the payment system reported it.
        Creation = "CREATION",
        /// Count a deposit on the day its stockpiling completed.
        StockpilingEnd = "STOCKPILING_END",
    }
}

text_enum! {
    /// Which page's sums a row belongs to.
    pub enum StatSection {
        Transactions = "T",
        Withdrawals = "W",
    }
}
