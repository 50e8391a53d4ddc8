//! GraphQL: the plugin's public operations, delayed activation, stockpilings.

use super::service::{
    self, ActivateInput, Outcome, StockpilingFilter as Filter, STOCKPILING_CURSOR,
};
use crate::accounts::graphql::Merchant;
use crate::catalog::model::PaymentSystem;
use crate::error::{AppError, UserError};
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::{actor, client_ip, deps, PageInfo};
use crate::money::from_minor;
use crate::pagination;
use crate::transactions::graphql::{
    clamp_count, units, Stockpiling, StockpilingProgress, StockpilingStatus, TimeRange,
};
use async_graphql::{
    ComplexObject, Context, Enum, ErrorExtensions, InputObject, Object, Result, ResultExt,
    SimpleObject, ID,
};
use entity::activation_request;

#[derive(InputObject)]
pub struct ActivateDepositInput {
    pub plugin_key: String,
    pub payment_system: String,
    pub transaction_number: String,
    /// The payer's user ID in the merchant's system.
    pub label: String,
    pub order_id: Option<String>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "Outcome")]
pub enum ActivationOutcome {
    /// Activated now.
    Activated,
    /// Not known yet; stored, and activated automatically when the payment system reports it.
    Waiting,
    /// Not known, and delayed automatic activation is off for this merchant.
    NotFound,
    /// Already activated before (by anyone).
    AlreadyActivated,
    /// Refused: marked SCAM, outgoing, or of another payment system.
    Rejected,
}

#[derive(SimpleObject)]
pub struct ActivateDepositPayload {
    pub outcome: ActivationOutcome,
    /// Follow it with activationRequest / activationRequestUpdated.
    pub ticket: Option<ID>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// Where the payer's stockpiling stands after this activation.
    pub stockpiling: Option<StockpilingProgress>,
    pub errors: Vec<UserError>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ActivationRequestStatus {
    Waiting,
    Activated,
    Expired,
    Rejected,
}

/// One activation request made from the plugin.
pub struct ActivationRequest {
    pub request: activation_request::Model,
    /// The settled transaction and its stockpiling, read once however many
    /// of `amount`, `currency` and `stockpiling` are asked for.
    outcome: tokio::sync::OnceCell<(
        Option<entity::transaction::Model>,
        Option<entity::stockpiling::Model>,
    )>,
}

impl ActivationRequest {
    pub fn new(request: activation_request::Model) -> Self {
        ActivationRequest {
            request,
            outcome: tokio::sync::OnceCell::new(),
        }
    }

    async fn outcome(
        &self,
        ctx: &Context<'_>,
    ) -> Result<&(
        Option<entity::transaction::Model>,
        Option<entity::stockpiling::Model>,
    )> {
        let d = deps(ctx)?;
        self.outcome
            .get_or_try_init(|| async { service::request_outcome(d, &self.request).await.extend() })
            .await
    }
}

#[Object]
impl ActivationRequest {
    async fn ticket(&self) -> ID {
        ID(self.request.ticket.clone())
    }
    async fn status(&self) -> ActivationRequestStatus {
        match self.request.status.as_str() {
            "ACTIVATED" => ActivationRequestStatus::Activated,
            "EXPIRED" => ActivationRequestStatus::Expired,
            "REJECTED" => ActivationRequestStatus::Rejected,
            _ => ActivationRequestStatus::Waiting,
        }
    }
    async fn payment_system(&self, ctx: &Context<'_>) -> Result<PaymentSystem> {
        deps(ctx)?
            .catalog
            .payment_system(&self.request.payment_system)
            .cloned()
            .ok_or_else(|| AppError::NotFound.extend())
    }
    async fn transaction_number(&self) -> &str {
        &self.request.transaction_number
    }
    async fn created_at(&self) -> DateTime {
        self.request.created_at.into()
    }
    async fn expires_at(&self) -> DateTime {
        self.request.expires_at.into()
    }
    async fn settled_at(&self) -> Option<DateTime> {
        self.request.settled_at.map(Into::into)
    }
    async fn amount(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        let d = deps(ctx)?;
        let (tx, _) = self.outcome(ctx).await?;
        Ok(tx
            .as_ref()
            .map(|t| from_minor(t.amount_minor, units(d, &t.currency)).into()))
    }
    async fn currency(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let (tx, _) = self.outcome(ctx).await?;
        Ok(tx.as_ref().map(|t| t.currency.clone()))
    }
    async fn stockpiling(&self, ctx: &Context<'_>) -> Result<Option<StockpilingProgress>> {
        let d = deps(ctx)?;
        let (_, sp) = self.outcome(ctx).await?;
        Ok(sp.as_ref().map(|s| StockpilingProgress::of(d, s)))
    }
}

#[derive(SimpleObject)]
pub struct SetDelayedAutoActivationPayload {
    pub merchant: Option<Merchant>,
    pub errors: Vec<UserError>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PluginTheme {
    Dark,
    Light,
    WhiteGreen,
    /// The merchant's own stylesheet (customCssUrl).
    Custom,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AfterPaymentAction {
    /// The plugin shows the result and stays open.
    ShowResult,
    /// The plugin sends the payer to successUrl (or failUrl).
    Redirect,
}

impl PluginTheme {
    pub fn from_db(s: &str) -> Self {
        match s {
            "DARK" => PluginTheme::Dark,
            "WHITE_GREEN" => PluginTheme::WhiteGreen,
            "CUSTOM" => PluginTheme::Custom,
            _ => PluginTheme::Light,
        }
    }
}

impl AfterPaymentAction {
    pub fn from_db(s: &str) -> Self {
        if s == "REDIRECT" {
            AfterPaymentAction::Redirect
        } else {
            AfterPaymentAction::ShowResult
        }
    }
}

#[derive(SimpleObject)]
pub struct PluginPaymentSystem {
    pub payment_system: PaymentSystem,
    pub prompt_image_url: Option<String>,
    pub minimum_deposit: Option<Decimal>,
}

#[derive(SimpleObject)]
pub struct PluginConfig {
    pub merchant_name: String,
    pub theme: PluginTheme,
    pub custom_css_url: Option<String>,
    pub after_payment_action: AfterPaymentAction,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    pub payment_systems: Vec<PluginPaymentSystem>,
}

#[derive(InputObject, Default)]
pub struct StockpilingFilter {
    pub label: Option<String>,
    pub status: Option<StockpilingStatus>,
    pub currency: Option<String>,
    pub completed_at: Option<TimeRange>,
}

#[derive(SimpleObject)]
pub struct StockpilingEdge {
    pub cursor: String,
    pub node: Stockpiling,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct StockpilingConnection {
    pub edges: Vec<StockpilingEdge>,
    pub nodes: Vec<Stockpiling>,
    pub page_info: PageInfo,
    #[graphql(skip)]
    filter: Filter,
}

#[ComplexObject]
impl StockpilingConnection {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let n = service::count_stockpilings(deps(ctx)?, actor(ctx)?, &self.filter)
            .await
            .extend()?;
        Ok(clamp_count(n))
    }
}

#[derive(Default)]
pub struct ActivationQuery;

#[Object]
impl ActivationQuery {
    /// Public (no session): the plugin's configuration for a merchant's plugin key.
    async fn plugin_config(&self, ctx: &Context<'_>, plugin_key: String) -> Result<PluginConfig> {
        let d = deps(ctx)?;
        let setup = service::plugin_config(d, &plugin_key).await.extend()?;
        let m = setup.merchant;
        let look = crate::plugin::service::appearance_of(d, &m)
            .await
            .extend()?;
        let url = |name: &str| crate::plugin::service::file_url(d, name);
        Ok(PluginConfig {
            merchant_name: m.name,
            theme: PluginTheme::from_db(&m.theme),
            custom_css_url: look.custom_css.as_deref().map(url),
            after_payment_action: AfterPaymentAction::from_db(&m.after_payment_action),
            success_url: m.success_url,
            fail_url: m.fail_url,
            payment_systems: setup
                .payment_systems
                .into_iter()
                .filter_map(|(code, min)| {
                    let ps = d.catalog.payment_system(&code)?.clone();
                    let minimum_deposit = min.map(|m| from_minor(m, units(d, &ps.currency)).into());
                    let prompt_image_url = look
                        .prompts
                        .iter()
                        .find(|(c, _)| *c == code)
                        .map(|(_, name)| url(name));
                    Some(PluginPaymentSystem {
                        payment_system: ps,
                        prompt_image_url,
                        minimum_deposit,
                    })
                })
                .collect(),
        })
    }

    /// Public (no session): one activation request made from the plugin.
    async fn activation_request(
        &self,
        ctx: &Context<'_>,
        ticket: ID,
    ) -> Result<Option<ActivationRequest>> {
        Ok(service::activation_request(deps(ctx)?, &ticket)
            .await
            .extend()?
            .map(ActivationRequest::new))
    }

    /// The merchant's stockpilings (accumulations to the minimum deposit), newest first.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, None, child_complexity)")]
    async fn stockpilings(
        &self,
        ctx: &Context<'_>,
        filter: Option<StockpilingFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<StockpilingConnection> {
        let f = filter.unwrap_or_default();
        let filter = Filter {
            label: f.label,
            completed: f.status.map(|s| s == StockpilingStatus::Completed),
            currency: f.currency,
            completed_at: f.completed_at.into(),
        };
        let (rows, more) =
            service::stockpilings(deps(ctx)?, actor(ctx)?, &filter, first, after.as_deref())
                .await
                .extend()?;
        let edges: Vec<StockpilingEdge> = rows
            .into_iter()
            .map(|s| StockpilingEdge {
                cursor: pagination::encode(STOCKPILING_CURSOR, &s.id.to_string()),
                node: Stockpiling(s),
            })
            .collect();
        Ok(StockpilingConnection {
            page_info: PageInfo::of(edges.iter().map(|e| &e.cursor), more, after.is_some()),
            nodes: edges
                .iter()
                .map(|e| Stockpiling(e.node.0.clone()))
                .collect(),
            edges,
            filter,
        })
    }
}

#[derive(Default)]
pub struct ActivationMutation;

#[Object]
impl ActivationMutation {
    /// Public, by plugin key: the payer enters the transaction number to activate a deposit.
    async fn activate_deposit(
        &self,
        ctx: &Context<'_>,
        input: ActivateDepositInput,
    ) -> Result<ActivateDepositPayload> {
        let d = deps(ctx)?;
        if d.limits.activation.check_key(&client_ip(ctx)).is_err() {
            return Err(AppError::RateLimited.extend());
        }
        let a = service::activate_deposit(
            d,
            ActivateInput {
                plugin_key: input.plugin_key,
                payment_system: input.payment_system,
                transaction_number: input.transaction_number,
                label: input.label,
                order_id: input.order_id,
            },
        )
        .await
        .extend()?;
        Ok(ActivateDepositPayload {
            outcome: a.outcome.into(),
            ticket: a.ticket.map(ID),
            amount: a
                .transaction
                .as_ref()
                .map(|t| from_minor(t.amount_minor, units(d, &t.currency)).into()),
            currency: a.transaction.as_ref().map(|t| t.currency.clone()),
            stockpiling: a
                .stockpiling
                .as_ref()
                .map(|s| StockpilingProgress::of(d, s)),
            errors: a.errors,
        })
    }

    /// Platform (scope PLATFORM): turns delayed automatic activation on or off for a merchant.
    async fn set_delayed_auto_activation(
        &self,
        ctx: &Context<'_>,
        merchant_id: ID,
        enabled: bool,
    ) -> Result<SetDelayedAutoActivationPayload> {
        Ok(
            match service::set_delayed_auto_activation(
                deps(ctx)?,
                actor(ctx)?,
                &merchant_id,
                enabled,
            )
            .await
            .extend()?
            {
                Ok(m) => SetDelayedAutoActivationPayload {
                    merchant: Some(m.into()),
                    errors: vec![],
                },
                Err(e) => SetDelayedAutoActivationPayload {
                    merchant: None,
                    errors: vec![e],
                },
            },
        )
    }
}
