//! Password hashing (argon2id, OWASP parameters) and the password policy (PCI DSS 8.3).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::OnceLock;

/// argon2id with the crate defaults, which are OWASP's: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    Argon2::default()
}

/// Hashes a password into a PHC string. CPU-bound: call from a blocking task.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Whether `password` matches the stored `phc` hash. CPU-bound.
pub fn verify(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the login is unknown, so that an unknown
/// login costs the same time as a wrong password and reveals nothing.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("kassa-dummy-password-0").unwrap_or_default())
}

/// Hashes on the blocking pool.
pub async fn hash_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// Verifies on the blocking pool.
pub async fn verify_blocking(phc: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&phc, &password))
        .await
        .unwrap_or(false)
}

/// Passwords everyone tries first; a password whose letters are one of these
/// (with digits or symbols around them) is refused too.
const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdfghjkl",
    "zxcvbnm",
    "letmein",
    "welcome",
    "admin",
    "administrator",
    "iloveyou",
    "monkey",
    "dragon",
    "master",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "batman",
    "trustno",
    "shadow",
    "michael",
    "abc",
    "abcdef",
    "abcdefgh",
    "changeme",
    "secret",
    "login",
    "root",
    "test",
    "demo",
    "user",
    "starwars",
    "whatever",
    "freedom",
    "hello",
    "charlie",
    "pakistan",
    "india",
    "bangladesh",
    "kassa",
    "paykassma",
    "default",
    "guest",
    "qazwsx",
    "zaq",
    "azerty",
];

/// Checks the policy: at least 12 characters, letters and digits, not the
/// login, not a common password. Returns the reason when it is refused.
pub fn check_policy(password: &str, login: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("use at least 12 characters".into());
    }
    if password.chars().count() > 256 {
        return Err("use at most 256 characters".into());
    }
    if !password.chars().any(|c| c.is_alphabetic()) || !password.chars().any(|c| c.is_ascii_digit())
    {
        return Err("use both letters and digits".into());
    }
    let lower = password.to_lowercase();
    let login = login.trim().to_lowercase();
    if !login.is_empty() && (lower == login || lower.contains(&login) || login.contains(&lower)) {
        return Err("the password must not contain the login".into());
    }
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let digits: String = lower.chars().filter(|c| c.is_ascii_digit()).collect();
    if COMMON.contains(&letters.as_str()) {
        return Err("this password is too common".into());
    }
    let distinct: std::collections::HashSet<char> = lower.chars().collect();
    if distinct.len() < 5
        || letters.is_empty()
        || "0123456789012345678901234567890".contains(&lower)
    {
        return Err("this password is too easy to guess".into());
    }
    if letters.len() <= 3 && ("01234567890123456789".contains(&digits) || distinct.len() < 6) {
        return Err("this password is too easy to guess".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_weak_passwords_and_accepts_strong_ones() {
        for weak in [
            "short1",
            "onlyletterslong",
            "123456789012",
            "Password1234",
            "qwerty123456!",
            "owner@demo1234",
            "aaaaaaaaaaa1",
            "abc123456789",
        ] {
            assert!(check_policy(weak, "owner@demo").is_err(), "{weak} passed");
        }
        for strong in [
            "DemoOwner2026",
            "correct horse 42 battery",
            "Tr1cky-Pangolin-77",
        ] {
            assert!(
                check_policy(strong, "owner@demo").is_ok(),
                "{strong} refused"
            );
        }
    }

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash("Tr1cky-Pangolin-77").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "Tr1cky-Pangolin-77"));
        assert!(!verify(&h, "Tr1cky-Pangolin-78"));
        assert!(!verify("not a hash", "x"));
    }
}
