//! Opaque credentials: random tokens shown once, stored only as SHA-256.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Session tokens.
pub const SESSION_PREFIX: &str = "kss_";
/// API keys.
pub const API_KEY_PREFIX: &str = "kak_";
/// Public plugin keys.
pub const PLUGIN_KEY_PREFIX: &str = "kpk_";

/// A new token: `prefix` + 256 random bits, base64url.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What is stored instead of the token (lowercase hex of its SHA-256):
/// written into one buffer (every request with a token digests it to find
/// its session; `hex::encode` builds the text a char at a time).
pub fn digest(token: &str) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut out)
        .expect("32 bytes are 64 hex digits");
    String::from_utf8_lossy(&out).into_owned()
}
