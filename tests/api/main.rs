//! Kassa's integration tests: one binary, a real server per test.
//! `KASSA_TEST_DATABASE_URL=postgres://…` runs them on PostgreSQL.

mod accounts;
mod activation;
mod auth;
mod cli;
mod clients;
mod dashboard;
mod delivery;
mod events;
mod exports;
mod http_surface;
mod operations;
mod playground;
mod plugin;
mod pool;
mod postbacks;
mod rates;
mod security;
mod settings;
mod support;
mod transactions;
mod withdrawals;
