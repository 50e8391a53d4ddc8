//! Exchange rates (BEHAVIOUR §3): the platform publishes each currency's
//! value in USD per day; the rate in force on a day is the latest on or
//! before it. Stored as exact decimal text.

pub mod graphql;
pub mod service;
