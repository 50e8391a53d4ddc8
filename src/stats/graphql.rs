//! GraphQL: the dashboard.

use super::service::{self, DateKind, Filter, Point, Section};
use crate::catalog::model::{Catalog, PaymentSystem};
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::{Date, Decimal};
use async_graphql::{
    Context, ErrorExtensions, InputObject, Object, PathSegment, Result, ResultExt, SimpleObject,
};

/// What the dashboard counts.
#[derive(InputObject)]
pub struct DashboardFilter {
    /// First day, inclusive, in the merchant's time zone.
    pub from: Date,
    /// Last day, inclusive; at most 366 days after from.
    pub to: Date,
    /// Which date puts a deposit on a day.
    #[graphql(default_with = "DateKind::Activation")]
    pub date_kind: DateKind,
    /// Arrival currencies to count; all when left out.
    pub currencies: Option<Vec<String>>,
    /// Currency the amounts are shown in.
    #[graphql(default_with = "\"USD\".to_string()")]
    pub display_currency: String,
    /// Country codes (ISO 3166-1 alpha-2) to count; all when left out.
    pub countries: Option<Vec<String>>,
    /// Payment-system codes to count; all when left out.
    pub payment_systems: Option<Vec<String>>,
    /// Count only transactions whose stockpiling is completed.
    #[graphql(default)]
    pub completed_stockpiling_only: bool,
}

/// A sum and a count.
#[derive(SimpleObject)]
pub struct StatTotal {
    /// The sum, in the display currency.
    pub amount: Decimal,
    /// How many.
    pub count: i32,
}

/// One day's figures.
#[derive(SimpleObject)]
pub struct StatPoint {
    /// The day (merchant's time zone).
    pub date: Date,
    /// The day's sum, in the display currency (or the series' own currency).
    pub amount: Decimal,
    /// How many transactions or withdrawals.
    pub count: i32,
}

/// One daily line per payment system, in the display currency.
#[derive(SimpleObject)]
pub struct PaymentSystemSeries {
    /// The payment system.
    pub payment_system: PaymentSystem,
    /// One point per day with activity, oldest first.
    pub points: Vec<StatPoint>,
}

/// One daily line in an arrival currency, unconverted ("show details").
#[derive(SimpleObject)]
pub struct CurrencySeries {
    /// The arrival currency (ISO 4217).
    pub currency: String,
    /// The payment system of the line.
    pub payment_system: PaymentSystem,
    /// One point per day with activity, oldest first.
    pub points: Vec<StatPoint>,
}

/// Figures for transactions or for withdrawals.
#[derive(SimpleObject)]
pub struct DashboardSection {
    /// The whole period: sum (display currency) and count.
    pub period: StatTotal,
    /// The current day in the merchant's time zone, whatever the filter's dates.
    pub today: StatTotal,
    /// The total line: one point per day of the range, days without data included as zero.
    pub total: Vec<StatPoint>,
    /// One daily line per payment system.
    pub by_payment_system: Vec<PaymentSystemSeries>,
    /// Show details: amounts in the arrival currency, unconverted.
    pub by_arrival_currency: Vec<CurrencySeries>,
}

/// The Dashboard page: sums and counts per day of the merchant's time zone, converted into the display currency at each day's rate.
#[derive(SimpleObject)]
pub struct Dashboard {
    /// The currency the amounts are shown in.
    pub display_currency: String,
    /// The time zone the days are days of.
    pub timezone: String,
    /// First day shown, inclusive.
    pub from: Date,
    /// Last day shown, inclusive.
    pub to: Date,
    /// Activated deposits (SCAM ones left out).
    pub transactions: DashboardSection,
    /// Approved withdrawals.
    pub withdrawals: DashboardSection,
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn points(line: Vec<Point>) -> Vec<StatPoint> {
    line.into_iter()
        .map(|p| StatPoint {
            date: Date(p.date),
            amount: p.amount.into(),
            count: count(p.count),
        })
        .collect()
}

fn section(catalog: &Catalog, s: Section) -> DashboardSection {
    // Buckets name payment systems of the catalogue (a foreign key); one
    // this instance's catalogue does not know (added since it started) is
    // left out of the series and logged, never a panic.
    let system = |code: &str| {
        let found = catalog.payment_system(code).cloned();
        if found.is_none() {
            tracing::warn!(payment_system = code, "statistics name a payment system this instance's catalogue lacks (restart to reload it)");
        }
        found
    };
    DashboardSection {
        period: StatTotal {
            amount: s.period.0.into(),
            count: count(s.period.1),
        },
        today: StatTotal {
            amount: s.today.0.into(),
            count: count(s.today.1),
        },
        total: points(s.total),
        by_payment_system: s
            .by_payment_system
            .into_iter()
            .filter_map(|(code, line)| {
                Some(PaymentSystemSeries {
                    payment_system: system(&code)?,
                    points: points(line),
                })
            })
            .collect(),
        by_arrival_currency: s
            .by_arrival_currency
            .into_iter()
            .filter_map(|(currency, code, line)| {
                Some(CurrencySeries {
                    currency,
                    payment_system: system(&code)?,
                    points: points(line),
                })
            })
            .collect(),
    }
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// The dashboard page.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The days, the display currency and what to count.")]
        filter: DashboardFilter,
    ) -> Result<Dashboard> {
        let d = deps(ctx)?;
        let f = Filter {
            from: filter.from.0,
            to: filter.to.0,
            date_kind: filter.date_kind,
            currencies: filter.currencies,
            display_currency: filter.display_currency,
            countries: filter.countries,
            payment_systems: filter.payment_systems,
            completed_only: filter.completed_stockpiling_only,
        };
        let board = service::dashboard(d, actor(ctx)?, f).await.extend()?;
        if !board.missing_rates.is_empty() {
            let missing = board.missing_rates.clone();
            let mut e = async_graphql::Error::new(format!(
                "no exchange rate for {} on some days: their amounts are left out",
                missing.join(", ")
            ))
            .extend_with(|_, e| {
                e.set("code", crate::error::WireCode::NoRate.as_str());
                e.set("currencies", missing.clone());
            })
            .into_server_error(ctx.item.pos);
            e.path = vec![PathSegment::Field(
                ctx.item.node.response_key().node.to_string(),
            )];
            ctx.add_error(e);
        }
        Ok(Dashboard {
            display_currency: board.display_currency,
            timezone: board.timezone,
            from: Date(board.from),
            to: Date(board.to),
            transactions: section(&d.catalog, board.transactions),
            withdrawals: section(&d.catalog, board.withdrawals),
        })
    }
}
