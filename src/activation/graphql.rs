//! GraphQL: the plugin's public operations, delayed activation, stockpilings.

use super::model::{ActivationRequestStatus, StockpilingStatus};
use super::service::{
    self, ActivateInput, Outcome, StockpilingFilter as Filter, STOCKPILING_CURSOR,
};
use crate::accounts::graphql::Merchant;
use crate::catalog::model::PaymentSystem;
use crate::deps::Deps;
use crate::error::{AppError, UserError};
use crate::graphql::common::{amount, clamp_count, TimeRange};
use crate::graphql::common::{internal, PageInfo};
use crate::graphql::context::{actor, client_ip, deps};
use crate::graphql::scalars::{DateTime, Decimal};
use crate::money::Money;
use crate::pagination;
use crate::transactions::graphql::Transaction;
use crate::transactions::loader::StockpilingTransactionsLoader;
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    ComplexObject, Context, Enum, ErrorExtensions, InputObject, Object, Result, ResultExt,
    SimpleObject, ID,
};
use entity::activation_request;
use entity::stockpiling;

/// What the payer typed into the plugin.
#[derive(InputObject)]
pub struct ActivateDepositInput {
    /// The merchant's public plugin key (kpk_…).
    pub plugin_key: String,
    /// The payment-system code the payer paid with ("paytm").
    pub payment_system: String,
    /// The payment system's transaction number, as the payer typed it (surrounding spaces are ignored).
    pub transaction_number: String,
    /// The payer's user ID in the merchant's system.
    pub label: String,
    /// The merchant's order id from the plugin's parameters, if any; it is passed on in the postback.
    pub order_id: Option<String>,
}

/// What activateDeposit did with a transaction number.
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

/// What became of an activation.
#[derive(SimpleObject)]
pub struct ActivateDepositPayload {
    /// ACTIVATED, WAITING (delayed automatic activation), NOT_FOUND, ALREADY_ACTIVATED or REJECTED.
    pub outcome: ActivationOutcome,
    /// Follow it with activationRequest / activationRequestUpdated.
    pub ticket: Option<ID>,
    /// The deposit's amount, when it was found.
    pub amount: Option<Decimal>,
    /// The deposit's currency (ISO 4217), when it was found.
    pub currency: Option<String>,
    /// Where the payer's stockpiling stands after this activation.
    pub stockpiling: Option<StockpilingProgress>,
    /// What was wrong with the input; empty when it was accepted.
    pub errors: Vec<UserError>,
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

/// A transaction number typed into the plugin before the payment system reported it (delayed automatic activation), followed until it settles.
#[Object]
impl ActivationRequest {
    /// The request's public ticket (as activateDeposit answered).
    async fn ticket(&self) -> ID {
        ID(self.request.ticket.clone())
    }
    /// WAITING until the payment system reports the number; then ACTIVATED, or EXPIRED / REJECTED.
    async fn status(&self) -> ActivationRequestStatus {
        self.request.status
    }
    /// The payment system the payer named.
    async fn payment_system<'ctx>(&self, ctx: &Context<'ctx>) -> Result<&'ctx PaymentSystem> {
        deps(ctx)?
            .catalog
            .payment_system(&self.request.payment_system)
            .ok_or_else(|| AppError::NotFound.extend())
    }
    /// The number the payer typed.
    async fn transaction_number(&self) -> &str {
        &self.request.transaction_number
    }
    /// When the payer typed it.
    async fn created_at(&self) -> DateTime {
        self.request.created_at.into()
    }
    /// When it stops waiting (KASSA_ACTIVATION_TTL after creation).
    async fn expires_at(&self) -> DateTime {
        self.request.expires_at.into()
    }
    /// When it left WAITING; null while waiting.
    async fn settled_at(&self) -> Option<DateTime> {
        self.request.settled_at.map(Into::into)
    }
    /// The deposit's amount, once activated.
    async fn amount(&self, ctx: &Context<'_>) -> Result<Option<Decimal>> {
        let d = deps(ctx)?;
        let (tx, _) = self.outcome(ctx).await?;
        Ok(tx.as_ref().map(|t| amount(d, &t.amount())))
    }
    /// The deposit's currency (ISO 4217), once activated.
    async fn currency(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let (tx, _) = self.outcome(ctx).await?;
        Ok(tx.as_ref().map(|t| t.currency.clone()))
    }
    /// Where the payer's stockpiling stands, once activated.
    async fn stockpiling(&self, ctx: &Context<'_>) -> Result<Option<StockpilingProgress>> {
        let d = deps(ctx)?;
        let (_, sp) = self.outcome(ctx).await?;
        Ok(sp.as_ref().map(|s| StockpilingProgress::of(d, s)))
    }
}

/// Result of setDelayedAutoActivation.
#[derive(SimpleObject)]
pub struct SetDelayedAutoActivationPayload {
    /// The merchant as it stands now.
    pub merchant: Option<Merchant>,
    /// NOT_FOUND; empty on success.
    pub errors: Vec<UserError>,
}

pub use entity::merchant::{AfterPaymentAction, PluginTheme};

/// A payment system as the plugin offers it.
#[derive(SimpleObject)]
pub struct PluginPaymentSystem {
    /// The payment system.
    pub payment_system: PaymentSystem,
    /// The wallet the payer sends money to: the identifier of one of the
    /// merchant's active wallets of this system (rotating over them when
    /// there are several); null when it has none.
    pub pay_to: Option<String>,
    /// The merchant's prompt picture for it, if any.
    pub prompt_image_url: Option<String>,
    /// The minimum deposit in its currency, if one is set.
    pub minimum_deposit: Option<Decimal>,
}

/// Everything the payer's plugin needs to render (public, by plugin key).
#[derive(SimpleObject)]
pub struct PluginConfig {
    /// The merchant's name.
    pub merchant_name: String,
    /// The colour theme.
    pub theme: PluginTheme,
    /// The merchant's stylesheet (CUSTOM theme), if any.
    pub custom_css_url: Option<String>,
    /// What to do after a successful activation.
    pub after_payment_action: AfterPaymentAction,
    /// Where REDIRECT sends the payer after success.
    pub success_url: Option<String>,
    /// Where REDIRECT sends the payer after a failure.
    pub fail_url: Option<String>,
    /// The payment systems the payer can pay with.
    pub payment_systems: Vec<PluginPaymentSystem>,
}

/// Which stockpilings to list; fields left out match all.
#[derive(InputObject, Default)]
pub struct StockpilingFilter {
    /// The payer's label, exactly.
    pub label: Option<String>,
    /// IN_PROGRESS or COMPLETED.
    pub status: Option<StockpilingStatus>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// Completed within this range.
    pub completed_at: Option<TimeRange>,
}

/// A stockpiling with its cursor.
#[derive(SimpleObject)]
pub struct StockpilingEdge {
    /// Opaque: pass it as after to continue from here.
    pub cursor: String,
    /// The stockpiling.
    pub node: Stockpiling,
}

/// A page of stockpilings, newest first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct StockpilingConnection {
    /// The stockpilings with their cursors.
    pub edges: Vec<StockpilingEdge>,
    /// The stockpilings (the same as edges' nodes).
    pub nodes: Vec<Stockpiling>,
    /// Where this page stands.
    pub page_info: PageInfo,
    #[graphql(skip)]
    filter: Filter,
}

#[ComplexObject]
impl StockpilingConnection {
    /// How many match the filter, in all pages.
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
    async fn plugin_config(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The merchant's public plugin key (kpk_…), as in the installation snippet."
        )]
        plugin_key: String,
    ) -> Result<PluginConfig> {
        let d = deps(ctx)?;
        let setup = service::plugin_config(d, &plugin_key).await.extend()?;
        let m = setup.merchant;
        let look = crate::plugin::service::appearance_of(d, &m)
            .await
            .extend()?;
        let url = |name: &str| crate::plugin::service::file_url(d, name);
        Ok(PluginConfig {
            merchant_name: m.name,
            theme: m.theme,
            custom_css_url: look.custom_css.as_deref().map(url),
            after_payment_action: m.after_payment_action,
            success_url: m.success_url,
            fail_url: m.fail_url,
            payment_systems: setup
                .payment_systems
                .into_iter()
                .filter_map(|s| {
                    let ps = d.catalog.payment_system(&s.code)?.clone();
                    let minimum_deposit = s
                        .minimum_minor
                        .map(|m| amount(d, &Money::new(m, ps.currency.clone())));
                    let prompt_image_url = look
                        .prompts
                        .iter()
                        .find(|(c, _)| *c == s.code)
                        .map(|(_, name)| url(name));
                    Some(PluginPaymentSystem {
                        payment_system: ps,
                        pay_to: Some(s.pay_to),
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
        #[graphql(desc = "The ticket activateDeposit answered with.")] ticket: ID,
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
        #[graphql(desc = "Which stockpilings; all when left out.")] filter: Option<
            StockpilingFilter,
        >,
        #[graphql(desc = "Page size: default 50, at most 500.")] first: Option<i32>,
        #[graphql(desc = "The endCursor of the previous page.")] after: Option<String>,
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
        #[graphql(desc = "The plugin key, the payment system and the number the payer typed.")]
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
            amount: a.transaction.as_ref().map(|t| amount(d, &t.amount())),
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
        #[graphql(desc = "The merchant's id.")] merchant_id: ID,
        #[graphql(
            desc = "true: numbers not known yet wait for the payment system (KASSA_ACTIVATION_TTL); false: they are NOT_FOUND at once."
        )]
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

// ---- Stockpiling: a payer's deposits accumulating toward the minimum ----

/// Accumulation of one payer's deposits up to the merchant's minimum.
pub struct Stockpiling(pub stockpiling::Model);

/// A stockpiling's deposits, oldest first: the first `first` (default 20,
/// at most 100). `Stockpiling.transactions` and `Postback.transactions`.
pub async fn stockpiling_deposits(
    ctx: &Context<'_>,
    stockpiling_id: i64,
    first: Option<i32>,
) -> Result<Vec<Transaction>> {
    let take = crate::graphql::limits::nested_take(first)?;
    let loader = ctx.data::<DataLoader<StockpilingTransactionsLoader>>()?;
    Ok(loader
        .load_one(stockpiling_id)
        .await
        .map_err(internal)?
        .unwrap_or_default()
        .into_iter()
        .take(take)
        .map(Transaction::from)
        .collect())
}

/// A payer's deposits accumulating toward the merchant's minimum deposit; the postback goes out when it completes.
#[Object]
impl Stockpiling {
    /// The stockpiling's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The payer (the label the plugin passed).
    async fn label(&self) -> &str {
        &self.0.label
    }
    /// Currency of the deposits (ISO 4217).
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The minimum deposit in force when the stockpiling began.
    async fn minimum(&self, ctx: &Context<'_>) -> Result<Decimal> {
        Ok(amount(deps(ctx)?, &self.0.minimum()))
    }
    /// Sum of its deposits so far.
    async fn accumulated(&self, ctx: &Context<'_>) -> Result<Decimal> {
        Ok(amount(deps(ctx)?, &self.0.accumulated()))
    }
    /// IN_PROGRESS until the minimum is reached.
    async fn status(&self) -> StockpilingStatus {
        self.0.status
    }
    /// When its first deposit was activated.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// Stockpiling end date.
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.map(Into::into)
    }
    /// The deposits that make it up, oldest first: the first `first`
    /// (default 20, at most 100). `transactionCount` says how many there are.
    #[graphql(complexity = "crate::graphql::limits::nested_cost(first, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many deposits: default 20, at most 100.")] first: Option<i32>,
    ) -> Result<Vec<Transaction>> {
        stockpiling_deposits(ctx, self.0.id, first).await
    }
    /// How many deposits make it up.
    async fn transaction_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let loader = ctx.data::<DataLoader<StockpilingTransactionsLoader>>()?;
        Ok(loader
            .load_one(self.0.id)
            .await
            .map_err(internal)?
            .map_or(0, |t| t.len() as i32))
    }
}

/// Where a payer's stockpiling stands.
#[derive(SimpleObject)]
pub struct StockpilingProgress {
    /// Sum of the payer's activated deposits so far.
    pub accumulated: Decimal,
    /// The minimum deposit to reach (in force when the stockpiling began).
    pub minimum: Decimal,
    /// What is still missing to reach the minimum (0 once completed).
    pub remaining: Decimal,
    /// Currency of the three amounts (ISO 4217).
    pub currency: String,
    /// true once the minimum is reached and the postback is queued.
    pub completed: bool,
}

impl StockpilingProgress {
    pub fn of(d: &Deps, s: &stockpiling::Model) -> Self {
        StockpilingProgress {
            accumulated: amount(d, &s.accumulated()),
            minimum: amount(d, &s.minimum()),
            remaining: amount(d, &s.remaining()),
            currency: s.currency.clone(),
            completed: s.status == StockpilingStatus::Completed,
        }
    }
}
