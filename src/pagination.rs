//! Page sizes and opaque cursors shared by every list.
//!
//! A cursor is base64url of `<kind>:<position>`; anything that does not
//! decode to the expected kind is `INVALID`, never a crash.

use crate::error::AppError;
use base64::Engine;

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 500;

/// The page size for `first`/`last`: default 50, at most 500.
pub fn page_size(requested: Option<i32>, arg: &str) -> Result<u64, AppError> {
    match requested {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(AppError::Invalid(format!("`{arg}` must not be negative"))),
        Some(n) if n as u64 > MAX_PAGE => Err(AppError::Invalid(format!(
            "`{arg}` must be at most {MAX_PAGE}"
        ))),
        Some(n) => Ok(n as u64),
    }
}

/// Encodes a position in a list of `kind`.
pub fn encode(kind: &str, position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

/// Decodes a cursor of `kind` back into its position.
pub fn decode(kind: &str, cursor: &str, arg: &str) -> Result<String, AppError> {
    let invalid = || AppError::Invalid(format!("`{arg}` is not a cursor of this list"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::to_string)
        .ok_or_else(invalid)
}

/// Decodes an id cursor of `kind`.
pub fn decode_id(kind: &str, cursor: &str, arg: &str) -> Result<i64, AppError> {
    decode(kind, cursor, arg)?
        .parse()
        .map_err(|_| AppError::Invalid(format!("`{arg}` is not a cursor of this list")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let c = encode("audit", "42");
        assert_eq!(decode_id("audit", &c, "after").unwrap(), 42);
        assert!(decode_id("user", &c, "after").is_err());
        assert!(decode_id("audit", "%%%", "after").is_err());
        assert!(decode_id("audit", &encode("audit", "x"), "after").is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None, "first").unwrap(), 50);
        assert_eq!(page_size(Some(500), "first").unwrap(), 500);
        assert!(page_size(Some(501), "first").is_err());
        assert!(page_size(Some(-1), "first").is_err());
    }
}
