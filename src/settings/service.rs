//! Reading and changing the merchant's system settings.

use crate::audit::Audit;
use crate::auth::model::{Actor, Role};
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{AppResult, ErrorCode, UserError};
use crate::money::Money;
use entity::merchant::AfterPaymentAction;
use entity::{merchant, minimum_deposit};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use std::collections::HashSet;

/// The merchant row and its minimum deposits (currency, minor units).
pub async fn system(d: &Deps, actor: &Actor) -> AppResult<(merchant::Model, Vec<Money>)> {
    let m = crate::accounts::service::merchant(d, actor).await?;
    let mins = minimum_deposit::Entity::find()
        .filter(minimum_deposit::Column::MerchantId.eq(m.id))
        .order_by_asc(minimum_deposit::Column::Currency)
        .all(&d.db)
        .await?
        .into_iter()
        .map(|x| x.amount())
        .collect();
    Ok((m, mins))
}

/// What `updateSystemSettings` may change; `None` leaves a setting as it is.
#[derive(Default)]
pub struct SystemChanges {
    /// Replaces the whole list of minimum deposits.
    pub minimum_deposits: Option<Vec<(String, Decimal)>>,
    /// Where deposit postbacks go; `Some("")` clears it.
    pub postback_url: Option<String>,
    /// Where withdrawal postbacks go; `Some("")` clears it.
    pub withdrawal_postback_url: Option<String>,
    /// `SHOW_RESULT` or `REDIRECT`.
    pub after_payment_action: Option<AfterPaymentAction>,
    /// Where the plugin sends the payer after a payment; `Some("")` clears it.
    pub success_url: Option<String>,
    /// Where the plugin sends the payer when it failed; `Some("")` clears it.
    pub fail_url: Option<String>,
    /// IANA time zone name.
    pub timezone: Option<String>,
}

/// Checks a redirect URL for the payer's browser: empty clears it;
/// otherwise http(s) with a host (the server never fetches it).
fn redirect_setting(
    raw: &Option<String>,
    field: &str,
    errors: &mut Vec<UserError>,
) -> Option<Option<String>> {
    let raw = raw.as_ref()?.trim();
    if raw.is_empty() {
        return Some(None);
    }
    match url::Url::parse(raw) {
        Ok(u)
            if (u.scheme() == "http" || u.scheme() == "https")
                && u.host().is_some()
                && raw.len() <= 2048 =>
        {
            Some(Some(u.to_string()))
        }
        _ => {
            errors.push(UserError {
                field: vec!["input".into(), field.into()],
                code: ErrorCode::Invalid,
                message: "an http or https URL is needed".into(),
            });
            None
        }
    }
}

/// Checks a URL setting: empty clears it; otherwise http(s) to a public host.
async fn url_setting(
    d: &Deps,
    raw: &Option<String>,
    field: &str,
    errors: &mut Vec<UserError>,
) -> Option<Option<String>> {
    let raw = raw.as_ref()?;
    if raw.trim().is_empty() {
        return Some(None);
    }
    match crate::postbacks::url_guard::check(raw, d.config.allow_private_urls).await {
        Ok(url) => Some(Some(url.to_string())),
        Err(problem) => {
            errors.push(UserError {
                field: vec!["input".into(), field.into()],
                code: match problem {
                    crate::postbacks::url_guard::UrlProblem::NotPublic => ErrorCode::ForbiddenUrl,
                    crate::postbacks::url_guard::UrlProblem::Invalid(_) => ErrorCode::Invalid,
                },
                message: problem.to_string(),
            });
            None
        }
    }
}

/// Applies `changes` (OWNER only); nothing is written when any part is invalid.
pub async fn update_system(
    d: &Deps,
    actor: &Actor,
    changes: SystemChanges,
) -> AppResult<Vec<UserError>> {
    let me = actor.user_with_role(&[Role::Owner])?.clone();
    let mut errors = Vec::new();
    let mut minimums: Vec<Money> = Vec::new();
    if let Some(list) = &changes.minimum_deposits {
        let mut seen = HashSet::new();
        for (i, (currency, amount)) in list.iter().enumerate() {
            let path = |f: &str| {
                vec![
                    "input".to_string(),
                    "minimumDeposits".into(),
                    i.to_string(),
                    f.to_string(),
                ]
            };
            let Some(c) = d.catalog.currency(currency) else {
                errors.push(UserError {
                    field: path("currency"),
                    code: ErrorCode::Invalid,
                    message: format!("unknown currency `{currency}`"),
                });
                continue;
            };
            if !seen.insert(currency.clone()) {
                errors.push(UserError {
                    field: path("currency"),
                    code: ErrorCode::Duplicate,
                    message: format!("{currency} is listed twice"),
                });
                continue;
            }
            match Money::non_negative(*amount, currency.clone(), c.minor_units as u32) {
                Ok(minimum) => minimums.push(minimum),
                Err(e) => errors.push(UserError {
                    field: path("amount"),
                    code: ErrorCode::Invalid,
                    message: e.to_string(),
                }),
            }
        }
    }
    let postback_url = url_setting(d, &changes.postback_url, "postbackUrl", &mut errors).await;
    let withdrawal_url = url_setting(
        d,
        &changes.withdrawal_postback_url,
        "withdrawalPostbackUrl",
        &mut errors,
    )
    .await;
    let success_url = redirect_setting(&changes.success_url, "successUrl", &mut errors);
    let fail_url = redirect_setting(&changes.fail_url, "failUrl", &mut errors);
    if let Some(tz) = &changes.timezone {
        if !crate::accounts::service::valid_timezone(tz.trim()) {
            errors.push(UserError::new(
                &["input", "timezone"],
                ErrorCode::Invalid,
                format!("`{tz}` is not an IANA time zone such as Asia/Kolkata"),
            ));
        }
    }
    // REDIRECT needs somewhere to send the payer.
    let current = merchant::Entity::find_by_id(me.merchant_id)
        .one(&d.db)
        .await?
        .ok_or(crate::error::AppError::NotFound)?;
    let action = changes
        .after_payment_action
        .unwrap_or(current.after_payment_action);
    let success_after = success_url.clone().unwrap_or(current.success_url.clone());
    if action == AfterPaymentAction::Redirect && success_after.is_none() && errors.is_empty() {
        errors.push(UserError::new(
            &["input", "successUrl"],
            ErrorCode::Required,
            "REDIRECT needs a successUrl",
        ));
    }
    if !errors.is_empty() {
        return Ok(errors);
    }
    write(d, actor, async |txn, _now| {
        if changes.minimum_deposits.is_some() {
            minimum_deposit::Entity::delete_many()
                .filter(minimum_deposit::Column::MerchantId.eq(me.merchant_id))
                .exec(txn)
                .await?;
            for minimum in &minimums {
                minimum_deposit::ActiveModel {
                    merchant_id: Set(me.merchant_id),
                    currency: Set(minimum.currency.clone()),
                    amount_minor: Set(minimum.minor),
                }
                .insert(txn)
                .await?;
            }
        }
        let mut row =
            merchant::Entity::update_many().filter(merchant::Column::Id.eq(me.merchant_id));
        let mut touched = false;
        if let Some(url) = &postback_url {
            row = row.col_expr(
                merchant::Column::PostbackUrl,
                sea_orm::sea_query::Expr::value(url.clone()),
            );
            touched = true;
        }
        if let Some(url) = &withdrawal_url {
            row = row.col_expr(
                merchant::Column::WithdrawalPostbackUrl,
                sea_orm::sea_query::Expr::value(url.clone()),
            );
            touched = true;
        }
        if let Some(url) = &success_url {
            row = row.col_expr(
                merchant::Column::SuccessUrl,
                sea_orm::sea_query::Expr::value(url.clone()),
            );
            touched = true;
        }
        if let Some(url) = &fail_url {
            row = row.col_expr(
                merchant::Column::FailUrl,
                sea_orm::sea_query::Expr::value(url.clone()),
            );
            touched = true;
        }
        if let Some(action) = changes.after_payment_action {
            row = row.col_expr(
                merchant::Column::AfterPaymentAction,
                sea_orm::sea_query::Expr::value(action),
            );
            touched = true;
        }
        if let Some(tz) = &changes.timezone {
            row = row.col_expr(
                merchant::Column::Timezone,
                sea_orm::sea_query::Expr::value(tz.trim()),
            );
            touched = true;
        }
        if touched {
            row.exec(txn).await?;
        }
        if let Some(tz) = &changes.timezone {
            // The dashboard's days follow the zone: rebuilt from the 15-minute
            // buckets (never from the raw rows) in this transaction. The row
            // update above waited for every writer that read the old zone.
            let tz = tz.trim().parse().unwrap_or(chrono_tz::UTC);
            crate::stats::buckets::rebuild_days(txn, me.merchant_id, tz).await?;
        }
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "settings.update_system",
            subject: Some(format!("merchant:{}", me.merchant_id)),
            details: json!({
                "after_payment_action": changes.after_payment_action,
                "success_url": success_url,
                "fail_url": fail_url,
                "timezone": changes.timezone,
                "postback_url": postback_url,
                "withdrawal_postback_url": withdrawal_url,
                "minimum_deposits": changes.minimum_deposits.as_ref().map(|list| {
                    list.iter()
                        .map(|(c, a)| json!({ "currency": c, "amount": a.to_string() }))
                        .collect::<Vec<_>>()
                }),
            }),
        };
        Ok(Change::done(vec![]).audited(entry))
    })
    .await
}
