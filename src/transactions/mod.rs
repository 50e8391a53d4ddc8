//! Transactions: what payment systems report, as the merchant sees them on
//! the Transactions page.
//!
//! A transaction is identified by (payment system, transaction number) and
//! belongs to the merchant owning its wallet. Its life: ingested
//! `NOT_ACTIVATED` → `ACTIVATED` once a payer (or delayed activation) claims
//! it, only if INCOMING and NORMAL. Its `postback_status` follows the
//! stockpiling it joins: `STOCKPILING_NOT_FOUND` → `STOCKPILING_IN_PROGRESS`
//! → `QUEUED` when the stockpiling completes → `SENT` / `ERROR_SENDING` as the
//! postback is answered. The status is stored on the row so the page can
//! filter by it with an index.

pub mod graphql;
pub mod loader;
pub mod model;
pub mod service;
