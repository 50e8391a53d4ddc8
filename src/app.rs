//! Wiring: the shared dependencies, start-up (connect, migrate, load the
//! catalogue) and `run(listener, state, shutdown)`.

use crate::catalog::model::Catalog;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::graphql::{build_schema, Api};
use crate::telemetry::Metrics;
use anyhow::Context;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

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
    fn new(config: &Config) -> Self {
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

/// Connects, migrates and loads the catalogue: the state a server or a
/// command line call works on.
pub async fn deps(config: Config, clock: SharedClock) -> anyhow::Result<Deps> {
    let mut db = crate::db::connect(&config.database_url, config.db_pool).await?;
    crate::db::migrate(&db).await?;
    let statements = Arc::new(AtomicU64::new(0));
    let counter = statements.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let catalog = crate::catalog::service::load_catalog(&db).await?;
    let bus = match &config.redis_url {
        Some(url) => crate::events::Bus::redis(url, &config.events_channel, config.event_buffer)
            .context("REDIS_URL")?,
        None => crate::events::Bus::local(config.event_buffer),
    };
    Ok(Deps {
        limits: Arc::new(RateLimits::new(&config)),
        argon2: Arc::new(tokio::sync::Semaphore::new(config.argon2_slots)),
        password_checks: Arc::new(AtomicU64::new(0)),
        postback_stats: Default::default(),
        auth_cache: Default::default(),
        pay_to_turn: Default::default(),
        db,
        clock,
        config: Arc::new(config),
        catalog: Arc::new(catalog),
        statements,
        postbacks_due: Arc::new(Notify::new()),
        bus,
    })
}

/// A running server's state, shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub deps: Deps,
    pub schema: Api,
    pub metrics: Arc<Metrics>,
    /// Open sockets by session, closed when their session ends.
    pub sessions: Arc<crate::http::sessions::SessionWatch>,
    /// Subscriptions shared by sockets that ask for the same thing.
    pub hub: Arc<crate::events::hub::Hub>,
    /// Open sockets per caller.
    pub seats: Arc<crate::http::sessions::Seats>,
    /// Every open WebSocket, so shutdown can wait for their close frames.
    pub sockets: tokio_util::task::TaskTracker,
    /// Turns true when the server starts shutting down: every socket then
    /// closes with 1012 so its client reconnects (elsewhere) and refetches.
    pub closing: watch::Sender<bool>,
}

impl AppState {
    pub fn new(deps: Deps) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::new().context("registering metrics")?);
        Ok(AppState {
            schema: build_schema(deps.clone(), metrics.clone()),
            metrics,
            sessions: Default::default(),
            hub: Default::default(),
            seats: Default::default(),
            sockets: tokio_util::task::TaskTracker::new(),
            closing: watch::channel(false).0,
            deps,
        })
    }
}

/// How long shutdown waits for open sockets to send their close frames.
const SOCKETS_CLOSE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves HTTP and WebSocket on `listener` until `shutdown` completes, then
/// lets requests in flight finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = state.deps.config.postback_worker.then(|| {
        tokio::spawn(crate::postbacks::worker::run(
            state.deps.clone(),
            stop_rx.clone(),
        ))
    });
    let watcher = tokio::spawn(crate::http::sessions::run(
        state.deps.clone(),
        state.sessions.clone(),
        stop_rx.clone(),
    ));
    let sockets = state.sockets.clone();
    let closing = state.closing.clone();
    let router = crate::http::router(state);
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        closing.send_replace(true);
        let _ = stop_tx.send(true);
    })
    .await
    .context("serving HTTP");
    // Upgraded sockets are not the HTTP server's to wait for: each sends its
    // 1012 close frame, and shutdown waits (a little) until they have.
    sockets.close();
    if tokio::time::timeout(SOCKETS_CLOSE_WITHIN, sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = sockets.len(),
            "sockets still open at shutdown: dropped"
        );
    }
    watcher.abort();
    if let Some(worker) = worker {
        // Attempts in flight finish and are recorded; nothing is cut midway.
        let _ = worker.await;
    }
    served
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
