//! What every request handler shares: the service handles, the schema,
//! the metrics and the sockets' bookkeeping.

use crate::deps::Deps;
use crate::graphql::{build_schema, Api};
use crate::telemetry::Metrics;
use anyhow::Context;
use std::sync::Arc;
use tokio::sync::watch;

/// A running server's state, shared by every request: one reference
/// counted handle ([`Shared`]). axum clones the state for every request and
/// middleware; as a struct of two dozen `Arc`s that was two dozen atomic
/// counts bounced between the cores per clone and per drop.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub deps: Deps,
    pub schema: Api,
    pub metrics: Arc<Metrics>,
    /// Open sockets by session, closed when their session ends.
    pub sessions: Arc<crate::http::sessions::SessionWatch>,
    /// Subscriptions shared by sockets that ask for the same thing.
    pub hub: Arc<crate::http::hub::Hub>,
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
        Ok(AppState(Arc::new(Shared {
            schema: build_schema(deps.clone(), metrics.clone()),
            metrics,
            sessions: Default::default(),
            hub: Default::default(),
            seats: Default::default(),
            sockets: tokio_util::task::TaskTracker::new(),
            closing: watch::channel(false).0,
            deps,
        })))
    }
}
