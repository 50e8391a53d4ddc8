//! Money: `Decimal` at the edges, [`Money`] (integer minor units of one
//! currency) from the services down to the entities.
//!
//! A currency's amounts carry at most its ISO 4217 minor units; more
//! significant digits are refused, never rounded (`Money::from_decimal`).
//! The catalogue knows each currency's digits: `Catalog::decimal` and
//! `Catalog::money` convert.

pub use entity::{Money, MoneyError};

/// Per-currency sums of `amount` over the rows of `select`: (sum, row
/// count), in currency order.
pub async fn totals_by_currency<E: sea_orm::EntityTrait>(
    db: &sea_orm::DatabaseConnection,
    select: sea_orm::Select<E>,
    currency: E::Column,
    amount: E::Column,
    id: E::Column,
) -> Result<Vec<(Money, i64)>, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{QueryOrder, QuerySelect};
    // SUM of BIGINT is NUMERIC on PostgreSQL and INTEGER on SQLite: cast to one type.
    let rows: Vec<(String, Option<i64>, i64)> = select
        .select_only()
        .column(currency)
        .column_as(Expr::col(amount).sum().cast_as("BIGINT"), "amount")
        .column_as(Expr::col(id).count(), "count")
        .group_by(currency)
        .order_by_asc(currency)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(c, sum, count)| (Money::new(sum.unwrap_or_default(), c), count))
        .collect())
}
