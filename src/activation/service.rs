//! activateDeposit, activation requests, delayed automatic activation, pluginConfig.

use super::model::{self, ActivationRequestStatus};
use super::stockpile::{self, Activated};
use crate::audit::{self, Audit};
use crate::auth::model::{Actor, Scope};
use crate::auth::tokens;
use crate::db::{lock_keys, write, Change};
use crate::deps::Deps;
use crate::error::{AppError, AppResult, ErrorCode, UserError};
use crate::events::TransactionEventKind;
use chrono::{DateTime, TimeDelta, Utc};
use entity::{activation_request, merchant, minimum_deposit, stockpiling, transaction, wallet};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

/// What the plugin sends.
#[derive(Debug, Clone)]
pub struct ActivateInput {
    pub plugin_key: String,
    pub payment_system: String,
    pub transaction_number: String,
    pub label: String,
    pub order_id: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Activated,
    Waiting,
    NotFound,
    AlreadyActivated,
    Rejected,
}

/// The answer to the payer.
pub struct Activation {
    pub outcome: Outcome,
    pub ticket: Option<String>,
    pub transaction: Option<transaction::Model>,
    pub stockpiling: Option<stockpiling::Model>,
    pub errors: Vec<UserError>,
}

impl Activation {
    fn only(outcome: Outcome) -> Self {
        Activation {
            outcome,
            ticket: None,
            transaction: None,
            stockpiling: None,
            errors: vec![],
        }
    }

    fn refused(error: UserError) -> Self {
        Activation {
            errors: vec![error],
            ..Activation::only(Outcome::Rejected)
        }
    }
}

/// The key that ingestion and activation both lock and that names a waiting request.
pub fn number_key(payment_system: &str, transaction_number: &str) -> String {
    format!("{payment_system}:{transaction_number}")
}

fn waiting_key(merchant_id: i64, payment_system: &str, transaction_number: &str) -> String {
    format!("{merchant_id}:{payment_system}:{transaction_number}")
}

/// Longest label, order id or transaction number accepted.
pub const MAX_REFERENCE: usize = 128;

fn check_text(value: &str, field: &'static str, required: bool) -> Result<(), UserError> {
    let len = value.chars().count();
    if required && len == 0 {
        return Err(UserError::new(
            &["input", field],
            ErrorCode::Required,
            format!("{field} is required"),
        ));
    }
    if len > MAX_REFERENCE {
        return Err(UserError::new(
            &["input", field],
            ErrorCode::Invalid,
            format!("{field} is at most {MAX_REFERENCE} characters"),
        ));
    }
    Ok(())
}

/// The merchant behind a plugin key; an unknown key is `NOT_FOUND`.
pub async fn merchant_by_plugin_key(d: &Deps, plugin_key: &str) -> AppResult<merchant::Model> {
    merchant::Entity::find()
        .filter(merchant::Column::PluginKey.eq(plugin_key.trim()))
        .one(&d.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// A payer claims a deposit (BEHAVIOUR §5).
#[tracing::instrument(skip(d))]
pub async fn activate_deposit(d: &Deps, input: ActivateInput) -> AppResult<Activation> {
    let m = merchant_by_plugin_key(d, &input.plugin_key).await?;
    let label = input.label.trim().to_string();
    let number = input.transaction_number.trim().to_string();
    let order_id = input
        .order_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    for (value, field, required) in [
        (label.as_str(), "label", true),
        (number.as_str(), "transactionNumber", true),
        (order_id.as_deref().unwrap_or(""), "orderId", false),
    ] {
        if let Err(e) = check_text(value, field, required) {
            return Ok(Activation::refused(e));
        }
    }
    if d.catalog.payment_system(&input.payment_system).is_none() {
        return Ok(Activation::refused(UserError::new(
            &["input", "paymentSystem"],
            ErrorCode::Invalid,
            format!("unknown payment system `{}`", input.payment_system),
        )));
    }
    let ps = input.payment_system.as_str();
    let actor = Actor::Anonymous;
    write(d, &actor, async |txn, now| {
        lock_keys(txn, &[number_key(ps, &number)]).await?;
        let found = transaction::Entity::find()
            .filter(transaction::Column::MerchantId.eq(m.id))
            .filter(transaction::Column::PaymentSystem.eq(ps))
            .filter(transaction::Column::TransactionNumber.eq(number.as_str()))
            .one(txn)
            .await?;
        let mut entry = None;
        let result = match found {
            Some(tx) if tx.activated_at.is_some() => Activation::only(Outcome::AlreadyActivated),
            Some(tx) if !model::claimable(&tx) => {
                Activation::only(Outcome::Rejected)
            }
            Some(tx) => {
                match stockpile::activate(txn, &d.catalog, now, tx.id, &label, order_id.as_deref())
                    .await?
                {
                    Some(Activated {
                        transaction,
                        stockpiling,
                    }) => {
                        entry = Some(Audit {
                            merchant_id: Some(m.id),
                            action: "deposit.activate",
                            subject: Some(format!("transaction:{}", transaction.id)),
                            details: json!({ "label": label, "order_id": order_id, "stockpiling": stockpiling.id }),
                        });
                        Activation {
                            outcome: Outcome::Activated,
                            ticket: None,
                            transaction: Some(transaction),
                            stockpiling: Some(stockpiling),
                            errors: vec![],
                        }
                    }
                    None => Activation::only(Outcome::AlreadyActivated),
                }
            }
            None if !m.delayed_auto_activation => Activation::only(Outcome::NotFound),
            None => wait_for(d, txn, now, &m, ps, &number, &label, order_id.as_deref()).await?,
        };
        let activated = result.outcome == Outcome::Activated;
        let events: Vec<crate::events::Event> = match (&result.transaction, activated) {
            (Some(t), true) => vec![crate::events::Event::transaction(TransactionEventKind::Activated, now, t)],
            _ => Vec::new(),
        };
        let mut change = Change::done(result)
            .publishing(events)
            .waking_postbacks(activated);
        if let Some(entry) = entry {
            change = change.audited(entry);
        }
        Ok(change)
    })
    .await
}

/// Stores (or finds again) the WAITING request for a number not reported yet.
#[allow(clippy::too_many_arguments)]
async fn wait_for(
    d: &Deps,
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    m: &merchant::Model,
    ps: &str,
    number: &str,
    label: &str,
    order_id: Option<&str>,
) -> AppResult<Activation> {
    let key = waiting_key(m.id, ps, number);
    if let Some(existing) = activation_request::Entity::find()
        .filter(activation_request::Column::WaitingKey.eq(key.as_str()))
        .one(txn)
        .await?
    {
        if existing.expires_at > now {
            if existing.label == label {
                return Ok(Activation {
                    ticket: Some(existing.ticket),
                    ..Activation::only(Outcome::Waiting)
                });
            }
            return Ok(Activation::refused(UserError::new(
                &["input", "transactionNumber"],
                ErrorCode::Duplicate,
                "another payer is already waiting for this transaction number",
            )));
        }
        expire(txn, existing.id, existing.expires_at).await?;
    }
    let ttl = TimeDelta::from_std(d.config.activation_ttl).unwrap_or(TimeDelta::hours(1));
    let request = activation_request::ActiveModel {
        ticket: Set(tokens::generate("act_")),
        merchant_id: Set(m.id),
        payment_system: Set(ps.to_string()),
        transaction_number: Set(number.to_string()),
        label: Set(label.to_string()),
        order_id: Set(order_id.map(str::to_string)),
        status: Set(ActivationRequestStatus::Waiting),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        waiting_key: Set(Some(key)),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        now,
        &Actor::Anonymous,
        Audit {
            merchant_id: Some(m.id),
            action: "activation_request.create",
            subject: Some(format!("activation_request:{}", request.id)),
            details: json!({ "payment_system": ps, "transaction_number": number, "label": label }),
        },
    )
    .await?;
    Ok(Activation {
        ticket: Some(request.ticket),
        ..Activation::only(Outcome::Waiting)
    })
}

async fn expire(txn: &DatabaseTransaction, id: i64, at: DateTime<Utc>) -> AppResult<()> {
    activation_request::Entity::update_many()
        .col_expr(
            activation_request::Column::Status,
            Expr::value(ActivationRequestStatus::Expired),
        )
        .col_expr(
            activation_request::Column::WaitingKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(activation_request::Column::SettledAt, Expr::value(Some(at)))
        .filter(activation_request::Column::Id.eq(id))
        .filter(activation_request::Column::Status.eq(ActivationRequestStatus::Waiting))
        .exec(txn)
        .await?;
    Ok(())
}

/// Settles the WAITING requests naming freshly ingested transactions, inside
/// the ingest's database transaction. Returns the ids of the transactions it activated.
pub async fn settle_waiting(
    d: &Deps,
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    created: &[transaction::Model],
) -> AppResult<Vec<i64>> {
    let keys: Vec<String> = created
        .iter()
        .map(|t| waiting_key(t.merchant_id, &t.payment_system, &t.transaction_number))
        .collect();
    let mut activated = Vec::new();
    for chunk in keys.chunks(500) {
        let waiting = activation_request::Entity::find()
            .filter(activation_request::Column::WaitingKey.is_in(chunk.to_vec()))
            .all(txn)
            .await?;
        for request in waiting {
            let Some(tx) = created.iter().find(|t| {
                t.merchant_id == request.merchant_id
                    && t.payment_system == request.payment_system
                    && t.transaction_number == request.transaction_number
            }) else {
                continue;
            };
            if request.expires_at <= now {
                expire(txn, request.id, request.expires_at).await?;
                continue;
            }
            let done = stockpile::activate(
                txn,
                &d.catalog,
                now,
                tx.id,
                &request.label,
                request.order_id.as_deref(),
            )
            .await?;
            let status = model::settled(done.is_some());
            activation_request::Entity::update_many()
                .col_expr(activation_request::Column::Status, Expr::value(status))
                .col_expr(
                    activation_request::Column::WaitingKey,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    activation_request::Column::SettledAt,
                    Expr::value(Some(now)),
                )
                .col_expr(
                    activation_request::Column::TransactionId,
                    Expr::value(Some(tx.id)),
                )
                .filter(activation_request::Column::Id.eq(request.id))
                .exec(txn)
                .await?;
            audit::record(
                txn,
                now,
                &Actor::Anonymous,
                Audit {
                    merchant_id: Some(tx.merchant_id),
                    action: if done.is_some() {
                        "deposit.activate_delayed"
                    } else {
                        "activation_request.reject"
                    },
                    subject: Some(format!("transaction:{}", tx.id)),
                    details: json!({ "activation_request": request.id, "label": request.label }),
                },
            )
            .await?;
            if done.is_some() {
                activated.push(tx.id);
            }
        }
    }
    Ok(activated)
}

/// An activation request, by its ticket (public). A WAITING request past its
/// expiry is reported, and recorded, as EXPIRED.
pub async fn activation_request(
    d: &Deps,
    ticket: &str,
) -> AppResult<Option<activation_request::Model>> {
    let Some(r) = activation_request::Entity::find()
        .filter(activation_request::Column::Ticket.eq(ticket.trim()))
        .one(&d.db)
        .await?
    else {
        return Ok(None);
    };
    if model::overdue(&r, d.clock.now()) {
        // (recorded by the system on a public read: no audit entry)
        return write(d, &Actor::Anonymous, async |txn, _now| {
            expire(txn, r.id, r.expires_at).await?;
            let expired = activation_request::Entity::find_by_id(r.id)
                .one(txn)
                .await?;
            let events: Vec<crate::events::Event> = expired
                .iter()
                .map(|request| crate::events::Event::ActivationRequest {
                    request: request.clone(),
                    transaction: None,
                    stockpiling: None,
                })
                .collect();
            Ok(Change::done(expired).publishing(events))
        })
        .await;
    }
    Ok(Some(r))
}

/// The transaction and stockpiling an activated request settled on.
pub async fn request_outcome(
    d: &Deps,
    r: &activation_request::Model,
) -> AppResult<(Option<transaction::Model>, Option<stockpiling::Model>)> {
    let Some(tx_id) = r.transaction_id else {
        return Ok((None, None));
    };
    let tx = transaction::Entity::find_by_id(tx_id)
        .filter(transaction::Column::MerchantId.eq(r.merchant_id))
        .one(&d.db)
        .await?;
    let sp = match tx.as_ref().and_then(|t| t.stockpiling_id) {
        Some(id) => stockpiling::Entity::find_by_id(id).one(&d.db).await?,
        None => None,
    };
    Ok((tx, sp))
}

/// Turns delayed automatic activation on or off for a merchant (scope PLATFORM).
pub async fn set_delayed_auto_activation(
    d: &Deps,
    actor: &Actor,
    merchant_id: &str,
    enabled: bool,
) -> AppResult<Result<merchant::Model, UserError>> {
    let reach = actor.key_with_scope(Scope::Platform)?;
    let not_found = || UserError::new(&["merchantId"], ErrorCode::NotFound, "no such merchant");
    let Ok(id) = merchant_id.trim().parse::<i64>() else {
        return Ok(Err(not_found()));
    };
    if !reach.covers(id) {
        return Ok(Err(not_found()));
    }
    write(d, actor, async |txn, _now| {
        let updated = merchant::Entity::update_many()
            .col_expr(
                merchant::Column::DelayedAutoActivation,
                Expr::value(enabled),
            )
            .filter(merchant::Column::Id.eq(id))
            .exec(txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(Change::refused(Err(not_found())));
        }
        let entry = Audit {
            merchant_id: Some(id),
            action: "merchant.set_delayed_auto_activation",
            subject: Some(format!("merchant:{id}")),
            details: json!({ "enabled": enabled }),
        };
        let m = merchant::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(Change::done(Ok(m)).audited(entry))
    })
    .await
}

/// What the plugin needs to draw itself for a merchant.
pub struct PluginSetup {
    pub merchant: merchant::Model,
    /// Payment systems the merchant has active wallets on, in catalogue order,
    /// with the minimum deposit of their currency in minor units and the
    /// wallet the payer is told to pay to.
    pub payment_systems: Vec<PluginSystem>,
}

/// One payment system as the plugin offers it.
pub struct PluginSystem {
    pub code: String,
    pub minimum_minor: Option<i64>,
    /// The identifier of one of the merchant's active wallets of the system.
    pub pay_to: String,
}

pub async fn plugin_config(d: &Deps, plugin_key: &str) -> AppResult<PluginSetup> {
    let m = merchant_by_plugin_key(d, plugin_key).await?;
    // Active wallets only: a disabled wallet is never shown to a payer.
    let wallets: Vec<(String, String)> = wallet::Entity::find()
        .select_only()
        .column(wallet::Column::PaymentSystem)
        .column(wallet::Column::Identifier)
        .filter(wallet::Column::MerchantId.eq(m.id))
        .filter(wallet::Column::Active.eq(true))
        .order_by_asc(wallet::Column::Id)
        .into_tuple()
        .all(&d.db)
        .await?;
    let minimums = minimum_deposit::Entity::find()
        .filter(minimum_deposit::Column::MerchantId.eq(m.id))
        .all(&d.db)
        .await?;
    // payTo rotates over a system's wallets, one step per request, so
    // payments spread evenly over the merchant's wallets (each instance
    // keeps its own turn).
    let turn = d
        .pay_to_turn
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed) as usize;
    let payment_systems = d
        .catalog
        .payment_systems
        .iter()
        .filter_map(|p| {
            let own: Vec<&String> = wallets
                .iter()
                .filter(|(code, _)| *code == p.code)
                .map(|(_, identifier)| identifier)
                .collect();
            let pay_to = own.get(turn % own.len().max(1))?.to_string();
            let minimum_minor = minimums
                .iter()
                .find(|x| x.currency == p.currency)
                .map(|x| x.amount_minor);
            Some(PluginSystem {
                code: p.code.clone(),
                minimum_minor,
                pay_to,
            })
        })
        .collect();
    Ok(PluginSetup {
        merchant: m,
        payment_systems,
    })
}

/// The Stockpilings list's filter.
#[derive(Clone, Debug, Default)]
pub struct StockpilingFilter {
    pub label: Option<String>,
    pub completed: Option<bool>,
    pub currency: Option<String>,
    pub completed_at: crate::transactions::model::Range,
}

pub const STOCKPILING_CURSOR: &str = "stockpiling";

fn stockpiling_condition(
    tenant: crate::auth::model::Tenant,
    f: &StockpilingFilter,
) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(stockpiling::Column::MerchantId.eq(tenant.merchant_id))
        .add(stockpiling_matching(f))
}

/// The filter alone, for a page (its merchant is a [`crate::pagination::Owner`]).
fn stockpiling_matching(f: &StockpilingFilter) -> sea_orm::Condition {
    use stockpiling::Column as S;
    let mut c = sea_orm::Condition::all();
    if let Some(l) = &f.label {
        c = c.add(S::Label.eq(l.clone()));
    }
    if let Some(done) = f.completed {
        c = c.add(S::Status.eq(model::stockpiling_status(done)));
    }
    if let Some(cur) = &f.currency {
        c = c.add(S::Currency.eq(cur.clone()));
    }
    f.completed_at.narrow(c, S::CompletedAt)
}

/// Stockpilings of the caller's merchant, newest first: (rows, has next page).
pub async fn stockpilings(
    d: &Deps,
    actor: &Actor,
    filter: &StockpilingFilter,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<(Vec<stockpiling::Model>, bool)> {
    let tenant = actor.reader()?;
    let size = crate::pagination::page_size(first, "first")?;
    let after = after
        .map(|c| crate::pagination::decode_id(STOCKPILING_CURSOR, c, "after"))
        .transpose()?;
    crate::pagination::newest_first(
        d,
        crate::pagination::find_all::<stockpiling::Entity>(
            sea_orm::ConnectionTrait::get_database_backend(&d.db),
        )
        .filter(stockpiling_matching(filter)),
        stockpiling::Column::Id,
        crate::pagination::Owner {
            column: stockpiling::Column::MerchantId,
            id: tenant.merchant_id,
            plans: crate::db::Plans::Chosen,
        },
        after,
        size,
    )
    .await
}

pub async fn count_stockpilings(
    d: &Deps,
    actor: &Actor,
    filter: &StockpilingFilter,
) -> AppResult<i64> {
    use sea_orm::PaginatorTrait;
    let tenant = actor.reader()?;
    Ok(stockpiling::Entity::find()
        .filter(stockpiling_condition(tenant, filter))
        .count(&d.db)
        .await? as i64)
}
