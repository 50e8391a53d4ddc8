//! Payment systems, their withdrawal fields, and currencies.

use crate::money::{Money, MoneyError};
use async_graphql::{Enum, SimpleObject};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::HashMap;

/// How a withdrawal field is entered.
#[derive(Enum, Deserialize, Copy, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldKind {
    /// Free text.
    Text,
    /// Digits only.
    Number,
    /// A phone number, digits with an optional leading +.
    Phone,
    /// An e-mail address.
    Email,
}

/// One field a withdrawal to a payment system needs.
#[derive(SimpleObject, Deserialize, Clone, Debug)]
pub struct WithdrawalFieldSpec {
    /// The field's key in WithdrawalFieldInput.name.
    pub name: String,
    /// English label to show beside the input.
    pub label: String,
    /// How to edit and check the value.
    pub kind: FieldKind,
    /// Whether createWithdrawal needs it.
    pub required: bool,
    /// A regular expression the whole value must match, when there is one.
    pub pattern: Option<String>,
    /// A sample value, for the input's placeholder.
    pub example: Option<String>,
}

/// A payment system (wallet type) the platform knows.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(serial)]
pub struct PaymentSystem {
    /// Stable code, e.g. "paytm", "bkash".
    pub code: String,
    /// Display name ("Paytm").
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 4217 code of the currency this system moves.
    pub currency: String,
    /// The fields a withdrawal to this system needs, in form order.
    pub withdrawal_fields: Vec<WithdrawalFieldSpec>,
}

/// A currency and its ISO 4217 minor units.
#[derive(SimpleObject, Clone, Debug)]
pub struct Currency {
    /// ISO 4217 code ("INR").
    pub code: String,
    /// English name ("Indian rupee").
    pub name: String,
    /// Digits after the decimal point (ISO 4217 minor unit).
    pub minor_units: i32,
}

/// The catalogue, read once at start-up: it changes only with a migration.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// In the catalogue's display order.
    pub payment_systems: Vec<PaymentSystem>,
    pub currencies: Vec<Currency>,
    systems_by_code: HashMap<String, usize>,
    currencies_by_code: HashMap<String, usize>,
    /// The withdrawal fields' patterns, compiled once.
    patterns: HashMap<String, regex::Regex>,
}

impl Catalog {
    pub fn new(payment_systems: Vec<PaymentSystem>, currencies: Vec<Currency>) -> Self {
        let systems_by_code = payment_systems
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code.clone(), i))
            .collect();
        let currencies_by_code = currencies
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.clone(), i))
            .collect();
        let patterns = payment_systems
            .iter()
            .flat_map(|p| p.withdrawal_fields.iter())
            .filter_map(|f| f.pattern.clone())
            .filter_map(|p| regex::Regex::new(&p).ok().map(|r| (p, r)))
            .collect();
        Self {
            payment_systems,
            currencies,
            systems_by_code,
            currencies_by_code,
            patterns,
        }
    }

    /// Digits after the decimal point of a currency (2 for one the catalogue lacks,
    /// which validation refuses before amounts are stored).
    pub fn minor_units(&self, code: &str) -> u32 {
        self.currency(code).map_or(2, |c| c.minor_units as u32)
    }

    /// `m` as a decimal with exactly its currency's digits ("1500.00").
    pub fn decimal(&self, m: &Money) -> Decimal {
        m.to_decimal(self.minor_units(&m.currency))
    }

    /// `amount` of `currency`, exactly; above zero unless `zero_allowed`
    /// (commissions, minimums), never below.
    pub fn money(
        &self,
        amount: Decimal,
        currency: &str,
        zero_allowed: bool,
    ) -> Result<Money, MoneyError> {
        let units = self.minor_units(currency);
        if zero_allowed {
            Money::non_negative(amount, currency, units)
        } else {
            Money::positive(amount, currency, units)
        }
    }

    /// Whether `value` matches a withdrawal field's `pattern` (a full match).
    pub fn matches(&self, pattern: &str, value: &str) -> bool {
        self.patterns
            .get(pattern)
            .and_then(|r| r.find(value))
            .is_some_and(|m| m.start() == 0 && m.end() == value.len())
    }

    pub fn payment_system(&self, code: &str) -> Option<&PaymentSystem> {
        self.systems_by_code
            .get(code)
            .map(|&i| &self.payment_systems[i])
    }

    pub fn currency(&self, code: &str) -> Option<&Currency> {
        // a few currencies: compared in turn, cheaper than hashing the code
        // (every amount of a page looks its currency up)
        if self.currencies.len() <= 16 {
            return self.currencies.iter().find(|c| c.code == code);
        }
        self.currencies_by_code
            .get(code)
            .map(|&i| &self.currencies[i])
    }
}
