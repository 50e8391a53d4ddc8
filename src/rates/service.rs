//! setExchangeRates and the rates in force on a day.

use crate::audit::Audit;
use crate::auth::model::{Actor, Scope};
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{AppResult, ErrorCode, UserError};
use chrono::NaiveDate;
use entity::exchange_rate;
use rust_decimal::Decimal;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use std::str::FromStr;

/// Most rates one call may publish.
pub const MAX_RATES: usize = 1_000;

/// Publishes rates (scope PLATFORM); all or nothing.
pub async fn set_rates(
    d: &Deps,
    actor: &Actor,
    rates: Vec<(String, NaiveDate, Decimal)>,
) -> AppResult<Result<Vec<(String, NaiveDate, Decimal)>, Vec<UserError>>> {
    // Rates are global: a key bound to one merchant may not set them.
    actor.key_with_scope(Scope::Platform)?.everything()?;
    let mut errors = Vec::new();
    if rates.len() > MAX_RATES {
        errors.push(UserError::new(
            &["input"],
            ErrorCode::Invalid,
            format!("at most {MAX_RATES} rates per call"),
        ));
    }
    for (i, (currency, _, usd)) in rates.iter().enumerate() {
        let path = |f: &str| vec!["input".to_string(), i.to_string(), f.to_string()];
        if d.catalog.currency(currency).is_none() {
            errors.push(UserError {
                field: path("currency"),
                code: ErrorCode::Invalid,
                message: format!("unknown currency `{currency}`"),
            });
        }
        if *usd <= Decimal::ZERO || usd.scale() > 12 {
            errors.push(UserError {
                field: path("usd"),
                code: ErrorCode::Invalid,
                message: "a positive rate with at most 12 decimals".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    write(d, actor, async |txn, _now| {
        for (currency, date, usd) in &rates {
            use exchange_rate::Column as R;
            let upsert = Query::insert()
                .into_table(exchange_rate::Entity)
                .columns([R::Currency, R::Date, R::Usd])
                .values_panic([
                    currency.clone().into(),
                    date.format("%Y-%m-%d").to_string().into(),
                    usd.normalize().to_string().into(),
                ])
                .on_conflict(
                    OnConflict::columns([R::Currency, R::Date])
                        .update_column(R::Usd)
                        .to_owned(),
                )
                .to_owned();
            txn.execute(&upsert).await?;
        }
        let entry = Audit {
            merchant_id: None,
            action: "exchange_rates.set",
            subject: None,
            details: json!({ "rates": rates.len() }),
        };
        Ok(Change::done(Ok(rates
            .into_iter()
            .map(|(c, day, usd)| (c, day, usd.normalize()))
            .collect()))
        .audited(entry))
    })
    .await
}

/// The rate in force on `day` for each currency that has one (USD is 1 by
/// definition unless published otherwise): (currency, the rate's own date, usd).
pub async fn rates_on(d: &Deps, day: NaiveDate) -> AppResult<Vec<(String, NaiveDate, Decimal)>> {
    let key = day.format("%Y-%m-%d").to_string();
    let mut out = Vec::new();
    for c in &d.catalog.currencies {
        let found = exchange_rate::Entity::find()
            .filter(exchange_rate::Column::Currency.eq(c.code.as_str()))
            .filter(exchange_rate::Column::Date.lte(key.as_str()))
            .order_by_desc(exchange_rate::Column::Date)
            .one(&d.db)
            .await?;
        match found {
            Some(r) => {
                let date =
                    NaiveDate::parse_from_str(&r.date, "%Y-%m-%d").map_err(anyhow::Error::new)?;
                let usd = Decimal::from_str(&r.usd).map_err(anyhow::Error::new)?;
                out.push((r.currency, date, usd));
            }
            None if c.code == "USD" => out.push(("USD".into(), day, Decimal::ONE)),
            None => {}
        }
    }
    Ok(out)
}
