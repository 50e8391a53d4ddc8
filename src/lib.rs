//! Kassa: the back-office API of a payment aggregator.
//!
//! # Layout
//!
//! Dependencies point one way: `http → graphql.rs → service.rs → entity`.

#[macro_use]
mod macros;

/// The domain: merchants, users, profiles, the audit log.
pub mod accounts;
/// Activation from the plugin, stockpiling, delayed automatic activation.
pub mod activation;
/// Wiring: shared dependencies, start-up, `run(listener, state, shutdown)`.
pub mod app;
/// The audit trail written with every state change.
pub mod audit;
/// Sign-in, sessions, API keys, roles and the `Actor`.
pub mod auth;
/// Payment systems, currencies and wallets.
pub mod catalog;
/// The command line.
pub mod cli;
/// Injectable time.
pub mod clock;
/// Configuration from the environment.
pub mod config;
/// Connections, migrations, write transactions.
pub mod db;
/// The demo data set.
pub mod demo;
/// The one error type and its wire codes.
pub mod error;
/// Live events: the bus and the subscriptions.
pub mod events;
/// CSV exports of the Transactions and Withdrawals pages.
pub mod exports;
/// Schema assembly, scalars, limits.
pub mod graphql;
/// The axum routes: GraphQL, WebSocket, health, metrics.
pub mod http;
/// Minor units and Decimal conversions.
pub mod money;
/// Page sizes and cursors.
pub mod pagination;
/// Plugin appearance, uploads and installation.
pub mod plugin;
/// Postbacks: the outbox, signing, the delivery worker, the delivery log.
pub mod postbacks;
/// Exchange rates.
pub mod rates;
/// The Settings page.
pub mod settings;
/// The dashboard and its pre-aggregated statistics.
pub mod stats;
/// Logs and metrics.
pub mod telemetry;
/// Ingestion and the Transactions page.
pub mod transactions;
/// Withdrawals, balances, idempotency.
pub mod withdrawals;
