//! Wiring: the shared dependencies, start-up (connect, migrate, load the
//! catalogue) and `run(listener, state, shutdown)`.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::deps::{Deps, RateLimits};
pub use crate::http::state::AppState;
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// Connects, migrates and loads the catalogue: the state a server or a
/// command line call works on.
pub async fn deps(config: Config, clock: SharedClock) -> anyhow::Result<Deps> {
    let mut db = crate::db::connect(config.database_url.expose(), config.db_pool).await?;
    crate::db::migrate(&db).await?;
    let statements = Arc::new(AtomicU64::new(0));
    let counter = statements.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let reads = match crate::db::pool_split(config.database_url.expose(), config.db_pool) {
        (_, 0) => None,
        (_, n) => Some(Arc::new(crate::db::Reads::new(
            config.database_url.expose(),
            n,
            statements.clone(),
        )?)),
    };
    let catalog = crate::catalog::service::load_catalog(&db).await?;
    let bus = match &config.redis_url {
        Some(url) => {
            crate::events::Bus::redis(url.expose(), &config.events_channel, config.event_buffer)
                .context("REDIS_URL")?
        }
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
        reads,
        clock,
        config: Arc::new(config),
        catalog: Arc::new(catalog),
        statements,
        postbacks_due: Arc::new(Notify::new()),
        bus,
    })
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

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when the future is first polled (axum polls it on a task of
/// its own once serving): called before the server says it is listening, a
/// signal sent as soon as it has said so is never missed (before, such a
/// TERM could kill the process outright or go unseen, leaving it running).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (term, interrupt) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let on = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = on(term) => {},
                _ = on(interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
