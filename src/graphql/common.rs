//! GraphQL types and helpers every domain's schema shares: page info, time
//! ranges, sums per currency, counts, minor units.

use crate::deps::Deps;
use crate::error::AppError;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::money::Money;
use crate::transactions::model::Range;
use async_graphql::{ErrorExtensions, InputObject, SimpleObject};

/// An amount as the API shows it: exactly its currency's digits.
pub fn amount(d: &Deps, m: &Money) -> Decimal {
    d.catalog.decimal(m).into()
}

/// An internal error as a GraphQL error (its text is logged, never shown).
pub fn internal(e: impl std::fmt::Display) -> async_graphql::Error {
    AppError::Internal(anyhow::anyhow!(e.to_string())).extend()
}

/// Half-open interval [from, to) of instants; either end may be left out.
#[derive(InputObject, Clone, Copy, Default)]
pub struct TimeRange {
    /// Inclusive start; open when left out.
    pub from: Option<DateTime>,
    /// Exclusive end; open when left out.
    pub to: Option<DateTime>,
}

impl From<Option<TimeRange>> for Range {
    fn from(r: Option<TimeRange>) -> Self {
        let r = r.unwrap_or_default();
        Range {
            from: r.from.map(|t| t.0),
            to: r.to.map(|t| t.0),
        }
    }
}

/// A sum in one currency.
#[derive(SimpleObject)]
pub struct CurrencyTotal {
    /// ISO 4217 code.
    pub currency: String,
    /// The sum, in that currency.
    pub amount: Decimal,
    /// How many rows make it up.
    pub count: i32,
}

impl CurrencyTotal {
    /// From (sum, row count) as the services give them.
    pub fn from_sums(d: &Deps, sums: Vec<(Money, i64)>) -> Vec<CurrencyTotal> {
        sums.into_iter()
            .map(|(sum, count)| CurrencyTotal {
                amount: amount(d, &sum),
                currency: sum.currency,
                count: clamp_count(count),
            })
            .collect()
    }
}

/// A row count as GraphQL's `Int` (32 bits).
pub fn clamp_count(n: i64) -> i32 {
    n.min(i32::MAX as i64) as i32
}

/// Relay-style page information.
#[derive(SimpleObject, Clone, Default)]
#[graphql(serial)]
pub struct PageInfo {
    /// More rows after this page.
    pub has_next_page: bool,
    /// More rows before this page.
    pub has_previous_page: bool,
    /// The first row's cursor; null on an empty page.
    pub start_cursor: Option<String>,
    /// The last row's cursor (pass it as after); null on an empty page.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// The page info of a page whose edges carry `cursors`, in list order.
    pub fn of<'a>(
        cursors: impl IntoIterator<Item = &'a String>,
        has_next_page: bool,
        has_previous_page: bool,
    ) -> Self {
        let mut cursors = cursors.into_iter();
        let start_cursor = cursors.next().cloned();
        let end_cursor = cursors.last().cloned().or_else(|| start_cursor.clone());
        Self::between(start_cursor, end_cursor, has_next_page, has_previous_page)
    }

    /// The page info of a page from the first edge's cursor to the last's.
    pub fn between(
        start_cursor: Option<String>,
        end_cursor: Option<String>,
        has_next_page: bool,
        has_previous_page: bool,
    ) -> Self {
        PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor,
            end_cursor,
        }
    }
}
