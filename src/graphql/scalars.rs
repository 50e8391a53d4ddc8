//! The contract's scalars, with the exact wire formats it promises.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// RFC 3339 instant, serialized in UTC: "2026-11-24T10:15:00Z".
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// RFC 3339 instant, serialized in UTC: "2026-11-24T10:15:00Z".
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom(format!("`{s}` is not an RFC 3339 instant"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// Appends `t` as the JSON string of its [`DateTime`] value, without the
/// formatting machinery (a page writes two per row); what chrono writes
/// for years outside 0–9999 and leap seconds.
pub fn write_instant(out: &mut Vec<u8>, t: &chrono::DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    // (UTC: the stored date and time, read without offset arithmetic)
    let naive = t.naive_utc();
    let (year, nano) = (naive.year(), naive.nanosecond());
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        let _ = super::json::string(out, &t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        return;
    }
    /// `n`'s last `width` digits at `at`
    #[inline(always)]
    fn put(text: &mut [u8; 32], at: usize, mut n: u32, width: usize) {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    // spelled in place, then copied once
    let mut text = *b"\"0000-00-00T00:00:00.000000000Z\"";
    let date = naive.date();
    put(&mut text, 1, year as u32, 4);
    put(&mut text, 6, date.month(), 2);
    put(&mut text, 9, date.day(), 2);
    let seconds = naive.num_seconds_from_midnight();
    put(&mut text, 12, seconds / 3600, 2);
    put(&mut text, 15, seconds / 60 % 60, 2);
    put(&mut text, 18, seconds % 60, 2);
    let end = if nano == 0 {
        20
    } else if nano % 1_000_000 == 0 {
        put(&mut text, 21, nano / 1_000_000, 3);
        24
    } else if nano % 1_000 == 0 {
        put(&mut text, 21, nano / 1_000, 6);
        27
    } else {
        put(&mut text, 21, nano, 9);
        30
    };
    text[end] = b'Z';
    text[end + 1] = b'"';
    out.extend_from_slice(&text[..end + 2]);
}

/// Appends `d` as the JSON string of its [`Decimal`] value (every digit of
/// its scale, a minus sign when negative, zero included: rust_decimal's
/// `Display`), without the formatting machinery.
pub fn write_decimal(out: &mut Vec<u8>, d: &rust_decimal::Decimal) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(d.mantissa().unsigned_abs()).as_bytes();
    let scale = d.scale() as usize;
    out.push(b'"');
    if d.is_sign_negative() {
        out.push(b'-');
    }
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale - digits.len(), b'0');
        out.extend_from_slice(digits);
    }
    out.push(b'"');
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}

/// Exact decimal number, serialized as a string: "1500.00". Never a float:
/// input is a string (or a JSON integer); a JSON float is refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Decimal(pub rust_decimal::Decimal);

/// Exact decimal number, serialized as a string: "1500.00". Never a float.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .trim()
                .parse::<rust_decimal::Decimal>()
                .map(Decimal)
                .map_err(|_| InputValueError::custom(format!("`{s}` is not a decimal number"))),
            Value::Number(n) if n.is_i64() => Ok(Decimal(rust_decimal::Decimal::from(
                n.as_i64().unwrap_or_default(),
            ))),
            Value::Number(_) => Err(InputValueError::custom(
                "send decimals as strings (\"10.50\"), never as floats",
            )),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<rust_decimal::Decimal> for Decimal {
    fn from(d: rust_decimal::Decimal) -> Self {
        Decimal(d)
    }
}

/// Calendar date "YYYY-MM-DD", read in the merchant's time zone.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub chrono::NaiveDate);

/// Calendar date "YYYY-MM-DD", read in the merchant's time zone.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    InputValueError::custom(format!("`{s}` is not a date like 2026-11-24"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}
