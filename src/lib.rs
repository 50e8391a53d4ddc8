//! Kassa: the back-office API of a payment aggregator.
//!
//! # Layout
//!
//! Dependencies point one way, and `layout_check` (a unit test run by
//! `cargo test` and `.ci/run`) fails the build when an import points up:
//!
//! ```text
//! wiring    main.rs, cli.rs, app.rs (connect, migrate, start), demo.rs
//!   ↓
//! http/     routes, access log and request ids, WebSockets and the shared
//!           subscription hub, the server's state (http/state.rs)
//!   ↓
//! graphql   graphql/ (assembly, context, common types, limits, scalars,
//!           the executor, row objects) and each domain's graphql.rs and loader.rs
//!   ↓
//! domain    each domain's service.rs and model.rs, postbacks' worker,
//!           the bus (events/), audit, db, money, clock, config, telemetry
//!   ↓
//! deps.rs   the shared handles every service takes (`Deps`)
//!   ↓
//! entity/, migration/ (workspace crates)
//! ```
//!
//! A domain is a folder: `model.rs` (its types and rules), `service.rs`
//! (reads and writes, each write with its audit entry in one transaction,
//! events published after the commit), `graphql.rs` (its part of the schema,
//! thin over the service) and, where a page needs batching, `loader.rs`.
//! `graphql.rs` files may name each other's object types (a graph refers to
//! itself); nothing below GraphQL imports GraphQL.
//!
//! Statuses and kinds are types, not strings: each is a string-backed
//! sea-orm enum in `entity/` (`text_enum!`: the stored text is unchanged,
//! serde writes the same text into events, postbacks and CSV), and, where
//! the API shows it as it is, the same type is the GraphQL enum (entity's
//! `graphql` feature). Each domain's `model.rs` owns its transitions
//! (`withdrawals::model::decide`, `postbacks::model::after_attempt` and
//! `opens`, `activation::model::settled` and `overdue`). Raw SQL spells a
//! status through the enum (`PostbackCircuit::Closed.sql()`,
//! `sql_list(&PostbackDeliveryStatus::DUE)`); `layout_check` fails on a
//! status or kind written as a string literal anywhere in `src/`.
//!
//! Writes go through one unit of work, `db::write`: begin, change, audit
//! entries in the same transaction, commit, then publish events and wake
//! the postback worker (`Change::done(v).audited(e).publishing(evs)`).

/// The domain: merchants, users, profiles, the audit log.
pub mod accounts;
/// Activation from the plugin, stockpiling, delayed automatic activation.
pub mod activation;
/// Wiring: start-up (connect, migrate, load the catalogue) and `run(listener, state, shutdown)`.
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
/// The shared handles services need (`Deps`): the bottom of the house.
pub mod deps;
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

#[cfg(test)]
mod layout_check;
