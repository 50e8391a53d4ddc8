//! GraphQL: exchangeRates and setExchangeRates.

use super::service;
use crate::error::UserError;
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::{Date, Decimal};
use async_graphql::{Context, InputObject, Object, Result, ResultExt, SimpleObject};

/// How many US dollars one unit of a currency was worth on a day.
#[derive(SimpleObject)]
pub struct ExchangeRate {
    /// ISO 4217 code.
    pub currency: String,
    /// The day the rate is in force from.
    pub date: Date,
    /// Value of one unit of the currency in USD.
    pub usd: Decimal,
}

/// One exchange rate (PLATFORM key).
#[derive(InputObject)]
pub struct ExchangeRateInput {
    /// ISO 4217 code.
    pub currency: String,
    /// The day it is in force from.
    pub date: Date,
    /// US dollars per one unit of the currency; greater than 0.
    pub usd: Decimal,
}

/// Result of setExchangeRates.
#[derive(SimpleObject)]
pub struct SetExchangeRatesPayload {
    /// The rates as stored.
    pub rates: Vec<ExchangeRate>,
    /// What was wrong with the input; nothing is stored if any.
    pub errors: Vec<UserError>,
}

fn rate((currency, date, usd): (String, chrono::NaiveDate, rust_decimal::Decimal)) -> ExchangeRate {
    ExchangeRate {
        currency,
        date: Date(date),
        usd: usd.into(),
    }
}

#[derive(Default)]
pub struct RatesQuery;

#[Object]
impl RatesQuery {
    /// Rates in force on a date (default: today in the merchant's time zone), one per currency.
    async fn exchange_rates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A day in the merchant's time zone; today when left out.")] date: Option<
            Date,
        >,
    ) -> Result<Vec<ExchangeRate>> {
        let d = deps(ctx)?;
        let caller = actor(ctx)?;
        caller.authenticated().extend()?;
        let day = match date {
            Some(day) => day.0,
            None => {
                let tz = match caller.reader() {
                    Ok(_) => {
                        crate::accounts::service::merchant(d, caller)
                            .await
                            .extend()?
                            .timezone
                    }
                    Err(_) => "UTC".to_string(),
                };
                let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
                d.clock.now().with_timezone(&tz).date_naive()
            }
        };
        Ok(service::rates_on(d, day)
            .await
            .extend()?
            .into_iter()
            .map(rate)
            .collect())
    }
}

#[derive(Default)]
pub struct RatesMutation;

#[Object]
impl RatesMutation {
    /// Platform (scope PLATFORM): publishes exchange rates.
    async fn set_exchange_rates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "One rate per currency and day, in US dollars per unit.")] input: Vec<
            ExchangeRateInput,
        >,
    ) -> Result<SetExchangeRatesPayload> {
        let rates = input
            .into_iter()
            .map(|r| (r.currency, r.date.0, r.usd.0))
            .collect();
        Ok(
            match service::set_rates(deps(ctx)?, actor(ctx)?, rates)
                .await
                .extend()?
            {
                Ok(rates) => SetExchangeRatesPayload {
                    rates: rates.into_iter().map(rate).collect(),
                    errors: vec![],
                },
                Err(errors) => SetExchangeRatesPayload {
                    rates: vec![],
                    errors,
                },
            },
        )
    }
}
