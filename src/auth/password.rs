//! Password hashing (argon2id, OWASP parameters) and the password policy (PCI DSS 8.3).

use crate::error::AppError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::Semaphore;

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

/// Makes argon2's 19 MiB working memory go back to the system when a hash
/// is done. glibc otherwise raises its mmap threshold after the first free
/// and keeps such blocks in per-thread arenas: with the blocking pool's many
/// threads, a sign-in flood left hundreds of MiB resident for good. A fixed
/// threshold keeps every large block mmapped, so it is unmapped on free.
pub fn give_memory_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called at start-up.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// How long a request waits for a free argon2 slot before `RATE_LIMITED`.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// argon2 runs at most this many at once per instance by default (one per
/// core, at least two): each takes 19 MiB, so a flood of sign-ins costs a
/// bounded amount of memory and queues instead of multiplying it (120
/// concurrent logins once took 2.25 GB).
pub fn default_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

/// The instance's argon2 slots (`Deps::argon2`).
pub type Slots = Arc<Semaphore>;

/// A turn at argon2: waits up to two seconds for a free slot, else
/// `RATE_LIMITED` (the client retries later; nothing was counted).
pub async fn permit(slots: &Slots) -> Result<OwnedSemaphorePermit, AppError> {
    match tokio::time::timeout(SLOT_WAIT, slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::RateLimited),
    }
}

/// Hashes on the blocking pool, within an argon2 slot.
pub async fn hash_blocking(slots: &Slots, password: String) -> Result<String, AppError> {
    let permit = permit(slots).await?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        hash(&password)
    })
    .await
    .map_err(anyhow::Error::new)?
    .map_err(AppError::Internal)
}

/// Verifies on the blocking pool in the slot already taken.
pub async fn verify_with(permit: OwnedSemaphorePermit, phc: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        verify(&phc, &password)
    })
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
