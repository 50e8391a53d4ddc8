use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "balances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    pub credited_minor: i64,
    pub withdrawn_minor: i64,
    pub reserved_minor: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// What may still be withdrawn or reserved: credited minus withdrawn.
    pub fn available(&self) -> crate::Money {
        crate::Money::new(
            self.credited_minor - self.withdrawn_minor,
            self.currency.clone(),
        )
    }

    /// Held by withdrawals waiting for a decision.
    pub fn reserved(&self) -> crate::Money {
        crate::Money::new(self.reserved_minor, self.currency.clone())
    }
}
