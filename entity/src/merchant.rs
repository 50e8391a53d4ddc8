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
    pub after_payment_action: AfterPaymentAction,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    pub theme: PluginTheme,
    pub custom_css_file_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// The plugin's colour theme.
    pub enum PluginTheme {
        /// Light text on a dark background.
        Dark = "DARK",
        /// Dark text on a light background.
        Light = "LIGHT",
        /// White with green accents.
        WhiteGreen = "WHITE_GREEN",
        /// The merchant's own stylesheet (customCssUrl).
        Custom = "CUSTOM",
    }
}

text_enum! {
    #[graphql]
    /// What the plugin does after a successful activation.
    pub enum AfterPaymentAction {
        /// The plugin shows the result and stays open.
        ShowResult = "SHOW_RESULT",
        /// The plugin sends the payer to successUrl (or failUrl).
        Redirect = "REDIRECT",
    }
}
