use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exchange_rates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    /// YYYY-MM-DD
    #[sea_orm(primary_key, auto_increment = false)]
    pub date: String,
    /// Exact decimal text: the value of one unit in USD.
    pub usd: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
