//! The platform's catalogue (payment systems and currencies, shipped with the
//! migrations and held in memory once loaded) and the merchants' wallets on it.
//!
//! A wallet (payment system, identifier) belongs to exactly one merchant and
//! decides whose money an ingested transaction is.

pub mod graphql;
pub mod model;
pub mod service;
