//! A response written as JSON, with rows already written.
//!
//! Over HTTP a [`Row`](super::rows::Row) answers its selection as the JSON
//! text of its object, carried up the response tree as a
//! `Value::Binary` (see [`super::rows`]): a row's values are written once,
//! where they are read, instead of becoming an object of `Name` keys that
//! is serialized and freed afterwards (on a 20-row Transactions page the
//! objects' keys, copies, serialization and freeing were the largest part
//! of a request's instructions). Kassa's schema has no binary output, so
//! `Binary` in a response is always such a row; this writer copies it as
//! it is, and writes everything else as `serde_json` writes a
//! `async_graphql::Response` (the same bytes: a test compares them).

use async_graphql::{Response, Value};

/// `response` as JSON: `data`, then `extensions` and `errors` when there
/// are any (async-graphql's order).
pub fn response(response: &Response) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size(&response.data) + 1024);
    out.extend_from_slice(b"{\"data\":");
    value(&mut out, &response.data)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        object(
            &mut out,
            response.extensions.iter().map(|(k, v)| (k.as_str(), v)),
        )?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut out, &response.errors)?;
    }
    out.push(b'}');
    Ok(out)
}

/// About how long `v` is as JSON (exact but for escapes and scalars), so
/// that a page's response is written into one allocation instead of being
/// copied as it grows.
fn size(v: &Value) -> usize {
    match v {
        Value::Binary(raw) => raw.len(),
        Value::String(s) => s.len() + 2,
        Value::Enum(name) => name.len() + 2,
        Value::List(items) => items.iter().map(size).sum::<usize>() + items.len() + 1,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 4 + size(v))
                .sum::<usize>()
                + 1
        }
        Value::Null | Value::Boolean(_) | Value::Number(_) => 8,
    }
}

/// Appends `v` as JSON; a `Binary` is a row's JSON, copied as it is.
pub fn value(out: &mut Vec<u8>, v: &Value) -> serde_json::Result<()> {
    match v {
        Value::Binary(raw) => out.extend_from_slice(raw),
        Value::String(s) => string(out, s)?,
        Value::Enum(name) => string(out, name)?,
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => object(out, map.iter().map(|(k, v)| (k.as_str(), v)))?,
        Value::Null | Value::Boolean(_) | Value::Number(_) => serde_json::to_writer(out, v)?,
    }
    Ok(())
}

/// Appends an object of `members`.
fn object<'a>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'a str, &'a Value)>,
) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key(out, k)?;
        value(out, v)?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends `s` as a JSON string. Most strings of a response need no
/// escape: those are copied whole after one pass that finds none.
pub fn string(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if !needs_escapes(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

/// Whether JSON writes some byte of `bytes` escaped: a control character,
/// `"` or `\`. Eight bytes at a time, each word tested for all three at
/// once (most of a response's strings are keys and values of a few to a
/// few dozen bytes: a byte-by-byte pass cost more than the copy).
fn needs_escapes(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// Whether a byte of `w` is below `n` (at most 0x80): its borrow sets
    /// that byte's high bit, and no byte at or above `n` sets one without
    /// a lower one below `n` first.
    #[inline(always)]
    fn below(w: u64, n: u8) -> bool {
        w.wrapping_sub(ONES * n as u64) & !w & HIGH != 0
    }
    #[inline(always)]
    fn word(w: u64) -> bool {
        below(w, 0x20) | below(w ^ (ONES * b'"' as u64), 1) | below(w ^ (ONES * b'\\' as u64), 1)
    }
    let load = |at: usize, len: usize| {
        let mut w = [b'a'; 8];
        w[..len].copy_from_slice(&bytes[at..at + len]);
        u64::from_le_bytes(w)
    };
    let n = bytes.len();
    if n >= 8 {
        // every whole word, then the last eight bytes (overlapping)
        let mut words = bytes.chunks_exact(8);
        if words.any(|w| word(load_word(w))) {
            return true;
        }
        return word(load(n - 8, 8));
    }
    // four bytes from each end (overlapping), or for fewer than four the
    // first, middle and last (all of them), the rest letters
    let w = if n >= 4 {
        load(0, 4) & 0xffff_ffff | load(n - 4, 4) << 32
    } else if n > 0 {
        u64::from_le_bytes([
            bytes[0],
            bytes[n / 2],
            bytes[n - 1],
            b'a',
            b'a',
            b'a',
            b'a',
            b'a',
        ])
    } else {
        return false;
    };
    word(w)
}

#[inline(always)]
fn load_word(w: &[u8]) -> u64 {
    u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
}

/// Appends the key of an object's member: `"key":`.
fn key(out: &mut Vec<u8>, key: &str) -> serde_json::Result<()> {
    string(out, key)?;
    out.push(b':');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError};

    /// Every byte at every place of strings up to five words long: the
    /// word-wise check says what a byte-by-byte one says.
    #[test]
    fn finds_every_byte_that_needs_an_escape() {
        let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for len in 0..40 {
            for at in 0..len.max(1) {
                for b in 0..=255u8 {
                    let mut s = vec![b'x'; len];
                    if len > 0 {
                        s[at] = b;
                    }
                    assert_eq!(needs_escapes(&s), naive(&s), "{b:#x} at {at} of {len}");
                }
            }
        }
        // bytes around the bounds next to each other (borrows between bytes)
        for pair in [
            [0x1f, 0x20],
            [0x20, 0x1f],
            [0x21, 0x22],
            [0x23, 0x5b],
            [0x5d, 0x5c],
            [0x00, 0xff],
        ] {
            let s: Vec<u8> = pair.iter().cycle().take(11).copied().collect();
            assert_eq!(needs_escapes(&s), naive(&s), "{pair:?}");
        }
    }

    /// Every kind of value, strings that need escapes, extensions and
    /// errors: the same bytes as serde_json's serialization of the response.
    #[test]
    fn writes_a_response_as_serde_json_does() {
        let mut object = async_graphql::indexmap::IndexMap::new();
        object.insert(Name::new("plain"), Value::String("abc".into()));
        object.insert(
            Name::new("escaped"),
            Value::String("q\"b\\s\n\t\u{1}é€😀</".into()),
        );
        object.insert(Name::new("null"), Value::Null);
        object.insert(Name::new("t"), Value::Boolean(true));
        object.insert(Name::new("int"), Value::from(-42));
        object.insert(Name::new("float"), Value::from(1.5f64));
        object.insert(Name::new("e"), Value::Enum(Name::new("SOME_VALUE")));
        object.insert(
            Name::new("list"),
            Value::List(vec![Value::from(1), Value::List(vec![]), Value::Null]),
        );
        object.insert(Name::new("empty"), Value::Object(Default::default()));
        let mut response = Response::new(Value::Object(object));
        response
            .errors
            .push(ServerError::new("bad \"thing\"", None));
        response.extensions.insert("k\"ey".into(), Value::from(3));
        assert_eq!(
            String::from_utf8(super::response(&response).unwrap()).unwrap(),
            serde_json::to_string(&response).unwrap()
        );
        let bare = Response::new(Value::Null);
        assert_eq!(
            super::response(&bare).unwrap(),
            serde_json::to_vec(&bare).unwrap()
        );
    }

    /// A row's JSON (a `Binary`) is copied into its place as it is.
    #[test]
    fn copies_a_rows_json_into_its_place() {
        let row = Value::Binary(bytes::Bytes::from_static(b"{\"id\":\"7\"}"));
        let response = Response::new(Value::List(vec![row.clone(), row]));
        assert_eq!(
            super::response(&response).unwrap(),
            b"{\"data\":[{\"id\":\"7\"},{\"id\":\"7\"}]}"
        );
    }
}
