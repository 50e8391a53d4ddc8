//! GraphQL: exchangeRates and setExchangeRates.

use super::service;
use crate::error::UserError;
use crate::graphql::scalars::{Date, Decimal};
use crate::graphql::{actor, deps};
use async_graphql::{Context, InputObject, Object, Result, ResultExt, SimpleObject};

#[derive(SimpleObject)]
pub struct ExchangeRate {
    pub currency: String,
    pub date: Date,
    /// Value of one unit of the currency in USD.
    pub usd: Decimal,
}

#[derive(InputObject)]
pub struct ExchangeRateInput {
    pub currency: String,
    pub date: Date,
    pub usd: Decimal,
}

#[derive(SimpleObject)]
pub struct SetExchangeRatesPayload {
    pub rates: Vec<ExchangeRate>,
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
        date: Option<Date>,
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
        input: Vec<ExchangeRateInput>,
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
