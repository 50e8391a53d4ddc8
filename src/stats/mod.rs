//! The dashboard: statistics kept in 15-minute UTC buckets, in the same
//! database transaction as the change that moves a row into or out of one,
//! and read back as local days of the merchant's time zone.

pub mod buckets;
pub mod days;
pub mod graphql;
pub mod service;
