//! createWithdrawal, setWithdrawalStatus, balances and the Withdrawals page.

use super::idempotency::{self, Claim};
use super::model::WithdrawalStatus;
use crate::audit::Audit;
use crate::auth::model::{Actor, KeyActor, Role, Scope, Tenant};
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{AppError, AppResult, ErrorCode, UserError};
use crate::events::WithdrawalEventKind;
use crate::money::Money;
use crate::pagination::{self, Page, PageArgs, Sort};
use crate::stats::buckets;
use crate::transactions::model::Range;
use chrono::SecondsFormat;
use entity::postback::PostbackKind;
use entity::withdrawal::{WithdrawalPostbackStatus, WithdrawalRequestKind};
use entity::{balance, withdrawal};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

/// What a merchant asks for.
#[derive(Clone, Debug)]
pub struct NewWithdrawal {
    pub payment_system: String,
    pub amount: Decimal,
    pub currency: Option<String>,
    pub recipient: String,
    pub label: Option<String>,
    pub comment: Option<String>,
    pub fields: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
}

/// A request that passed every check but the balance.
struct Checked {
    amount: Money,
    recipient: String,
    fields: Vec<(String, String)>,
}

fn err(path: &[&str], code: ErrorCode, message: impl Into<String>) -> UserError {
    UserError::new(path, code, message)
}

fn check(d: &Deps, input: &NewWithdrawal) -> Result<Checked, Vec<UserError>> {
    let mut errors = Vec::new();
    let Some(ps) = d.catalog.payment_system(&input.payment_system) else {
        return Err(vec![err(
            &["input", "paymentSystem"],
            ErrorCode::Invalid,
            format!("unknown payment system `{}`", input.payment_system),
        )]);
    };
    let currency = input
        .currency
        .clone()
        .unwrap_or_else(|| ps.currency.clone());
    if currency != ps.currency {
        errors.push(err(
            &["input", "currency"],
            ErrorCode::Invalid,
            format!("{} pays out in {}", ps.code, ps.currency),
        ));
    }
    let amount = match d.catalog.money(input.amount, &ps.currency, false) {
        Ok(m) => m,
        Err(e) => {
            errors.push(err(&["input", "amount"], ErrorCode::Invalid, e.to_string()));
            Money::new(0, currency)
        }
    };
    let recipient = input.recipient.trim().to_string();
    if let Some(spec) = ps.withdrawal_fields.first() {
        if recipient.is_empty() {
            errors.push(err(
                &["input", "recipient"],
                ErrorCode::Required,
                format!("{} is required", spec.label),
            ));
        } else if spec
            .pattern
            .as_deref()
            .is_some_and(|p| !d.catalog.matches(p, &recipient))
        {
            errors.push(err(
                &["input", "recipient"],
                ErrorCode::Invalid,
                format!(
                    "{} does not look right (e.g. {})",
                    spec.label,
                    spec.example.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    let extra = ps.withdrawal_fields.get(1..).unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    for (name, value) in &input.fields {
        let path = ["input", "fields", name.as_str()];
        let value = value.trim().to_string();
        match extra.iter().find(|f| &f.name == name) {
            None => errors.push(err(
                &path,
                ErrorCode::Invalid,
                format!("{} has no field `{name}`", ps.name),
            )),
            Some(_) if fields.iter().any(|(n, _)| n == name) => errors.push(err(
                &path,
                ErrorCode::Invalid,
                format!("`{name}` is given twice"),
            )),
            Some(spec) => {
                if !value.is_empty()
                    && spec
                        .pattern
                        .as_deref()
                        .is_some_and(|p| !d.catalog.matches(p, &value))
                {
                    errors.push(err(
                        &path,
                        ErrorCode::Invalid,
                        format!("{} does not look right", spec.label),
                    ));
                }
                if !value.is_empty() {
                    fields.push((name.clone(), value));
                }
            }
        }
    }
    for spec in extra.iter().filter(|f| f.required) {
        let given = input
            .fields
            .iter()
            .any(|(n, v)| n == &spec.name && !v.trim().is_empty());
        if !given {
            errors.push(err(
                &["input", "fields", spec.name.as_str()],
                ErrorCode::Required,
                format!("{} is required", spec.label),
            ));
        }
    }
    for (value, field, max) in [
        (&input.label, "label", 128),
        (&input.comment, "comment", 500),
    ] {
        if value.as_deref().is_some_and(|v| v.chars().count() > max) {
            errors.push(err(
                &["input", field],
                ErrorCode::Invalid,
                format!("at most {max} characters"),
            ));
        }
    }
    if let Some(key) = &input.idempotency_key {
        if key.trim().is_empty() || key.chars().count() > 128 {
            errors.push(err(
                &["input", "idempotencyKey"],
                ErrorCode::Invalid,
                "1 to 128 characters",
            ));
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            amount,
            recipient,
            fields,
        })
    } else {
        Err(errors)
    }
}

/// The canonical form of a request, for "the same input" under one key.
fn canonical(input: &NewWithdrawal, c: &Checked) -> serde_json::Value {
    let mut fields = c.fields.clone();
    fields.sort();
    json!({
        "payment_system": input.payment_system,
        "amount_minor": c.amount.minor,
        "currency": c.amount.currency,
        "recipient": c.recipient,
        "label": input.label.as_deref().map(str::trim),
        "comment": input.comment.as_deref().map(str::trim),
        "fields": fields,
    })
}

/// Who asks for a withdrawal: (merchant, user, key, request kind).
fn requester(actor: &Actor) -> AppResult<(i64, Option<i64>, Option<i64>, WithdrawalRequestKind)> {
    Ok(match actor {
        Actor::Key(KeyActor {
            scope: Scope::Merchant,
            merchant_id: Some(m),
            key_id,
        }) => (*m, None, Some(*key_id), WithdrawalRequestKind::Api),
        _ => {
            let u = actor.user_with_role(&[Role::Owner, Role::Operator])?;
            (
                u.merchant_id,
                Some(u.user_id),
                None,
                WithdrawalRequestKind::Manual,
            )
        }
    })
}

/// Moves `amount` from available to reserved, if that much is available
/// (one conditional update: two withdrawals racing for the last money get
/// it once). Whether it was.
async fn reserve(txn: &impl ConnectionTrait, merchant_id: i64, amount: &Money) -> AppResult<bool> {
    use balance::Column as B;
    let reserved = balance::Entity::update_many()
        .col_expr(
            B::WithdrawnMinor,
            Expr::col(B::WithdrawnMinor).add(amount.minor),
        )
        .col_expr(
            B::ReservedMinor,
            Expr::col(B::ReservedMinor).add(amount.minor),
        )
        .filter(B::MerchantId.eq(merchant_id))
        .filter(B::Currency.eq(amount.currency.as_str()))
        .filter(
            Expr::col(B::CreditedMinor)
                .sub(Expr::col(B::WithdrawnMinor))
                .gte(amount.minor),
        )
        .exec(txn)
        .await?;
    Ok(reserved.rows_affected == 1)
}

/// Text trimmed, or nothing when blank.
fn trimmed(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Creates a withdrawal (OWNER, OPERATOR, or a MERCHANT key → request kind API).
#[tracing::instrument(skip(d, actor, input), fields(payment_system = %input.payment_system))]
pub async fn create(
    d: &Deps,
    actor: &Actor,
    input: NewWithdrawal,
) -> AppResult<Result<withdrawal::Model, Vec<UserError>>> {
    let (merchant_id, created_by, api_key_id, kind) = requester(actor)?;
    let checked = match check(d, &input) {
        Ok(c) => c,
        Err(errors) => return Ok(Err(errors)),
    };
    let hash = idempotency::request_hash(&canonical(&input, &checked));
    let key = input.idempotency_key.as_deref().map(str::trim);
    write(d, actor, async |txn, now| {
        if let Some(key) = key {
            match idempotency::claim(txn, merchant_id, key, &hash, now).await? {
                Claim::Fresh => {}
                // the first answer again; nothing new is written
                Claim::Replay(first) => return Ok(Change::refused(Ok(*first))),
                Claim::Conflict => {
                    return Ok(Change::refused(Err(vec![err(
                        &["input", "idempotencyKey"],
                        ErrorCode::IdempotencyConflict,
                        "this key was used within 24 hours for a different request",
                    )])))
                }
            }
        }
        if !reserve(txn, merchant_id, &checked.amount).await? {
            return Ok(Change::refused(Err(vec![err(
                &["input", "amount"],
                ErrorCode::InsufficientFunds,
                "the amount exceeds the available balance",
            )])));
        }
        let fields: Vec<_> = checked
            .fields
            .iter()
            .map(|(n, v)| json!({ "name": n, "value": v }))
            .collect();
        let w = withdrawal::ActiveModel {
            merchant_id: Set(merchant_id),
            payment_system: Set(input.payment_system.clone()),
            currency: Set(checked.amount.currency.clone()),
            amount_minor: Set(checked.amount.minor),
            recipient: Set(checked.recipient.clone()),
            label: Set(trimmed(&input.label)),
            comment: Set(trimmed(&input.comment)),
            fields: Set(serde_json::to_string(&fields).map_err(anyhow::Error::new)?),
            status: Set(WithdrawalStatus::New),
            request_kind: Set(kind),
            created_by: Set(created_by),
            api_key_id: Set(api_key_id),
            created_at: Set(now),
            postback_status: Set(WithdrawalPostbackStatus::NotSent),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        if let Some(key) = key {
            idempotency::bind(txn, merchant_id, key, w.id).await?;
        }
        let entry = Audit {
            merchant_id: Some(merchant_id),
            action: "withdrawal.create",
            subject: Some(format!("withdrawal:{}", w.id)),
            details: json!({
                "amount_minor": w.amount_minor,
                "currency": w.currency,
                "payment_system": w.payment_system,
                "kind": kind,
            }),
        };
        let events = vec![crate::events::Event::withdrawal(
            WithdrawalEventKind::Created,
            now,
            &w,
        )];
        Ok(Change::done(Ok(w)).audited(entry).publishing(events))
    })
    .await
}

/// The platform approves or rejects a NEW withdrawal, once.
pub async fn set_status(
    d: &Deps,
    actor: &Actor,
    id: &str,
    approve: Option<bool>,
    comment: Option<String>,
) -> AppResult<Result<withdrawal::Model, UserError>> {
    let reach = actor.key_with_scope(Scope::Platform)?;
    let Ok(id) = id.trim().parse::<i64>() else {
        return Ok(Err(err(
            &["input", "id"],
            ErrorCode::NotFound,
            "no such withdrawal",
        )));
    };
    let Some(approve) = approve else {
        return Ok(Err(err(
            &["input", "status"],
            ErrorCode::InvalidTransition,
            "a withdrawal cannot go back to NEW",
        )));
    };
    // (the update below only takes a NEW row: decided once, atomically)
    let status = super::model::decide(WithdrawalStatus::New, approve).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("a NEW withdrawal could not be decided"))
    })?;
    write(d, actor, async |txn, now| {
        use withdrawal::Column as W;
        let mut values = vec![
            (W::Status, status.into()),
            (W::ProcessedAt, Some(now).into()),
        ];
        // the platform's own column: the merchant's comment stays as entered
        if let Some(c) = comment.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            values.push((W::DecisionComment, Some(c.to_string()).into()));
        }
        let decide = Query::update()
            .table(withdrawal::Entity)
            .values(values)
            .and_where(W::Id.eq(id))
            .and_where(W::Status.eq(WithdrawalStatus::New))
            .and_where(reach_filter(reach))
            .returning_all()
            .to_owned();
        let Some(row) = txn.query_one(&decide).await? else {
            // Another merchant's withdrawal, for a bound key, is a missing one.
            let exists = withdrawal::Entity::find_by_id(id)
                .filter(reach_filter(reach))
                .one(txn)
                .await?
                .is_some();
            return Ok(Change::refused(Err(if exists {
                err(
                    &["input", "status"],
                    ErrorCode::InvalidTransition,
                    "the withdrawal was already decided",
                )
            } else {
                err(&["input", "id"], ErrorCode::NotFound, "no such withdrawal")
            })));
        };
        let w = withdrawal::Model::from_query_result(&row, "")?;
        // NEW was never counted; APPROVED is from now on
        buckets::withdrawals(txn, w.merchant_id, buckets::Scope::Id(w.id), 1).await?;
        use balance::Column as B;
        let mut release = balance::Entity::update_many()
            .col_expr(
                B::ReservedMinor,
                Expr::col(B::ReservedMinor).sub(w.amount_minor),
            )
            .filter(B::MerchantId.eq(w.merchant_id))
            .filter(B::Currency.eq(w.currency.as_str()));
        if !approve {
            release = release.col_expr(
                B::WithdrawnMinor,
                Expr::col(B::WithdrawnMinor).sub(w.amount_minor),
            );
        }
        release.exec(txn).await?;
        let amount = d.catalog.decimal(&w.amount());
        let body = |postback_id: i64| {
            json!({
                "type": "withdrawal",
                "postback_id": postback_id.to_string(),
                "withdrawal_id": w.id.to_string(),
                "status": w.status,
                "amount": amount.to_string(),
                "currency": w.currency,
                "payment_system": w.payment_system,
                "recipient": w.recipient,
                "label": w.label,
                "comment": w.comment,
                "decision_comment": w.decision_comment,
                "processed_at": w.processed_at.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            })
        };
        crate::postbacks::service::queue(
            txn,
            now,
            w.merchant_id,
            PostbackKind::Withdrawal,
            (None, Some(w.id)),
            body,
        )
        .await?;
        let entry = Audit {
            merchant_id: Some(w.merchant_id),
            action: if approve {
                "withdrawal.approve"
            } else {
                "withdrawal.reject"
            },
            subject: Some(format!("withdrawal:{}", w.id)),
            details: json!({ "comment": w.decision_comment }),
        };
        let events = vec![crate::events::Event::withdrawal(
                WithdrawalEventKind::StatusChanged,
                now,
                &w,
            )];
        Ok(Change::done(Ok(w)).audited(entry).publishing(events).waking_postbacks(true))
    })
    .await
}

/// The caller's balances: (currency, available, reserved) in minor units.
pub async fn balances(d: &Deps, actor: &Actor) -> AppResult<Vec<(Money, Money)>> {
    let tenant = actor.reader()?;
    Ok(balance::Entity::find()
        .filter(balance::Column::MerchantId.eq(tenant.merchant_id))
        .order_by_asc(balance::Column::Currency)
        .all(&d.db)
        .await?
        .into_iter()
        .map(|b| (b.available(), b.reserved()))
        .collect())
}

/// The Withdrawals page's filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub id: Option<i64>,
    pub payment_systems: Option<Vec<String>>,
    pub recipient: Option<String>,
    pub label: Option<String>,
    pub postback_status: Option<WithdrawalPostbackStatus>,
    pub status: Option<WithdrawalStatus>,
    pub created_at: Range,
}

impl Filter {
    /// Nothing filters the list.
    pub fn is_empty(&self) -> bool {
        let Filter {
            id,
            payment_systems,
            recipient,
            label,
            postback_status,
            status,
            created_at,
        } = self;
        id.is_none()
            && payment_systems.is_none()
            && recipient.is_none()
            && label.is_none()
            && postback_status.is_none()
            && status.is_none()
            && created_at.from.is_none()
            && created_at.to.is_none()
    }
}

pub fn condition(tenant: Tenant, f: &Filter) -> Condition {
    Condition::all()
        .add(withdrawal::Column::MerchantId.eq(tenant.merchant_id))
        .add(matching(f))
}

/// The filter alone, for a select whose merchant is bounded otherwise (a
/// page: [`pagination::Owner`]).
pub fn matching(f: &Filter) -> Condition {
    use withdrawal::Column as W;
    let mut c = Condition::all();
    if let Some(id) = f.id {
        c = c.add(W::Id.eq(id));
    }
    if let Some(s) = &f.payment_systems {
        c = c.add(W::PaymentSystem.is_in(s.clone()));
    }
    if let Some(r) = &f.recipient {
        c = c.add(W::Recipient.eq(r.trim()));
    }
    if let Some(l) = &f.label {
        c = c.add(W::Label.eq(l.clone()));
    }
    if let Some(p) = f.postback_status {
        c = c.add(W::PostbackStatus.eq(p));
    }
    if let Some(s) = f.status {
        c = c.add(W::Status.eq(s));
    }
    f.created_at.narrow(c, W::CreatedAt)
}

pub const CURSOR_KIND: &str = "withdrawal";

/// Sort orders of the Withdrawals page.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrderField {
    Id,
    CreatedAt,
    Amount,
}

pub fn sort(field: OrderField, ascending: bool) -> Sort {
    use withdrawal::Column as W;
    let (name, key, bound): (_, _, fn(i64) -> Option<Expr>) = match field {
        OrderField::Id => ("ID", None, pagination::integer_bound),
        OrderField::CreatedAt => (
            "CREATED_AT",
            Some(Expr::col((withdrawal::Entity, W::CreatedAt))),
            pagination::instant_bound,
        ),
        OrderField::Amount => (
            "AMOUNT",
            Some(Expr::col((withdrawal::Entity, W::AmountMinor))),
            pagination::integer_bound,
        ),
    };
    Sort {
        kind: CURSOR_KIND,
        field: name,
        ascending,
        key,
        bound,
    }
}

pub fn cursor_of(w: &withdrawal::Model, field: OrderField, ascending: bool) -> String {
    let value = match field {
        OrderField::Id => w.id,
        OrderField::CreatedAt => w.created_at.timestamp_micros(),
        OrderField::Amount => w.amount_minor,
    };
    sort(field, ascending).cursor(value, w.id)
}

pub async fn list(
    d: &Deps,
    tenant: Tenant,
    f: &Filter,
    field: OrderField,
    ascending: bool,
    args: &PageArgs,
) -> AppResult<Page<withdrawal::Model>> {
    pagination::keyset(
        d,
        pagination::find_all::<withdrawal::Entity>(sea_orm::ConnectionTrait::get_database_backend(
            &d.db,
        ))
        .filter(matching(f)),
        withdrawal::Column::Id,
        owner(tenant, f),
        &sort(field, ascending),
        args,
    )
    .await
}

/// The merchant of a page of withdrawals matching `filter`: planned once
/// per connection when nothing filters it (each order has its index).
pub fn owner(tenant: Tenant, filter: &Filter) -> pagination::Owner<withdrawal::Column> {
    pagination::Owner {
        column: withdrawal::Column::MerchantId,
        id: tenant.merchant_id,
        plans: if filter.is_empty() {
            crate::db::Plans::Generic
        } else {
            crate::db::Plans::Chosen
        },
    }
}

pub async fn count(d: &Deps, tenant: Tenant, f: &Filter) -> AppResult<i64> {
    Ok(withdrawal::Entity::find()
        .filter(condition(tenant, f))
        .count(&d.db)
        .await? as i64)
}

/// Per-currency sums of the matching withdrawals: (currency, minor units, count).
pub async fn totals(d: &Deps, tenant: Tenant, f: &Filter) -> AppResult<Vec<(Money, i64)>> {
    use withdrawal::Column as W;
    let select = withdrawal::Entity::find().filter(condition(tenant, f));
    Ok(crate::money::totals_by_currency(&d.db, select, W::Currency, W::AmountMinor, W::Id).await?)
}

/// One withdrawal of the caller's merchant.
pub async fn get(d: &Deps, actor: &Actor, id: &str) -> AppResult<Option<withdrawal::Model>> {
    let tenant = actor.reader()?;
    let Ok(id) = id.trim().parse::<i64>() else {
        return Ok(None);
    };
    get_in(d, tenant.merchant_id, id).await
}

pub async fn get_in(d: &Deps, merchant_id: i64, id: i64) -> AppResult<Option<withdrawal::Model>> {
    Ok(withdrawal::Entity::find_by_id(id)
        .filter(withdrawal::Column::MerchantId.eq(merchant_id))
        .one(&d.db)
        .await?)
}

/// Rows a platform key may decide: all, or its merchant's.
fn reach_filter(reach: crate::auth::model::KeyReach) -> sea_orm::sea_query::SimpleExpr {
    match reach {
        crate::auth::model::KeyReach::Everything => sea_orm::sea_query::Expr::value(true),
        crate::auth::model::KeyReach::Merchant(m) => withdrawal::Column::MerchantId.eq(m),
    }
}
