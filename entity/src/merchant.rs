use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub timezone: String,
    #[sea_orm(unique)]
    pub plugin_key: String,
    pub delayed_auto_activation: bool,
    pub postback_url: Option<String>,
    pub withdrawal_postback_url: Option<String>,
    pub postback_secret: crate::Secret,
    pub after_payment_action: String,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    pub theme: String,
    pub custom_css_file_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
