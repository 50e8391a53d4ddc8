//! GraphQL: the dashboard.

use super::service::{self, DateKind, Filter, Point, Section};
use crate::catalog::model::{Catalog, PaymentSystem};
use crate::graphql::scalars::{Date, Decimal};
use crate::graphql::{actor, deps};
use async_graphql::{
    Context, Enum, ErrorExtensions, InputObject, Object, PathSegment, Result, ResultExt,
    SimpleObject,
};

/// The date that places a row on a day.
#[derive(Enum, Copy, Clone, PartialEq, Eq)]
pub enum DashboardDateKind {
    Activation,
    Creation,
    StockpilingEnd,
}

#[derive(InputObject)]
pub struct DashboardFilter {
    /// First day, inclusive, in the merchant's time zone.
    pub from: Date,
    /// Last day, inclusive; at most 366 days after from.
    pub to: Date,
    #[graphql(default_with = "DashboardDateKind::Activation")]
    pub date_kind: DashboardDateKind,
    /// Arrival currencies to count; all when left out.
    pub currencies: Option<Vec<String>>,
    /// Currency the amounts are shown in.
    #[graphql(default_with = "\"USD\".to_string()")]
    pub display_currency: String,
    pub countries: Option<Vec<String>>,
    pub payment_systems: Option<Vec<String>>,
    /// Count only transactions whose stockpiling is completed.
    #[graphql(default)]
    pub completed_stockpiling_only: bool,
}

#[derive(SimpleObject)]
pub struct StatTotal {
    pub amount: Decimal,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct StatPoint {
    pub date: Date,
    pub amount: Decimal,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct PaymentSystemSeries {
    pub payment_system: PaymentSystem,
    pub points: Vec<StatPoint>,
}

#[derive(SimpleObject)]
pub struct CurrencySeries {
    pub currency: String,
    pub payment_system: PaymentSystem,
    pub points: Vec<StatPoint>,
}

#[derive(SimpleObject)]
pub struct DashboardSection {
    pub period: StatTotal,
    /// The current day in the merchant's time zone, whatever the filter's dates.
    pub today: StatTotal,
    /// The total line: one point per day of the range, days without data included as zero.
    pub total: Vec<StatPoint>,
    pub by_payment_system: Vec<PaymentSystemSeries>,
    /// Show details: amounts in the arrival currency, unconverted.
    pub by_arrival_currency: Vec<CurrencySeries>,
}

#[derive(SimpleObject)]
pub struct Dashboard {
    pub display_currency: String,
    pub timezone: String,
    pub from: Date,
    pub to: Date,
    pub transactions: DashboardSection,
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
    let system = |code: &str| {
        catalog
            .payment_system(code)
            .cloned()
            .expect("bucket rows name catalogue payment systems")
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
            .map(|(code, line)| PaymentSystemSeries {
                payment_system: system(&code),
                points: points(line),
            })
            .collect(),
        by_arrival_currency: s
            .by_arrival_currency
            .into_iter()
            .map(|(currency, code, line)| CurrencySeries {
                currency,
                payment_system: system(&code),
                points: points(line),
            })
            .collect(),
    }
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// The dashboard page.
    async fn dashboard(&self, ctx: &Context<'_>, filter: DashboardFilter) -> Result<Dashboard> {
        let d = deps(ctx)?;
        let f = Filter {
            from: filter.from.0,
            to: filter.to.0,
            date_kind: match filter.date_kind {
                DashboardDateKind::Activation => DateKind::Activation,
                DashboardDateKind::Creation => DateKind::Creation,
                DashboardDateKind::StockpilingEnd => DateKind::StockpilingEnd,
            },
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
                e.set("code", "NO_RATE");
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
