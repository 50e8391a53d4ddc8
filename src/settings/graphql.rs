//! GraphQL: settings and updateSystemSettings.

use super::service::{self, SystemChanges};
use crate::accounts::graphql::{ProfileSettings, User};
use crate::activation::graphql::AfterPaymentAction;
use crate::error::UserError;
use crate::graphql::common::amount;
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::Decimal;
use crate::plugin::graphql::PluginAppearance;
use async_graphql::{Context, InputObject, Object, Result, ResultExt, SimpleObject};

/// The smallest total a payer's deposits must reach in a currency before the postback goes out.
#[derive(SimpleObject)]
pub struct MinimumDeposit {
    /// ISO 4217 code.
    pub currency: String,
    /// The minimum, in that currency; 0 means none.
    pub amount: Decimal,
}

/// The merchant's postbacks, after-payment action, time zone and minimum deposits.
#[derive(SimpleObject)]
pub struct SystemSettings {
    /// Where deposit postbacks go; null: none are sent.
    pub postback_url: Option<String>,
    /// Where withdrawal status postbacks go; null: postbackUrl.
    pub withdrawal_postback_url: Option<String>,
    /// Last four characters of the signing secret.
    pub postback_secret_hint: String,
    /// What the plugin does after success.
    pub after_payment_action: AfterPaymentAction,
    /// Where REDIRECT sends the payer after success.
    pub success_url: Option<String>,
    /// Where REDIRECT sends the payer after a failure.
    pub fail_url: Option<String>,
    /// IANA name, e.g. "Asia/Kolkata".
    pub timezone: String,
    /// The stockpiling threshold, per currency.
    pub minimum_deposits: Vec<MinimumDeposit>,
    /// Turned on by the platform on request; read-only here.
    pub delayed_auto_activation: bool,
    /// How each configured postback endpoint is doing (circuit breaker).
    pub postback_endpoint_health: Vec<crate::postbacks::graphql::PostbackEndpointHealth>,
}

/// The Settings page.
#[derive(SimpleObject)]
pub struct Settings {
    /// The caller's own profile (any role).
    pub profile: ProfileSettings,
    /// The merchant's system settings (every role reads them; OWNER changes them).
    pub system: SystemSettings,
    /// How the plugin looks (every role reads it; OWNER changes it).
    pub plugin_appearance: PluginAppearance,
}

/// A minimum deposit for one currency.
#[derive(InputObject)]
pub struct MinimumDepositInput {
    /// ISO 4217 code.
    pub currency: String,
    /// At least 0, in the currency's minor units.
    pub amount: Decimal,
}

/// Fields left out stay as they are; an empty string clears a URL.
#[derive(InputObject)]
pub struct UpdateSystemSettingsInput {
    /// http(s) to a public host; checked again on every send.
    pub postback_url: Option<String>,
    /// Where withdrawal postbacks go: http(s) to a public host, or "" to send none.
    pub withdrawal_postback_url: Option<String>,
    /// What the plugin does after success.
    pub after_payment_action: Option<AfterPaymentAction>,
    /// Where the plugin sends the payer after a successful payment (REDIRECT).
    pub success_url: Option<String>,
    /// Where the plugin sends the payer after a failure (REDIRECT).
    pub fail_url: Option<String>,
    /// IANA name, e.g. "Asia/Kolkata".
    pub timezone: Option<String>,
    /// Replaces the whole list; an amount of 0 means no minimum for that currency.
    pub minimum_deposits: Option<Vec<MinimumDepositInput>>,
}

/// Result of updateSystemSettings.
#[derive(SimpleObject)]
pub struct UpdateSystemSettingsPayload {
    /// The settings as they stand now.
    pub system: Option<SystemSettings>,
    /// What was wrong (FORBIDDEN_URL, INVALID time zone, …); nothing changed if any.
    pub errors: Vec<UserError>,
}

async fn load_system(ctx: &Context<'_>) -> Result<SystemSettings> {
    let d = deps(ctx)?;
    let (m, mins) = service::system(d, actor(ctx)?).await.extend()?;
    let health = crate::postbacks::service::endpoint_health(d, &m)
        .await
        .extend()?;
    let secret = m.postback_secret.expose();
    Ok(SystemSettings {
        postback_url: m.postback_url.clone(),
        withdrawal_postback_url: m.withdrawal_postback_url.clone(),
        postback_secret_hint: secret
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect(),
        after_payment_action: m.after_payment_action,
        success_url: m.success_url,
        fail_url: m.fail_url,
        timezone: m.timezone,
        minimum_deposits: mins
            .into_iter()
            .map(|minimum| MinimumDeposit {
                amount: amount(d, &minimum),
                currency: minimum.currency,
            })
            .collect(),
        delayed_auto_activation: m.delayed_auto_activation,
        postback_endpoint_health: health.into_iter().map(Into::into).collect(),
    })
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The Settings page. Needs a user session (any role).
    async fn settings(&self, ctx: &Context<'_>) -> Result<Settings> {
        let me: User = crate::accounts::service::me(deps(ctx)?, actor(ctx)?)
            .await
            .extend()?
            .into();
        Ok(Settings {
            profile: ProfileSettings {
                login: me.login,
                language: me.language,
            },
            system: load_system(ctx).await?,
            plugin_appearance: {
                let d = deps(ctx)?;
                let a = crate::plugin::service::appearance(d, actor(ctx)?)
                    .await
                    .extend()?;
                PluginAppearance::new(d, a)
            },
        })
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Changes system settings. OWNER only.
    async fn update_system_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings to change; fields left out keep their values.")]
        input: UpdateSystemSettingsInput,
    ) -> Result<UpdateSystemSettingsPayload> {
        let changes = SystemChanges {
            minimum_deposits: input
                .minimum_deposits
                .map(|l| l.into_iter().map(|m| (m.currency, m.amount.0)).collect()),
            postback_url: input.postback_url,
            withdrawal_postback_url: input.withdrawal_postback_url,
            after_payment_action: input.after_payment_action,
            success_url: input.success_url,
            fail_url: input.fail_url,
            timezone: input.timezone,
        };
        let errors = service::update_system(deps(ctx)?, actor(ctx)?, changes)
            .await
            .extend()?;
        if !errors.is_empty() {
            return Ok(UpdateSystemSettingsPayload {
                system: None,
                errors,
            });
        }
        Ok(UpdateSystemSettingsPayload {
            system: Some(load_system(ctx).await?),
            errors: vec![],
        })
    }
}
