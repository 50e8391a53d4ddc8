//! The demo data set: "Demo Shop" with an OWNER, OPERATOR and VIEWER, wallets
//! on seven payment systems in IN, BD and PK, and API keys for the playground.
//! Fixed values throughout, so every load gives the same data; loading twice
//! changes nothing.

use crate::accounts::service::{self as accounts, NewUser};
use crate::app::Deps;
use crate::auth::model::{Actor, Language, Role, Scope};
use crate::auth::service as auth;
use crate::catalog::service as catalog;
use crate::error::{AppError, AppResult};
use entity::merchant;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;

pub const MERCHANT_NAME: &str = "Demo Shop";
/// The demo merchant's public plugin key.
pub const PLUGIN_KEY: &str = "kpk_demo_shop_public_key_0001";

/// Sign-ins printed by `kassa serve` on a demo database.
pub const USERS: [(&str, &str, Role); 3] = [
    ("owner@demo", "DemoOwner2026", Role::Owner),
    ("operator@demo", "DemoOperator2026", Role::Operator),
    ("viewer@demo", "DemoViewer2026", Role::Viewer),
];

/// Demo API keys, for trying the platform-side operations in the playground.
/// They exist only in a database the demo was loaded into.
pub const KEYS: [(Scope, &str); 3] = [
    (
        Scope::Merchant,
        "kak_demo_merchant_key_do_not_use_in_production",
    ),
    (
        Scope::Ingest,
        "kak_demo_ingest_key_do_not_use_in_production",
    ),
    (
        Scope::Platform,
        "kak_demo_platform_key_do_not_use_in_production",
    ),
];

const WALLETS: [(&str, &str); 7] = [
    ("paytm", "9876500001"),
    ("upi", "demoshop@okaxis"),
    ("imps", "50100123456789"),
    ("bkash", "01711000001"),
    ("nagad", "01811000001"),
    ("easypaisa", "03001000001"),
    ("jazzcash", "03011000001"),
];

#[derive(Serialize, Clone, Debug)]
pub struct DemoLogin {
    pub login: &'static str,
    pub password: &'static str,
    pub role: &'static str,
}

#[derive(Serialize, Clone, Debug)]
pub struct DemoSummary {
    /// False when the demo was already there.
    pub created: bool,
    pub merchant_id: i64,
    pub plugin_key: &'static str,
    pub logins: Vec<DemoLogin>,
    pub api_keys: Vec<(String, &'static str)>,
}

fn summary(created: bool, merchant_id: i64) -> DemoSummary {
    DemoSummary {
        created,
        merchant_id,
        plugin_key: PLUGIN_KEY,
        logins: USERS
            .iter()
            .map(|(login, password, role)| DemoLogin {
                login,
                password,
                role: role.as_str(),
            })
            .collect(),
        api_keys: KEYS
            .iter()
            .map(|(scope, key)| (scope.as_str().to_string(), *key))
            .collect(),
    }
}

/// Whether the database has no merchant at all (a fresh embedded database).
pub async fn database_is_empty(d: &Deps) -> AppResult<bool> {
    Ok(merchant::Entity::find().count(&d.db).await? == 0)
}

/// Loads the demo data unless it is there already.
pub async fn load(d: &Deps) -> AppResult<DemoSummary> {
    if let Some(m) = merchant::Entity::find()
        .filter(merchant::Column::PluginKey.eq(PLUGIN_KEY))
        .one(&d.db)
        .await?
    {
        return Ok(summary(false, m.id));
    }
    let m = accounts::create_merchant(
        d,
        MERCHANT_NAME,
        Some("Asia/Kolkata"),
        Some(PLUGIN_KEY.into()),
    )
    .await?;
    for (login, password, role) in USERS {
        accounts::create_user(
            d,
            &Actor::Cli,
            Some(m.id),
            NewUser {
                login: login.into(),
                password: password.into(),
                role,
                language: Some(Language::En),
            },
        )
        .await?
        .map_err(|e| AppError::Invalid(format!("demo user {login}: {}", e.message)))?;
    }
    for (system, identifier) in WALLETS {
        catalog::create_wallet(d, m.id, system, identifier).await?;
    }
    for (scope, key) in KEYS {
        let merchant = (scope == Scope::Merchant).then_some(m.id);
        auth::create_api_key_with(d, scope, merchant, key.to_string()).await?;
    }
    Ok(summary(true, m.id))
}
