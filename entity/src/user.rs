use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    #[sea_orm(unique)]
    pub login: String,
    pub password_hash: crate::Secret,
    pub role: String,
    pub language: String,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    pub password_changed_at: DateTimeUtc,
    /// Base32 TOTP secret (set by enrollTotp; never shown again).
    pub totp_secret: Option<crate::Secret>,
    /// Two-factor sign-in is on (after confirmTotp).
    pub totp_enabled: bool,
    /// The last TOTP time step a code was accepted for.
    pub totp_last_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
