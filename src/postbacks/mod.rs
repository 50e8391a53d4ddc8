//! Postbacks (webhooks to the merchant), BEHAVIOUR §6.
//!
//! An outbox: a postback row is written in the same database transaction as
//! its cause (a completed stockpiling, a withdrawal decided), and a worker in
//! every `kassa serve` delivers it. States: `PENDING` → (attempt) →
//! `DELIVERED` on a 2xx, else `RETRYING` with the next attempt on the retry
//! schedule (or the receiver's `Retry-After`), and `FAILED` once the schedule
//! is spent or when no URL is set. `resendPostback` puts any postback back to
//! `PENDING` for one more attempt now.
//!
//! Claiming is a single `UPDATE … RETURNING` that takes due rows and stamps a
//! lease (`claimed_until`); on PostgreSQL the inner select uses
//! `FOR UPDATE SKIP LOCKED`, so instances never take the same row; a worker
//! that dies leaves its lease to run out and another instance takes over.
//! Delivery is at-least-once; receivers dedupe by `webhook-id`.

pub mod graphql;
pub mod loader;
pub mod model;
pub mod service;
pub mod sign;
pub mod url_guard;
pub mod worker;
