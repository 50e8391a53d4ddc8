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
    pub role: Role,
    pub language: Language,
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

text_enum! {
    #[graphql]
    /// A merchant user's role.
    pub enum Role {
        /// Everything, including users and settings.
        Owner = "OWNER",
        /// Reads everything, creates withdrawals, resends postbacks.
        Operator = "OPERATOR",
        /// Reads everything, changes nothing but the own profile.
        Viewer = "VIEWER",
    }
}

text_enum! {
    #[graphql]
    /// The user's interface language.
    pub enum Language {
        /// English.
        En = "EN",
        /// Russian.
        Ru = "RU",
        /// Hindi.
        Hi = "HI",
        /// Bengali.
        Bn = "BN",
        /// Urdu.
        Ur = "UR",
    }
}
