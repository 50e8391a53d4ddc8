//! The shared handles every service needs ([`Deps`]), at the bottom of the
//! house: services, workers and the GraphQL layer import it; it imports
//! nothing above the domain.

use crate::catalog::model::Catalog;
use crate::clock::SharedClock;
use crate::config::Config;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sea_orm::DatabaseConnection;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::Notify;

/// Per-client rate limits (BEHAVIOUR §1); per instance, in memory.
pub struct RateLimits {
    /// `login` calls per client address.
    pub login: DefaultKeyedRateLimiter<IpAddr>,
    /// `activateDeposit` calls per client address.
    pub activation: DefaultKeyedRateLimiter<IpAddr>,
    /// `sendTestPostback` calls per merchant: 10 a minute, so the server is
    /// never a way to flood someone's endpoint.
    pub test_postback: DefaultKeyedRateLimiter<i64>,
}

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        RateLimits {
            login: RateLimiter::keyed(per_minute(config.login_rate_per_minute)),
            activation: RateLimiter::keyed(per_minute(config.activation_rate_per_minute)),
            test_postback: RateLimiter::keyed(per_minute(10)),
        }
    }
}

/// What every service needs; cheap to clone.
#[derive(Clone)]
pub struct Deps {
    pub db: DatabaseConnection,
    /// PostgreSQL's connections for single-statement reads (the pages);
    /// `None` on SQLite, whose reads go through `db`.
    pub reads: Option<Arc<crate::db::Reads>>,
    /// Injectable so tests can expire sessions without sleeping.
    pub clock: SharedClock,
    pub config: Arc<Config>,
    /// Payment systems and currencies, read once at start-up.
    pub catalog: Arc<Catalog>,
    pub limits: Arc<RateLimits>,
    /// SQL statements run on this pool: exported at /metrics, and what the
    /// N+1 tests count.
    pub statements: Arc<AtomicU64>,
    /// Wakes this instance's postback worker when a postback was queued here.
    pub postbacks_due: Arc<Notify>,
    /// Live events: in-process, or fanned out through Redis.
    pub bus: Arc<crate::events::Bus>,
    /// argon2 computations allowed at once (`KASSA_ARGON2_SLOTS`).
    pub argon2: crate::auth::password::Slots,
    /// Passwords checked against their hash (sign-ins and password
    /// changes): at /metrics, and what the lockout tests count.
    pub password_checks: Arc<AtomicU64>,
    /// Credentials verified in the last seconds.
    pub auth_cache: Arc<crate::auth::cache::AuthCache>,
    /// What the postback pipeline has done: at /metrics.
    pub postback_stats: Arc<crate::postbacks::worker::PostbackStats>,
    /// Turns of the plugin's `payTo` rotation over a merchant's wallets.
    pub pay_to_turn: Arc<AtomicU64>,
}
