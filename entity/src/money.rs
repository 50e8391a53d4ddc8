//! Money: an amount of one currency in its minor units (paise, poisha,
//! cents) — how every amount is stored — and its exact conversion from and
//! to the `Decimal` the API speaks. A currency's amounts carry at most its
//! ISO 4217 minor units; more significant digits are refused, never rounded.
//! Amounts of different currencies never meet: adding them is `None`.

use rust_decimal::Decimal;

/// Far beyond any real payment; keeps sums of many rows inside i64.
const MAX_MINOR: i64 = 1_000_000_000_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    /// The amount in the currency's smallest unit.
    pub minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

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

impl Money {
    pub fn new(minor: i64, currency: impl Into<String>) -> Money {
        Money {
            minor,
            currency: currency.into(),
        }
    }

    /// `amount` of `currency` (which has `minor_units` digits), exactly, or
    /// why it cannot be stored.
    pub fn from_decimal(
        amount: Decimal,
        currency: impl Into<String>,
        minor_units: u32,
    ) -> Result<Money, MoneyError> {
        let normalized = amount.normalize();
        if normalized.scale() > minor_units {
            return Err(MoneyError::TooPrecise { minor_units });
        }
        let scaled = normalized
            .checked_mul(Decimal::from(10i64.pow(minor_units)))
            .ok_or(MoneyError::TooLarge)?;
        let minor = i64::try_from(scaled.trunc()).map_err(|_| MoneyError::TooLarge)?;
        if minor.abs() > MAX_MINOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money::new(minor, currency))
    }

    /// Like [`Money::from_decimal`], for an amount that must be above zero.
    pub fn positive(
        amount: Decimal,
        currency: impl Into<String>,
        minor_units: u32,
    ) -> Result<Money, MoneyError> {
        let m = Money::from_decimal(amount, currency, minor_units)?;
        if m.minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(m)
    }

    /// Like [`Money::from_decimal`], for an amount that may be zero
    /// (commissions, minimums) but not below.
    pub fn non_negative(
        amount: Decimal,
        currency: impl Into<String>,
        minor_units: u32,
    ) -> Result<Money, MoneyError> {
        let m = Money::from_decimal(amount, currency, minor_units)?;
        if m.minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(m)
    }

    /// The amount with exactly the currency's digits ("1500.00").
    pub fn to_decimal(&self, minor_units: u32) -> Decimal {
        Decimal::new(self.minor, minor_units)
    }

    /// The sum; `None` across currencies or past the limit.
    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        let minor = self.minor.checked_add(other.minor)?;
        (minor.abs() <= MAX_MINOR).then(|| Money::new(minor, self.currency.clone()))
    }

    /// The difference; `None` across currencies.
    pub fn checked_sub(&self, other: &Money) -> Option<Money> {
        self.checked_add(&Money::new(-other.minor, other.currency.clone()))
    }
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
        let inr = |s: &str| Money::from_decimal(d(s), "INR", 2).map(|m| m.minor);
        assert_eq!(inr("1500.00"), Ok(150000));
        assert_eq!(inr("1500.5"), Ok(150050));
        assert_eq!(inr("1500.000"), Ok(150000));
        assert_eq!(
            Money::from_decimal(d("0.001"), "KWD", 3).map(|m| m.minor),
            Ok(1)
        );
        assert_eq!(
            inr("1500.001"),
            Err(MoneyError::TooPrecise { minor_units: 2 })
        );
        assert_eq!(
            Money::from_decimal(d("1.5"), "JPY", 0),
            Err(MoneyError::TooPrecise { minor_units: 0 })
        );
        assert_eq!(
            Money::positive(d("0"), "INR", 2),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::positive(d("-1"), "INR", 2),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::non_negative(d("0"), "INR", 2).map(|m| m.minor),
            Ok(0)
        );
        assert_eq!(
            Money::non_negative(d("-0.01"), "INR", 2),
            Err(MoneyError::Negative)
        );
        assert_eq!(
            inr("79228162514264337593543950335"),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(inr("10000000000000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::new(150000, "INR").to_decimal(2).to_string(),
            "1500.00"
        );
        assert_eq!(Money::new(5, "KWD").to_decimal(3).to_string(), "0.005");
        assert_eq!(Money::new(7, "JPY").to_decimal(0).to_string(), "7");
    }

    #[test]
    fn amounts_of_different_currencies_never_add_up() {
        let a = Money::new(100, "INR");
        assert_eq!(
            a.checked_add(&Money::new(50, "INR")),
            Some(Money::new(150, "INR"))
        );
        assert_eq!(
            a.checked_sub(&Money::new(150, "INR")),
            Some(Money::new(-50, "INR"))
        );
        assert_eq!(a.checked_add(&Money::new(50, "BDT")), None);
        assert_eq!(
            Money::new(MAX_MINOR, "INR").checked_add(&Money::new(1, "INR")),
            None
        );
    }
}
