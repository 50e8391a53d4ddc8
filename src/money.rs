//! Money: `Decimal` at the edges, integer minor units in the database.
//!
//! A currency's amounts carry at most its ISO 4217 minor units; more
//! significant digits are refused, never rounded.

use rust_decimal::Decimal;

/// Why an amount cannot be stored.
#[derive(Debug, PartialEq, Eq)]
pub enum MoneyError {
    NotPositive,
    Negative,
    TooPrecise { minor_units: u32 },
    TooLarge,
}

impl std::fmt::Display for MoneyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MoneyError::NotPositive => write!(f, "the amount must be greater than zero"),
            MoneyError::Negative => write!(f, "the amount must not be negative"),
            MoneyError::TooPrecise { minor_units } => {
                write!(
                    f,
                    "this currency has {minor_units} digits after the decimal point"
                )
            }
            MoneyError::TooLarge => write!(f, "the amount is too large"),
        }
    }
}

/// Converts an amount into minor units, refusing digits the currency lacks.
pub fn to_minor(amount: Decimal, minor_units: u32) -> Result<i64, MoneyError> {
    let normalized = amount.normalize();
    if normalized.scale() > minor_units {
        return Err(MoneyError::TooPrecise { minor_units });
    }
    let scaled = normalized
        .checked_mul(Decimal::from(10i64.pow(minor_units)))
        .ok_or(MoneyError::TooLarge)?;
    let minor = i64::try_from(scaled.trunc()).map_err(|_| MoneyError::TooLarge)?;
    // Far beyond any real payment; keeps sums of many rows inside i64.
    if minor.abs() > 1_000_000_000_000_000 {
        return Err(MoneyError::TooLarge);
    }
    Ok(minor)
}

/// A positive amount in minor units.
pub fn positive_minor(amount: Decimal, minor_units: u32) -> Result<i64, MoneyError> {
    let minor = to_minor(amount, minor_units)?;
    if minor <= 0 {
        return Err(MoneyError::NotPositive);
    }
    Ok(minor)
}

/// A zero-or-positive amount in minor units (commissions, minimums).
pub fn non_negative_minor(amount: Decimal, minor_units: u32) -> Result<i64, MoneyError> {
    let minor = to_minor(amount, minor_units)?;
    if minor < 0 {
        return Err(MoneyError::Negative);
    }
    Ok(minor)
}

/// Minor units back into a `Decimal` with exactly the currency's digits ("1500.00").
pub fn from_minor(minor: i64, minor_units: u32) -> Decimal {
    Decimal::new(minor, minor_units)
}

/// Per-currency sums of `amount` over the rows of `select`: (currency, sum
/// in minor units, row count), in currency order.
pub async fn totals_by_currency<E: sea_orm::EntityTrait>(
    db: &sea_orm::DatabaseConnection,
    select: sea_orm::Select<E>,
    currency: E::Column,
    amount: E::Column,
    id: E::Column,
) -> Result<Vec<(String, i64, i64)>, sea_orm::DbErr> {
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
        .map(|(c, sum, count)| (c, sum.unwrap_or_default(), count))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_keep_their_currencys_digits_exactly() {
        assert_eq!(to_minor(d("1500.00"), 2), Ok(150000));
        assert_eq!(to_minor(d("1500.5"), 2), Ok(150050));
        assert_eq!(to_minor(d("1500.000"), 2), Ok(150000));
        assert_eq!(to_minor(d("0.001"), 3), Ok(1));
        assert_eq!(
            to_minor(d("1500.001"), 2),
            Err(MoneyError::TooPrecise { minor_units: 2 })
        );
        assert_eq!(
            to_minor(d("1.5"), 0),
            Err(MoneyError::TooPrecise { minor_units: 0 })
        );
        assert_eq!(positive_minor(d("0"), 2), Err(MoneyError::NotPositive));
        assert_eq!(positive_minor(d("-1"), 2), Err(MoneyError::NotPositive));
        assert_eq!(non_negative_minor(d("0"), 2), Ok(0));
        assert_eq!(
            to_minor(d("79228162514264337593543950335"), 2),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(from_minor(150000, 2).to_string(), "1500.00");
        assert_eq!(from_minor(5, 3).to_string(), "0.005");
        assert_eq!(from_minor(7, 0).to_string(), "7");
    }
}
